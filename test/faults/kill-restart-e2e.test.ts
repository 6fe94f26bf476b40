// `tpslab run` with node kills exits after its summary, leaving no network process behind.
// It hung (past 300 s, last session) once two nodes restarted at the same time: each restart read
// network.json before launching and wrote it back after, so the second write dropped the first's new
// pid; `net down` then missed that node, a child of the run, and it kept the run alive with its
// directory already removed. A later kill of that node failed with "kill ESRCH".
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFaults } from '../../src/faults/fault-store.js';
import type { RunResult } from '../../src/harness/overseer.js';
import { isAlive } from '../../src/ledger/net.js';
import { spawnCli, tempDir, TimeoutError, waitFor } from '../testkit/index.js';
import { cmdline, descendants, processName } from '../testkit/proc-rss.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-kill-restart-');
});
after(async () => {
  await dir.remove();
});

// node1 and node2 die and restart together, then each is killed again (they must be found by their
// new pids); the last restart is due as the load ends, so it may still be under way when the
// beacons finish and the network is torn down.
const SCENARIO = `
name: kill-restart
target: { kind: tpslab, nodes: 2 }
accounts: { count: 100 }
load:
  stages:
    - { kind: constant, ratePerSec: 40, durationSec: 10 }
beacons: { count: 2 }
confirmation: { timeoutMs: 20000 }
startDelayMs: 500
faults:
  - { kind: kill, role: node1, atSec: 1.5, restartAfterSec: 1.5 }
  - { kind: kill, role: node2, atSec: 1.5, restartAfterSec: 1.5 }
  - { kind: kill, role: node1, atSec: 6, restartAfterSec: 1.5 }
  - { kind: kill, role: node2, atSec: 7, restartAfterSec: 2.8 }
`;

describe('kill and restart', () => {
  it('a run whose two nodes restart at once exits after its summary with no node left running (it hung: the second restart dropped the first one\'s pid from network.json)', async () => {
    const file = join(dir.path, 'kills.yaml');
    await writeFile(file, SCENARIO);
    const db = join(dir.path, 'kills.db');
    const cli = spawnCli(['run', file, '--results', db, '--json', '--no-ui', '--no-report']);
    let code: number | null | undefined;
    void cli.exited.then((c) => (code = c));
    // Every process the run starts (the restarted nodes too), seen while it runs.
    const seen = new Set<number>();
    const ours = (pid: number): boolean => isAlive(pid) && cmdline(pid).includes('/src/cli/');
    let leftover: number[] = [];
    try {
      await waitFor('the run to exit', () => {
        for (const pid of descendants(cli.child.pid!)) seen.add(pid);
        return code !== undefined;
      }, 120_000, 200);
      leftover = [...seen].filter(ours);
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      const alive = descendants(cli.child.pid!).map((pid) => `${processName(pid)} (pid ${pid})`);
      assert.fail(`tpslab run did not exit within 120 s; still running under it: ${alive.join(', ') || 'nothing'}\n${cli.stderr}`);
    } finally {
      for (const pid of [...seen, cli.child.pid!]) {
        try {
          if (ours(pid)) process.kill(pid, 'SIGKILL');
        } catch {
          // gone between the check and the kill
        }
      }
    }
    // Nodes restarted by the faults are children of the run: the network's teardown stopped them all.
    assert.deepEqual(leftover.map(processName), [], 'no process the run started outlives it');
    assert.ok(seen.size >= 8, `saw ${seen.size} processes: 2 beacons, the tracker, the sequencer, 2 nodes and their restarts`);
    assert.equal(code, 0, cli.stderr);
    const result = JSON.parse(cli.stdout) as RunResult;
    assert.equal(result.summary.sent, 400);
    assert.equal(result.summary.reconciliation?.missing, 0);
    const faults = readFaults(db, result.runId);
    assert.equal(faults.length, 4);
    // A later kill finds its node by the pid its restart wrote (it failed with "kill ESRCH"). It waits
    // for that node's restart under way, so on a very slow machine it may not begin before the load ends.
    for (const f of faults) {
      assert.equal(f.error, undefined, `${f.label}: ${f.error}`);
      assert.ok(f.startSec === null || f.endSec !== null, `${f.label} ended once begun`);
    }
    assert.ok(faults[0]!.startSec !== null && faults[1]!.startSec !== null, 'both first kills began');
  });
});
