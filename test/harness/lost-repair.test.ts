// A transaction counted lost while no node held it is sent again (src/harness/lost-repair.ts).
// Fake submit (a network that takes one sender's nonces in order), real timers, a real beacon.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignment } from '../../src/harness/assignment.js';
import { Beacon } from '../../src/harness/beacon.js';
import { preciseClock } from '../../src/clock.js';
import type { BeaconConnector, ConfirmSink, SubmitItem, SubmitResult } from '../../src/connectors/contract.js';
import type { BeaconMessage } from '../../src/harness/messages.js';
import { LostRepair } from '../../src/harness/lost-repair.js';
import type { Assign } from '../../src/harness/messages.js';

/**
 * Runs a real beacon on `over` against a fake network whose `submit` answers as given (`sink()` is the
 * beacon's confirmation sink); resolves with every message and the `done` one.
 */
async function runBeacon(
  over: Partial<Assign>,
  submit: (items: readonly SubmitItem[], sink: () => ConfirmSink) => Promise<SubmitResult[]>,
): Promise<{ messages: BeaconMessage[]; done: Extract<BeaconMessage, { type: 'done' }> }> {
  const messages: BeaconMessage[] = [];
  let sink: ConfirmSink | undefined;
  const connector: BeaconConnector = {
    position: 0,
    prepare: async () => {},
    build: (tx) => ({ id: `tx${tx.index}`, payload: tx.index }),
    submit: (items) => submit(items, () => sink!),
    confirm: async (s) => {
      sink = s;
    },
    close: async () => {},
  };
  const b = new Beacon(assignment(over), (m) => void messages.push(m), connector, preciseClock);
  await b.prepare();
  b.start(Date.now());
  await b.done;
  const done = messages.find((m) => m.type === 'done');
  assert.ok(done?.type === 'done');
  return { messages, done };
}

test('regression: a transaction counted lost while its submit was out, then refused as retryable, was never sent again: its sender\'s nonce hole stalled the failover e2e load for good', async () => {
  // One sender, nonces 0–2 due at 0 ms, nonce 3 at 1500 ms (keeps the beacon running); timeout 400 ms.
  // The first submit (nonces 0–2) is answered after 600 ms: nonce 0 refused for now (no sequencer leader
  // took it), 1 and 2 accepted and buffered behind it. Nonce 0 is lost by then and nobody holds it.
  const sends = new Map<number, number>();
  let next = 0;
  const buffered = new Set<number>();
  let first = true;
  const { messages, done } = await runBeacon(
    {
      accounts: { start: 0, end: 1 },
      confirmation: { method: 'poll', timeoutMs: 400, retries: 3, pollIntervalMs: 500 },
      offsetsMs: new Float64Array([0, 0, 0, 1500]),
      senders: new Uint32Array([0, 0, 0, 0]),
      targets: new Uint32Array([0, 0, 0, 0]),
    },
    async (items, sink) => {
      const commitInOrder = (): void => {
        while (buffered.has(next)) {
          buffered.delete(next);
          sink().committed(`tx${next}`, next + 1, Date.now());
          next++;
        }
      };
      for (const { tx } of items) sends.set(tx.payload as number, (sends.get(tx.payload as number) ?? 0) + 1);
      if (first) {
        first = false;
        await new Promise((r) => setTimeout(r, 600));
        for (const { tx } of items) if (tx.payload !== 0) buffered.add(tx.payload as number);
        return items.map(({ tx }) => (tx.payload === 0 ? { kind: 'retry', code: 'TPSLAB_E_UNAVAILABLE', afterMs: 50 } : { kind: 'accepted' }));
      }
      for (const { tx } of items) buffered.add(tx.payload as number);
      queueMicrotask(commitInOrder);
      return items.map(() => ({ kind: 'accepted' }));
    },
  );
  assert.equal(sends.get(0), 2, 'nonce 0, refused after it was counted lost, is sent again');
  assert.ok(messages.some((m) => m.type === 'log' && /transaction tx0 answered TPSLAB_E_UNAVAILABLE after it expired: no node holds it/.test(m.line)), 'the beacon says so');
  assert.equal(next, 4, 'every nonce of the sender commits: no hole');
  assert.deepEqual({ sent: done.sent, committed: done.committed, expired: done.expired, late: done.late, lost: done.lost }, { sent: 4, committed: 4, expired: 3, late: 3, lost: 0 });
});

