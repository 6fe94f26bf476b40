// Regression: the kill and pause faults signalled the pid recorded in network.json, so a process that had
// reused the pid of a role that exited got SIGKILL or SIGSTOP. Now a fault checks the recorded start time
// first and, when the pid names another process, is recorded as not injected and signals nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import type { TargetConnector } from '../../src/connectors/contract.js';
import { FaultInjector } from '../../src/faults/injector.js';
import type { NetworkFile, RoleProcess } from '../../src/ledger/net.js';
import { procStat, processStartOf } from '../../src/ledger/pid-alive.js';
import { tempDir, waitFor } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-injector-pid-');
});
after(async () => {
  await dir.remove();
});

for (const kind of ['kill', 'pause'] as const) {
  test(`regression: a ${kind} fault signalled a pid reused by another process; now it is not injected and that process is left alone`, async (t) => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    t.after(() => void other.kill('SIGKILL'));
    const start = processStartOf(other.pid!);
    if (start === undefined) return t.skip('no /proc: start times cannot be read here');
    let exited = false;
    other.on('exit', () => (exited = true));
    // node1 is recorded with this pid but another start time: the role exited and its pid was reused.
    const node1: RoleProcess = { id: 'node1', role: 'replica', url: 'http://127.0.0.1:9', pid: other.pid!, pidStart: `${start}0`, dataDir: dir.path, logFile: join(dir.path, 'node1.log'), args: [] };
    const net: NetworkFile = { version: 1, network: 'n', dir: dir.path, genesis: '', faucetKey: '', startedAtMs: 0, tracker: { ...node1, id: 'tracker', role: 'tracker' }, sequencer: { ...node1, id: 'sequencer', role: 'sequencer' }, nodes: [node1] };
    await writeFile(join(dir.path, 'network.json'), JSON.stringify(net));
    const fault = kind === 'kill' ? ({ kind, role: 'node1', atSec: 0, restartAfterSec: 0.2 } as const) : ({ kind, role: 'node1', atSec: 0, durationSec: 0.2 } as const);
    const injector = new FaultInjector([fault], join(dir.path, 'r.db'), preciseClock);
    const target = injector.wrap({
      kind: 'tpslab',
      networkDir: dir.path,
      open: async () => ({ network: 'n', endpoints: [], roles: [], embedded: true }),
      close: async () => {},
    } as unknown as TargetConnector);
    const lines: string[] = [];
    await target.open((l) => lines.push(l));
    injector.output.started!({ runId: `r-${kind}`, startMs: preciseClock.now(), endpoints: [] });
    const rec = await waitFor('the fault to be tried', () => injector.results[0]!.error ?? undefined, 10_000);
    assert.match(rec, /node1 \(pid \d+ in .*network\.json\) is not running: it exited, or its pid now names another process, which is not signalled/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(exited, false, 'not killed');
    assert.notEqual(procStat(other.pid!)?.state, 'T', 'not stopped');
    injector.output.finishing!();
    await target.close();
    assert.match(lines.join('\n'), /could not be injected/);
  });
}
