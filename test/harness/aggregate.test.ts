// The overseer's aggregator: per-second rows and run totals from beacons' cumulative reports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunAggregator } from '../../src/harness/aggregate.js';
import { LatencyHistogram } from '../../src/harness/histogram.js';
import type { ProgressMessage } from '../../src/harness/messages.js';

const EMPTY = new LatencyHistogram().encode();

/** A beacon's cumulative report for `second`. */
function progress(beacon: number, second: number, c: Partial<Pick<ProgressMessage, 'sent' | 'committed' | 'failed' | 'failures' | 'expired' | 'late' | 'retries'>>): ProgressMessage {
  const expired = c.expired ?? 0;
  const late = c.late ?? 0;
  return {
    v: 2, type: 'progress', beacon, second, sent: c.sent ?? 0, committed: c.committed ?? 0, failed: c.failed ?? 0, failures: c.failures ?? c.failed ?? 0,
    lost: expired - late, expired, late, retries: c.retries ?? 0, inFlight: 0, errors: {},
    corrected: EMPTY, uncorrected: EMPTY, lag: EMPTY, height: 0,
  };
}

test('regression: tps.avg of exactly 50 tx/s for 10 s was 45.45 (divided by 11 s)', () => {
  const agg = new RunAggregator(1, () => 50);
  // Commits trail the sends by a few ms, so 5 of the last second's sends commit in second 10.
  let sent = 0;
  let committed = 0;
  for (let s = 0; s <= 10; s++) {
    sent += s < 10 ? 50 : 0;
    committed += s === 0 ? 45 : s < 10 ? 50 : 5;
    agg.add(progress(0, s, { sent, committed }));
  }
  agg.finished(0);
  agg.flushAll();
  assert.equal(committed, 500);
  assert.deepEqual(agg.tps(10_000), { avg: 50, peak: 50, windowSec: 10 });
  assert.equal(agg.tps(10_000).avg.toFixed(2), '50.00');
});

test('tps window: a backlog that drains after the schedule stretches the window to the start of the last commit second', () => {
  const agg = new RunAggregator(1, () => 50);
  // 10 s of sends at 50/s, but the network commits 25/s for 20 s.
  for (let s = 0; s < 20; s++) agg.add(progress(0, s, { sent: Math.min(500, 50 * (s + 1)), committed: 25 * (s + 1) }));
  agg.finished(0);
  agg.flushAll();
  // Last commit second is 19: window 19 s (the final second is partial), 500 / 19.
  assert.deepEqual(agg.tps(10_000), { avg: 500 / 19, peak: 25, windowSec: 19 });
});

test('tps window: nothing committed is 0 over the planned window', () => {
  const agg = new RunAggregator(1, () => 50);
  agg.add(progress(0, 0, { sent: 10 }));
  agg.finished(0);
  assert.deepEqual(agg.tps(10_000), { avg: 0, peak: 0, windowSec: 10 });
});

test('regression: progress showed p99 0.0ms before any commit', () => {
  const agg = new RunAggregator(1, () => 50);
  agg.add(progress(0, 0, { sent: 50 }));
  agg.add(progress(0, 1, { sent: 100 }));
  assert.match(agg.progressLine(1), /p99 -$/);
  assert.doesNotMatch(agg.progressLine(1), /0\.0ms/);
});

test('regression: a failed transaction later seen committed made the per-second failed series negative', () => {
  const agg = new RunAggregator(1, () => 10);
  // Second 0: 10 sent, 9 commit, 1 fails (retries ran out). Second 1: that one is seen committed after all.
  agg.add(progress(0, 0, { sent: 10, committed: 9, failed: 1, failures: 1 }));
  agg.add(progress(0, 1, { sent: 10, committed: 10, failed: 0, failures: 1 }));
  agg.finished(0);
  agg.flushAll();
  assert.deepEqual(agg.rows.map((r) => [r.committed, r.failed]), [[9, 1], [1, 0]]);
  assert.equal(agg.totals.failed, 0, 'the run failed nothing in the end');
  assert.equal(agg.totals.committed, 10);
});

test('seconds complete when the slowest live beacon reported them; a beacon done before reporting holds nothing back; run totals are the seconds merged', () => {
  const agg = new RunAggregator(4, () => 10);
  const h = (ms: number): string => {
    const x = new LatencyHistogram();
    x.record(ms);
    return x.encode();
  };
  const at = (b: number, s: number, ms: number): ProgressMessage => ({ ...progress(b, s, { sent: s + 1, committed: s + 1 }), corrected: h(ms), uncorrected: h(ms), lag: h(0) });
  assert.deepEqual(agg.finished(3), [], 'beacon 3 ended before any report: the others still hold the seconds');
  assert.deepEqual(agg.add(at(0, 0, 10)).map((r) => r.second), []);
  assert.deepEqual(agg.add(at(1, 0, 20)).map((r) => r.second), []);
  assert.deepEqual(agg.add(at(0, 1, 30)).map((r) => r.second), [], 'beacon 2 has not reported second 0');
  assert.deepEqual(agg.add(at(2, 1, 40)).map((r) => r.second), [0], 'beacon 2 skipped to second 1: second 0 completes; beacon 1 holds second 1');
  assert.deepEqual(agg.add(at(1, 2, 50)).map((r) => r.second), [1]);
  assert.deepEqual(agg.finished(1).map((r) => r.second), [], 'beacons 0 and 2 are still at second 1');
  assert.deepEqual(agg.add(at(0, 2, 60)).map((r) => r.second), []);
  assert.deepEqual(agg.add(at(2, 2, 70)).map((r) => r.second), [2]);
  assert.deepEqual(agg.finished(0), []);
  assert.deepEqual(agg.finished(2), []);
  assert.deepEqual(agg.flushAll(), []);
  assert.equal(agg.corrected.count, 7, 'every report\'s latencies are in the run totals once');
  assert.equal(Math.round(agg.corrected.summary().maxMs), 70);
  assert.equal(agg.rows.reduce((n, r) => n + LatencyHistogram.decode(r.latCorrected!).count, 0), 7);
});
