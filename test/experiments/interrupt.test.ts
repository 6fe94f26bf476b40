// Ctrl-C in `tpslab sweep` and `tpslab find-max`: the run under way stops cleanly and is stored
// as aborted, no other starts, what was done is printed, and the exit code is 130 / 143.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ExperimentData } from '../../src/web/experiment-contract.js';
import { waitFor } from '../testkit/index.js';
import { experimentDir, startCli, withStores, type BackgroundCli } from './experiment-kit.js';

const dir = experimentDir('tpslab-experiment-interrupt-');

const base = (durationSec: number): string => `
  target: { kind: tpslab, nodes: 1 }
  accounts: { count: 20 }
  load:
    stages:
      - { kind: constant, ratePerSec: 10, durationSec: ${durationSec} }
  beacons: { count: 1 }
  startDelayMs: 300
  thresholds: ['lost == 0']
`;

/** Waits until `n` runs have started their load (the overseer logs the start instant of each). */
async function loadStarted(cli: BackgroundCli, n: number): Promise<void> {
  await waitFor(`run ${n} to start its load`, () => (cli.stderr.match(/ready; starting at/g)?.length ?? 0) >= n, 120_000, 100).catch((err: Error) => {
    cli.child.kill('SIGKILL');
    throw new Error(`${err.message}\n${cli.stderr}`);
  });
}

describe('experiments interrupted', () => {
  it('regression: SIGINT in a sweep left no record of the cell under way; it is stored as aborted, no further cell runs, exit 130', async () => {
    const sweep = await dir.file('sweep.yaml', `name: long-sweep\nbase:${base(60)}grid:\n  load.stages[0].ratePerSec: [10, 20]\n`);
    const db = join(dir.path, 'sweep.db');
    const cli = startCli(['sweep', sweep, '--results', db, '--json', '--report-out', join(dir.path, 'sweep.html')]);
    await loadStarted(cli, 1);
    await new Promise((r) => setTimeout(r, 1500));
    cli.child.kill('SIGINT');
    const code = await cli.exited;
    assert.equal(code, 130, cli.stderr);
    const data = JSON.parse(cli.stdout) as ExperimentData & { reportPath?: string };
    assert.deepEqual(data.runs.map((r) => [r.label, r.status]), [['load.stages[0].ratePerSec=10', 'aborted']]);
    assert.ok(data.runs[0]!.figures!.sent > 0 && data.runs[0]!.figures!.sent < 600, 'the aborted cell stopped early, with what it measured');
    assert.match(data.experiment.interrupted ?? '', /^interrupted by SIGINT after 1 of 2 cells \(1 aborted\)$/);
    assert.ok(data.reportPath && existsSync(data.reportPath), 'the report of what was done is written');
    assert.doesNotMatch(cli.stderr, /cell 2 of 2/);
    const netDir = /starting an embedded network of \d+ nodes in (\S+)/.exec(cli.stderr)?.[1];
    assert.ok(netDir && !existsSync(netDir), 'the embedded network was torn down');
    withStores(db, (runs, ex) => {
      assert.equal(runs.getRun(data.runs[0]!.runId!).status, 'aborted');
      assert.equal(ex.runs(data.experiment.id).length, 1);
      assert.ok(ex.get(data.experiment.id).finishedAt, 'the sweep is closed');
    });
  });

  it('regression: SIGTERM in find-max lost the probes so far; the probe under way is aborted, the unconfirmed answer is printed, exit 143', async () => {
    const spec = `name: long-knee\nbase:${base(4)}rate: { startPerSec: 10, stepFactor: 2, maxPerSec: 80 }\nslo: ['lost == 0', 'latency.p99 < 10s']\n`;
    const db = join(dir.path, 'knee.db');
    const cli = startCli(['find-max', await dir.file('knee.yaml', spec), '--results', db, '--no-report']);
    await loadStarted(cli, 2);
    cli.child.kill('SIGTERM');
    const code = await cli.exited;
    assert.equal(code, 143, cli.stderr);
    assert.match(cli.stdout, /rate=10\s+met \(step\)/);
    assert.match(cli.stdout, /rate=20\s+aborted \(step\)/);
    assert.match(cli.stdout, /interrupted by SIGTERM after 2 probes; 10 tx\/s met the service levels but was not confirmed/);
    assert.match(cli.stdout, /highest rate meeting the service levels: 10 tx\/s \(NOT confirmed\)/);
    withStores(db, (runs, ex) => {
      const probes = ex.runs(ex.get('latest', 'find-max').id);
      assert.deepEqual(probes.map((p) => p.status), ['met (step)', 'aborted (step)']);
      assert.equal(runs.getRun(probes[1]!.runId!).status, 'aborted');
    });
  });
});
