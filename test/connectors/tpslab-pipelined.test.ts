// The conformance suite against the reference network with each beacon's batches pipelined
// (target.pipelining 4 over 4 connections): the same contract holds, failover to another endpoint
// included (that endpoint is killed between runs, so no pipeline is in flight on it then).
// And, against a real node, what the suite does not reach: a connection dropped with four batches
// in its pipeline, after the node took them all and before any answer came back.
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import { TpslabBeacon } from '../../src/connectors/tpslab/beacon.js';
import { signTx } from '../../src/protocol/signing.js';
import { NodeProcess, fund, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import { connectorConformance } from './conformance.js';
import { tpslabFixture } from './tpslab-fixture.js';

connectorConformance('tpslab', () => tpslabFixture({ connections: 4, pipelining: 4 }));

test('a connection dropped with four pipelined batches the node took, before any answer: the first is retried, the three sent again are known, all commit once', async () => {
  const dir = await tempDir('tpslab-pipelined-drop-');
  const node = await NodeProcess.start(dir.path);
  const sockets = new Set<Socket>();
  // A proxy whose first connection forwards requests and drops every answer.
  let connections = 0;
  const first: Socket[] = [];
  const u = new URL(node.url);
  const proxy = createServer((c) => {
    const k = ++connections;
    const up = connect(Number(u.port), u.hostname);
    for (const s of [c, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    c.pipe(up);
    if (k === 1) first.push(c);
    else up.pipe(c);
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
  });
  let beacon: TpslabBeacon | undefined;
  try {
    const network = (await node.client.head()).network;
    const accounts = testAccounts('pipelined-drop', 5);
    await fund(node.client, await node.faucetKey(), accounts, 100n);
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const addr = proxy.address();
    assert.ok(addr && typeof addr === 'object');
    beacon = new TpslabBeacon(
      { network, endpoints: [`http://127.0.0.1:${addr.port}`], keySeed: 'x', accounts: { start: 0, end: 4 }, freshAccounts: true, workload: { kind: 'transfer', amount: 1, fee: 0 }, fromHeight: 0, connections: 1, pipelining: 4 },
      { beacon: 0, clock: preciseClock, confirmation: { method: 'poll', pollIntervalMs: 200, timeoutMs: 10_000 }, log: () => {} },
    );
    const txs = accounts.slice(1).map((from) => signTx({ kind: 'transfer', nonce: 0n, fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: accounts[0]!.publicKey, amount: 1n }] }, [from], network));
    const ids = txs.map((t) => t.id.toString('hex'));
    const results = Promise.all(txs.map((t, k) => beacon!.submit([{ tx: { id: ids[k]!, payload: t.bytes }, attempt: 1 }])));
    await waitFor('the node to have taken the four batches', async () => (await Promise.all(ids.map((id) => node.client.status(id)))).every((s) => s.status !== 'unknown'));
    assert.equal(connections, 1);
    for (const c of first) c.destroy();
    const out = (await results).map((r) => r[0]!);
    assert.equal(out[0]!.kind, 'retry', `the first in the pipeline fails: ${JSON.stringify(out[0])}`);
    assert.equal(out[0]!.kind === 'retry' && out[0]!.code, 'TPSLAB_E_UNAVAILABLE');
    // Sent again by the HTTP client on a new connection, answered DUPLICATE: read as already in, not rejected.
    assert.deepEqual(out.slice(1), [{ kind: 'known' }, { kind: 'known' }, { kind: 'known' }], JSON.stringify(out));
    assert.equal(connections, 2);
    await waitFor('the four transfers committed', async () => (await Promise.all(ids.map((id) => node.client.status(id)))).every((s) => s.status === 'committed'));
    for (const a of accounts.slice(1)) assert.equal((await node.client.account(a.address)).nonce, 1n, 'each committed once');
  } finally {
    await beacon?.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => proxy.close(() => r()));
    await node.stop();
    await dir.remove();
  }
});
