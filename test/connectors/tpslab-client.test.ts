// The tpslab beacon client against a real node: a batch taken whole is answered with the shared
// all-accepted outcome (its per-transaction results are not parsed, the beacon's hot path), and
// a batch with a refusal in it still gets one coded outcome per transaction. And the load core
// for pre-built transactions (src/harness/sourced-run.ts) sends them through a Beacon and
// sees every one committed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BeaconClient, allOk } from '../../src/connectors/tpslab/client.js';
import { TxState } from '../../src/harness/beacon.js';
import { startSourced } from '../../src/harness/sourced-run.js';
import { signTx, type KeyPair } from '../../src/protocol/signing.js';
import { NodeProcess, fund, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import { tpslabSender } from '../testkit/load.js';

let dir: { path: string; remove(): Promise<void> };
let node: NodeProcess;
let network: string;
const accounts = testAccounts('client-fast-path', 4);

before(async () => {
  dir = await tempDir('tpslab-client-');
  node = await NodeProcess.start(dir.path);
  network = (await node.client.head()).network;
  await fund(node.client, await node.faucetKey(), accounts, 100n);
});

after(async () => {
  await node.stop();
  await dir.remove();
});

const signed = (from: KeyPair, nonce: bigint): { id: string; bytes: Buffer } => {
  const tx = signTx({ kind: 'transfer', nonce, fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: accounts[0]!.publicKey, amount: 1n }] }, [from], network);
  return { id: tx.id.toString('hex'), bytes: tx.bytes };
};
const transfer = (from: KeyPair, nonce: bigint): Buffer => signed(from, nonce).bytes;

test('a batch the node takes whole gets the shared all-accepted answer', async () => {
  const client = new BeaconClient([node.url]);
  try {
    const out = await client.submit([transfer(accounts[1]!, 0n), transfer(accounts[2]!, 0n), transfer(accounts[3]!, 0n)]);
    assert.equal(out, allOk(3));
    assert.ok(out.every((o) => o.ok));
  } finally {
    await client.close();
  }
});

test('a batch with a refusal in it gets one coded outcome per transaction', async () => {
  const client = new BeaconClient([node.url]);
  try {
    const again = transfer(accounts[1]!, 0n); // sent by the test above
    const out = await client.submit([transfer(accounts[1]!, 1n), again, transfer(accounts[2]!, 1n)]);
    assert.notEqual(out, allOk(3));
    assert.equal(out.length, 3);
    assert.ok(out[0]!.ok && out[2]!.ok);
    const refused = out[1]!;
    assert.ok(!refused.ok);
    assert.match(refused.error.code, /^TPSLAB_E_(DUPLICATE|NONCE_PENDING|NONCE_TOO_LOW)$/);
  } finally {
    await client.close();
  }
});

test('a sourced run sends pre-signed transfers through a beacon and sees each committed', async () => {
  const senders = accounts.slice(1);
  // The tests above leave transfers pending: read the nonces once the node's mempool is empty, or
  // the first transfers here would reuse a pending nonce (regression: 5 of 30 refused).
  await waitFor('the earlier transfers committed', async () => ((await (await fetch(`${node.url}/stats`)).json()) as { mempool: number }).mempool === 0);
  // Ten transfers per sender from its next nonce on, in nonce waves.
  const next = await Promise.all(senders.map(async (a) => (await node.client.account(a.address)).nonce));
  const txs: { id: string; bytes: Buffer }[] = [];
  for (let k = 0n; k < 10n; k++) senders.forEach((a, s) => txs.push(signed(a, next[s]! + k)));
  const fromHeight = (await node.client.head()).height;
  const run = await startSourced({
    connector: tpslabSender({ network, endpoints: [node.url], fromHeight }),
    txs: txs.map((t, k) => ({ tx: { id: t.id, payload: t.bytes }, sender: k % senders.length })),
    maxInFlight: 9,
    batchMax: 4,
    durationMs: 20_000,
    timeoutMs: 20_000,
    retries: 5,
  });
  const done = await run.done;
  assert.equal(done.sent, txs.length);
  assert.equal(done.committed, txs.length);
  assert.equal(done.lost + done.failed, 0);
  const t = run.beacon.txs;
  // The ledger's columns have a capacity: entries [0, size) are the transactions.
  assert.deepEqual(t.id.slice(0, t.size), txs.map((x) => x.id));
  assert.ok(t.state.subarray(0, t.size).every((s) => s === TxState.Committed));
  assert.ok(t.height.subarray(0, t.size).every((h) => h > fromHeight));
  for (const [s, a] of senders.entries()) assert.equal((await node.client.account(a.address)).nonce, next[s]! + 10n);
});
