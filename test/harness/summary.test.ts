// The table `tpslab run` prints, and what it must agree on with the HTML report.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from '../../src/harness/histogram.js';
import type { RunResult, RunSummary } from '../../src/harness/overseer.js';
import { formatSummary } from '../../src/harness/summary.js';
import { blockRange } from '../../src/web/contract.js';

const lat = (values: number[]): RunSummary['latency'] => {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h.summary();
};

export function summaryFixture(over: Partial<RunSummary> = {}): RunSummary {
  return {
    runId: 'r1', durationSec: 11, sent: 500, committed: 500, failed: 0, lost: 0, pending: 0, retries: 0,
    tps: { avg: 50, peak: 50, windowSec: 10 },
    latency: lat([10, 20, 30]), latencyUncorrected: lat([9, 19, 29]), scheduleLag: lat([0.5]), errors: {},
    reconciliation: { fromHeight: 1, toHeight: 382, networkCommitted: 500, beaconCommitted: 500, matched: 500, missing: 0, unexpected: 0, missingIds: [], unexpectedIds: [] },
    ...over,
  };
}

const result = (summary: RunSummary, thresholds: RunResult['thresholds'] = []): RunResult => ({ runId: 'r1', dbPath: '/tmp/results.db', status: 'passed', summary, thresholds });

test('regression: the terminal said "blocks 2..382" and the HTML report "Blocks 1..382" for the same run', async () => {
  const text = formatSummary(result(summaryFixture()));
  assert.equal(blockRange({ fromHeight: 1, toHeight: 382 }), '2..382');
  assert.match(text, /reconciliation \(blocks 2\.\.382\)/);
  // The report app prints the range through the same formatter, never from the raw heights.
  const app = await readFile(fileURLToPath(new URL('../../../src/web/app/report.ts', import.meta.url)), 'utf8');
  assert.match(app, /Blocks \$\{blockRange\(r\)\}/);
  assert.doesNotMatch(app, /fromHeight\)\}\.\./);
  assert.equal(blockRange({ fromHeight: 5, toHeight: 5 }), 'no blocks (head 5)');
});

test('the summary states the TPS window it divided by', () => {
  assert.match(formatSummary(result(summaryFixture())), /committed TPS: average 50\.0, peak 50 \(over 10 s\)/);
});

test('regression: the summary printed threshold actuals without units (actual 3031.039)', () => {
  const text = formatSummary(result(summaryFixture(), [{ threshold: 'latency.p99 <= 2s', metric: 'latency.p99', actual: 3031.039, actualText: '3.03s', passed: false }]));
  assert.match(text, /FAIL {2}latency\.p99 <= 2s {2}\(actual 3\.03s\)/);
});

test('regression: "1 transactions" — counts in messages agree with their number', async () => {
  const { countOf } = await import('../../src/harness/text.js');
  assert.equal(countOf(1, 'transaction'), '1 transaction');
  assert.equal(countOf(2, 'transaction'), '2 transactions');
  assert.equal(countOf(0, 'beacon'), '0 beacons');
  assert.equal(countOf(12000, 'account'), '12,000 accounts');
});

test('beacons over NATS: the summary lists each one\'s clock offset ± uncertainty and its first send after the start', () => {
  const r: RunResult = {
    ...result(summaryFixture()),
    clocks: [
      { beacon: 0, name: 'beacon-0', clockOffsetMs: 0.12, clockUncertaintyMs: 0.08, firstSendAfterStartMs: 1.04 },
      { beacon: 1, name: 'beacon-1', clockOffsetMs: -2000.31, clockUncertaintyMs: 0.21, firstSendAfterStartMs: 0.96 },
      { beacon: 2, name: 'late-joiner' },
    ],
  };
  const text = formatSummary(r);
  assert.match(text, /clock offset \(ms\)\s+first send after start \(ms\)/);
  assert.match(text, /1 beacon-1\s+-2000\.31 ± 0\.21\s+\+0\.96\n/);
  assert.match(text, /2 late-joiner\s+–\s+–\n/);
  assert.doesNotMatch(formatSummary(result(summaryFixture())), /clock offset/, 'local beacons: no clock table');
});
