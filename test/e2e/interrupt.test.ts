// `tpslab run` interrupted: SIGINT/SIGTERM stop the beacons, tear the embedded network down,
// store the run as aborted, write a partial report and exit 130/143.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAlive, readNetworkFile } from '../../src/ledger/net.js';
import { ResultsStore } from '../../src/harness/store.js';
import type { LiveData } from '../../src/web/contract.js';
import { spawnCli, tempDir, waitFor } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-interrupt-');
});
after(async () => {
  await dir.remove();
});

/** Direct children of `pid` (beacons and the network's processes). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** Processes whose command line mentions `text` (the network's roles run with --data <its dir>/…). */
function processesMentioning(text: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', text], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number).filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

const LONG = `
name: long
target: { kind: embedded, nodes: 1 }
accounts: { count: 20 }
load:
  stages:
    - { kind: constant, ratePerSec: 20, durationSec: 120 }
beacons: { count: 2 }
`;

describe('tpslab run interrupted', () => {
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`regression: ${sig} exited at once, left the network running, the temp dir in place and the run "running" forever`, async () => {
      const file = join(dir.path, `${sig}.yaml`);
      await writeFile(file, LONG);
      const db = join(dir.path, `${sig}.db`);
      const cli = spawnCli(['run', file, '--results', db]);
      const { child, exited } = cli;
      try {
        await waitFor('the load to start', () => /t=([2-9]|[1-9][0-9]+)s/.test(cli.stderr), 150_000, 100).catch((err: Error) => {
          throw new Error(`${err.message}\n${cli.stderr}`);
        });
        const netDir = /starting an embedded network of \d+ nodes in (\S+)/.exec(cli.stderr)?.[1];
        assert.ok(netDir && existsSync(netDir), cli.stderr);
        const net = await readNetworkFile(netDir);
        const pids = [net.tracker.pid, net.sequencer.pid, ...net.nodes.map((n) => n.pid), ...childrenOf(child.pid!)];
        assert.ok(pids.length >= 5, `network and beacons: ${pids.join(', ')}`);
        // While it runs, the live beacons table has each beacon's accounts (it showed "–").
        const dashboard = /dashboard: (\S+)/.exec(cli.stderr)?.[1];
        assert.ok(dashboard, cli.stderr);
        const live = await waitFor('beacon totals', async () => {
          const d = (await (await fetch(`${dashboard}/api/live`)).json()) as LiveData;
          return d.beacons.length === 2 ? d : undefined;
        }, 10_000, 200);
        assert.deepEqual(live.beacons.map((b) => [b.accountsStart, b.accountsEnd]), [[0, 10], [10, 20]]);

        child.kill(sig);
        const exitCode = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000).unref())]);
        assert.equal(exitCode, code, `${cli.stdout}\n${cli.stderr}`);
        assert.match(cli.stderr, new RegExp(`${sig}: stopping the beacons and tearing down the network`));
        assert.match(cli.stdout, /run \S+: ABORTED/);
        const reportPath = /report: (\S+\.html)/.exec(cli.stdout)?.[1];
        assert.ok(reportPath && existsSync(reportPath), `report path printed and written:\n${cli.stdout}`);
        for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
        assert.equal(existsSync(netDir), false, 'the embedded network\'s temp dir is removed');
        const store = ResultsStore.open(db, { mustExist: true });
        try {
          const run = store.getRun('latest');
          assert.equal(run.status, 'aborted');
          assert.ok(run.finishedAt);
          const summary = run.summary as { sent: number; committed: number };
          assert.ok(summary.sent > 0 && summary.sent < 2400, `partial: sent ${summary.sent}`);
          assert.ok(store.seconds(run.id).length >= 2);
        } finally {
          store.close();
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      }
    });
  }

  it('SIGINT before the load starts: the run is recorded as aborted, with a report, and exits 130', async () => {
    const file = join(dir.path, 'early.yaml');
    await writeFile(file, LONG);
    const db = join(dir.path, 'early.db');
    const junit = join(dir.path, 'early.xml');
    const cli = spawnCli(['run', file, '--results', db, '--no-ui', '--junit', junit]);
    const { child, exited } = cli;
    try {
      await waitFor('the network to start', () => /starting an embedded network of \d+ nodes in (\S+)/.exec(cli.stderr)?.[1], 60_000, 20);
      const netDir = /starting an embedded network of \d+ nodes in (\S+)/.exec(cli.stderr)![1]!;
      child.kill('SIGINT');
      assert.equal(await exited, 130, `${cli.stdout}\n${cli.stderr}`);
      assert.match(cli.stdout, /run \S+: ABORTED \(run interrupted by SIGINT before the load started; recorded as aborted\)/);
      const reportPath = /report: (\S+\.html)/.exec(cli.stdout)?.[1];
      assert.ok(reportPath && existsSync(reportPath), cli.stdout);
      assert.equal(existsSync(netDir), false, 'the embedded network\'s temp dir is removed');
      assert.match(await readFile(junit, 'utf8'), /errors="1"[\s\S]*<error message="run aborted: TPSLAB_E_ABORTED: [^"]*" type="aborted"\/>/, 'CI sees the interrupted run as an error');
      assert.deepEqual(processesMentioning(netDir), [], 'no process of the embedded network is left');
      const store = ResultsStore.open(db, { mustExist: true });
      try {
        const run = store.getRun('latest');
        assert.equal(run.status, 'aborted');
        assert.match(run.error ?? '', /TPSLAB_E_ABORTED/);
      } finally {
        store.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});
