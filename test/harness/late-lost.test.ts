// Late commits vs lost transactions, end to end through a beacon (fake submit, real timers),
// the aggregator, the summary, thresholds, results.db, the report data and the CSV.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RunAggregator } from '../../src/harness/aggregate.js';
import { assignment } from '../../src/harness/assignment.js';
import { Beacon, TxState } from '../../src/harness/beacon.js';
import { preciseClock } from '../../src/clock.js';
import type { BeaconConnector, SubmitItem, SubmitResult } from '../../src/connectors/contract.js';
import { LatencyHistogram } from '../../src/harness/histogram.js';
import type { Assign, BeaconMessage, ProgressMessage } from '../../src/harness/messages.js';
import { thresholdMetrics, type RunSummary } from '../../src/harness/overseer.js';
import { buildReportData, reportCsv } from '../../src/harness/report.js';
import { ResultsStore, type SecondRow } from '../../src/harness/store.js';
import { formatSummary } from '../../src/harness/summary.js';
import { evaluateThresholds, parseThresholds } from '../../src/harness/thresholds.js';
import { waitFor } from '../testkit/index.js';

const EMPTY = new LatencyHistogram().encode();

const assign = (over: Partial<Assign>): Assign => assignment({
  accounts: { start: 0, end: 6 }, confirmation: { method: 'poll', timeoutMs: 400, retries: 0, pollIntervalMs: 500 }, collectOutcomes: true,
  ...over,
});

test('regression: late commits erased losses (progress said lost 5538, the summary lost 0, lost == 0 passed)', async () => {
  // Six transactions: 0–4 at 0 ms, 5 at 2500 ms; timeout 400 ms.
  // 0, 1 and 5 commit at once; 2, 3, 4 expire; then 2 and 3 commit late; 4 never commits.
  const messages: BeaconMessage[] = [];
  const onTime = new Set([0, 1, 5]);
  const ref: { inner?: { onCommitted(i: number, h: number, at: number): void } } = {};
  // A connector that accepts everything; transactions 0, 1 and 5 commit at once.
  const connector: BeaconConnector = {
    position: 0,
    prepare: async () => {},
    build: (tx) => ({ id: `tx${tx.index}`, payload: tx.index }),
    submit: async (items: readonly SubmitItem[]): Promise<SubmitResult[]> => {
      for (const { tx } of items) {
        const i = tx.payload as number;
        if (onTime.has(i)) queueMicrotask(() => ref.inner!.onCommitted(i, 1, Date.now()));
      }
      return items.map(() => ({ kind: 'accepted' }));
    },
    confirm: async () => {},
    close: async () => {},
  };
  const b = new Beacon(
    assign({ offsetsMs: new Float64Array([0, 0, 0, 0, 0, 2500]), senders: new Uint32Array([0, 1, 2, 3, 4, 5]), targets: new Uint32Array([1, 2, 3, 4, 5, 0]) }),
    (m) => void messages.push(m),
    connector,
    preciseClock,
  );
  const inner = (b as unknown as { t: NonNullable<typeof ref.inner> }).t; // the beacon's tracker (beacon-tracker.ts)
  ref.inner = inner;
  await b.prepare();
  b.start(Date.now());
  await waitFor('transactions 2–4 expire', () => [2, 3, 4].every((i) => b.txs.state[i] === TxState.Lost), 10_000);
  inner.onCommitted(2, 2, Date.now());
  inner.onCommitted(3, 2, Date.now());
  await b.done;

  const done = messages.find((m) => m.type === 'done');
  assert.ok(done?.type === 'done');
  assert.deepEqual({ sent: done.sent, committed: done.committed, failed: done.failed, expired: done.expired, late: done.late, lost: done.lost }, { sent: 6, committed: 5, failed: 0, expired: 3, late: 2, lost: 1 });
  assert.equal(done.outcomes?.filter((o) => o.status === 'lost').length, 1);

  // The overseer's view: every per-second value an event count ≥ 0, totals as the beacon's.
  const agg = new RunAggregator(1, () => 0);
  for (const m of messages) if (m.type === 'progress') agg.add(m);
  agg.finished(0);
  agg.flushAll();
  for (const r of agg.rows) for (const k of ['sent', 'committed', 'failed', 'expired', 'late'] as const) assert.ok(r[k] >= 0, `second ${r.second} ${k} = ${r[k]}`);
  const sum = (k: 'expired' | 'late' | 'committed' | 'sent'): number => agg.rows.reduce((n, r) => n + r[k], 0);
  assert.deepEqual([sum('sent'), sum('committed'), sum('expired'), sum('late')], [6, 5, 3, 2]);
  const t = agg.totals;
  assert.deepEqual([t.expired, t.late, t.lost], [3, 2, 1]);
  const progressLines = messages.filter((m): m is ProgressMessage => m.type === 'progress');
  assert.ok(progressLines.every((m) => m.lost === m.expired - m.late && m.lost >= 0));
});

