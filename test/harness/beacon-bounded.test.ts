// A beacon's memory follows what is in flight, not the run: it walks a described plan ahead of
// sending, drops resolved transactions, and still counts a late commit of one it dropped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import type { BeaconConnector, ConfirmSink, SubmitItem, SubmitResult } from '../../src/connectors/contract.js';
import { assignment } from '../../src/harness/assignment.js';
import { Beacon, COMPACT_MIN, PLAN_AHEAD, QUEUE_AHEAD } from '../../src/harness/beacon.js';
import type { Assign, BeaconMessage, Outcome } from '../../src/harness/messages.js';
import { SetDigest } from '../../src/harness/set-digest.js';

const TXS = 100_000;
const RATE_PER_SEC = 25_000;
/**
 * Every 997th transaction of the first second commits only after its timeout: lost first, then
 * late, most after the beacon dropped it (and before the beacon ends: a late commit after that is nobody's).
 */
const withheld = (index: number): boolean => index % 997 === 5 && index < RATE_PER_SEC;

const assign = assignment({
  accounts: { start: 0, end: 50 },
  plan: { kind: 'open', stages: [{ kind: 'constant', ratePerSec: RATE_PER_SEC, durationSec: TXS / RATE_PER_SEC }], arrival: 'uniform', seed: 3, accounts: 50, contention: { kind: 'uniform' }, txCount: TXS },
  batchMax: 500, batchDelayMs: 2,
  confirmation: { method: 'stream', timeoutMs: 400, retries: 0, pollIntervalMs: 500 }, collectOutcomes: true,
});

interface FakeTarget {
  connector: BeaconConnector;
  beacon?: Beacon;
  maxLedger: number;
}

/**
 * A target that accepts every batch and confirms through `answer`; it notes the most the beacon's
 * ledger held at any submit (`target.beacon` is set once the beacon exists).
 */
function fakeTarget(answer: (items: readonly SubmitItem[], sink: ConfirmSink, beacon: Beacon) => Promise<void> | void): FakeTarget {
  let sink: ConfirmSink | undefined;
  const target: FakeTarget = {
    maxLedger: 0,
    connector: {
      position: 0,
      prepare: async () => {},
      build: (tx) => ({ id: `tx${tx.index}`, payload: tx.index }),
      submit: async (items: readonly SubmitItem[]): Promise<SubmitResult[]> => {
        target.maxLedger = Math.max(target.maxLedger, target.beacon!.txs.size);
        await answer(items, sink!, target.beacon!);
        return items.map(() => ({ kind: 'accepted' }));
      },
      confirm: async (h) => {
        sink = h;
      },
      close: async () => {},
    },
  };
  return target;
}

