// `tpslab find-max` end to end on a real embedded network, bounded in probes and time.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadFindMax, missedLevels } from '../../src/experiments/find-max.js';
import type { ExperimentData } from '../../src/web/experiment-contract.js';
import { runCli } from '../testkit/index.js';
import { experimentDir, withStores } from './experiment-kit.js';

const dir = experimentDir('tpslab-find-max-');
const file = dir.file;

// p99 < 400 ms is met at low rates on one node; the ceiling (maxPerSec) keeps the search short.
const spec = (extra = ''): string => `
name: tiny-knee
base:
  target: { kind: tpslab, nodes: 1 }
  accounts: { count: 100 }
  load:
    stages:
      - { kind: constant, ratePerSec: 10, durationSec: 3 }
  beacons: { count: 1 }
  startDelayMs: 500
rate: { startPerSec: 20, stepFactor: 2, maxPerSec: 80, resolutionPerSec: 10 }
slo: ['latency.p99 < 2s', 'lost == 0']
minCommittedRatio: 0.99
${extra}
`;

describe('tpslab find-max', () => {
  it('converges on the embedded network: steps, bisects to the knee and confirms it; every probe is stored', async () => {
    // A knee known in advance: "sent <= 150" holds for 3 s probes up to 50 tx/s, whatever the machine.
    const db = join(dir.path, 'knee.db');
    const yaml = spec().replace("slo: ['latency.p99 < 2s', 'lost == 0']", "slo: ['sent <= 150', 'lost == 0', 'latency.p99 < 10s']");
    const r = await runCli(['find-max', await file('knee.yaml', yaml), '--results', db, '--json', '--quiet', '--max-probes', '8', '--no-report'], 400_000);
    assert.equal(r.code, 0, r.stderr);
    const data = JSON.parse(r.stdout) as ExperimentData;
    assert.equal(data.experiment.kind, 'find-max');
    assert.deepEqual(data.runs.map((p) => `${p.params.rate} ${p.status}`), [
      '20 met (step)', '40 met (step)', '80 missed (step)', '60 missed (bisect)', '50 met (bisect)', '50 met (confirm)',
    ]);
    assert.equal(data.answer?.ratePerSec, 50);
    assert.equal(data.answer?.failedAtPerSec, 60);
    assert.equal(data.answer?.confirmed, true);
    assert.match(data.runs[2]!.note ?? '', /sent <= 150 \(was 240\)/);
    const confirm = data.runs.at(-1)!;
    assert.deepEqual([confirm.figures!.offered, confirm.figures!.committed, confirm.figures!.lost], [150, 150, 0]);
    withStores(db, (store, ex) => {
      assert.equal(ex.runs(data.experiment.id).length, 6);
      const run = store.getRun(confirm.runId!);
      assert.equal(run.status, 'passed');
      assert.deepEqual((run.scenario as { thresholds: string[] }).thresholds, ['sent <= 150', 'lost == 0', 'latency.p99 < 10s']);
    });
  });

  it('reports no answer when the start rate already misses a service level', async () => {
    // p99 under 1 µs cannot hold on any network: the first probe misses and the search stops.
    const db = join(dir.path, 'none.db');
    const r = await runCli(['find-max', await file('none.yaml', spec().replace('minCommittedRatio: 0.99', 'minCommittedRatio: 1').replace("'lost == 0'", "'latency.p99 < 1us'")), '--results', db, '--json', '--quiet', '--max-probes', '3', '--no-report'], 120_000);
    assert.equal(r.code, 3, r.stderr);
    const data = JSON.parse(r.stdout) as ExperimentData;
    assert.deepEqual(data.runs.map((p) => p.params.rate), [20]);
    assert.equal(data.answer?.ratePerSec, null);
    assert.match(data.runs[0]!.note ?? '', /latency\.p99 < 1us \(was/);
    assert.match(data.answer!.reason, /start rate \(20\/s\) already misses/);
  });

  it('refuses a bad file before running anything', async () => {
    const bad = await file('bad.yaml', spec().replace("'lost == 0'", "'lots == 0'"));
    await assert.rejects(loadFindMax(bad), /TPSLAB_E_EXPERIMENT|slo\[1\]: "lots == 0": unknown metric "lots" \(did you mean "lost"\?\)/);
    const maxMode = await file('max.yaml', spec().replace('stages:', 'mode: max\n    stages:'));
    await assert.rejects(loadFindMax(maxMode), /find-max needs the open model/);
    const r = await runCli(['find-max', await file('field.yaml', spec().replace('maxPerSec: 80', 'maxPerSec: 80, field: beacons.batchMax')), '--no-report'], 30_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /rate\.field "beacons\.batchMax" is not a number in the base scenario/);
  });

  it('the shipped find-max example is valid', async () => {
    const plan = await loadFindMax(new URL('../../../scenarios/experiments/find-max.yaml', import.meta.url).pathname);
    assert.equal(plan.field, 'load.stages[0].ratePerSec');
    assert.equal(plan.spec.maxProbes, 12);
  });

  it('judges committed against offered, not only the thresholds', () => {
    const f = { tps: 50, p99Ms: 10, offered: 300, sent: 300, committed: 295, failed: 0, lost: 0 };
    assert.deepEqual(missedLevels(['lost == 0'], 0.99, f, { lost: 0 }), ['committed >= 99% of offered (was 98.33%: 295 of 300)']);
    assert.deepEqual(missedLevels(['lost == 0'], 0.98, f, { lost: 0 }), []);
  });
});
