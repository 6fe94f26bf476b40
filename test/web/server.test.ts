// The web server and explorer backend against real processes: event streams never keep the
// process alive, and the explorer keeps working when a node dies.
import assert from 'node:assert/strict';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readKeyFile } from '../../src/client/key-file.js';
import { NodeClient } from '../../src/client/node-client.js';
import { netUp, stopProcesses, type NetworkFile } from '../../src/ledger/net.js';
import { keyPairFromLabel, signTx } from '../../src/protocol/signing.js';
import { ExplorerBackend } from '../../src/web/explorer-api.js';
import { LiveRun } from '../../src/web/live.js';
import { startWebServer } from '../../src/web/server.js';
import { tempDir, waitFor } from '../testkit/index.js';

/** Resolves with the promise's value, or rejects after `ms` naming what hung. */
function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms).unref())]);
}

describe('web server', () => {
  it('regression: closing with a live event stream connected does not hang', async () => {
    const live = new LiveRun({ runId: 'r1', name: 'stream', scenario: {} });
    const web = await startWebServer({ live });
    const received: string[] = [];
    const res = await new Promise<IncomingMessage>((resolve) => get(`${web.url}/api/live/events`, resolve));
    res.on('data', (d: Buffer) => received.push(d.toString()));
    live.setStatus('running', { startMs: Date.now() });
    await waitFor('the status event on the stream', () => received.join('').includes('"running"'));
    const ended = new Promise<void>((resolve) => res.on('end', () => resolve()));
    await within('web.close() with a client connected', web.close(), 5000);
    await within('the stream ending', ended, 5000);
  });

  it('answers 503 for the explorer until the network is attached', async () => {
    const web = await startWebServer({ live: new LiveRun({ runId: 'r2', name: 'x', scenario: {} }) });
    try {
      const res = await fetch(`${web.url}/api/explorer/info`);
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'TPSLAB_E_UNAVAILABLE');
    } finally {
      await web.close();
    }
  });
});

describe('explorer backend', () => {
  let dir: { path: string; remove(): Promise<void> };
  let net: NetworkFile;
  before(async () => {
    dir = await tempDir('tpslab-explorer-');
    net = await netUp({ dir: join(dir.path, 'net'), nodes: 2, blockIntervalMs: 20 });
  });
  after(async () => {
    await stopProcesses([...net.nodes, net.sequencer, net.tracker], 3000);
    await dir.remove();
  });

  it('regression: keeps serving blocks, transactions and accounts when the first node dies', async () => {
    const backend = new ExplorerBackend({ network: net.network, endpoints: net.nodes.map((n) => n.url), tracker: net.tracker.url });
    const faucet = await readKeyFile(net.faucetKey);
    process.kill(net.nodes[0]!.pid, 'SIGKILL');
    const client = new NodeClient(net.nodes[1]!.url);
    const to = keyPairFromLabel('explorer-failover');
    const tx = signTx(
      { kind: 'transfer', nonce: (await client.account(faucet.address)).nonce, fee: 0n, deps: [], inputs: [{ account: faucet.publicKey, amount: 7n }], outputs: [{ account: to.publicKey, amount: 7n }] },
      [faucet],
      net.network,
    );
    assert.equal((await client.submit(tx, { waitMs: 20_000 })).status, 'committed');
    const blocks = await backend.blocks(3);
    assert.ok(blocks.length > 0);
    const detail = await backend.tx(tx.id.toString('hex'));
    assert.equal(detail.status, 'committed');
    assert.ok(detail.tx);
    const account = await backend.account(to.address);
    assert.equal(account.balance, '7');
    assert.equal(account.recent[0]?.id, tx.id.toString('hex'));
  });
});
