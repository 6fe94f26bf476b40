// How a beacon's tracker (src/harness/beacon-tracker.ts) counts transactions the network dropped for now, failed
// ones that commit after all, and the lost ones behind them (LOST_BEHIND_FAILED). No timers: a manual clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { assignment } from '../../src/harness/assignment.js';
import { COMPACT_MIN } from '../../src/harness/beacon-compaction.js';
import { TxState, appendEntry } from '../../src/harness/beacon-ledger.js';
import { LOST_BEHIND_FAILED, Tracker } from '../../src/harness/beacon-tracker.js';

const TIMEOUT_MS = 1000;

function tracker(clock: ManualClock, retries: number): Tracker {
  const tr = new Tracker(assignment({ confirmation: { method: 'stream', timeoutMs: TIMEOUT_MS, retries, pollIntervalMs: 500 } }), clock, () => {}, () => {});
  tr.startMs = clock.now();
  return tr;
}

/** Appends `id` (sender `sender`, its `ordinal`-th, intended at the start) and sends it once; returns its ledger index. */
function send(tr: Tracker, clock: ManualClock, id: string, sender: number, ordinal: number): number {
  const i = appendEntry(tr.txs, sender, 0, 0, ordinal);
  tr.index(i, id);
  tr.txs.built[i] = { id, payload: id };
  tr.markSent(i, 1, clock.now());
  return i;
}

test('regression: a dropped-for-now transaction reported again while waiting for its resend was counted again and its resend put off; now the repeat is ignored', () => {
  const clock = new ManualClock();
  const tr = tracker(clock, 3);
  const i = send(tr, clock, 'tx0', 0, 0);
  const t0 = clock.now();
  tr.failedById('tx0', 'TPSLAB_E_PREDECESSOR_REFUSED', 1000);
  assert.equal(tr.txs.state[i], TxState.Waiting);
  clock.advance(600);
  // The same drop again: a duplicate `failed` event, or a poll answer that was on its way.
  tr.failedById('tx0', 'TPSLAB_E_PREDECESSOR_REFUSED', 1000);
  assert.equal(tr.errors.get('TPSLAB_E_PREDECESSOR_REFUSED'), 1, 'counted once');
  assert.equal(tr.retryAt.get(i), t0 + 1000, 'the resend is not put off');
  const due: number[] = [];
  tr.takeDueRetries(t0 + 1000, (k) => void due.push(k));
  assert.deepEqual(due, [i]);
  // Sent again and dropped again: that is a new drop, acted on.
  tr.markSent(i, 2, clock.now());
  tr.failedById('tx0', 'TPSLAB_E_PREDECESSOR_REFUSED', 1000);
  assert.equal(tr.errors.get('TPSLAB_E_PREDECESSOR_REFUSED'), 2);
  assert.equal(tr.txs.state[i], TxState.Waiting);
  tr.commits.close();
});

test('regression: when a sender\'s first failure committed late, its later failures were forgotten and the ones behind them lost as bare LOST; a late commit of a LOST_BEHIND_FAILED one did not take that count back', () => {
  const clock = new ManualClock();
  const tr = tracker(clock, 0);
  send(tr, clock, 'a0', 0, 0);
  send(tr, clock, 'a1', 0, 1);
  const a2 = send(tr, clock, 'a2', 0, 2);
  tr.failedById('a0', 'TPSLAB_E_INVALID_TX');
  tr.failedById('a1', 'TPSLAB_E_INVALID_TX');
  tr.committedById('a0', 1, clock.now()); // the first failure committed after all; a1 is still failed
  clock.advance(TIMEOUT_MS + 1);
  tr.expire(clock.now());
  assert.equal(tr.txs.error[a2], LOST_BEHIND_FAILED, 'a2 is behind a1, which failed');
  assert.equal(tr.errors.get(LOST_BEHIND_FAILED), 1);
  tr.committedById('a2', 2, clock.now()); // late after all
  assert.equal(tr.errors.get(LOST_BEHIND_FAILED) ?? 0, 0, 'the late commit takes LOST_BEHIND_FAILED back');
  assert.deepEqual({ lost: tr.counts.lost, late: tr.counts.late, failed: tr.counts.failed }, { lost: 0, late: 1, failed: 1 });
  tr.commits.close();
});

test('regression: the same for entries already dropped from the ledger: a late commit of a failed one frees its sender, of a LOST_BEHIND_FAILED one takes the count back', () => {
  const clock = new ManualClock();
  const tr = tracker(clock, 0);
  send(tr, clock, 'a0', 0, 0);
  send(tr, clock, 'a1', 0, 1);
  tr.failedById('a0', 'TPSLAB_E_INVALID_TX');
  for (let k = 0; k < COMPACT_MIN; k++) send(tr, clock, `f${k}`, 1, k); // another sender's, to be lost: enough to compact
  clock.advance(TIMEOUT_MS + 1);
  tr.expire(clock.now());
  assert.equal(tr.errors.get(LOST_BEHIND_FAILED), 1, 'a1 is lost behind a0');
  assert.ok(tr.compactor.compact() >= COMPACT_MIN + 2, 'a0 and a1 are dropped from the ledger');
  tr.committedById('a1', 1, clock.now());
  assert.equal(tr.errors.get(LOST_BEHIND_FAILED), 0, 'a1 committed late');
  tr.committedById('a0', 1, clock.now());
  // a0 committed after all: sender 0 has no failure left, so its next lost one is bare LOST.
  const a2 = send(tr, clock, 'a2', 0, 2);
  clock.advance(TIMEOUT_MS + 1);
  tr.expire(clock.now());
  assert.equal(tr.txs.error[a2], 'LOST');
  assert.equal(tr.errors.get(LOST_BEHIND_FAILED), 0);
  tr.commits.close();
});