test('regression: an answer that came after its transaction expired and was dropped from the ledger was applied at a negative index: counted failed on top of lost, never sent again', async () => {
  // tx0 due at 0 ms, alone in its request, answered after 600 ms (refused for now); 20,000 others due
  // at 50 ms commit at once, one more at 1500 ms keeps the beacon running; timeout 400 ms. At 400 ms
  // tx0 is lost and the ledger's resolved front (over COMPACT_MIN) is dropped with it, before tx0's
  // answer arrives.
  const n = 20_002;
  let tx0Sends = 0;
  const offsetsMs = new Float64Array(n).fill(50);
  offsetsMs[0] = 0;
  offsetsMs[n - 1] = 1500;
  const { done } = await runBeacon(
    {
      accounts: { start: 0, end: n },
      confirmation: { method: 'stream', timeoutMs: 400, retries: 3, pollIntervalMs: 500 },
      offsetsMs,
      senders: Uint32Array.from({ length: n }, (_, i) => i),
      targets: new Uint32Array(n),
      batchMax: 500,
      batchDelayMs: 5,
    },
    async (items, sink) => {
      if (items.some(({ tx }) => tx.payload === 0) && tx0Sends++ === 0) {
        await new Promise((r) => setTimeout(r, 600));
        return items.map(() => ({ kind: 'retry', code: 'TPSLAB_E_UNAVAILABLE', afterMs: 10 }));
      }
      queueMicrotask(() => {
        for (const { tx } of items) sink().committed(tx.id, 1, Date.now());
      });
      return items.map(() => ({ kind: 'accepted' }));
    },
  );
  assert.equal(tx0Sends, 2, 'tx0, refused after it expired and was dropped, is sent again');
  assert.deepEqual(
    { sent: done.sent, committed: done.committed, failed: done.failed, failures: done.failures, expired: done.expired, late: done.late, lost: done.lost },
    { sent: n, committed: n, failed: 0, failures: 0, expired: 1, late: 1, lost: 0 },
  );
});

test('regression: a beacon ended with a lost transaction still to be sent again (or just taken by the network): it was reported lost though it would commit', async () => {
  // One transaction, timeout 400 ms; its first submit is answered after 600 ms, refused for now; the
  // resend is taken and commits 100 ms later. Nothing else keeps the beacon running.
  let sends = 0;
  const { done } = await runBeacon(
    {
      confirmation: { method: 'stream', timeoutMs: 400, retries: 3, pollIntervalMs: 500 },
      offsetsMs: new Float64Array([0]),
      senders: new Uint32Array([0]),
      targets: new Uint32Array([0]),
    },
    async (items, sink) => {
      if (sends++ === 0) {
        await new Promise((r) => setTimeout(r, 600));
        return items.map(() => ({ kind: 'retry', code: 'TPSLAB_E_UNAVAILABLE', afterMs: 10 }));
      }
      setTimeout(() => {
        for (const { tx } of items) sink().committed(tx.id, 1, Date.now());
      }, 100);
      return items.map(() => ({ kind: 'accepted' }));
    },
  );
  assert.equal(sends, 2, 'sent again before the beacon ended');
  assert.deepEqual({ committed: done.committed, late: done.late, lost: done.lost }, { committed: 1, late: 1, lost: 0 });
});

test('lost repair: a transaction is sent again when due, at most the attempts allowed, and not after it committed', () => {
  const r = new LostRepair(3);
  const item = (attempt: number): SubmitItem => ({ tx: { id: 'a', payload: 0 }, attempt });
  r.add('a', item(2), 100);
  assert.deepEqual(r.take(99, 10), []);
  assert.deepEqual(r.take(100, 10), [['a', item(2)]]);
  assert.equal(r.size, 0);
  r.add('a', item(4), 100);
  assert.equal(r.size, 0, 'past its attempts it is dropped');
  r.add('b', item(2), 0);
  r.done('b');
  assert.deepEqual(r.take(1000, 10), []);
  r.add('c', item(2), 0);
  r.add('d', item(2), 0);
  assert.equal(r.take(1000, 1).length, 1);
  assert.equal(r.size, 1);
});

test('lost repair: a resend the network took keeps the beacon busy for the wait, or until it commits', () => {
  const r = new LostRepair(3, () => {}, 400);
  const sent: [string, SubmitItem][] = [['a', { tx: { id: 'a', payload: 0 }, attempt: 2 }], ['b', { tx: { id: 'b', payload: 1 }, attempt: 2 }]];
  r.answered(sent, [{ kind: 'accepted' }, { kind: 'known' }], 1000, () => {});
  assert.equal(r.size, 0, 'nothing left to send');
  assert.equal(r.busy(1399), true, 'their commits are waited for');
  r.done('a');
  assert.equal(r.held, 1);
  assert.equal(r.busy(1400), false, 'not past the wait');
  assert.equal(r.held, 0);
});
