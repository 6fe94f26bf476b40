// Reports: ReportData/CompareData from a synthetic results.db, CSV, the page shell's escaping,
// the atomic HTML writer, and `tpslab report` / `tpslab compare` as real processes.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { TpslabError } from '../../src/errors.js';
import { LatencyHistogram } from '../../src/harness/histogram.js';
import type { RunSummary } from '../../src/harness/overseer.js';
import {
  CSV_COLUMNS, buildCompareData, buildReportData, compareRows, csvField, defaultReportFile, formatCompare, reportCsv, writeReport,
} from '../../src/harness/report.js';
import { ResultsStore } from '../../src/harness/store.js';
import type { ThresholdResult } from '../../src/harness/thresholds.js';
import { pageShell, scriptJson, webAssetPaths } from '../../src/web/assets.js';
import type { ReportData } from '../../src/web/contract.js';
import { runCli } from '../testkit/index.js';

const FAKE_ASSETS = { js: 'window.__tpslabFake = "</script><!-- fake app -->";', css: '#app { color: red } /* </style> fake css */' };

function hist(values: number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h;
}

const range = (from: number, to: number, step = 1): number[] => {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
};

/** The data script's text, parsed. */
function embeddedData(html: string): unknown {
  const m = /<script id="tpslab-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'no tpslab-data script element');
  return JSON.parse(m[1]!) as unknown;
}

