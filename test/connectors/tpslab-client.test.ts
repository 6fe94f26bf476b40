// The tpslab beacon client against a real node: a batch taken whole is answered with the shared
// all-accepted outcome (its per-transaction results are not parsed, the beacon's hot path), and
// a batch with a refusal in it still gets one coded outcome per transaction. And the load core
// for pre-built transactions (src/harness/sourced-run.ts) sends them through a Beacon and
// sees every one committed. And a request nobody answers fails before its transaction is counted lost.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import { BeaconClient, MAX_REQUEST_TIMEOUT_MS, MIN_REQUEST_TIMEOUT_MS, allOk, requestTimeoutFor } from '../../src/connectors/tpslab/client.js';
import { Confirmer } from '../../src/connectors/tpslab/confirm.js';
import { TcpProxy } from '../../src/faults/tcp-proxy.js';
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

test('the request timeout stays below the loss timeout (60%, within 1–10 s)', () => {
  assert.equal(requestTimeoutFor(undefined), MAX_REQUEST_TIMEOUT_MS);
  assert.equal(requestTimeoutFor(10_000), 6_000);
  assert.equal(requestTimeoutFor(30_000), MAX_REQUEST_TIMEOUT_MS);
  assert.equal(requestTimeoutFor(1_000), MIN_REQUEST_TIMEOUT_MS);
  for (const lossMs of [2_000, 5_000, 10_000, 16_000, 17_000, 60_000]) assert.ok(requestTimeoutFor(lossMs) < lossMs, `${lossMs} ms`);
});

test('regression: a request unanswered until its transaction was lost (HTTP and loss timeouts both 10 s) is retried on the next endpoint in time', async () => {
  const from = accounts[1]!;
  await waitFor('the earlier transfers committed', async () => ((await (await fetch(`${node.url}/stats`)).json()) as { mempool: number }).mempool === 0);
  const tx = signed(from, (await node.client.account(from.address)).nonce);
  // The first endpoint takes the connection and answers nothing (a paused node, as far as a client can tell).
  const u = new URL(node.url);
  const silent = await TcpProxy.start({ host: u.hostname, port: Number(u.port) });
  silent.setLatency(120_000);
  const lossTimeoutMs = 10_000;
  const lines: string[] = [];
  try {
    const run = await startSourced({
      // Polls follow the client to the endpoint that answers (a stream would stay on the silent one).
      connector: tpslabSender({ network, endpoints: [silent.urlFor(node.url), node.url], fromHeight: (await node.client.head()).height, confirmation: { method: 'poll', pollIntervalMs: 200, timeoutMs: lossTimeoutMs } }),
      txs: [{ tx: { id: tx.id, payload: tx.bytes }, sender: 0 }],
      maxInFlight: 1,
      batchMax: 1,
      durationMs: 30_000,
      timeoutMs: lossTimeoutMs,
      retries: 3,
      onMessage: (m) => {
        if (m.type === 'log') lines.push(m.line);
      },
    });
    const done = await run.done;
    // Before: the request failed only as the transaction was counted lost, and it committed late (a lost-repair resend).
    assert.deepEqual({ sent: done.sent, committed: done.committed, lost: done.lost, late: done.late, failed: done.failed }, { sent: 1, committed: 1, lost: 0, late: 0, failed: 0 }, lines.join('\n'));
    assert.equal(run.beacon.txs.attempts[0], 2, 'sent twice: through the silent endpoint, then the next');
    assert.equal((await node.client.status(tx.id)).status, 'committed');
  } finally {
    await silent.close();
  }
});

test('regression: a commit stream that dropped after a failed submit had moved the client went back to the endpoint that failed', async () => {
  const u = new URL(node.url);
  const cut = await TcpProxy.start({ host: u.hostname, port: Number(u.port) });
  const client = new BeaconClient([cut.urlFor(node.url), node.url]);
  const lines: string[] = [];
  const seen = new Set<string>();
  const sink = { committed: (id: string) => void seen.add(id), failed: () => {}, log: (line: string) => void lines.push(line) };
  const confirmer = new Confirmer({ method: 'stream', pollIntervalMs: 60_000, clock: preciseClock }, client, sink, { sentBefore: () => [] });
  try {
    await confirmer.open((await node.client.head()).height);
    // The first endpoint fails: a submit moves the client on, then its stream drops too.
    client.rotate();
    cut.setPartitioned(true);
    await waitFor('the stream to drop', () => lines.length > 0, 10_000);
    await waitFor('the mempool to be empty', async () => ((await (await fetch(`${node.url}/stats`)).json()) as { mempool: number }).mempool === 0);
    const from = accounts[2]!;
    const tx = signed(from, (await node.client.account(from.address)).nonce);
    assert.ok((await client.submit([tx.bytes]))[0]!.ok, 'taken by the endpoint the client moved to');
    await waitFor('the commit on the resumed stream', () => seen.has(tx.id), 20_000);
    assert.equal(client.endpoint, node.url, 'the client stays on the endpoint that works');
    assert.deepEqual(lines.map((l) => l.replace(/ at height \d+/, '')), [`commit stream from ${cut.urlFor(node.url)} closed; resuming elsewhere`], 'one drop, named after the endpoint that failed');
  } finally {
    confirmer.close();
    await client.close();
    await cut.close();
  }
});

test('a block that skips heights on the commit stream is not taken: the stream resumes after the last height seen', async () => {
  const client = new BeaconClient([node.url]);
  const lines: string[] = [];
  const seen = new Set<string>();
  const sink = { committed: (id: string) => void seen.add(id), failed: () => {}, log: (line: string) => void lines.push(line) };
  const confirmer = new Confirmer({ method: 'stream', pollIntervalMs: 60_000, clock: preciseClock }, client, sink, { sentBefore: () => [] });
  try {
    await waitFor('the mempool to be empty', async () => ((await (await fetch(`${node.url}/stats`)).json()) as { mempool: number }).mempool === 0);
    const head = (await node.client.head()).height;
    await confirmer.open(head);
    // A block two heights ahead of the last one seen (a fault somewhere between node and beacon).
    confirmer.onEvent(JSON.stringify({ type: 'block', height: head + 2, txs: [{ id: 'skipped-ahead' }] }));
    assert.equal(seen.size, 0, 'its transactions are not taken');
    // The next real block (head + 1) still arrives and counts: before, the stream had moved past it.
    const from = accounts[3]!;
    const tx = signed(from, (await node.client.account(from.address)).nonce);
    assert.ok((await client.submit([tx.bytes]))[0]!.ok);
    await waitFor('the next block on the resumed stream', () => seen.has(tx.id), 20_000);
    assert.match(lines.join('\n'), new RegExp(`commit stream jumped from height ${head} to ${head + 2}; resuming from ${head + 1}`));
  } finally {
    confirmer.close();
    await client.close();
  }
});
