// `tpslab sweep` end to end: real embedded networks, real beacons, one results.db.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSweep } from '../../src/experiments/sweep-plan.js';
import type { ExperimentData } from '../../src/web/experiment-contract.js';
import { runCli } from '../testkit/index.js';
import { experimentDir, withStores } from './experiment-kit.js';

const dir = experimentDir('tpslab-sweep-');
const file = dir.file;

const base = `
  name: tiny
  target: { kind: tpslab, nodes: 1 }
  accounts: { count: 40 }
  load:
    stages:
      - { kind: constant, ratePerSec: 10, durationSec: 3 }
  startDelayMs: 500
  thresholds: ['lost == 0']
`;

describe('tpslab sweep', () => {
  it('a 2×2 sweep stores four tagged runs and writes one report with four cells', async () => {
    const sweep = await file('two-by-two.yaml', `name: two-by-two\nbase:${base}grid:\n  beacons.count: [1, 2]\n  load.stages[0].ratePerSec: [10, 20]\n`);
    const db = join(dir.path, 'sweep.db');
    const out = join(dir.path, 'sweep.html');
    const r = await runCli(['sweep', sweep, '--results', db, '--json', '--quiet', '--report-out', out], 300_000);
    assert.equal(r.code, 0, r.stderr);
    const data = JSON.parse(r.stdout) as ExperimentData & { reportPath: string };
    assert.equal(data.experiment.kind, 'sweep');
    assert.deepEqual(data.axes.map((a) => a.path), ['beacons.count', 'load.stages[0].ratePerSec']);
    assert.deepEqual(data.runs.map((c) => c.label), [
      'beacons.count=1, load.stages[0].ratePerSec=10',
      'beacons.count=1, load.stages[0].ratePerSec=20',
      'beacons.count=2, load.stages[0].ratePerSec=10',
      'beacons.count=2, load.stages[0].ratePerSec=20',
    ]);
    // Offered = rate × 3 s; every cell commits all of it and loses nothing.
    assert.deepEqual(data.runs.map((c) => [c.status, c.figures?.offered, c.figures?.committed, c.figures?.lost]), [
      ['passed', 30, 30, 0], ['passed', 60, 60, 0], ['passed', 30, 30, 0], ['passed', 60, 60, 0],
    ]);
    for (const c of data.runs) assert.ok(c.figures!.tps > 0 && c.figures!.p99Ms > 0);
    assert.equal(data.reportPath, out);
    const html = readFileSync(out, 'utf8');
    assert.match(html, /data-page="experiment"/);
    assert.ok(html.includes(data.experiment.id));

    withStores(db, (store, ex) => {
      const tagged = ex.runs(data.experiment.id);
      assert.equal(tagged.length, 4);
      for (const t of tagged) {
        const run = store.getRun(t.runId!);
        assert.equal(run.status, 'passed');
        const beacons = (run.scenario as { beacons: { count: number } }).beacons.count;
        assert.equal(beacons, t.params['beacons.count']);
      }
      assert.equal(ex.get('latest', 'sweep').id, data.experiment.id);
    });
  });

  it('validates every cell before running any, and names each bad one', async () => {
    const sweep = await file('bad.yaml', `base:${base}grid:\n  beacons.count: [1, 0, 100]\n`);
    const db = join(dir.path, 'bad.db');
    const r = await runCli(['sweep', sweep, '--results', db], 30_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /TPSLAB_E_EXPERIMENT/);
    assert.match(r.stderr, /2 of 3 cells are not valid scenarios; nothing was run/);
    assert.match(r.stderr, /cell 2 \(beacons\.count=0\): scenario\.beacons\.count: must be >= 1/);
    assert.match(r.stderr, /cell 3 \(beacons\.count=100\): scenario\.beacons\.count: must be <= accounts\.count \(40\)/);
    assert.equal(existsSync(db), false);
  });

  it('refuses a grid path that is not a field path, or that the base has no list item for', async () => {
    const bad = await file('path.yaml', `base:${base}grid:\n  load.stages[3].ratePerSec: [1]\n`);
    const r = await runCli(['sweep', bad, '--dry-run'], 30_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /load\.stages has 1 item\(s\), so \[3\] does not exist in the base scenario/);
    const bad2 = await file('path2.yaml', `base:${base}grid:\n  "beacons..count": [1]\n`);
    const r2 = await runCli(['sweep', bad2, '--dry-run'], 30_000);
    assert.match(r2.stderr, /TPSLAB_E_EXPERIMENT.*not a field path/);
  });

  it('the shipped client-scalability sweep is valid: 2, 4, 8 and 16 beacons', async () => {
    const plan = await loadSweep(new URL('../../../scenarios/experiments/sweep-clients.yaml', import.meta.url).pathname);
    assert.deepEqual(plan.cells.map((c) => c.scenario.beacons.count), [2, 4, 8, 16]);
    assert.ok(plan.cells.every((c) => c.scenario.load.mode === 'max' && c.scenario.load.durationSec <= 10));
  });
});