describe('reports', () => {
  let dir: string;
  let dbPath: string;
  // Per-second values, in ms, of the passed run "run-b".
  const secondsB: { corrected: number[]; uncorrected: number[]; lag: number[]; errors: Record<string, number> }[] = [
    { corrected: range(10, 20, 0.5), uncorrected: range(8, 18, 0.5), lag: range(0, 2, 0.5), errors: { TPSLAB_E_MEMPOOL_FULL: 2, TPSLAB_E_TIMEOUT: 1 } },
    { corrected: [], uncorrected: [], lag: [0.1], errors: {} },
    { corrected: range(20, 120, 2), uncorrected: range(15, 100, 2), lag: range(1, 20), errors: {} },
  ];
  const allCorrected = hist(secondsB.flatMap((s) => s.corrected));
  const allUncorrected = hist(secondsB.flatMap((s) => s.uncorrected));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tpslab-report-'));
    dbPath = join(dir, 'results.db');
    const clock = new ManualClock(Date.UTC(2026, 10, 21, 20, 0, 0));
    const store = ResultsStore.open(dbPath, { clock });
    try {
      // run-a: failed, nothing but one second.
      store.createRun({ id: 'run-a', name: 'baseline', scenario: { name: 'baseline' }, environment: { node: 'v20' } });
      store.addSecond('run-a', { second: 0, targetRate: 50, sent: 50, committed: 40, failed: 0, expired: 0, late: 0, inFlight: 10, errors: {}, latCorrected: hist(range(30, 69)).encode() });
      store.finishRun('run-a', { status: 'failed', summary: null, thresholds: null, error: 'TPSLAB_E_BEACON: beacon 0 exited' });

      clock.advance(60_000);
      store.createRun({ id: 'run-b', name: 'ramp </script>', scenario: { name: 'ramp', load: { rate: 100 } }, environment: { node: 'v20.15' } });
      secondsB.forEach((s, i) => {
        store.addSecond('run-b', {
          second: i, targetRate: 100 + i, sent: 100, committed: s.corrected.length, failed: i === 0 ? 3 : 0, expired: i === 2 ? 1 : 0, late: 0,
          inFlight: 5 - i, errors: s.errors,
          latCorrected: hist(s.corrected).encode(), latUncorrected: hist(s.uncorrected).encode(), scheduleLag: hist(s.lag).encode(),
        });
      });
      store.setBeacons('run-b', [
        { beacon: 0, accountsStart: 0, accountsEnd: 50, sent: 150, committed: 60, failed: 3, lost: 0, retries: 2, errors: { TPSLAB_E_MEMPOOL_FULL: 2 } },
        { beacon: 1, accountsStart: 50, accountsEnd: 100, sent: 150, committed: 12, failed: 0, lost: 1, retries: 0, errors: { TPSLAB_E_TIMEOUT: 1 } },
      ]);
      store.setNodes('run-b', [
        { node: 'tracker', url: 'http://127.0.0.1:1', role: 'tracker', healthy: true, stats: null },
        { node: 'sequencer', url: 'http://127.0.0.1:2', role: 'sequencer', head: 100, healthy: true, stats: { blocks: 100 } },
        { node: 'node1', url: 'http://127.0.0.1:3', role: 'replica', head: 97, healthy: true, stats: { blocks: 97 } },
        { node: 'node2', url: 'http://127.0.0.1:4', role: 'replica', healthy: false, stats: null },
      ]);
      const summary: RunSummary = {
        runId: 'run-b', durationSec: 3, sent: 300, committed: allCorrected.count, failed: 3, lost: 1, pending: 0, retries: 2,
        tps: { avg: allCorrected.count / 3, peak: 51 },
        latency: allCorrected.summary(), latencyUncorrected: allUncorrected.summary(),
        scheduleLag: hist(secondsB.flatMap((s) => s.lag)).summary(), errors: { TPSLAB_E_MEMPOOL_FULL: 2, TPSLAB_E_TIMEOUT: 1 },
        reconciliation: { fromHeight: 1, toHeight: 100, networkCommitted: 72, beaconCommitted: 72, matched: 72, missing: 0, unexpected: 0, missingIds: [], unexpectedIds: [] },
      };
      const thresholds: ThresholdResult[] = [
        { threshold: 'lost == 0', metric: 'lost', actual: 1, actualText: '1', passed: false },
        { threshold: 'latency.p99 < 250ms', metric: 'latency.p99', actual: summary.latency.p99Ms, actualText: `${summary.latency.p99Ms}ms`, passed: true },
      ];
      store.finishRun('run-b', { status: 'breached', summary, thresholds });
    } finally {
      store.close();
    }
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const withStore = <T>(fn: (s: ResultsStore) => T): T => {
    const store = ResultsStore.open(dbPath, { mustExist: true });
    try {
      return fn(store);
    } finally {
      store.close();
    }
  };

  it('buildReportData: run info, stored summary and verdicts, beacons, nodes with lag', () => {
    const d = withStore((s) => buildReportData(s, 'latest'));
    assert.equal(d.kind, 'report');
    assert.ok(!Number.isNaN(Date.parse(d.generatedAt)));
    assert.equal(d.run.id, 'run-b');
    assert.equal(d.run.name, 'ramp </script>');
    assert.equal(d.run.status, 'breached');
    assert.equal(d.run.startedAt, '2026-11-21T20:01:00.000Z');
    assert.equal(d.run.finishedAt, '2026-11-21T20:01:00.000Z');
    assert.equal(d.run.error, undefined);
    assert.deepEqual(d.run.scenario, { name: 'ramp', load: { rate: 100 } });
    assert.deepEqual(d.run.environment, { node: 'v20.15' });
    assert.equal(d.summary?.runId, 'run-b');
    assert.equal(d.summary?.committed, allCorrected.count);
    assert.deepEqual(d.summary?.latency, allCorrected.summary());
    assert.equal(d.thresholds.length, 2);
    assert.deepEqual(d.thresholds[0], { threshold: 'lost == 0', metric: 'lost', actual: 1, actualText: '1', passed: false });
    assert.deepEqual(d.beacons.map((b) => [b.beacon, b.accountsStart, b.accountsEnd, b.sent, b.retries]), [[0, 0, 50, 150, 2], [1, 50, 100, 150, 0]]);
    assert.deepEqual(d.beacons[1]!.errors, { TPSLAB_E_TIMEOUT: 1 });
    const nodes = Object.fromEntries(d.nodes.map((n) => [n.node, n]));
    assert.deepEqual(nodes.sequencer, { node: 'sequencer', url: 'http://127.0.0.1:2', role: 'sequencer', head: 100, lag: 0, healthy: true, stats: { blocks: 100 } });
    assert.equal(nodes.node1?.lag, 3);
    assert.equal(nodes.node2?.lag, undefined);
    assert.equal(nodes.node2?.head, undefined);
    assert.equal(nodes.node2?.healthy, false);
    assert.equal(nodes.tracker?.lag, undefined);
    assert.equal(nodes.tracker?.stats, undefined);
  });

  it('buildReportData: per-second points with latency summaries decoded from the stored histograms', () => {
    const d = withStore((s) => buildReportData(s, 'run-b'));
    assert.equal(d.seconds.length, 3);
    const [s0, s1, s2] = d.seconds;
    assert.deepEqual(
      { second: s0!.second, targetRate: s0!.targetRate, sent: s0!.sent, committed: s0!.committed, failed: s0!.failed, expired: s0!.expired, late: s0!.late, inFlight: s0!.inFlight, errors: s0!.errors },
      { second: 0, targetRate: 100, sent: 100, committed: secondsB[0]!.corrected.length, failed: 3, expired: 0, late: 0, inFlight: 5, errors: { TPSLAB_E_MEMPOOL_FULL: 2, TPSLAB_E_TIMEOUT: 1 } },
    );
    assert.deepEqual(s0!.corrected, hist(secondsB[0]!.corrected).summary());
    assert.deepEqual(s0!.uncorrected, hist(secondsB[0]!.uncorrected).summary());
    assert.deepEqual(s0!.lag, hist(secondsB[0]!.lag).summary());
    assert.equal(s0!.corrected!.count, 21);
    assert.ok(Math.abs(s0!.corrected!.p50Ms - 15) < 0.05, `p50 ${s0!.corrected!.p50Ms}`);
    assert.ok(Math.abs(s0!.corrected!.maxMs - 20) < 0.05, `max ${s0!.corrected!.maxMs}`);
    // Nothing committed in second 1: no latency points, but the lag is there.
    assert.equal(s1!.corrected, undefined);
    assert.equal(s1!.uncorrected, undefined);
    assert.equal(s1!.lag?.count, 1);
    assert.ok(s2!.corrected!.p99Ms > s0!.corrected!.p99Ms);
    // Exactly what LatencyHistogram.summary() gives (the report computes the mean faster).
    assert.deepEqual(s2!.corrected, hist(secondsB[2]!.corrected).summary());
    assert.deepEqual(s2!.uncorrected, hist(secondsB[2]!.uncorrected).summary());
    assert.deepEqual(s2!.lag, hist(secondsB[2]!.lag).summary());
  });

  it('buildReportData: whole-run distributions are non-empty, monotonic and end at the max', () => {
    const d = withStore((s) => buildReportData(s, 'run-b'));
    for (const [name, dist, h] of [['corrected', d.distribution.corrected, allCorrected], ['uncorrected', d.distribution.uncorrected, allUncorrected]] as const) {
      assert.ok(dist.length > 5, `${name}: ${dist.length} points`);
      for (let i = 1; i < dist.length; i++) {
        assert.ok(dist[i]!.valueMs >= dist[i - 1]!.valueMs, `${name} value not monotonic at ${i}`);
        assert.ok(dist[i]!.percentile >= dist[i - 1]!.percentile, `${name} percentile not monotonic at ${i}`);
        assert.ok(dist[i]!.count >= dist[i - 1]!.count, `${name} count not monotonic at ${i}`);
      }
      const last = dist.at(-1)!;
      assert.equal(last.percentile, 100);
      assert.equal(last.count, h.count);
      assert.equal(last.valueMs, h.summary().maxMs);
      assert.deepEqual(dist, h.distribution());
    }
  });

  it('buildReportData: a failed run has no summary and no verdicts; unknown runs are TPSLAB_E_STORE', () => {
    const d = withStore((s) => buildReportData(s, 'run-a'));
    assert.equal(d.run.status, 'failed');
    assert.equal(d.run.error, 'TPSLAB_E_BEACON: beacon 0 exited');
    assert.equal(d.summary, undefined);
    assert.deepEqual(d.thresholds, []);
    assert.equal(d.seconds.length, 1);
    assert.equal(d.seconds[0]!.corrected?.count, 40);
    assert.equal(d.seconds[0]!.uncorrected, undefined);
    assert.equal(d.distribution.corrected.length > 0, true);
    assert.deepEqual(d.distribution.uncorrected, []);
    assert.deepEqual(d.beacons, []);
    assert.deepEqual(d.nodes, []);
    assert.throws(
      () => withStore((s) => buildReportData(s, 'nope')),
      (e: unknown) => e instanceof TpslabError && e.code === 'TPSLAB_E_STORE' && /no run nope/.test(e.message),
    );
  });

  it('reportCsv: header, one row per second, errors as code=count, RFC 4180 quoting', () => {
    const d = withStore((s) => buildReportData(s, 'run-b'));
    const csv = reportCsv(d);
    assert.ok(csv.endsWith('\n'));
    const lines = csv.trimEnd().split('\n');
    assert.equal(lines.length, d.seconds.length + 1);
    assert.equal(lines[0], CSV_COLUMNS.join(','));
    assert.equal(lines[0], 'second,target_rate,sent,committed,failed,expired,late,in_flight,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,uncorrected_p50_ms,uncorrected_p90_ms,uncorrected_p99_ms,uncorrected_p999_ms,uncorrected_max_ms,errors');
    const row0 = lines[1]!.split(',');
    assert.equal(row0.length, CSV_COLUMNS.length);
    assert.deepEqual(row0.slice(0, 8), ['0', '100', '100', '21', '3', '0', '0', '5']);
    assert.equal(Number(row0[8]), +d.seconds[0]!.corrected!.p50Ms.toFixed(3));
    assert.equal(Number(row0[17]), +d.seconds[0]!.uncorrected!.maxMs.toFixed(3));
    assert.equal(row0[18], 'TPSLAB_E_MEMPOOL_FULL=2;TPSLAB_E_TIMEOUT=1');
    // The second without commits: empty latency cells.
    assert.equal(lines[2], '1,101,100,0,0,0,0,4,,,,,,,,,,,');

    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField(undefined), '');
    assert.equal(csvField(1.23456), '1.235');
    const odd: ReportData = { ...d, seconds: [{ ...d.seconds[1]!, errors: { 'X,"Y"': 1, Z: 0 } }] };
    assert.equal(reportCsv(odd).split('\n')[1], '1,101,100,0,0,0,0,4,,,,,,,,,,,"X,""Y""=1"');
  });

  it('pageShell: data cannot end the script element; inline and linked assets', () => {
    const evil = { name: '</script><script>alert(1)</script>', comment: '<!-- x -->', amp: 'a & b', ls: 'a\u2028b\u2029c', quote: '"\'' };
    assert.ok(!/[<>\u2028\u2029]/.test(scriptJson(evil)));
    const html = pageShell({ page: 'report', title: 'x </title><b>', data: evil, inline: FAKE_ASSETS });
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<meta charset="utf-8">/);
    assert.match(html, /<meta name="viewport"/);
    assert.match(html, /<noscript>/);
    assert.match(html, /<div id="app" data-page="report"><\/div>/);
    assert.match(html, /<title>x &lt;\/title&gt;&lt;b&gt;<\/title>/);
    assert.ok(!html.includes('<script>alert(1)'));
    assert.deepEqual(embeddedData(html), evil);
    // Only the data and the app's script elements: two openings, two closings.
    assert.equal(html.match(/<script/g)?.length, 2);
    assert.equal(html.match(/<\/script/g)?.length, 2);
    assert.equal(html.match(/<\/style/g)?.length, 1);
    assert.ok(html.includes('window.__tpslabFake = "<\\/script>\\x3C!-- fake app -->";'));
    assert.ok(html.includes('#app { color: red }'));
    assert.ok(!html.includes('href="/app.css"'));

    const served = pageShell({ page: 'dashboard', title: 'tpslab dashboard' });
    assert.match(served, /<link rel="stylesheet" href="\/app.css">/);
    assert.match(served, /<script src="\/app.js" defer><\/script>/);
    assert.match(served, /data-page="dashboard"/);
    assert.ok(!served.includes('tpslab-data'));
  });

  it('writeReport: writes the self-contained page atomically and returns its absolute path', async () => {
    const d = withStore((s) => buildReportData(s, 'run-b'));
    const outDir = join(dir, 'out', 'nested');
    const file = await writeReport(d, join(outDir, 'r.html'), { assets: FAKE_ASSETS });
    assert.equal(file, join(outDir, 'r.html'));
    const html = await readFile(file, 'utf8');
    assert.ok(html.includes('window.__tpslabFake'));
    assert.ok(html.includes('#app { color: red }'));
    assert.match(html, /data-page="report"/);
    assert.deepEqual(embeddedData(html), JSON.parse(JSON.stringify(d)));
    assert.deepEqual(await readdir(outDir), ['r.html'], 'no temporary file left behind');
    // Overwrites an existing report.
    await writeReport({ ...d, run: { ...d.run, name: 'second write' } }, file, { assets: FAKE_ASSETS });
    assert.equal((embeddedData(await readFile(file, 'utf8')) as ReportData).run.name, 'second write');
    assert.equal(defaultReportFile(d), 'report-run-b.html');

    if (existsSync(webAssetPaths().js) && existsSync(webAssetPaths().css)) {
      const built = await writeReport(d, join(dir, 'built.html'));
      const html2 = await readFile(built, 'utf8');
      const js = await readFile(webAssetPaths().js, 'utf8');
      assert.ok(html2.length > js.length, 'the built app is inlined');
      assert.ok(!html2.includes('src="/app.js"'));
    }
  });

  it('buildCompareData and the compare table', () => {
    const c = withStore((s) => buildCompareData(s, 'run-a', 'latest'));
    assert.equal(c.kind, 'compare');
    assert.equal(c.a.run.id, 'run-a');
    assert.equal(c.b.run.id, 'run-b');
    assert.equal(c.a.kind, 'report');
    assert.equal(defaultReportFile(c), 'compare-run-a-vs-run-b.html');
    // A has no summary: every A figure and delta is n/a.
    assert.ok(compareRows(c).every((r) => r.a === undefined && r.delta === undefined && r.b !== undefined));

    const same = withStore((s) => buildCompareData(s, 'run-b', 'run-b'));
    const b = same.b.summary!;
    const faster = { ...same, b: { ...same.b, summary: { ...b, sent: 600, lost: 0, latency: { ...b.latency, p99Ms: b.latency.p99Ms / 2 } } } };
    const rows = Object.fromEntries(compareRows(faster).map((r) => [r.metric, r]));
    assert.deepEqual(Object.keys(rows), ['sent', 'committed', 'TPS avg', 'TPS peak', 'p50 corrected', 'p99 corrected', 'max corrected', 'p99 uncorrected', 'lost', 'late', 'failed']);
    assert.deepEqual(rows.sent, { metric: 'sent', a: 300, b: 600, delta: 300, deltaPct: 100, unit: '' });
    assert.equal(rows['p99 corrected']!.deltaPct, -50);
    assert.equal(rows.lost!.delta, -1);
    assert.equal(rows.failed!.deltaPct, 0);
    const text = formatCompare(faster);
    assert.match(text, /^A: run-b {2}ramp <\/script> {2}breached$/m);
    assert.match(text, /Δ%/);
    assert.match(text, /^\s+sent\s+300\s+600\s+\+300\s+\+100\.0%$/m);
    assert.match(text, /^\s+p99 corrected \(ms\)\s.*-50\.0%$/m);
  });

  describe('CLI', () => {
    it('report latest --json prints the ReportData', async () => {
      const r = await runCli(['report', 'latest', '--db', dbPath, '--json'], 30_000, dir);
      assert.equal(r.code, 0, r.stderr);
      const d = JSON.parse(r.stdout) as ReportData;
      assert.equal(d.kind, 'report');
      assert.equal(d.run.id, 'run-b');
      assert.equal(d.seconds.length, 3);
      assert.ok(d.distribution.corrected.length > 0);
    });

    it('report --csv prints the per-second CSV (the run defaults to latest)', async () => {
      const r = await runCli(['report', '--db', dbPath, '--csv'], 30_000, dir);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.equal(lines[0], CSV_COLUMNS.join(','));
      assert.equal(lines.length, 4);
    });

    it('report of an unknown run exits 1 with TPSLAB_E_STORE', async () => {
      const r = await runCli(['report', 'nope', '--db', dbPath], 30_000, dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error TPSLAB_E_STORE: no run nope in .*results\.db.*run-b/m);
    });

    it('report --db on a missing file exits 1 naming the path, and creates nothing', async () => {
      const missing = join(dir, 'missing.db');
      const r = await runCli(['report', '--db', missing], 30_000, dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /TPSLAB_E_STORE/);
      assert.ok(r.stderr.includes(missing), r.stderr);
      assert.equal(existsSync(missing), false);
    });

    it('report --json --csv is a usage error', async () => {
      const r = await runCli(['report', '--db', dbPath, '--json', '--csv'], 30_000, dir);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /TPSLAB_E_USAGE/);
    });

    it('compare --json prints the CompareData; an unknown run exits 1', async () => {
      const r = await runCli(['compare', 'run-a', 'run-b', '--db', dbPath, '--json'], 30_000, dir);
      assert.equal(r.code, 0, r.stderr);
      const c = JSON.parse(r.stdout) as { kind: string; a: ReportData; b: ReportData };
      assert.equal(c.kind, 'compare');
      assert.equal(c.a.run.id, 'run-a');
      assert.equal(c.b.run.id, 'run-b');
      const bad = await runCli(['compare', 'run-a', 'nope', '--db', dbPath], 30_000, dir);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /TPSLAB_E_STORE: no run nope/);
    });

    it('report and compare write HTML files when the app is built', { skip: !existsSync(webAssetPaths().js) && 'dist/web/app.js is not built' }, async () => {
      const r = await runCli(['report', '--db', dbPath], 30_000, dir);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), join(dir, 'report-run-b.html'));
      assert.equal((embeddedData(await readFile(join(dir, 'report-run-b.html'), 'utf8')) as ReportData).run.id, 'run-b');
      const c = await runCli(['compare', 'run-b', 'run-b', '--db', dbPath], 30_000, dir);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /Δ%/);
      assert.equal(c.stdout.trimEnd().split('\n').at(-1), join(dir, 'compare-run-b-vs-run-b.html'));
      assert.ok(existsSync(join(dir, 'compare-run-b-vs-run-b.html')));
    });
  });
});
