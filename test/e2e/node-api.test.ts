/**
 * The node's HTTP API and commit stream end to end, against one real
 * `tpslab node` process shared by every test in this file.
 */
import { after, before, describe, it } from 'node:test';
import type { HealthJson } from '../../src/protocol/api.js';
import assert from 'node:assert/strict';
import { decodeBlock } from '../../src/protocol/block.js';
import { encodeBatch } from '../../src/protocol/batch.js';
import { keyPairFromLabel, type KeyPair } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { NodeProcess, fund, tempDir, testAccounts } from '../testkit/index.js';
import {
  StreamCollector,
  account,
  createTopic,
  getJson,
  hex,
  http,
  message,
  position,
  postBinaryTx,
  postJsonTx,
  status,
  transfer,
  waitCommitted,
  type BatchBody,
  type BlockBody,
  type HeadBody,
  type StatusBody,
} from './helpers.js';

describe('node API', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: NodeProcess;
  let url: string;
  let faucet: KeyPair;
  let network: string;
  const streams: StreamCollector[] = [];
  const stream = async (query = ''): Promise<StreamCollector> => {
    const s = await StreamCollector.open(url, query);
    streams.push(s);
    return s;
  };
  const faucetNonce = async (): Promise<bigint> => (await account(url, faucet.address)).nonce;

  before(async () => {
    dir = await tempDir('tpslab-e2e-api-');
    node = await NodeProcess.start(dir.path);
    url = node.url;
    faucet = await node.faucetKey();
    network = (await getJson<HeadBody>(url, '/v1/head')).network;
  });

  after(async () => {
    for (const s of streams) s.close();
    await node?.kill('SIGKILL');
    await dir?.remove();
  });

  it('a JSON transfer with ?wait=commit answers 200 committed; status, accounts, block and head agree', async () => {
    const alice = keyPairFromLabel('api-alice');
    const before = await account(url, faucet.address);
    const tx = transfer(faucet, alice, 1000n, before.nonce, network, { fee: 7n });
    const r = await postJsonTx(url, tx, true);
    assert.equal(r.status, 200, r.text);
    const s = r.body as StatusBody;
    assert.equal(s.id, hex(tx));
    assert.equal(s.status, 'committed');
    assert.ok(Number.isInteger(s.height) && s.height! >= 1, `height ${s.height}`);
    assert.ok(Number.isInteger(s.index) && s.index! >= 0, `index ${s.index}`);

    assert.deepEqual(await status(url, hex(tx)), { id: hex(tx), status: 'committed', height: s.height, index: s.index });

    const after = await account(url, faucet.address);
    assert.equal(after.nonce, before.nonce + 1n);
    assert.equal(after.balance, before.balance - 1000n - 7n);
    assert.deepEqual(await account(url, alice.address), { exists: true, balance: 1000n, nonce: 0n });

    const block = await getJson<BlockBody>(url, `/v1/blocks/${s.height}`);
    assert.equal(block.height, s.height);
    assert.equal(block.txCount, block.txs.length);
    const inBlock = block.txs[s.index!]!;
    assert.equal(inBlock.id, hex(tx));
    assert.equal(inBlock.kind, 'transfer');
    assert.deepEqual(inBlock.outputs, [{ account: alice.address, amount: '1000' }]);

    // The binary form of the same block decodes and hashes to what the JSON form says.
    const bin = await fetch(`${url}/v1/blocks/${s.height}?format=binary`);
    assert.equal(bin.status, 200);
    const decoded = decodeBlock(Buffer.from(await bin.arrayBuffer()));
    assert.equal(decoded.hash.toString('hex'), block.hash);
    assert.equal(decoded.txs[s.index!]!.id.toString('hex'), hex(tx));

    const head = await getJson<HeadBody>(url, '/v1/head');
    assert.equal(head.network, network);
    assert.ok(head.height >= s.height!, `head ${head.height} < ${s.height}`);
    if (head.height === s.height) assert.equal(head.hash, block.hash);
  });

  it('a binary single submit commits; without wait it answers 202 pending first', async () => {
    const bob = keyPairFromLabel('api-bob');
    const n = await faucetNonce();
    const t1 = transfer(faucet, bob, 5n, n, network);
    const r1 = await postBinaryTx(url, t1.bytes, true);
    assert.equal(r1.status, 200, r1.text);
    assert.equal((r1.body as StatusBody).status, 'committed');

    const t2 = transfer(faucet, bob, 6n, n + 1n, network);
    const r2 = await postBinaryTx(url, t2.bytes);
    assert.equal(r2.status, 202, r2.text);
    assert.deepEqual(r2.body, { id: hex(t2), status: 'pending' });
    const [s2] = await waitCommitted(url, [hex(t2)]);
    assert.ok(position(s2!) > position(r1.body as StatusBody));
    assert.equal((await account(url, bob.address)).balance, 11n);
  });

  it('a binary batch of 200 pre-signed transfers from 20 funded accounts all commit', async () => {
    const senders = testAccounts('api-batch', 20);
    const sink = keyPairFromLabel('api-batch-sink');
    await fund(node.client, faucet, senders, 1_000_000n);
    const txs: SignedTx[] = [];
    for (let nonce = 0n; nonce < 10n; nonce++) for (const s of senders) txs.push(transfer(s, sink, 100n + nonce, nonce, network));
    const r = await http(url, '/v1/txs', { binary: encodeBatch(txs.map((t) => t.bytes)) });
    assert.equal(r.status, 200, r.text);
    const b = r.body as BatchBody;
    assert.equal(b.accepted, 200);
    assert.equal(b.rejected, 0);
    assert.deepEqual(
      b.results.map((x) => x.id),
      txs.map(hex),
    );
    assert.ok(b.results.every((x) => x.status === 'pending'));

    const statuses = await waitCommitted(url, txs.map(hex));
    // Each sender's nonces commit in order.
    for (let i = 0; i < senders.length; i++) {
      const mine = statuses.filter((_, k) => k % senders.length === i).map(position);
      assert.deepEqual(
        mine,
        [...mine].sort((x, y) => x - y),
        `sender ${i} committed out of nonce order`,
      );
    }
    for (const s of senders) assert.deepEqual(await account(url, s.address), { exists: true, balance: 1_000_000n - 1045n, nonce: 10n });
    assert.equal((await account(url, sink.address)).balance, 20n * 1045n);
  });

  it('per-sender FIFO: nonces submitted 2, 1, 0 in separate requests commit in nonce order', async () => {
    const [carol] = testAccounts('api-fifo', 1);
    await fund(node.client, faucet, [carol!], 1000n);
    const to = keyPairFromLabel('api-fifo-sink');
    const txs = [0n, 1n, 2n].map((n) => transfer(carol!, to, 10n + n, n, network));
    for (const i of [2, 1]) {
      const r = await postJsonTx(url, txs[i]!);
      assert.equal(r.status, 202, r.text);
    }
    // Nonces 1 and 2 wait for nonce 0 in the mempool.
    assert.equal((await status(url, hex(txs[2]!))).status, 'pending');
    assert.equal((await status(url, hex(txs[1]!))).status, 'pending');
    assert.equal((await postJsonTx(url, txs[0]!)).status, 202);

    const [s0, s1, s2] = await waitCommitted(url, txs.map(hex));
    assert.ok(position(s0!) < position(s1!), `nonce 0 at ${JSON.stringify(s0)}, nonce 1 at ${JSON.stringify(s1)}`);
    assert.ok(position(s1!) < position(s2!), `nonce 1 at ${JSON.stringify(s1)}, nonce 2 at ${JSON.stringify(s2)}`);
    assert.deepEqual(await account(url, carol!.address), { exists: true, balance: 1000n - 33n, nonce: 3n });
  });

  it('deps: B names A, B is submitted first, both commit and A is ordered before B', async () => {
    const [x, y] = testAccounts('api-deps', 2);
    await fund(node.client, faucet, [x!, y!], 1000n);
    const a = transfer(y!, x!, 1n, 0n, network);
    const b = transfer(x!, y!, 2n, 0n, network, { deps: [a.id] });
    const rb = await postJsonTx(url, b);
    assert.equal(rb.status, 202, rb.text);

    // An unrelated transaction committed after B's admission proves B was
    // considered for a block and held back while A is unknown.
    const c = transfer(faucet, keyPairFromLabel('api-deps-c'), 1n, await faucetNonce(), network);
    assert.equal((await postJsonTx(url, c, true)).status, 200);
    assert.equal((await status(url, hex(b))).status, 'pending');

    const ra = await postJsonTx(url, a, true);
    assert.equal(ra.status, 200, ra.text);
    const [sa, sb] = await waitCommitted(url, [hex(a), hex(b)]);
    assert.ok(position(sa!) < position(sb!), `A at ${JSON.stringify(sa)}, B at ${JSON.stringify(sb)}`);
  });

  it('deps: a new account may send before it exists by naming its funding transaction', async () => {
    const z = keyPairFromLabel('api-deps-newcomer');
    assert.equal((await account(url, z.address)).exists, false);
    const funding = transfer(faucet, z, 50n, await faucetNonce(), network);
    const spend = transfer(z, faucet, 20n, 0n, network, { deps: [funding.id] });
    const r = await postBinaryTx(url, spend.bytes);
    assert.equal(r.status, 202, r.text);
    assert.equal((await postJsonTx(url, funding, true)).status, 200);
    const [sf, ss] = await waitCommitted(url, [hex(funding), hex(spend)]);
    assert.ok(position(sf!) < position(ss!));
    assert.deepEqual(await account(url, z.address), { exists: true, balance: 30n, nonce: 1n });
  });

  it('WebSocket /v1/stream: a live subscriber receives block events with the ids it submitted', async () => {
    const senders = testAccounts('api-ws', 5);
    await fund(node.client, faucet, senders, 1000n);
    const head = await getJson<HeadBody>(url, '/v1/head');
    const live = await stream();
    const txs: SignedTx[] = [];
    for (let nonce = 0n; nonce < 6n; nonce++) for (const s of senders) txs.push(transfer(s, faucet, 1n, nonce, network));
    const r = await http(url, '/v1/txs', { binary: encodeBatch(txs.map((t) => t.bytes)) });
    assert.equal((r.body as BatchBody).accepted, txs.length, r.text);
    const ids = txs.map(hex);
    await live.until('all submitted ids', (c) => {
      const m = c.committed();
      return ids.every((id) => m.has(id));
    });

    const blocks = live.blocks;
    assert.ok(blocks.length > 0);
    assert.ok(blocks[0]!.height! > head.height, 'a live stream starts after the head it connected at');
    blocks.forEach((b, i) => i > 0 && assert.equal(b.height, blocks[i - 1]!.height! + 1, 'heights are consecutive'));
    const seen = blocks.flatMap((b) => b.txs!.map((t) => t.id));
    assert.equal(new Set(seen).size, seen.length, 'no transaction is reported twice');
    // The stream's positions match the API's.
    const m = live.committed();
    const statuses = await waitCommitted(url, ids);
    statuses.forEach((s, i) => assert.deepEqual(m.get(ids[i]!), { height: s.height, index: s.index }));
    const ev = blocks.flatMap((b) => b.txs!).find((t) => t.id === ids[0])!;
    assert.deepEqual(ev, { id: ids[0], kind: 'transfer', sender: senders[0]!.address, nonce: '0' });
  });

  it('WebSocket ?from=1 replays every block from height 1, matching GET /v1/blocks', async () => {
    const head = await getJson<HeadBody>(url, '/v1/head');
    assert.ok(head.height >= 3);
    const replay = await stream('?from=1');
    await replay.until(`blocks 1..${head.height}`, (c) => c.blocks.length >= head.height);
    const blocks = replay.blocks.slice(0, head.height);
    assert.deepEqual(
      blocks.map((b) => b.height),
      Array.from({ length: head.height }, (_, i) => i + 1),
    );
    for (const h of [1, Math.ceil(head.height / 2), head.height]) {
      const b = await getJson<BlockBody>(url, `/v1/blocks/${h}`);
      assert.equal(blocks[h - 1]!.hash, b.hash);
      assert.equal(blocks[h - 1]!.stateHash, b.stateHash);
      assert.deepEqual(
        blocks[h - 1]!.txs!.map((t) => t.id),
        b.txs.map((t) => t.id),
      );
    }
    assert.equal(blocks[head.height - 1]!.hash, head.hash);
  });

  it('topics: create-topic, messages from 3 senders; ?topic= streams seq 0,1,2,... with per-sender nonce order', async () => {
    const topic = 'e2e-news';
    const ct = createTopic(faucet, topic, await faucetNonce(), network);
    const rc = await postJsonTx(url, ct, true);
    assert.equal(rc.status, 200, rc.text);
    assert.deepEqual(await getJson(url, `/v1/topics/${topic}`), { name: topic, nextSeq: '0', owner: faucet.address });

    const live = await stream(`?topic=${topic}`);
    const senders = testAccounts('api-topic', 3);
    await fund(node.client, faucet, senders, 1000n);
    const perSender = 5;
    const msgs: SignedTx[] = [];
    // Interleaved across senders, each sender's nonces submitted in reverse.
    for (let n = perSender - 1; n >= 0; n--) {
      senders.forEach((s, i) => msgs.push(message(s, topic, Buffer.from(`from ${i} #${n}`), BigInt(n), network)));
    }
    const r = await http(url, '/v1/txs', { binary: encodeBatch(msgs.map((t) => t.bytes)) });
    assert.equal((r.body as BatchBody).accepted, msgs.length, r.text);
    await waitCommitted(url, msgs.map(hex));
    const total = msgs.length;

    const replay = await stream(`?topic=${topic}&from=1`);
    for (const [name, c] of [
      ['live', live],
      ['replay', replay],
    ] as const) {
      await c.until(`${name}: ${total} messages`, (x) => x.blocks.flatMap((b) => b.txs!).length >= total);
      const got = c.blocks.flatMap((b) => b.txs!);
      assert.equal(got.length, total, `${name}: only messages of the topic`);
      assert.deepEqual(
        got.map((t) => t.seq),
        Array.from({ length: total }, (_, i) => String(i)),
        `${name}: sequence numbers`,
      );
      for (const t of got) {
        assert.equal(t.kind, 'message');
        assert.equal(t.topic, topic);
      }
      senders.forEach((s, i) => {
        const mine = got.filter((t) => t.sender === s.address);
        assert.deepEqual(
          mine.map((t) => t.nonce),
          Array.from({ length: perSender }, (_, k) => String(k)),
          `${name}: sender ${i} nonce order`,
        );
        assert.deepEqual(
          mine.map((t) => Buffer.from(t.payload!, 'base64').toString()),
          Array.from({ length: perSender }, (_, k) => `from ${i} #${k}`),
        );
      });
    }
    assert.deepEqual(
      live.blocks.map((b) => b.txs!.map((t) => t.id)),
      replay.blocks.map((b) => b.txs!.map((t) => t.id)),
      'live and replayed topic streams agree',
    );
    assert.equal((await getJson<{ nextSeq: string }>(url, `/v1/topics/${topic}`)).nextSeq, String(total));
  });

  it('WebSocket: a transaction that fails after acceptance arrives as a failed event', async () => {
    const live = await stream();
    const [w] = testAccounts('api-fail', 1);
    await fund(node.client, faucet, [w!], 100n);
    const tx = message(w!, 'api-no-such-topic', Buffer.from('x'), 0n, network);
    const r = await postJsonTx(url, tx, true);
    assert.equal(r.status, 409, r.text);
    assert.equal((r.body as StatusBody).error?.code, 'TPSLAB_E_UNKNOWN_TOPIC');
    await live.until('the failed event', (c) => c.events.some((e) => e.type === 'failed'));
    const ev = live.events.find((e) => e.type === 'failed')!;
    assert.equal(ev.id, hex(tx));
    assert.equal(ev.code, 'TPSLAB_E_UNKNOWN_TOPIC');
    assert.ok(!live.committed().has(hex(tx)));
  });

  it('/health, /metrics and /stats report the node', async () => {
    const head = await getJson<HeadBody>(url, '/v1/head');
    const health = await http(url, '/health');
    assert.equal(health.status, 200);
    const hb = health.body as HealthJson;
    assert.equal(hb.status, 'ok');
    assert.equal(hb.height, head.height);

    const m = await http(url, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
    const value = (name: string): number => {
      const line = m.text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
      assert.ok(line, `metric ${name} missing`);
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const committed = value('tpslab_tx_committed_total');
    assert.equal(value('tpslab_block_height'), head.height);
    let inBlocks = 0;
    for (let h = 1; h <= head.height; h++) inBlocks += (await getJson<BlockBody>(url, `/v1/blocks/${h}`)).txCount;
    assert.equal(committed, inBlocks, 'tpslab_tx_committed_total counts every transaction in blocks 1..head');

    const stats = await getJson<{
      network: string;
      uptimeMs: number;
      head: HeadBody;
      mempool: number;
      accounts: number;
      tx: { received: number; accepted: number; rejected: number; committed: number; failed: number; failedByCode: Record<string, number> };
      blocks: number;
    }>(url, '/stats');
    assert.equal(stats.network, network);
    assert.equal(stats.head.height, head.height);
    assert.equal(stats.blocks, head.height, 'the node started on an empty log: every block was committed by this process');
    assert.equal(stats.tx.committed, committed);
    assert.equal(stats.mempool, 0);
    assert.equal(stats.tx.rejected, 0);
    assert.equal(stats.tx.failed, 1);
    assert.deepEqual(stats.tx.failedByCode, { TPSLAB_E_UNKNOWN_TOPIC: 1 });
    assert.equal(stats.tx.accepted, stats.tx.committed + 1, 'everything accepted has committed, but the one failed message');
    assert.equal(stats.tx.received, stats.tx.accepted);
    assert.ok(stats.accounts >= 30);
    assert.ok(stats.uptimeMs > 0);
  });
});