/** A beacon's cumulative report for `second`. */
function progress(second: number, c: { sent: number; committed: number; expired: number; late: number }): ProgressMessage {
  return { v: 2, type: 'progress', beacon: 0, second, ...c, failed: 0, failures: 0, lost: c.expired - c.late, retries: 0, inFlight: 0, errors: {}, corrected: EMPTY, uncorrected: EMPTY, lag: EMPTY, height: 0 };
}

test('regression: the CSV had negative lost seconds and "failed + lost" went below zero: a tx expired in second 10 that commits in second 40', async () => {
  const agg = new RunAggregator(1, () => 100);
  // 100 sent in each of seconds 0..9; 95 commit on time in their second; 5 of second 9's expire in second 10
  // (timeout 1 s), and commit late in second 40. Nothing else happens.
  let sent = 0, committed = 0, expired = 0, late = 0;
  for (let s = 0; s <= 40; s++) {
    if (s < 10) sent += 100;
    if (s < 10) committed += s === 9 ? 95 : 100;
    if (s === 10) expired += 5;
    if (s === 40) {
      committed += 5;
      late += 5;
    }
    agg.add(progress(s, { sent, committed, expired, late }));
  }
  agg.finished(0);
  agg.flushAll();
  const row = (s: number): SecondRow => agg.rows[s]!;
  assert.deepEqual([row(10).expired, row(10).late, row(40).expired, row(40).late, row(40).committed], [5, 0, 0, 5, 5]);
  assert.ok(agg.rows.every((r) => r.expired >= 0 && r.late >= 0 && r.committed >= 0));
  assert.deepEqual([agg.totals.lost, agg.totals.late, agg.totals.committed], [0, 5, 1000]);

  // Summary, thresholds, results.db, report and CSV keep late apart from lost.
  const latency = new LatencyHistogram();
  latency.record(38_700);
  const summary: RunSummary = {
    runId: 'late', durationSec: agg.rows.length, sent: 1000, committed: 1000, failed: 0, lost: agg.totals.lost, late: agg.totals.late, pending: 0, retries: 0,
    tps: agg.tps(10_000), latency: latency.summary(), latencyUncorrected: latency.summary(), scheduleLag: latency.summary(), errors: {}, reconciliation: undefined,
  };
  const verdicts = evaluateThresholds(parseThresholds(['lost == 0', 'late == 0']), thresholdMetrics(summary));
  assert.deepEqual(verdicts.map((v) => [v.threshold, v.actual, v.passed]), [['lost == 0', 0, true], ['late == 0', 5, false]]);
  const text = formatSummary({ runId: 'late', dbPath: 'x.db', status: 'breached', summary, thresholds: verdicts });
  assert.match(text, /lost 0 {3}late 5 /);

  const dir = await mkdtemp(join(tmpdir(), 'tpslab-late-'));
  try {
    const store = ResultsStore.open(join(dir, 'results.db'));
    store.createRun({ id: 'late', name: 'late', scenario: {}, environment: {} });
    for (const r of agg.rows) store.addSecond('late', r);
    store.setBeacons('late', [{ beacon: 0, accountsStart: 0, accountsEnd: 10, sent: 1000, committed: 1000, failed: 0, lost: 0, late: 5, retries: 0, errors: {} }]);
    store.finishRun('late', { status: 'breached', summary, thresholds: verdicts });
    const data = buildReportData(store, 'late');
    store.close();
    assert.equal(data.summary?.late, 5);
    assert.equal(data.beacons[0]?.late, 5);
    assert.deepEqual([data.seconds[10]?.expired, data.seconds[40]?.late], [5, 5]);
    const csv = reportCsv(data).trim().split('\n').map((l) => l.split(','));
    const header = csv[0]!;
    const col = (name: string): number => header.indexOf(name);
    assert.ok(col('expired') > 0 && col('late') > 0 && col('lost') === -1);
    assert.deepEqual([csv[11]![col('expired')], csv[41]![col('late')]], ['5', '5']);
    for (const line of csv.slice(1)) for (const name of ['sent', 'committed', 'failed', 'expired', 'late']) assert.ok(Number(line[col(name)]) >= 0, `${name} ${line.join(',')}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
