// How a beacon's tracker (src/harness/beacon-tracker.ts) counts transactions the network dropped for now, failed
// ones that commit after all, and the lost ones behind them (LOST_BEHIND_FAILED). No timers: a manual clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { assignment } from '../../src/harness/assignment.js';
import { TxState, appendEntry } from '../../src/harness/beacon-ledger.js';
import { Tracker } from '../../src/harness/beacon-tracker.js';

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
