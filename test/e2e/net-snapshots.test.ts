// `net up --snapshot-every`: the sequencer and every node get the snapshot flags (and keep them
// across `net restart`), so a network under a long run restarts from a snapshot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeClient } from '../../src/client/node-client.js';
import { readKeyFile } from '../../src/client/key-file.js';
import { netUp, readNetworkFile, restartRole, stopProcesses } from '../../src/ledger/net.js';
import { listSnapshots } from '../../src/ledger/snapshot.js';
import { fund, tempDir, testAccounts, waitFor } from '../testkit/index.js';

test('net up passes --snapshot-every and --snapshot-every-txs to the sequencer and the nodes', async (t) => {
  const dir = await tempDir('tpslab-net-snap-');
  const net = await netUp({ dir: `${dir.path}/net`, nodes: 1, heartbeatMs: 200, blockIntervalMs: 10, snapshotEvery: 1, snapshotEveryTxs: 0 });
  t.after(async () => {
    const file = await readNetworkFile(`${dir.path}/net`).catch(() => net);
    await stopProcesses([...file.nodes, file.sequencer, file.tracker], 3000);
    await dir.remove();
  });
  for (const role of [net.sequencer, net.nodes[0]!]) {
    const args = role.args.join(' ');
    assert.match(args, /--snapshot-every 1 --snapshot-every-txs 0/, `${role.id}: ${args}`);
  }
  const node = new NodeClient(net.nodes[0]!.url);
  await fund(node, await readKeyFile(net.faucetKey), testAccounts('snap', 4), 10n);
  const { height } = await node.head();
  assert.ok(height >= 1);
  // Every block snapshots: both the sequencer and the node have one by the time the node has the block.
  await waitFor('a snapshot in the node and the sequencer', async () => (await listSnapshots(net.nodes[0]!.dataDir)).length > 0 && (await listSnapshots(net.sequencer.dataDir)).length > 0, 15_000);
  const again = await restartRole(`${dir.path}/net`, 'node1');
  assert.match(again.args.join(' '), /--snapshot-every 1/, 'a restart keeps the flags');
  await waitFor('the restarted node serves its head', async () => ((await new NodeClient(again.url).head().catch(() => undefined))?.height ?? -1) >= height, 15_000);
});
