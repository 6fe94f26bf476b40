// A batch of never-sent consecutive entries is marked sent as one run (Tracker.markSentRun): the
// same ledger columns, counts, sent order and lag histogram as marking each one (markSent).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { assignment } from '../../src/harness/assignment.js';
import { TxState, appendEntry } from '../../src/harness/beacon-ledger.js';
import { Tracker } from '../../src/harness/beacon-tracker.js';

function tracker(clock: ManualClock): Tracker {
  const tr = new Tracker(assignment({ confirmation: { method: 'stream', timeoutMs: 1000, retries: 0, pollIntervalMs: 500 } }), clock, () => {}, () => {});
  tr.startMs = clock.now();
  for (let k = 0; k < 3000; k++) {
    const i = appendEntry(tr.txs, k % 7, 0, k * 0.37, k);
    tr.index(i, `tx${k}`);
  }
  return tr;
}

test('markSentRun leaves what markSent of each entry leaves (columns, counts, in flight, sent order, lag histogram)', () => {
  const clock = new ManualClock();
  const each = tracker(clock);
  const run = tracker(clock);
  // Runs of one batch, then of several, across SentOrder's first capacity (1024).
  const runs: [number, number, number][] = [[0, 200, 5], [200, 201, 9.5], [201, 1500, 40], [1500, 2999, 700.25]];
  for (const [lo, hi, at] of runs) {
    const now = clock.now() + at;
    for (let i = lo; i < hi; i++) each.markSent(i, 1, now);
    run.markSentRun(lo, hi, now);
  }
  for (const c of ['firstSentMs', 'attempts', 'state'] as const) assert.deepEqual(run.txs[c], each.txs[c], c);
  assert.equal(run.txs.state[2999], TxState.Unsent);
  assert.deepEqual(run.counts, each.counts);
  assert.equal(run.inFlight, 2999);
  assert.equal(run.inFlight, each.inFlight);
  assert.deepEqual(run.pollCandidates(Infinity, 5000), each.pollCandidates(Infinity, 5000));
  assert.equal(run.pollCandidates(Infinity, 5000).length, 2999);
  assert.deepEqual(run.recorder.snapshot(), each.recorder.snapshot());
  each.commits.close();
  run.commits.close();
});
