/**
 * Regression tests for operating a network with the CLI: role logs that were
 * not where the docs said, health that said "ok" while the sequencer was
 * dead, no way to restart one role, new ports after every down/up, and a
 * `net status` that exited 0 with nothing running.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { readNetworkFile, stopProcesses, type NetworkFile } from '../../src/ledger/net.js';
import { runCli, tempDir, waitFor } from '../testkit/index.js';
import { http } from './helpers.js';

interface Health {
  status: string;
  height?: number;
  reason?: string;
}

describe('operating a network with the CLI', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let netDir: string;
  let net: NetworkFile;

  before(async () => {
    dir = await tempDir('tpslab-e2e-netops-');
    netDir = join(dir.path, 'net');
    const up = await runCli(['net', 'up', '--detach', '--nodes', '2', '--dir', netDir, '--heartbeat-ms', '500'], 90_000);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    net = await readNetworkFile(netDir);
  });

  after(async () => {
    const file = await readNetworkFile(netDir).catch(() => net);
    if (file) await stopProcesses([...file.nodes, file.sequencer, file.tracker], 3000);
    await dir?.remove();
  });

  it('role logs were not where the docs said; each role now logs to <dir>/<id>/<id>.log', async () => {
    for (const p of [net.tracker, net.sequencer, ...net.nodes]) {
      assert.equal(p.logFile, join(netDir, p.id, `${p.id}.log`));
      await access(p.logFile);
    }
  });

  it('net status showed every node ok after the sequencer was killed; now /health is 503 degraded with the reason, and net status shows it', async () => {
    process.kill(net.sequencer.pid, 'SIGKILL');
    const h = await waitFor('node1 to report degraded', async () => {
      const r = await http(net.nodes[0]!.url, '/health');
      return r.status === 503 && (r.body as Health).status === 'degraded' ? (r.body as Health) : undefined;
    }, 15_000);
    assert.match(h.reason!, /^sequencer unreachable since \d{4}-\d\d-\d\dT[0-9:.]+Z/);
    const st = await runCli(['net', 'status', '--dir', netDir]);
    assert.match(st.stdout, /node1 .*degraded: sequencer unreachable since/);
    assert.match(st.stdout, /sequencer .*stopped/);
  });

  it('no role could be restarted (net up refused while any lived); net restart sequencer and node2 bring them back on the same port with the same data', async () => {
    const up = await runCli(['net', 'up', '--detach', '--dir', netDir]);
    assert.equal(up.code, 2, up.stdout + up.stderr);
    assert.match(up.stderr, /net restart ROLE/);

    const seq = await runCli(['net', 'restart', 'sequencer', '--dir', netDir], 60_000);
    assert.equal(seq.code, 0, seq.stdout + seq.stderr);
    let now = await readNetworkFile(netDir);
    assert.equal(now.sequencer.url, net.sequencer.url, 'same address');
    assert.notEqual(now.sequencer.pid, net.sequencer.pid);
    await waitFor('node1 to be healthy again once the sequencer is back', async () => (await http(net.nodes[0]!.url, '/health')).status === 200, 20_000);

    const before = (await http(net.nodes[1]!.url, '/health')).body as Health;
    const node2 = await runCli(['net', 'restart', 'node2', '--dir', netDir], 60_000);
    assert.equal(node2.code, 0, node2.stdout + node2.stderr);
    assert.match(node2.stdout, /restarted node2 on http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/);
    now = await readNetworkFile(netDir);
    assert.equal(now.nodes[1]!.url, net.nodes[1]!.url);
    assert.notEqual(now.nodes[1]!.pid, net.nodes[1]!.pid);
    const after = (await http(now.nodes[1]!.url, '/health')).body as Health;
    assert.equal(after.status, 'ok');
    assert.ok(after.height! >= before.height!, 'node2 kept its data');
    const unknown = await runCli(['net', 'restart', 'node9', '--dir', netDir]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no role "node9".*roles: node1, node2, sequencer, tracker/);
    net = now;
  });

  it('net status exited 0 with nothing running; a full net down then net up resumed on new ports, now on the previous ones', async () => {
    const down = await runCli(['net', 'down', '--dir', netDir], 60_000);
    assert.equal(down.code, 0, down.stdout + down.stderr);
    const st = await runCli(['net', 'status', '--dir', netDir]);
    assert.equal(st.code, 1, st.stdout + st.stderr);
    assert.match(st.stderr, /TPSLAB_E_UNAVAILABLE.*nothing of the network .* is running; start it with "tpslab net up/);

    const up = await runCli(['net', 'up', '--detach', '--nodes', '2', '--dir', netDir, '--heartbeat-ms', '500'], 90_000);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const again = await readNetworkFile(netDir);
    for (const [a, b] of [[net.tracker, again.tracker], [net.sequencer, again.sequencer], ...net.nodes.map((n, i) => [n, again.nodes[i]!] as const)] as const) {
      assert.equal(b.url, a.url, `${a.id} moved from ${a.url} to ${b.url}:\n${up.stdout}`);
    }
    net = again;
    const ok = await runCli(['net', 'status', '--dir', netDir]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  });
});
