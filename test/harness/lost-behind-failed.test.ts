// Regression (both nodes down 5–8 s): after `confirmation.retries` ran out for one transaction, its
// sender's later ones were reported as bare "lost" (50–64 of them) though reconciliation matched. They were
// truly lost: the failed one's nonce was never used, so nothing after it could commit. The outcome now says
// so (LOST_BEHIND_FAILED, counted with the error codes); a lost transaction with no failure before it stays LOST.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import type { BeaconConnector, SubmitItem, SubmitResult } from '../../src/connectors/contract.js';
import { assignment } from '../../src/harness/assignment.js';
import { Beacon } from '../../src/harness/beacon.js';
import { LOST_BEHIND_FAILED } from '../../src/harness/beacon-tracker.js';
import type { BeaconMessage } from '../../src/harness/messages.js';

test('regression: later nonces behind a transaction whose retries ran out were reported as bare lost; now as lost behind a failed one', async () => {
  // Sender 0 sends tx0..tx3, sender 1 sends tx4..tx5, all at 0 ms. tx0 is refused for now at every send
  // (the nodes are down for it) and fails after its one retry; tx4 commits; the others are accepted and never
  // commit. Timeout 400 ms, on a manual clock (the real one could be late by more than the timeout under load).
  const clock = new ManualClock();
  const messages: BeaconMessage[] = [];
  const ref: { t?: { committedById(id: string, h: number, at: number): void } } = {};
  const connector: BeaconConnector = {
    position: 0,
    prepare: async () => {},
    build: (tx) => ({ id: `tx${tx.index}`, payload: tx.index }),
    submit: async (items: readonly SubmitItem[]): Promise<SubmitResult[]> => {
      for (const { tx } of items) if (tx.payload === 4) queueMicrotask(() => ref.t!.committedById('tx4', 1, clock.now()));
      return items.map(({ tx }) => (tx.payload === 0 ? { kind: 'retry', code: 'TPSLAB_E_UNAVAILABLE', afterMs: 10 } : { kind: 'accepted' }));
    },
    confirm: async () => {},
    close: async () => {},
  };
  const b = new Beacon(
    assignment({
      accounts: { start: 0, end: 2 },
      confirmation: { method: 'poll', timeoutMs: 400, retries: 1, pollIntervalMs: 500 },
      collectOutcomes: true,
      offsetsMs: new Float64Array([0, 0, 0, 0, 0, 0]),
      senders: new Uint32Array([0, 0, 0, 0, 1, 1]),
      targets: new Uint32Array([1, 1, 1, 1, 0, 0]),
    }),
    (m) => void messages.push(m),
    connector,
    clock,
  );
  ref.t = (b as unknown as { t: NonNullable<typeof ref.t> }).t;
  await b.prepare();
  b.start(clock.now());
  // Time moves 10 ms a step, each step letting the submits' answers in: the beacon is done sending and
  // tracking well within 1 s of it. Then only its commit digest (a worker thread, real time) is awaited.
  const stopped = (): boolean => (b as unknown as { stopped: boolean }).stopped;
  for (let step = 0; step < 100 && !stopped(); step++) {
    clock.advance(10);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(stopped(), 'the beacon finished within 1 s of manual time');
  await b.done;

  const done = messages.find((m) => m.type === 'done');
  assert.ok(done?.type === 'done');
  assert.deepEqual({ sent: done.sent, committed: done.committed, failed: done.failed, lost: done.lost }, { sent: 6, committed: 1, failed: 1, lost: 4 });
  const outcome = (id: string): string | null | undefined => done.outcomes?.find((o) => o.id === id)?.errorCode;
  assert.equal(outcome('tx0'), 'TPSLAB_E_UNAVAILABLE');
  // Behind tx0 (same sender, later nonces): lost because tx0 failed.
  assert.deepEqual([outcome('tx1'), outcome('tx2'), outcome('tx3')], [LOST_BEHIND_FAILED, LOST_BEHIND_FAILED, LOST_BEHIND_FAILED]);
  // Sender 1 had no failure: its lost transaction is bare LOST.
  assert.equal(outcome('tx5'), 'LOST');
  assert.equal(done.errors[LOST_BEHIND_FAILED], 3);
});
