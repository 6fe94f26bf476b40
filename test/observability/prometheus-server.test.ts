// A real Prometheus (Debian's package, run here with its own config on a free port) scrapes the
// overseer's metrics and the nodes during a run; its rate() agrees with the run's committed TPS.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runScenario } from '../../src/harness/overseer.js';
import { validateScenario } from '../../src/harness/scenario.js';
import { ResultsStore } from '../../src/harness/store.js';
import { PrometheusOutput } from '../../src/observability/prometheus-output.js';
import { tempDir, waitFor } from '../testkit/index.js';

const PROMETHEUS = '/usr/bin/prometheus';
const skip = existsSync(PROMETHEUS) ? false : `${PROMETHEUS} is not installed (apt-get install prometheus)`;

let dir: { path: string; remove(): Promise<void> };
let prom: ChildProcess | undefined;
let promUrl = '';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function query(q: string, timeSec?: number): Promise<number | undefined> {
  const u = new URL('/api/v1/query', promUrl);
  u.searchParams.set('query', q);
  if (timeSec !== undefined) u.searchParams.set('time', String(timeSec));
  const body = (await (await fetch(u)).json()) as { data: { result: { value: [number, string] }[] } };
  const v = body.data.result[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

describe('Prometheus scraping a run', { skip }, () => {
  before(async () => {
    dir = await tempDir('tpslab-prometheus-');
    await writeFile(join(dir.path, 'targets.json'), '[]');
    await writeFile(join(dir.path, 'prometheus.yml'), `global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nscrape_configs:\n  - job_name: tpslab\n    file_sd_configs:\n      - files: ['${join(dir.path, 'targets.json')}']\n        refresh_interval: 1s\n`);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(PROMETHEUS, [`--config.file=${join(dir.path, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir.path, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    await waitFor('prometheus ready', async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok, 30_000, 200);
  });
  after(async () => {
    prom?.kill('SIGTERM');
    if (prom && prom.exitCode === null) await new Promise((r) => prom!.once('exit', r));
    await dir?.remove();
  });

  it('rate() of the committed counter agrees with the run\'s committed TPS within 5%', async () => {
    const metrics = new PrometheusOutput();
    const metricsUrl = new URL(await metrics.listen(0));
    const s = validateScenario({
      name: 'prometheus', target: { kind: 'tpslab', nodes: 2 }, accounts: { count: 200 }, beacons: { count: 2 }, startDelayMs: 1000,
      load: { stages: [{ kind: 'constant', ratePerSec: 100, durationSec: 30 }] }, results: { db: join(dir.path, 'run.db') },
    }, 'test');
    let startMs = 0;
    let nodes: string[] = [];
    try {
      const r = await runScenario(s, {
        // Scrape the overseer and every node of the network, as soon as they are known.
        target: (t) => {
          nodes = t.roles.filter((x) => x.role === 'replica').map((x) => new URL(x.url).host);
          writeFileSync(join(dir.path, 'targets.json'), JSON.stringify([{ targets: [metricsUrl.host, ...nodes] }]));
        },
        started: (x) => void (startMs = x.startMs),
      }, { outputs: [metrics.output] });
      assert.equal(r.summary.committed, 3000);
      // Prometheus has the final value.
      await waitFor('the final scrape', async () => (await query('sum(tpslab_harness_tx_committed_total)')) === r.summary.committed, 15_000, 250);
      // Per-beacon latency histograms: one series set per beacon, together holding every commit.
      assert.equal(await query('count(tpslab_harness_beacon_tx_latency_seconds_count)'), 2);
      assert.equal(await query('sum(tpslab_harness_beacon_tx_latency_seconds_count)'), r.summary.committed);
      assert.ok((await query('max(histogram_quantile(0.99, sum by (beacon, le) (tpslab_harness_beacon_tx_latency_seconds_bucket)))'))! > 0);
      for (const n of nodes) assert.equal(await query(`max_over_time(up{instance="${n}"}[1m])`), 1, `node ${n} was scraped (it is down now: the run tore the network down)`);

      // Seconds 4..27 of the run: the run's own committed TPS, and Prometheus's rate() over the same 24 s. Beacons
      // report about once a second, so the counter climbs in steps: a window holds one step fewer than its
      // seconds, and rate() is off by up to 1/window (8 s windows read 7% low); 24 s keeps that under 5%.
      const store = ResultsStore.open(s.results.db, { mustExist: true });
      const rows = store.seconds(r.runId).filter((x) => x.second >= 4 && x.second < 28);
      store.close();
      const own = rows.reduce((n, x) => n + x.committed, 0) / rows.length;
      const promRate = await query('sum(rate(tpslab_harness_tx_committed_total[24s]))', (startMs + 28_000) / 1000);
      assert.ok(promRate !== undefined);
      const error = Math.abs(promRate - own) / own;
      console.log(`committed TPS, seconds 4-27: run ${own.toFixed(1)}, Prometheus rate() ${promRate.toFixed(1)} (${(error * 100).toFixed(1)}% apart)`);
      assert.ok(error <= 0.05, `Prometheus says ${promRate.toFixed(1)} tx/s, the run ${own.toFixed(1)} tx/s`);
    } finally {
      await metrics.close();
    }
  });
});
