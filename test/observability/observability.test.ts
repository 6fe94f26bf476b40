// Observability outputs: Prometheus metrics from the overseer, JSON lines, sampled global TPS.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LatencyHistogram } from '../../src/harness/histogram.js';
import { PROTOCOL_VERSION, type ProgressMessage } from '../../src/harness/messages.js';
import { runScenario } from '../../src/harness/overseer.js';
import { validateScenario } from '../../src/harness/scenario.js';
import type { JsonlSample } from '../../src/observability/jsonl-output.js';
import { PrometheusOutput } from '../../src/observability/prometheus-output.js';
import { extrapolate, sampleIndexes } from '../../src/observability/sampled-tps.js';
import { createRng } from '../../src/harness/rng.js';
import type { RunResult } from '../../src/harness/overseer.js';
import type { ReportData } from '../../src/web/contract.js';
import { runCli, tempDir } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-observability-');
});
after(async () => {
  await dir.remove();
});

/** `name{labels} value` lines of the text format → sum of the values of `name`. */
function sumOf(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('Prometheus output', () => {
  it('counts from the beacons\' growing totals and observes every commit of a second in the latency histogram', async () => {
    const prom = new PrometheusOutput();
    const url = await prom.listen(0);
    try {
      const out = prom.output;
      out.created!('run-1');
      out.beacons!([{ beacon: 0, sent: 10, committed: 8, failed: 0, lost: 0, late: 0, retries: 1, inFlight: 2, errors: { TPSLAB_E_MEMPOOL_FULL: 1 } }]);
      out.beacons!([{ beacon: 0, sent: 25, committed: 20, failed: 1, lost: 0, late: 0, retries: 1, inFlight: 4, errors: { TPSLAB_E_MEMPOOL_FULL: 3 } }]);
      const h = new LatencyHistogram();
      for (let i = 0; i < 20; i++) h.record(i < 10 ? 3 : 300); // 10 at 3 ms, 10 at 300 ms
      out.second!({ second: 0, targetRate: 25, sent: 25, committed: 20, failed: 1, expired: 0, late: 0, inFlight: 4, errors: {}, latCorrected: h.encode() });
      const text = await (await fetch(url)).text();
      assert.equal(sumOf(text, 'tpslab_harness_tx_sent_total'), 25);
      assert.equal(sumOf(text, 'tpslab_harness_tx_committed_total'), 20);
      assert.equal(sumOf(text, 'tpslab_harness_tx_failed_total'), 1);
      assert.equal(sumOf(text, 'tpslab_harness_tx_retries_total'), 1);
      assert.match(text, /tpslab_harness_tx_errors_total\{code="TPSLAB_E_MEMPOOL_FULL"\} 3/);
      assert.match(text, /tpslab_harness_tx_in_flight\{beacon="0"\} 4/);
      assert.match(text, /tpslab_harness_target_tx_per_second 25/);
      assert.match(text, /tpslab_harness_tx_latency_seconds_count 20/);
      assert.match(text, /tpslab_harness_tx_latency_seconds_bucket\{le="0.005"\} 10/);
      assert.match(text, /tpslab_harness_tx_latency_seconds_bucket\{le="0.25"\} 10/);
      assert.match(text, /tpslab_harness_tx_latency_seconds_bucket\{le="0.5"\} 20/);
      assert.match(text, /tpslab_harness_run_info\{run_id="run-1"\} 1/);
      assert.equal((await fetch(url.replace('/metrics', '/other'))).status, 404);
    } finally {
      await prom.close();
    }
  });

  it('keeps a latency histogram per beacon from each report, beacons past the 64th sharing beacon="other"', async () => {
    const prom = new PrometheusOutput();
    const url = await prom.listen(0);
    try {
      const report = (beacon: number, ...latencyMs: number[]): void => {
        const h = new LatencyHistogram();
        for (const ms of latencyMs) h.record(ms);
        const empty = new LatencyHistogram().encode();
        const m: ProgressMessage = { v: PROTOCOL_VERSION, type: 'progress', beacon, second: 0, sent: 0, committed: 0, failed: 0, failures: 0, lost: 0, expired: 0, late: 0, retries: 0, inFlight: 0, errors: {}, corrected: h.encode(), uncorrected: empty, lag: empty, height: 0 };
        prom.output.report!(m);
      };
      report(0, 3, 3, 300);
      report(0, 3);
      report(1, 40);
      report(64, 3);
      report(1000, 3, 3);
      const text = await (await fetch(url)).text();
      assert.match(text, /tpslab_harness_beacon_tx_latency_seconds_count\{beacon="0"\} 4/);
      assert.match(text, /tpslab_harness_beacon_tx_latency_seconds_bucket\{le="0.005",beacon="0"\} 3/);
      assert.match(text, /tpslab_harness_beacon_tx_latency_seconds_bucket\{le="0.025",beacon="1"\} 0/);
      assert.match(text, /tpslab_harness_beacon_tx_latency_seconds_bucket\{le="0.05",beacon="1"\} 1/);
      assert.match(text, /tpslab_harness_beacon_tx_latency_seconds_count\{beacon="other"\} 3/);
      assert.doesNotMatch(text, /beacon="(64|1000)"/);
      // The merged histogram comes from the merged seconds, not from the reports.
      assert.match(text, /tpslab_harness_tx_latency_seconds_count 0/);
    } finally {
      await prom.close();
    }
  });

  it('agrees with the run\'s own committed count on a real embedded network', async () => {
    const s = validateScenario({
      name: 'prom', target: { kind: 'tpslab', nodes: 1 }, accounts: { count: 60 }, beacons: { count: 2 }, startDelayMs: 500,
      load: { stages: [{ kind: 'constant', ratePerSec: 30, durationSec: 3 }] }, results: { db: join(dir.path, 'prom.db') },
    }, 'test');
    const prom = new PrometheusOutput();
    const url = await prom.listen(0);
    try {
      const r = await runScenario(s, {}, { outputs: [prom.output] });
      const text = await (await fetch(url)).text();
      assert.equal(r.summary.committed, 90);
      assert.equal(sumOf(text, 'tpslab_harness_tx_committed_total'), r.summary.committed);
      assert.equal(sumOf(text, 'tpslab_harness_tx_sent_total'), r.summary.sent);
      assert.equal(sumOf(text, 'tpslab_harness_tx_latency_seconds_count'), r.summary.committed);
      // Per beacon: each histogram holds exactly that beacon's commits.
      for (const b of ['0', '1']) {
        const committed = sumOf(text.split('\n').filter((l) => l.includes(`beacon="${b}"`)).join('\n'), 'tpslab_harness_tx_committed_total');
        assert.ok(committed > 0);
        assert.equal(sumOf(text.split('\n').filter((l) => l.includes(`beacon="${b}"`)).join('\n'), 'tpslab_harness_beacon_tx_latency_seconds_count'), committed, `beacon ${b}`);
      }
    } finally {
      await prom.close();
    }
  });
});

describe('sampled global TPS', () => {
  it('extrapolates the sampled nodes\' sum to every node', () => {
    assert.equal(extrapolate([10, 20, 30, 40], [1, 3]), 120);
    assert.equal(extrapolate([10, 20, 30, 40], [0, 1, 2, 3]), 100);
    const idx = sampleIndexes(10, 4, createRng(1, 'test'));
    assert.equal(new Set(idx).size, 4);
    assert.ok(idx.every((i) => i >= 0 && i < 10));
  });

  it('tpslab run prints the estimate and its error, writes JSON lines and serves metrics', async () => {
    const file = join(dir.path, 'obs.yaml');
    await writeFile(file, `
name: obs
target: { kind: tpslab, nodes: 2 }
accounts: { count: 60 }
beacons: { count: 2 }
startDelayMs: 500
load:
  stages:
    - { kind: constant, ratePerSec: 40, durationSec: 4 }
`);
    const jsonl = join(dir.path, 'obs.jsonl');
    const r = await runCli(['run', file, '--results', join(dir.path, 'obs.db'), '--json', '--no-ui', '--no-report', '--jsonl', jsonl, '--sample-nodes', '0.5', '--sample-interval-ms', '1000', '--metrics-port', '0'], 120_000);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as RunResult;
    assert.match(r.stderr, /^metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
    // Every node is read too: the full count is what the beacons sent (no retries here).
    const m = /sampled ingress count: (\d+) estimated from 1 of 2 nodes every 1 s, (\d+) counted on every node; error (-?[\d.]+)%/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.equal(Number(m[2]), result.summary.sent);
    assert.ok(Number.isFinite(Number(m[3])));
    const lines = (await readFile(jsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as JsonlSample);
    assert.equal(lines.reduce((n, l) => n + l.committed, 0), result.summary.committed);
    assert.ok(lines.every((l) => l.type === 'second' && l.runId === result.runId));
    // The estimate is stored with the run, and the report shows it (it was only printed).
    const rep = await runCli(['report', result.runId, '--db', join(dir.path, 'obs.db'), '--json'], 30_000);
    assert.equal(rep.code, 0, rep.stderr);
    const sampled = (JSON.parse(rep.stdout) as ReportData).sampledTps;
    assert.ok(sampled, 'the report data has the sampled estimate');
    assert.deepEqual([sampled.estimatedTotal, sampled.fullTotal, sampled.nodes, sampled.sampledPerInterval, sampled.intervalMs], [Number(m[1]), Number(m[2]), 2, 1, 1000]);
    assert.equal(sampled.error === null ? 'n/a' : (sampled.error * 100).toFixed(1), m[3]);
  });
});

describe('Grafana dashboard', () => {
  it('every query names metrics tpslab serves', async () => {
    const d = JSON.parse(await readFile(new URL('../../../dashboards/tpslab-harness.grafana.json', import.meta.url), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const prom = new PrometheusOutput();
    const served = new Set((await prom.registry.getMetricsAsJSON()).map((m) => m.name));
    const node = new Set(['tpslab_tx_committed_total']);
    const exprs = d.panels.flatMap((p) => p.targets.map((t) => t.expr));
    assert.ok(exprs.length >= 6);
    for (const e of exprs) {
      for (const name of e.match(/tpslab_[a-z_]+/g) ?? []) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        assert.ok(served.has(base) || node.has(base), `${name} in "${e}" is not a tpslab metric`);
      }
    }
  });
});
