// tpslab_stage_seconds: a transfer through a real network (tracker, sequencer, one node as processes)
// is observed at every stage of its way to commit, on the role that owns the stage.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NodeClient } from '../../src/client/node-client.js';
import { readKeyFile } from '../../src/client/key-file.js';
import { netUp, readNetworkFile, stopProcesses, type NetworkFile } from '../../src/ledger/net.js';
import { signTx } from '../../src/protocol/signing.js';
import { fund, tempDir, testAccounts, waitFor } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
let net: NetworkFile;

/** Observations per stage of `tpslab_stage_seconds` in a role's /metrics. */
async function stageCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tpslab_stage_seconds_count\{([^}]*)\} (\S+)$/gm)) {
    const stage = /stage="([^"]+)"/.exec(m[1]!)?.[1];
    if (stage) out[stage] = Number(m[2]);
  }
  return out;
}

before(async () => {
  dir = await tempDir('tpslab-stages-');
  net = await netUp({ dir: `${dir.path}/net`, nodes: 1 });
});

after(async () => {
  const file = await readNetworkFile(`${dir.path}/net`).catch(() => net);
  await stopProcesses([...file.nodes, file.sequencer, file.tracker], 3000);
  await dir.remove();
});

describe('stage metrics (tpslab_stage_seconds)', () => {
  it('observe a committed transfer at every stage, on the node and on the sequencer', async () => {
    const node = new NodeClient(net.nodes[0]!.url);
    const [a, b] = testAccounts('stages', 2);
    await fund(node, await readKeyFile(net.faucetKey), [a!], 100n);
    const tx = signTx({ kind: 'transfer', nonce: 0n, fee: 0n, deps: [], inputs: [{ account: a!.publicKey, amount: 5n }], outputs: [{ account: b!.publicKey, amount: 5n }] }, [a!], net.network);
    await node.submitBatch([tx]);
    await waitFor('the transfer to commit', async () => (await node.status(tx.id.toString('hex'))).status === 'committed');
    // The index is written about a second after the block is durable.
    const replica = await waitFor('the node to write its index', async () => {
      const c = await stageCounts(net.nodes[0]!.url);
      return (c.index ?? 0) > 0 ? c : undefined;
    });
    for (const stage of ['verify', 'forward_queue', 'forward', 'feed', 'apply', 'persist']) assert.ok((replica[stage] ?? 0) >= 1, `node stage ${stage}: ${JSON.stringify(replica)}`);
    assert.equal(replica.block_wait, undefined, 'a node cuts no blocks');
    const sequencer = await waitFor('the sequencer to write its index', async () => {
      const c = await stageCounts(net.sequencer.url);
      return (c.index ?? 0) > 0 ? c : undefined;
    });
    for (const stage of ['block_wait', 'seal', 'persist']) assert.ok((sequencer[stage] ?? 0) >= 1, `sequencer stage ${stage}: ${JSON.stringify(sequencer)}`);
    assert.equal(sequencer.feed, undefined, 'the sequencer follows no feed');
  });
});
