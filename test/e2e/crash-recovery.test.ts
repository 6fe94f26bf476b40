/**
 * Durability across a crash: whatever the node reported committed before a
 * `kill -9` is still committed, at the same place, after a restart on the same
 * data directory; the chain is whole; a torn tail is cut on restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadGenesis } from '../../src/ledger/genesis.js';
import { encodeBatch } from '../../src/protocol/batch.js';
import { decodeBlock } from '../../src/protocol/block.js';
import type { KeyPair } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { NodeProcess, fund, runCli, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import {
  StreamCollector,
  account,
  getJson,
  hex,
  http,
  mapLimit,
  postJsonTx,
  status,
  transfer,
  type BlockBody,
  type HeadBody,
  type StatusBody,
} from './helpers.js';

type Where = { height: number; index: number };

describe('crash recovery', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: NodeProcess;
  let faucet: KeyPair;
  let network: string;
  /** Every transaction the node reported committed, with where it said. */
  const reported = new Map<string, Where>();
  const streams: StreamCollector[] = [];

  const report = (id: string, w: Where, how: string): void => {
    const prev = reported.get(id);
    if (prev) assert.deepEqual(w, prev, `${how} reported ${id} at another place than before`);
    reported.set(id, w);
  };

  before(async () => {
    dir = await tempDir('tpslab-e2e-crash-');
    node = await NodeProcess.start(dir.path);
    faucet = await node.faucetKey();
    network = (await getJson<HeadBody>(node.url, '/v1/head')).network;
  });

  after(async () => {
    for (const s of streams) s.close();
    await node?.kill('SIGKILL');
    await dir?.remove();
  });

  /** Reads blocks 1..head in both forms; checks heights, hashes and the prevHash chain from genesis. Returns tx id → place. */
  const verifyChain = async (url: string): Promise<{ head: HeadBody; places: Map<string, Where>; bySender: Map<string, number> }> => {
    const head = await getJson<HeadBody>(url, '/v1/head');
    const genesis = await loadGenesis(join(dir.path, 'genesis.json'));
    const places = new Map<string, Where>();
    const bySender = new Map<string, number>();
    let prev = genesis.hash.toString('hex');
    let prevTimestamp = 0;
    const heights = Array.from({ length: head.height }, (_, i) => i + 1);
    const blocks = await mapLimit(heights, 8, async (h) => {
      const json = await getJson<BlockBody>(url, `/v1/blocks/${h}`);
      const bin = await fetch(`${url}/v1/blocks/${h}?format=binary`);
      assert.equal(bin.status, 200, `binary block ${h}`);
      return { json, decoded: decodeBlock(Buffer.from(await bin.arrayBuffer())) };
    });
    for (const [i, { json, decoded }] of blocks.entries()) {
      const h = i + 1;
      assert.equal(json.height, h);
      assert.equal(decoded.height, h);
      assert.equal(decoded.hash.toString('hex'), json.hash, `block ${h}: the stored bytes hash to what the API reports`);
      assert.equal(json.prevHash, prev, `block ${h} does not link to block ${h - 1}`);
      assert.equal(decoded.prevHash.toString('hex'), prev);
      assert.ok(json.timestampMs >= prevTimestamp, `block ${h} is older than block ${h - 1}`);
      prev = json.hash;
      prevTimestamp = json.timestampMs;
      json.txs.forEach((t, index) => {
        assert.ok(!places.has(t.id), `transaction ${t.id} is in two blocks`);
        places.set(t.id, { height: h, index });
        const sender = t.inputs?.[0]?.account;
        if (sender) bySender.set(sender, (bySender.get(sender) ?? 0) + 1);
      });
    }
    if (head.height > 0) assert.equal(head.hash, prev, 'the head is the last block');
    return { head, places, bySender };
  };

  it('everything reported committed before kill -9 is committed at the same place after restart', async (t) => {
    const senders = testAccounts('crash', 20);
    await fund(node.client, faucet, senders, 10_000_000n);
    const url = node.url;

    // Reports, three ways: the live stream, ?wait=commit answers, and status polls.
    const live = await StreamCollector.open(url);
    streams.push(live);
    let waitNonce = (await account(url, faucet.address)).nonce;
    const sink = testAccounts('crash-sink', 1)[0]!;
    const nonces = senders.map(() => 0n);
    const submitted: string[] = [];
    let batches = 0;
    let stop = false;
    const deadline = Date.now() + 6_000;

    const waiter = async (): Promise<void> => {
      while (!stop && Date.now() < deadline) {
        const tx = transfer(faucet, sink, 1n, waitNonce++, network);
        const r = await postJsonTx(url, tx, true).catch(() => undefined);
        if (!r) return; // the node is gone
        const b = r.body as StatusBody;
        if (r.status === 200) report(hex(tx), { height: b.height!, index: b.index! }, 'wait=commit');
        else return;
      }
    };
    const poller = async (): Promise<void> => {
      for (let i = 0; !stop && Date.now() < deadline; i++) {
        const id = submitted[Math.floor(submitted.length / 2)];
        if (id === undefined) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const s = await fetch(`${url}/v1/tx/${id}`)
          .then((r) => r.json() as Promise<StatusBody>)
          .catch(() => undefined);
        if (!s) return;
        if (s.status === 'committed') report(id, { height: s.height!, index: s.index! }, 'GET status');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const loader = async (): Promise<void> => {
      // At most 3,000 transfers in batches of 50, for at most ~6 s.
      for (; batches < 60 && !stop && Date.now() < deadline; batches++) {
        const txs: SignedTx[] = [];
        for (let k = 0; k < 50; k++) {
          const i = (batches * 50 + k) % senders.length;
          txs.push(transfer(senders[i]!, senders[(i + 1) % senders.length]!, 1n, nonces[i]!++, network));
        }
        const r = await http(url, '/v1/txs', { binary: encodeBatch(txs.map((t) => t.bytes)) }).catch(() => undefined);
        if (!r) return; // the node is gone
        assert.equal(r.status, 200, r.text);
        submitted.push(...txs.map(hex));
      }
    };

    const load = Promise.all([loader(), waiter(), poller()]);
    // Kill in the middle: once a good part of the stream has been reported (or the load ran out).
    await waitFor('some commits reported before the kill', () => live.committed().size >= 1500 || batches >= 60 || Date.now() >= deadline, 20_000);
    await node.kill('SIGKILL');
    stop = true;
    await load;
    await live.until('the stream to close after the kill', (c) => c.closed, 10_000);
    for (const [id, w] of live.committed()) report(id, w, 'stream');
    const maxHeight = Math.max(...[...reported.values()].map((w) => w.height));
    t.diagnostic(`before the kill: ${batches} batches, ${submitted.length} transfers submitted, ${reported.size} reported committed, up to height ${maxHeight}`);
    assert.ok(reported.size > 0, 'nothing was reported committed before the kill');

    await node.restart();
    assert.equal((await http(node.url, '/health')).status, 200);
    const { head, places, bySender } = await verifyChain(node.url);
    assert.ok(head.height >= maxHeight, `head ${head.height} < highest height reported before the kill ${maxHeight}`);

    // Every report survives, at the same height and index, in the blocks and in the status API.
    for (const [id, w] of reported) assert.deepEqual(places.get(id), w, `reported ${id} at ${JSON.stringify(w)}`);
    // Anything submitted but not in a block was lost with the mempool, never half-applied.
    const ids = [...new Set([...reported.keys(), ...submitted])];
    await mapLimit(ids, 16, async (id) => {
      const w = places.get(id);
      assert.deepEqual(await status(node.url, id), w ? { id, status: 'committed', ...w } : { id, status: 'unknown' });
    });
    // State agrees with the blocks: each sender's nonce is the count of its committed transfers.
    await mapLimit(senders, 8, async (s) => {
      const a = await account(node.url, s.address);
      assert.equal(a.nonce, BigInt(bySender.get(s.address) ?? 0), `nonce of ${s.address}`);
    });

    // The node serves again: the faucet and a load sender (whose lost nonces are simply unused) commit.
    const fn = (await account(node.url, faucet.address)).nonce;
    const r1 = await postJsonTx(node.url, transfer(faucet, sink, 5n, fn, network), true);
    assert.equal(r1.status, 200, r1.text);
    assert.ok((r1.body as StatusBody).height! > head.height);
    const s0 = senders[0]!;
    const r2 = await postJsonTx(node.url, transfer(s0, sink, 5n, (await account(node.url, s0.address)).nonce, network), true);
    assert.equal(r2.status, 200, r2.text);
    for (const r of [r1, r2]) {
      const b = r.body as StatusBody;
      report(b.id, { height: b.height!, index: b.index! }, 'wait=commit after restart');
    }
  });

  it('a second node on a data directory in use is refused with TPSLAB_E_DATA_DIR', async () => {
    const r = await runCli(['node', '--data', dir.path, '--port', '0'], 20_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /TPSLAB_E_DATA_DIR/);
    assert.match(r.stderr, new RegExp(`pid ${node.endpoint.pid}`));
    assert.equal((await http(node.url, '/health')).status, 200, 'the running node is unharmed');
  });

  it('a torn tail appended to blocks.log is cut on restart and every committed transaction is kept', async () => {
    const url0 = node.url;
    const before = await verifyChain(url0);
    assert.ok(before.head.height > 0);
    await node.stop();
    assert.equal(node.child?.exitCode, 0, `SIGTERM did not stop the node cleanly:\n${node.output}`);
    assert.match(node.output, /SIGTERM: stopping/);
    const log = join(dir.path, 'blocks.log');
    const size = (await stat(log)).size;
    // A frame header promising 5,000 bytes, followed by only 100: a write cut short by a crash.
    const header = Buffer.alloc(12);
    header.writeUInt32BE(0x54505342, 0);
    header.writeUInt32BE(5000, 4);
    header.writeUInt32BE(0xdeadbeef, 8);
    await appendFile(log, Buffer.concat([header, Buffer.alloc(100, 0xab)]));

    await node.restart();
    assert.match(node.output, /torn tail of 112 bytes/);
    assert.equal((await stat(log)).size, size, 'the tail was truncated');
    const after = await verifyChain(node.url);
    assert.deepEqual(after.head, before.head);
    assert.deepEqual(after.places, before.places);
    for (const [id, w] of reported) assert.deepEqual(after.places.get(id), w, `reported ${id} at ${JSON.stringify(w)}`);
    await mapLimit([...reported.keys()].slice(-200), 16, async (id) => {
      assert.equal((await status(node.url, id)).status, 'committed');
    });
    const fn = (await account(node.url, faucet.address)).nonce;
    const r = await postJsonTx(node.url, transfer(faucet, faucet, 1n, fn, network), true);
    assert.equal(r.status, 200, r.text);
    assert.equal((r.body as StatusBody).height, before.head.height + 1);
  });
});
