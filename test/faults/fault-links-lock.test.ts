// Regression: putting a link fault's proxy in front of a role read network.json, changed the role's flags and
// wrote it back without the network.json lock, so an update made meanwhile under the lock (a `net restart`, the
// fault injector restarting a role: their new pids) was overwritten. Now the read-change-write waits for the lock.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import { FaultLinks } from '../../src/faults/fault-links.js';
import { networkFilePath, withNetworkFile, type NetworkFile, type RoleProcess } from '../../src/ledger/net.js';
import { tempDir } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-fault-links-lock-');
});
after(async () => {
  await dir.remove();
});

test('regression: a link fault rewrote network.json while another update held its lock and dropped that update; now it waits for the lock', async () => {
  // A role whose process is gone, and whose restart fails at once (its data directory cannot be made: a file is in
  // the way), so no process is started: what is tested is the network.json update before the restart.
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.on('close', r));
  await writeFile(join(dir.path, 'a-file'), '');
  const node1: RoleProcess = { id: 'node1', role: 'replica', url: 'http://127.0.0.1:9', pid: gone.pid!, dataDir: join(dir.path, 'a-file', 'node1'), logFile: join(dir.path, 'node1.log'), args: ['--sequencer', 'http://127.0.0.1:9'] };
  const net: NetworkFile = { version: 1, network: 'n', dir: dir.path, genesis: '', faucetKey: '', startedAtMs: 0, tracker: { ...node1, id: 'tracker', role: 'tracker', args: [] }, sequencer: { ...node1, id: 'sequencer', role: 'sequencer', args: [] }, nodes: [node1] };
  const file = networkFilePath(dir.path);
  await writeFile(file, JSON.stringify(net));
  const read = async (): Promise<NetworkFile> => JSON.parse(await readFile(file, 'utf8')) as NetworkFile;

  let setUp: Promise<FaultLinks> | undefined;
  await withNetworkFile(dir.path, async () => {
    setUp = FaultLinks.setUp(dir.path, [{ kind: 'partition', link: 'nodes-sequencer', role: 'node1', atSec: 0, durationSec: 1 }], { network: 'n', endpoints: [], roles: [{ id: 'node1', role: 'replica', url: node1.url }], embedded: true }, preciseClock, () => {});
    setUp.catch(() => {}); // awaited below
    // While this update holds the lock, network.json must not change (bounded: 50 polls, 10 ms apart).
    for (let k = 0; k < 50; k++) {
      assert.deepEqual((await read()).nodes[0]!.args, node1.args, 'network.json was rewritten while another update held its lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    // This update: another role's new pid.
    await writeFile(file, JSON.stringify({ ...net, tracker: { ...net.tracker, pid: 4242 } }));
  });
  await assert.rejects(setUp!, /ENOTDIR|not a directory/);
  const final = await read();
  assert.equal(final.tracker.pid, 4242, 'the update made under the lock was kept');
  assert.match(final.nodes[0]!.args[1]!, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(final.nodes[0]!.args[1], 'http://127.0.0.1:9', 'node1 points at its proxy');
});
