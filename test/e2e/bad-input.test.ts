/**
 * Every class of bad input gets a 4xx with a stable code and a useful message,
 * the node stays up, and nothing refused is stored. Plus backpressure: a full
 * mempool answers 429 with Retry-After.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { encodeBatch } from '../../src/protocol/batch.js';
import { txToJson } from '../../src/protocol/json.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { NodeProcess, fund, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import {
  account,
  assertError,
  getJson,
  hex,
  http,
  message,
  postBinaryTx,
  postDeclaredLength,
  postJsonTx,
  status,
  StreamCollector,
  transfer,
  waitCommitted,
  type BatchBody,
  type HeadBody,
  type HttpResult,
  type StatusBody,
} from './helpers.js';

interface Stats {
  mempool: number;
  tx: { accepted: number; rejected: number; rejectedByCode: Record<string, number> };
}

describe('bad input', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: NodeProcess;
  let full: NodeProcess;
  let url: string;
  let faucet: KeyPair;
  let network: string;
  let alice: KeyPair;
  const bob = keyPairFromLabel('bad-bob');

  before(async () => {
    dir = await tempDir('tpslab-e2e-bad-');
    // The second node never cuts a block within the test: its mempool fills up.
    [node, full] = await Promise.all([
      NodeProcess.start(`${dir.path}/node`),
      NodeProcess.start(`${dir.path}/full`, ['--mempool-capacity', '50', '--block-interval-ms', '60000', '--block-max-txs', '100000']),
    ]);
    url = node.url;
    faucet = await node.faucetKey();
    network = (await getJson<HeadBody>(url, '/v1/head')).network;
    [alice] = testAccounts('bad-alice', 1) as [KeyPair];
    await fund(node.client, faucet, [alice], 1000n);
  });

  after(async () => {
    await Promise.all([node?.kill('SIGKILL'), full?.kill('SIGKILL')]);
    await dir?.remove();
  });

  /** Everything a refusal must leave as it was. */
  const snapshot = async (who: KeyPair = alice) => ({
    head: await getJson<HeadBody>(url, '/v1/head'),
    sender: await account(url, who.address),
    accepted: (await getJson<Stats>(url, '/stats')).tx.accepted,
  });
  type Snapshot = Awaited<ReturnType<typeof snapshot>>;

  /** The node is up, nothing moved, and the refused ids are unknown. */
  const assertNothingStored = async (before: Snapshot, refusedIds: string[], who: KeyPair = alice): Promise<void> => {
    const health = await http(url, '/health');
    assert.equal(health.status, 200, `node unhealthy after bad input: ${health.text}`);
    const now = await snapshot(who);
    assert.deepEqual(now.head, before.head, 'the head moved');
    assert.deepEqual(now.sender, before.sender, "the sender's account changed");
    assert.equal(now.accepted, before.accepted, 'a refused transaction was counted as accepted');
    assert.equal((await getJson<Stats>(url, '/stats')).mempool, 0, 'something is pending');
    for (const id of refusedIds) assert.deepEqual(await status(url, id), { id, status: 'unknown' }, `refused ${id} is known`);
  };

  const nextNonce = async (k: KeyPair): Promise<bigint> => (await account(url, k.address)).nonce;
  const idOfBytes = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  it('bad JSON syntax → 400 TPSLAB_E_BAD_JSON', async () => {
    const before = await snapshot();
    const tx = transfer(alice, bob, 1n, before.sender.nonce, network);
    const text = JSON.stringify(txToJson(tx));
    assertError(await http(url, '/v1/tx', { json: text.slice(0, -7) }), 400, 'TPSLAB_E_BAD_JSON', /JSON/);
    assertError(await http(url, '/v1/tx', { json: '' }), 400, 'TPSLAB_E_BAD_JSON');
    await assertNothingStored(before, [hex(tx)]);
  });

  it('JSON of the wrong shape → 400 TPSLAB_E_BAD_JSON naming the field', async () => {
    const before = await snapshot();
    const tx = transfer(alice, bob, 1n, before.sender.nonce, network);
    const good = txToJson(tx) as { inputs: Record<string, unknown>[] } & Record<string, unknown>;
    const { nonce: _nonce, ...noNonce } = good;
    assertError(await postJsonTx(url, noNonce), 400, 'TPSLAB_E_BAD_JSON', /tx\.nonce/);
    const negative = { ...good, inputs: [{ ...good.inputs[0], amount: '-5' }] };
    assertError(await postJsonTx(url, negative), 400, 'TPSLAB_E_BAD_JSON', /tx\.inputs\[0\]\.amount/);
    assertError(await postJsonTx(url, { ...good, bogus: 1 }), 400, 'TPSLAB_E_BAD_JSON', /bogus/);
    assertError(await postJsonTx(url, { ...good, kind: 'teleport' }), 400, 'TPSLAB_E_BAD_JSON', /tx\.kind/);
    assertError(await postJsonTx(url, { ...good, id: 'ab'.repeat(32) }), 400, 'TPSLAB_E_BAD_JSON', /tx\.id/);
    assertError(await http(url, '/v1/tx', { json: '[1,2,3]' }), 400, 'TPSLAB_E_BAD_JSON');
    await assertNothingStored(before, [hex(tx)]);
  });

  it('an address with a bad checksum → 400 TPSLAB_E_BAD_ADDRESS naming the field', async () => {
    const before = await snapshot();
    const tx = transfer(alice, bob, 1n, before.sender.nonce, network);
    const j = txToJson(tx) as { outputs: { account: string; amount: string }[] };
    const addr = j.outputs[0]!.account;
    const typo = addr.slice(0, -1) + (addr.endsWith('q') ? 'p' : 'q');
    const e = assertError(await postJsonTx(url, { ...j, outputs: [{ account: typo, amount: '1' }] }), 400, 'TPSLAB_E_BAD_ADDRESS', /tx\.outputs\[0\]\.account/);
    assert.match(e.message, /tps1/);
    assertError(await http(url, `/v1/accounts/${typo}`), 400, 'TPSLAB_E_BAD_ADDRESS');
    await assertNothingStored(before, [hex(tx)]);
  });

  it('garbage bytes and a truncated binary transaction → 400 TPSLAB_E_DECODE', async () => {
    const before = await snapshot();
    const garbage = Buffer.from('this is not a transaction, just some garbage bytes');
    assertError(await postBinaryTx(url, garbage), 400, 'TPSLAB_E_DECODE', /version/);
    const tx = transfer(alice, bob, 1n, before.sender.nonce, network);
    const truncated = tx.bytes.subarray(0, tx.bytes.length - 10);
    assertError(await postBinaryTx(url, truncated), 400, 'TPSLAB_E_DECODE', /truncated/);
    assertError(await postBinaryTx(url, Buffer.concat([tx.bytes, Buffer.from([0])])), 400, 'TPSLAB_E_DECODE', /trailing/);
    await assertNothingStored(before, [hex(tx), idOfBytes(garbage), idOfBytes(truncated)]);
  });

  it('a flipped signature byte, or a signature for another network → 400 TPSLAB_E_BAD_SIGNATURE', async () => {
    const before = await snapshot();
    const tx = transfer(alice, bob, 1n, before.sender.nonce, network);
    const flipped = Buffer.from(tx.bytes);
    flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 0x01;
    const e = assertError(await postBinaryTx(url, flipped), 400, 'TPSLAB_E_BAD_SIGNATURE', new RegExp(alice.address));
    assert.equal(e.retryable, false);
    // Without the optional id field (it would no longer match the bytes, a BAD_JSON error).
    const { id: _id, ...json } = txToJson(tx) as { id: string; inputs: { signature: string }[] };
    const sig = json.inputs[0]!.signature;
    const badSig = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
    assertError(await postJsonTx(url, { ...json, inputs: [{ ...json.inputs[0], signature: badSig }] }), 400, 'TPSLAB_E_BAD_SIGNATURE');
    const other = transfer(alice, bob, 1n, before.sender.nonce, 'some-other-network');
    assertError(await postBinaryTx(url, other.bytes), 400, 'TPSLAB_E_BAD_SIGNATURE', /network/);
    await assertNothingStored(before, [hex(tx), idOfBytes(flipped), hex(other)]);
  });

  it('a transfer that breaks a ledger rule (inputs ≠ outputs, zero amount) → 400 TPSLAB_E_INVALID_TX', async () => {
    const before = await snapshot();
    const n = before.sender.nonce;
    const unbalanced = signTx({ kind: 'transfer', nonce: n, fee: 0n, deps: [], inputs: [{ account: alice.publicKey, amount: 5n }], outputs: [{ account: bob.publicKey, amount: 4n }] }, [alice], network);
    assertError(await postJsonTx(url, unbalanced), 400, 'TPSLAB_E_INVALID_TX', /sum/);
    const zero = transfer(alice, bob, 0n, n, network);
    assertError(await postBinaryTx(url, zero.bytes), 400, 'TPSLAB_E_INVALID_TX', /amount/);
    await assertNothingStored(before, [hex(unbalanced), hex(zero)]);
  });

  it('overspend → 409 TPSLAB_E_INSUFFICIENT_FUNDS', async () => {
    const before = await snapshot();
    const tx = transfer(alice, bob, before.sender.balance + 1n, before.sender.nonce, network);
    const e = assertError(await postJsonTx(url, tx, true), 409, 'TPSLAB_E_INSUFFICIENT_FUNDS', new RegExp(`holds ${before.sender.balance}`));
    assert.equal(e.retryable, false);
    const feeTooBig = transfer(alice, bob, before.sender.balance, before.sender.nonce, network, { fee: 1n });
    assertError(await postBinaryTx(url, feeTooBig.bytes), 409, 'TPSLAB_E_INSUFFICIENT_FUNDS');
    await assertNothingStored(before, [hex(tx), hex(feeTooBig)]);
  });

  it('nonce too low after a committed transaction → 409 TPSLAB_E_NONCE_TOO_LOW; far ahead → 409 TPSLAB_E_NONCE_TOO_HIGH', async () => {
    const n = await nextNonce(alice);
    const ok = transfer(alice, bob, 1n, n, network);
    assert.equal((await postJsonTx(url, ok, true)).status, 200);
    const before = await snapshot();
    const low = transfer(alice, bob, 2n, n, network);
    const e = assertError(await postJsonTx(url, low), 409, 'TPSLAB_E_NONCE_TOO_LOW', new RegExp(`next nonce is ${n + 1n}`));
    assert.equal(e.details?.expectedNonce, String(n + 1n));
    const high = transfer(alice, bob, 2n, n + 1n + 1000n, network);
    assertError(await postBinaryTx(url, high.bytes), 409, 'TPSLAB_E_NONCE_TOO_HIGH', /ahead/);
    await assertNothingStored(before, [hex(low), hex(high)]);
  });

  it('a committed transaction sent again → 409 TPSLAB_E_DUPLICATE, and it stays where it was', async () => {
    const n = await nextNonce(alice);
    const tx = transfer(alice, bob, 3n, n, network);
    const first = (await postJsonTx(url, tx, true)).body as StatusBody;
    assert.equal(first.status, 'committed');
    const before = await snapshot();
    assertError(await postJsonTx(url, tx), 409, 'TPSLAB_E_DUPLICATE', /already committed/);
    assertError(await postBinaryTx(url, tx.bytes, true), 409, 'TPSLAB_E_DUPLICATE');
    await assertNothingStored(before, []);
    assert.deepEqual(await status(url, hex(tx)), first);
  });

  it('a message payload over the genesis limit (4096) → 413 TPSLAB_E_TOO_LARGE; a transaction over 64 KiB too', async () => {
    const before = await snapshot();
    const big = message(alice, 'any-topic', Buffer.alloc(4097, 1), before.sender.nonce, network);
    assertError(await postJsonTx(url, big), 413, 'TPSLAB_E_TOO_LARGE', /4096/);
    assertError(await postBinaryTx(url, big.bytes), 413, 'TPSLAB_E_TOO_LARGE', /4096/);
    const huge = message(alice, 'any-topic', Buffer.alloc(70_000, 1), before.sender.nonce, network);
    assertError(await postBinaryTx(url, huge.bytes), 413, 'TPSLAB_E_TOO_LARGE', /65536/);
    await assertNothingStored(before, [hex(big), hex(huge)]);
  });

  it('a request body over the node limit → 413 TPSLAB_E_TOO_LARGE', async () => {
    const before = await snapshot();
    assertError(await postDeclaredLength(url, '/v1/txs', 32 * 1024 * 1024 + 1), 413, 'TPSLAB_E_TOO_LARGE');
    assertError(await postDeclaredLength(url, '/v1/tx', 64 * 1024 * 1024, 'application/json'), 413, 'TPSLAB_E_TOO_LARGE');
    await assertNothingStored(before, []);
  });

  it('a message to a topic that does not exist is admitted, then fails with TPSLAB_E_UNKNOWN_TOPIC; nothing commits', async () => {
    const before = await snapshot();
    const tx = message(alice, 'no-such-topic', Buffer.from('hello'), before.sender.nonce, network);
    const r = await postJsonTx(url, tx, true);
    // The mempool cannot know which topics exist when the message runs, so it
    // admits the message; executing it fails, and ?wait=commit reports that.
    assert.equal(r.status, 409, r.text);
    const s = r.body as StatusBody;
    assert.equal(s.status, 'failed');
    assert.equal(s.error?.code, 'TPSLAB_E_UNKNOWN_TOPIC');
    assert.match(s.error!.message, /no-such-topic/);
    const got = await status(url, hex(tx));
    assert.equal(got.status, 'failed');
    assert.equal(got.error?.code, 'TPSLAB_E_UNKNOWN_TOPIC');
    const now = await snapshot();
    assert.deepEqual(now.head, before.head, 'a block was cut');
    assert.deepEqual(now.sender, before.sender, 'the failed message changed the sender');
    assertError(await http(url, '/v1/topics/no-such-topic'), 404, 'TPSLAB_E_UNKNOWN_TOPIC');
    assert.equal((await http(url, '/health')).status, 200);
    // The sender is not stuck: the same nonce works for a good transaction.
    assert.equal((await postJsonTx(url, transfer(alice, bob, 1n, before.sender.nonce, network), true)).status, 200);
  });

  it('an unknown sender → 404 TPSLAB_E_UNKNOWN_ACCOUNT', async () => {
    const ghost = keyPairFromLabel('bad-never-funded');
    const before = await snapshot(ghost);
    assert.equal(before.sender.exists, false);
    const tx = transfer(ghost, bob, 1n, 0n, network);
    assertError(await postJsonTx(url, tx), 404, 'TPSLAB_E_UNKNOWN_ACCOUNT', /fund it first/);
    await assertNothingStored(before, [hex(tx)], ghost);
  });

  it('malformed ids, heights and query parameters → 400 TPSLAB_E_BAD_REQUEST; unknown routes → 404 TPSLAB_E_NOT_FOUND', async () => {
    const before = await snapshot();
    assertError(await http(url, '/v1/tx/xyz'), 400, 'TPSLAB_E_BAD_REQUEST', /64 hex/);
    assertError(await http(url, `/v1/tx/${'a'.repeat(63)}`), 400, 'TPSLAB_E_BAD_REQUEST', /64 hex/);
    assertError(await http(url, '/v1/blocks/-1'), 400, 'TPSLAB_E_BAD_REQUEST', /height/);
    assertError(await http(url, '/v1/blocks/99999'), 404, 'TPSLAB_E_NOT_FOUND', /head/);
    const tx = transfer(alice, bob, 1n, before.sender.nonce, network);
    assertError(await http(url, '/v1/tx?wait=maybe', { json: txToJson(tx) }), 400, 'TPSLAB_E_BAD_REQUEST', /wait/);
    assertError(await http(url, '/v1/tx?wait=commit&timeoutMs=0', { json: txToJson(tx) }), 400, 'TPSLAB_E_BAD_REQUEST', /timeoutMs/);
    assertError(await http(url, '/v1/nope'), 404, 'TPSLAB_E_NOT_FOUND', /no route/);
    assertError(await http(url, '/v2/tx', { json: txToJson(tx) }), 404, 'TPSLAB_E_NOT_FOUND');
    assertError(await http(url, '/v1/txs', { json: [txToJson(tx)] }), 400, 'TPSLAB_E_BAD_REQUEST', /octet-stream/);
    await assert.rejects(StreamCollector.open(url, '?from=0'), /HTTP 400/);
    await assert.rejects(StreamCollector.open(url, '/../nope'), /HTTP 404/);
    await assertNothingStored(before, [hex(tx)]);
  });

  it('a batch with bad framing → 400 TPSLAB_E_DECODE and the whole batch is refused', async () => {
    const before = await snapshot();
    const n = before.sender.nonce;
    const txs = [transfer(alice, bob, 1n, n, network), transfer(alice, bob, 1n, n + 1n, network)];
    const good = encodeBatch(txs.map((t) => t.bytes));
    const overCount = Buffer.from(good);
    overCount.writeUInt32BE(3, 0);
    assertError(await http(url, '/v1/txs', { binary: overCount }), 400, 'TPSLAB_E_DECODE', /txs\[2\]/);
    assertError(await http(url, '/v1/txs', { binary: Buffer.concat([good, Buffer.from([7])]) }), 400, 'TPSLAB_E_DECODE', /trailing/);
    const badLength = Buffer.from(good);
    badLength.writeUInt32BE(0, 4);
    assertError(await http(url, '/v1/txs', { binary: badLength }), 400, 'TPSLAB_E_DECODE', /length/);
    assertError(await http(url, '/v1/txs', { binary: Buffer.from([0, 0, 0, 0]) }), 400, 'TPSLAB_E_DECODE', /count/);
    await assertNothingStored(before, txs.map(hex));
  });

  it('a batch judges each transaction on its own: the bad ones are refused with their codes, the good ones commit', async () => {
    const n = await nextNonce(alice);
    const good = transfer(alice, bob, 1n, n, network);
    const flipped = Buffer.from(transfer(alice, bob, 2n, n + 1n, network).bytes);
    flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 0x80;
    const ghost = transfer(keyPairFromLabel('bad-ghost-2'), bob, 1n, 0n, network);
    const r = await http(url, '/v1/txs', { binary: encodeBatch([good.bytes, Buffer.from('garbage'), flipped, ghost.bytes]) });
    assert.equal(r.status, 200, r.text);
    const b = r.body as BatchBody;
    assert.equal(b.accepted, 1);
    assert.equal(b.rejected, 3);
    assert.deepEqual(b.results[0], { id: hex(good), status: 'pending' });
    assert.deepEqual(
      b.results.slice(1).map((x) => x.error?.code),
      ['TPSLAB_E_DECODE', 'TPSLAB_E_BAD_SIGNATURE', 'TPSLAB_E_UNKNOWN_ACCOUNT'],
    );
    assert.equal(b.results[3]!.id, hex(ghost));
    await waitCommitted(url, [hex(good)]);
    assert.deepEqual(await status(url, hex(ghost)), { id: hex(ghost), status: 'unknown' });
  });

  it('backpressure: a full mempool answers 429 with Retry-After and TPSLAB_E_MEMPOOL_FULL', async () => {
    const f = await full.faucetKey();
    const net = (await getJson<HeadBody>(full.url, '/v1/head')).network;
    const sink = keyPairFromLabel('bad-full-sink');
    // The first block is cut at once (no earlier block to space it from); the next is then 60 s away.
    assert.equal((await postBinaryTx(full.url, transfer(f, sink, 1n, 0n, net).bytes)).status, 202);
    await waitFor('the first block', async () => (await getJson<HeadBody>(full.url, '/v1/head')).height === 1, 10_000);
    const txs: SignedTx[] = Array.from({ length: 56 }, (_, i) => transfer(f, sink, 1n, BigInt(i + 1), net));
    // 40 in one batch, 10 one by one: the mempool (capacity 50) is then full.
    const r1 = await http(full.url, '/v1/txs', { binary: encodeBatch(txs.slice(0, 40).map((t) => t.bytes)) });
    assert.equal(r1.status, 200, r1.text);
    assert.equal((r1.body as BatchBody).accepted, 40);
    for (const t of txs.slice(40, 50)) assert.equal((await postBinaryTx(full.url, t.bytes)).status, 202);
    assert.equal((await getJson<Stats>(full.url, '/stats')).mempool, 50);

    const r51: HttpResult = await postJsonTx(full.url, txs[50]!);
    const e = assertError(r51, 429, 'TPSLAB_E_MEMPOOL_FULL', /retry/);
    assert.equal(e.retryable, true);
    const retryAfter = r51.headers.get('retry-after');
    assert.ok(retryAfter !== null && /^[1-9][0-9]*$/.test(retryAfter), `Retry-After: ${retryAfter}`);

    const r2 = await http(full.url, '/v1/txs', { binary: encodeBatch(txs.slice(50).map((t) => t.bytes)) });
    assert.equal(r2.status, 429, r2.text);
    assert.ok(r2.headers.get('retry-after'));
    const b2 = r2.body as BatchBody;
    assert.equal(b2.accepted, 0);
    assert.equal(b2.rejected, 6);
    assert.ok(b2.results.every((x) => x.error?.code === 'TPSLAB_E_MEMPOOL_FULL' && x.error.retryable));

    // Admission checks that come before capacity still answer as usual.
    assertError(await postBinaryTx(full.url, txs[0]!.bytes), 409, 'TPSLAB_E_DUPLICATE', /already pending/);
    assertError(await postBinaryTx(full.url, transfer(f, sink, 2n, 1n, net).bytes), 409, 'TPSLAB_E_NONCE_PENDING', /nonce 1/);

    // Still up, nothing was cut, the accepted ones wait, the refused ones are unknown.
    assert.equal((await http(full.url, '/health')).status, 200);
    assert.equal((await getJson<HeadBody>(full.url, '/v1/head')).height, 1);
    assert.equal((await getJson<Stats>(full.url, '/stats')).mempool, 50);
    assert.equal((await status(full.url, hex(txs[49]!))).status, 'pending');
    for (const t of txs.slice(50)) assert.equal((await status(full.url, hex(t))).status, 'unknown');
    assert.equal((await getJson<Stats>(full.url, '/stats')).tx.rejectedByCode.TPSLAB_E_MEMPOOL_FULL, 7);
  });

  it('after all of that the node still serves and its counters saw every refusal', async () => {
    const stats = await getJson<Stats>(url, '/stats');
    assert.ok(stats.tx.rejected >= 30, `rejected ${stats.tx.rejected}`);
    for (const code of ['TPSLAB_E_BAD_SIGNATURE', 'TPSLAB_E_DECODE', 'TPSLAB_E_NONCE_TOO_LOW', 'TPSLAB_E_DUPLICATE', 'TPSLAB_E_UNKNOWN_ACCOUNT']) {
      assert.ok((stats.tx.rejectedByCode[code] ?? 0) > 0, `no ${code} counted: ${JSON.stringify(stats.tx.rejectedByCode)}`);
    }
    const n = await nextNonce(alice);
    assert.equal((await postJsonTx(url, transfer(alice, bob, 1n, n, network), true)).status, 200);
  });
});