test('regression: a beacon held every planned transaction for the whole run (memory grew with the run, not with what is in flight)', async () => {
  const messages: BeaconMessage[] = [];
  let lateAfterDrop = 0;
  const timers = new Set<NodeJS.Timeout>();
  const target = fakeTarget((items, sink, beacon) => {
    for (const { tx } of items) {
      if (!withheld(tx.payload as number)) {
        queueMicrotask(() => sink.committed(tx.id, 1, Date.now()));
        continue;
      }
      const t = setTimeout(() => {
        timers.delete(t);
        if ((beacon as unknown as { t: { lookup(id: string): number | undefined } }).t.lookup(tx.id) === undefined) lateAfterDrop++;
        sink.committed(tx.id, 1, Date.now());
      }, 1200);
      timers.add(t);
    }
  });
  const b = new Beacon(assign, (m) => void messages.push(m), target.connector, preciseClock);
  target.beacon = b;
  await b.prepare();
  b.start(Date.now());
  try {
    await b.done;
  } finally {
    for (const t of timers) clearTimeout(t);
  }
  const done = messages.find((m) => m.type === 'done');
  assert.ok(done?.type === 'done');
  const late = Array.from({ length: TXS }, (_, i) => i).filter(withheld).length;
  assert.deepEqual({ sent: done.sent, committed: done.committed, lost: done.lost, failed: done.failed }, { sent: TXS, committed: TXS, lost: 0, failed: 0 });
  // Every expired one committed late (a stalled machine may expire more than the withheld ones).
  assert.ok(done.late === done.expired && done.late >= late, `late ${done.late}, expired ${done.expired}, withheld ${late}`);
  assert.ok(lateAfterDrop > 0, 'some late commits came after their transaction was dropped');
  // Outcomes streamed as the beacon dropped them, then the rest in done: one final row per transaction.
  const rows = new Map<string, Outcome>();
  for (const m of messages) if (m.type === 'outcomes') for (const o of m.outcomes) rows.set(o.id, o);
  const streamed = rows.size;
  for (const o of done.outcomes ?? []) rows.set(o.id, o);
  assert.ok(streamed > 0 && streamed < TXS, `some rows streamed before the end (${streamed})`);
  assert.equal(rows.size, TXS);
  assert.ok([...rows.values()].every((o) => o.status === 'committed'), 'late commits replaced their lost rows');
  // Each sender's transactions are numbered 0, 1, 2, … in plan order (the rows' nonce).
  const nextNonce = new Map<number, number>();
  for (const o of [...rows.values()].sort((x, y) => Number(x.id.slice(2)) - Number(y.id.slice(2)))) {
    assert.equal(o.nonce, nextNonce.get(o.sender) ?? 0, `${o.id} of sender ${o.sender}`);
    nextNonce.set(o.sender, o.nonce + 1);
  }
  assert.equal(nextNonce.size, 50);
  // Reconciliation still gets every committed id, once, late commits of dropped ones included: the digest of them all.
  const all = new SetDigest();
  for (const id of rows.keys()) all.add(id);
  assert.equal(done.committedDigest.count, TXS);
  assert.ok(all.equals(done.committedDigest), 'the done digest is the digest of every committed id');
  // Bounded: the ledger never held more than a fraction of the run (PLAN_AHEAD ahead plus what is unresolved, dropped in chunks).
  // With commits this quick, little is unresolved: the ledger stays within 2·COMPACT_MIN + PLAN_AHEAD, whatever TXS is.
  assert.ok(target.maxLedger <= 2 * COMPACT_MIN + PLAN_AHEAD, `the ledger held at most ${target.maxLedger} of ${TXS} transactions`);
});

test('regression: a beacon far behind its schedule laid out every due transaction (ledger and CPU grew with the backlog, not with what it could send)', async () => {
  const txs = 300_000;
  const behind: Assign = {
    ...assign,
    // Every transaction due within the first 10 ms; the target answers each batch only after 20 ms.
    plan: { ...assign.plan!, stages: [{ kind: 'constant', ratePerSec: txs * 100, durationSec: 0.01 }], txCount: txs },
    batchMax: 100,
    collectOutcomes: false,
  };
  const target = fakeTarget(async (items, sink) => {
    await new Promise((r) => setTimeout(r, 20));
    for (const { tx } of items) sink.committed(tx.id, 1, Date.now());
  });
  const messages: BeaconMessage[] = [];
  const b = new Beacon({ ...behind, confirmation: { ...behind.confirmation, timeoutMs: 60_000 } }, (m) => void messages.push(m), target.connector, preciseClock);
  target.beacon = b;
  await b.prepare();
  b.start(Date.now());
  // Bounded in time: the beacon is stopped (and reports what it has) if it has not finished within 30 s.
  const guard = setTimeout(() => void b.stop(), 30_000);
  await b.done;
  clearTimeout(guard);
  const done = messages.find((m) => m.type === 'done');
  assert.ok(done?.type === 'done');
  assert.deepEqual({ sent: done.sent, committed: done.committed, lost: done.lost }, { sent: txs, committed: txs, lost: 0 });
  // Unresolved: at most QUEUE_AHEAD queued, 64 requests of batchMax in flight and PLAN_AHEAD planned; the
  // resolved prefix is dropped once it is COMPACT_MIN and half the ledger, so it is at most as long again.
  const bound = 2 * (COMPACT_MIN + QUEUE_AHEAD + PLAN_AHEAD + 64 * behind.batchMax);
  assert.ok(bound < txs / 3, 'the bound must be far below the backlog to show anything');
  assert.ok(target.maxLedger <= bound, `the ledger held at most ${target.maxLedger} of ${txs} transactions (bound ${bound})`);
});
