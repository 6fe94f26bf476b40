// A beacon taking over a missing beacon's senders (NATS reassignment): it builds what the previous
// owner sent, in order, sends only the rest, and counts a commit it sees for an entry it has not
// sent yet (the previous owner sent it after its last report) without sending it again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import type { BeaconConnector, ConfirmSink, SubmitItem, SubmitResult } from '../../src/connectors/contract.js';
import { assignment } from '../../src/harness/assignment.js';
import { Beacon } from '../../src/harness/beacon.js';
import type { Assign, BeaconMessage } from '../../src/harness/messages.js';
import { SetDigest } from '../../src/harness/set-digest.js';

const assign = (): Assign => assignment({
  beacon: 1, accounts: { start: 0, end: 2 }, sign: 'live',
  offsetsMs: new Float64Array([0, 1, 2, 3, 4]), senders: new Uint32Array([0, 1, 0, 1, 0]), targets: new Uint32Array([1, 0, 1, 0, 1]),
  maxInFlight: 10, collectOutcomes: true,
});

test('regression: reassigned live-signed work recognises commits of what the previous owner sent; skipped entries are built in order but not sent; an early commit counts without a send', async () => {
  const built: number[] = [];
  const sent: string[] = [];
  let sink: ConfirmSink | undefined;
  const nonces = new Map<number, number>();
  const connector: BeaconConnector = {
    position: 0,
    prepare: async () => {},
    build: (tx) => {
      built.push(tx.index);
      const n = nonces.get(tx.sender) ?? 0;
      nonces.set(tx.sender, n + 1);
      return { id: `s${tx.sender}n${n}`, payload: null };
    },
    submit: async (items: readonly SubmitItem[]): Promise<SubmitResult[]> => {
      for (const it of items) {
        sent.push(it.tx.id);
        setImmediate(() => sink!.committed(it.tx.id, 9, Date.now()));
      }
      return items.map(() => ({ kind: 'accepted' }));
    },
    confirm: async (s) => {
      sink = s;
      // The stream replays from the run's start: entry 0 and 1 (sent by the previous owner, skipped)
      // and entry 2 (sent by it after its last report) are already committed.
      for (const id of ['s0n0', 's1n0', 's0n1']) s.committed(id, 3, Date.now());
    },
    close: async () => {},
  };
  const messages: BeaconMessage[] = [];
  const b = new Beacon(assign(), (m) => void messages.push(m), connector, preciseClock);
  b.skipFirst(2);
  await b.prepare();
  assert.deepEqual(built, [0, 1, 2, 3, 4], 'built whole and in order (skipped entries first), so per-sender nonces line up');
  b.start(Date.now());
  await b.done;
  assert.deepEqual(sent, ['s1n1', 's0n2'], 'entry 2 was committed already: not sent again; 0 and 1 are the previous owner\'s');
  const done = messages.find((m) => m.type === 'done');
  assert.ok(done && done.type === 'done');
  assert.deepEqual([done.sent, done.committed, done.failed, done.lost], [3, 3, 0, 0]);
  assert.deepEqual(b.commits.ids({ senderFrom: 0, senderTo: 2 ** 32, heightFrom: 0, heightTo: 2 ** 32 }).sort(), ['s0n1', 's0n2', 's1n1'], 'the store holds what this beacon owns and saw committed');
  assert.deepEqual(done.committedDigest, SetDigest.of(['s0n1', 's0n2', 's1n1']).toJson(), 'done carries its digest, not its ids');
  b.release();
  assert.equal(done.outcomes!.length, 3, 'outcomes only for the entries this beacon owns');
});
