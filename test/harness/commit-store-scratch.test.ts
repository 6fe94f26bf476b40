// A beacon keeps what it saw committed in a scratch directory under the OS temp directory and
// removes it when it exits; a beacon killed with SIGKILL cannot. The next beacon to start on the
// machine removes such orphans (their owner's pid is gone) and nothing else.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assignment } from '../../src/harness/assignment.js';
import { removeStaleScratch } from '../../src/harness/scratch-dir.js';
import type { BeaconMessage } from '../../src/harness/messages.js';
import { CLI, tempDir, waitFor } from '../testkit/index.js';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A real beacon process (`tpslab beacon --ipc`, as `tpslab run` forks it) with TMPDIR set, given an assignment. */
async function startBeacon(tmp: string): Promise<ChildProcess> {
  const child = fork(CLI, ['beacon', '--ipc'], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: { ...process.env, TMPDIR: tmp } });
  children.push(child);
  const messages: BeaconMessage[] = [];
  child.on('message', (m) => messages.push(m as BeaconMessage));
  // The http connector opens no connection before the run starts; nothing here starts it.
  const config = {
    endpoints: ['http://127.0.0.1:9'], beacon: 0, amount: 1, request: { method: 'POST', path: '/tx', headers: {}, body: '{}' }, id: '{{seq}}',
    success: { status: [200], knownStatus: [] }, timeoutMs: 1000, connections: 1,
  };
  child.send(assignment({ connector: { kind: 'http', config } }));
  await waitFor('the beacon to be ready', () => messages.find((m) => m.type === 'ready' || m.type === 'error'), 30_000);
  const error = messages.find((m) => m.type === 'error');
  assert.equal(error, undefined, JSON.stringify(error));
  return child;
}

const scratch = (tmp: string): string[] => readdirSync(tmp).filter((n) => n.startsWith('tpslab-commits-')).sort();

test('regression: a beacon killed with SIGKILL left its commit-store scratch directory in the temp directory; the next beacon removes it', { timeout: 120_000 }, async () => {
  const tmp = await tempDir('tpslab-scratch-');
  try {
    // Left alone: a directory with no owner file, and one of another host.
    mkdirSync(join(tmp.path, 'tpslab-commits-unowned'));
    mkdirSync(join(tmp.path, 'tpslab-commits-elsewhere'));
    writeFileSync(join(tmp.path, 'tpslab-commits-elsewhere', 'owner.json'), JSON.stringify({ pid: 2 ** 22 + 1, host: `not-${hostname()}` }));

    const killed = await startBeacon(tmp.path);
    const [orphan] = scratch(tmp.path).filter((n) => !['tpslab-commits-unowned', 'tpslab-commits-elsewhere'].includes(n));
    assert.ok(orphan, 'the beacon made its scratch directory');
    const alive = await startBeacon(tmp.path);
    const aliveDirs = scratch(tmp.path).filter((n) => ![orphan, 'tpslab-commits-unowned', 'tpslab-commits-elsewhere'].includes(n));
    assert.equal(aliveDirs.length, 1, 'the second beacon made its own');
    killed.kill('SIGKILL');
    await new Promise((r) => killed.once('exit', r));
    assert.ok(existsSync(join(tmp.path, orphan)), 'SIGKILL left the directory behind');

    const next = await startBeacon(tmp.path);
    assert.ok(!existsSync(join(tmp.path, orphan)), 'the next beacon removed the orphan');
    assert.ok(existsSync(join(tmp.path, aliveDirs[0]!)), 'a running beacon keeps its directory');
    assert.ok(existsSync(join(tmp.path, 'tpslab-commits-unowned')), 'a directory with no owner file stays');
    assert.ok(existsSync(join(tmp.path, 'tpslab-commits-elsewhere')), 'another host\'s directory stays');
    assert.deepEqual(removeStaleScratch(tmp.path), [], 'nothing else is stale while both beacons run');

    for (const c of [alive, next]) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
    assert.deepEqual(scratch(tmp.path), ['tpslab-commits-elsewhere', 'tpslab-commits-unowned'], 'a beacon stopped with SIGTERM removes its own');
  } finally {
    await tmp.remove();
  }
});
