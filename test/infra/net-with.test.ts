import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isAlive, readNetworkFile } from '../../src/ledger/net.js';
import { http } from '../e2e/helpers.js';
import { runCli, tempDir, testAccounts, waitFor } from '../testkit/index.js';

describe('net up --with lb,faucet,indexer', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  after(async () => {
    if (!dir) return;
    await runCli(['net', 'down', '--dir', dir.path]);
    await dir.remove();
  });

  it('starts the services with the network, shows their health in net status, stops them with net down', async () => {
    dir = await tempDir('tpslab-net-with-');
    const up = await runCli(['net', 'up', '--detach', '--nodes', '2', '--dir', dir.path, '--with', 'lb,faucet,indexer'], 90_000);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout, /lb +http:\/\/127\.0\.0\.1:\d+/);
    const net = await readNetworkFile(dir.path);
    const byName = Object.fromEntries((net.services ?? []).map((s) => [s.id, s]));
    assert.deepEqual(Object.keys(byName), ['lb', 'faucet', 'indexer']);

    const status = await runCli(['net', 'status', '--dir', dir.path, '--json']);
    const rows = JSON.parse(status.stdout) as { id: string; health: string; alive: boolean }[];
    for (const id of ['lb', 'faucet', 'indexer']) assert.deepEqual(rows.filter((r) => r.id === id).map((r) => [r.health, r.alive]), [['ok', true]], status.stdout);

    // The pieces work together: the faucet pays, the indexer sees it, the balancer serves it.
    const who = testAccounts('net-with', 1)[0]!;
    const paid = await http(byName.faucet!.url, '/v1/fund', { json: { address: who.address, requestId: 'net-with-1' } });
    assert.equal(paid.status, 200, paid.text);
    await waitFor('the indexer to show the grant', async () => {
      const h = await http(byName.indexer!.url, `/v1/accounts/${who.address}`);
      return (h.body as { balance: string }).balance !== '0';
    });
    const viaLb = await http(byName.lb!.url, `/v1/accounts/${who.address}`);
    assert.equal((viaLb.body as { exists: boolean }).exists, true);

    const down = await runCli(['net', 'down', '--dir', dir.path], 60_000);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /lb, faucet, indexer, node1/);
    for (const s of net.services ?? []) assert.equal(isAlive(s.pid), false, `${s.id} stopped`);
  });

  it('an unknown service is a usage error that names the valid ones', async () => {
    const d = await tempDir('tpslab-net-with-bad-');
    try {
      const r = await runCli(['net', 'up', '--dir', d.path, '--with', 'lb,explorer']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /TPSLAB_E_USAGE.*"explorer".*lb, faucet, indexer/);
    } finally {
      await d.remove();
    }
  });
});
