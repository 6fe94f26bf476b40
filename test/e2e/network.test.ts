// A real 3-node network (tracker, sequencer, 3 replicas as processes): total order and state
// agreement, topics as groups, and crashes of a node, of the sequencer, and a frozen member.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { NodeClient } from '../../src/client/node-client.js';
import { readKeyFile } from '../../src/client/key-file.js';
import { netUp, readNetworkFile, restartRole, stopProcesses, type NetworkFile } from '../../src/ledger/net.js';
import { signTx, type KeyPair } from '../../src/protocol/signing.js';
import { KEY_SPACE } from '../../src/ledger/shard-allocator.js';
import { fund, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import { LoadLoop } from '../testkit/load.js';

const HEARTBEAT_MS = 1000;

let dir: { path: string; remove(): Promise<void> };
let net: NetworkFile;
let faucet: KeyPair;

const client = (url: string): NodeClient => new NodeClient(url);
const nodeUrls = (): string[] => net.nodes.map((n) => n.url);
const head = async (url: string): Promise<{ height: number; hash: string; stateHash: string }> => client(url).head();

/** Waits until every node has the sequencer's head, then checks they all agree on hash and state hash. */
async function converged(): Promise<{ height: number; hash: string; stateHash: string }> {
  return waitFor('every node to reach the sequencer head with the same state hash', async () => {
    const seq = await head(net.sequencer.url);
    const heads = await Promise.all(nodeUrls().map(head));
    return heads.every((h) => h.height === seq.height && h.hash === seq.hash && h.stateHash === seq.stateHash) ? seq : undefined;
  }, 30_000);
}

before(async () => {
  dir = await tempDir('tpslab-net-');
  net = await netUp({ dir: `${dir.path}/net`, nodes: 3, heartbeatMs: HEARTBEAT_MS, blockIntervalMs: 20 });
  faucet = await readKeyFile(net.faucetKey);
});

after(async () => {
  const file = await readNetworkFile(`${dir.path}/net`).catch(() => net);
  await stopProcesses([...file.nodes, file.sequencer, file.tracker], 3000);
  await dir.remove();
});

describe('a 3-node network', () => {
  it('orders transactions submitted through different nodes the same way on every node', async () => {
    const accounts = testAccounts('order', 30);
    await fund(client(nodeUrls()[0]!), faucet, accounts, 1000n);
    // Each sender's 5 transactions go through different nodes, out of order.
    const txs = accounts.flatMap((a, i) =>
      [0, 1, 2, 3, 4].map((n) =>
        signTx(
          { kind: 'transfer', nonce: BigInt(n), fee: 0n, deps: [], inputs: [{ account: a.publicKey, amount: 3n }], outputs: [{ account: accounts[(i + 7) % 30]!.publicKey, amount: 3n }] },
          [a],
          net.network,
        ),
      ),
    );
    const reversed = [...txs].reverse();
    await Promise.all(
      nodeUrls().map((url, k) => client(url).submitBatch(reversed.filter((_, j) => j % 3 === k))),
    );
    await waitFor('all 150 transfers to commit', async () => {
      const s = await Promise.all(txs.map((t) => client(nodeUrls()[2]!).status(t.id.toString('hex'))));
      return s.every((x) => x.status === 'committed');
    }, 30_000);
    const h = await converged();
    // Same blocks on every node, and each sender's nonces in order.
    for (let height = 1; height <= h.height; height++) {
      const blocks = await Promise.all(nodeUrls().map((u) => client(u).block(height)));
      assert.ok(blocks.every((b) => b.hash === blocks[0]!.hash), `block ${height} differs between nodes`);
    }
    const positions = await Promise.all(txs.map((t) => client(nodeUrls()[1]!).status(t.id.toString('hex'))));
    for (let a = 0; a < accounts.length; a++) {
      const order = positions.slice(a * 5, a * 5 + 5).map((p) => p.height! * 1e6 + p.index!);
      assert.deepEqual([...order].sort((x, y) => x - y), order, `account ${a} out of nonce order`);
    }
  });

  it('delivers a topic to every subscriber in the same total order with per-sender FIFO', async () => {
    const senders = testAccounts('group', 3);
    await fund(client(nodeUrls()[0]!), faucet, senders, 100n);
    const owner = senders[0]!;
    const topic = 'group-chat';
    const created = await client(nodeUrls()[0]!).submit(
      signTx({ kind: 'create-topic', nonce: 0n, fee: 0n, deps: [], from: owner.publicKey, topic }, [owner], net.network),
      { waitMs: 20_000 },
    );
    assert.equal(created.status, 'committed');
    const start = (await head(nodeUrls()[0]!)).height + 1;
    const received = nodeUrls().map(() => [] as { seq: string; sender: string; nonce: string; id: string }[]);
    const sockets = nodeUrls().map(
      (url, i) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream?topic=${topic}&from=${start}`);
          ws.on('message', (d) => received[i]!.push(...(JSON.parse(d.toString()) as { txs: { seq: string; sender: string; nonce: string; id: string }[] }).txs));
          ws.on('open', () => resolve(ws));
          ws.on('error', reject);
        }),
    );
    const open = await Promise.all(sockets);
    try {
      // Each sender posts 10 messages, each through a different node, in parallel with the others.
      await Promise.all(
        senders.map(async (s, si) => {
          const first = si === 0 ? 1 : 0;
          for (let k = 0; k < 10; k++) {
            const tx = signTx(
              { kind: 'message', nonce: BigInt(first + k), fee: 0n, deps: [], from: s.publicKey, topic, payload: Buffer.from(`${si}:${k}`) },
              [s],
              net.network,
            );
            await client(nodeUrls()[(si + k) % 3]!).submit(tx);
          }
        }),
      );
      await waitFor('30 messages at every subscriber', () => received.every((r) => r.length >= 30), 30_000);
    } finally {
      for (const ws of open) ws.close();
    }
    const order = received[0]!.map((m) => m.id);
    for (const r of received) assert.deepEqual(r.map((m) => m.id), order, 'every subscriber sees the same order');
    assert.deepEqual(received[0]!.map((m) => m.seq), Array.from({ length: 30 }, (_, i) => String(i)), 'sequence numbers 0..29 without gaps');
    // A member joining late starts from any sequence number and sees the rest in the same order.
    const late: string[] = [];
    const ws = new WebSocket(`${nodeUrls()[2]!.replace('http', 'ws')}/v1/stream?topic=${topic}&fromSeq=17`);
    ws.on('message', (d) => late.push(...(JSON.parse(d.toString()) as { txs: { id: string }[] }).txs.map((t) => t.id)));
    try {
      await waitFor('the late subscriber to receive messages 17..29', () => late.length >= 13);
    } finally {
      ws.close();
    }
    assert.deepEqual(late, order.slice(17));
    for (const s of senders) {
      const nonces = received[0]!.filter((m) => m.sender === s.address).map((m) => BigInt(m.nonce));
      assert.equal(nonces.length, 10);
      assert.deepEqual([...nonces].sort((a, b) => (a < b ? -1 : 1)), nonces, `per-sender FIFO for ${s.address}`);
    }
  });

  it('keeps committing when a node is killed, and the restarted node catches up to the same state', async () => {
    const accounts = testAccounts('nodekill', 20);
    await fund(client(nodeUrls()[0]!), faucet, accounts, 1000n);
    const victim = net.nodes[2]!;
    const load = new LoadLoop({ network: net.network, accounts, endpoints: nodeUrls().slice(0, 2), maxTxs: 600, durationMs: 15_000 });
    await load.open();
    const running = load.run();
    await waitFor('load to commit 100 transactions', () => load.committed.size >= 100, 15_000);
    process.kill(victim.pid, 'SIGKILL');
    const atKill = load.committed.size;
    await waitFor('the other nodes to keep committing after the kill', () => load.committed.size >= atKill + 100, 15_000);
    await running;
    load.close();
    const restarted = await restartRole(net.dir, victim.id);
    net = await readNetworkFile(net.dir);
    assert.equal(restarted.url, victim.url, 'restarted on the same address');
    const h = await converged();
    assert.ok(h.height > 0);
    const s = await client(restarted.url).status([...load.committed.keys()].at(-1)!);
    assert.equal(s.status, 'committed');
  });

  it('loses nothing reported committed when the sequencer is killed, and nodes resume without a restart', async () => {
    const accounts = testAccounts('seqkill', 20);
    await fund(client(nodeUrls()[0]!), faucet, accounts, 1000n);
    const load = new LoadLoop({ network: net.network, accounts, endpoints: nodeUrls(), maxTxs: 800, durationMs: 20_000 });
    await load.open();
    const running = load.run();
    await waitFor('load to commit 150 transactions', () => load.committed.size >= 150, 15_000);
    process.kill(net.sequencer.pid, 'SIGKILL');
    const reportedBeforeKill = new Map(load.committed);
    // While it is down, submissions get a coded retryable error rather than hanging.
    const refused = await client(nodeUrls()[1]!).submitBatch([
      signTx({ kind: 'transfer', nonce: 0n, fee: 0n, deps: [], inputs: [{ account: faucet.publicKey, amount: 1n }], outputs: [{ account: faucet.publicKey, amount: 1n }] }, [faucet], net.network),
    ]).catch((e: Error) => e);
    assert.ok(!(refused instanceof Error), 'the node answers while the sequencer is down');
    const r0 = refused.results[0]!;
    assert.ok('error' in r0 && ['TPSLAB_E_UNAVAILABLE', 'TPSLAB_E_NONCE_TOO_LOW'].includes(r0.error.code), JSON.stringify(r0));
    await restartRole(net.dir, 'sequencer');
    net = await readNetworkFile(net.dir);
    await running;
    load.close();
    assert.ok(load.committed.size > reportedBeforeKill.size, 'commits resumed after the restart without restarting nodes');
    const h = await converged();
    // Everything reported committed before the kill is still committed, at the same height, on every role.
    for (const url of [net.sequencer.url, ...nodeUrls()]) {
      for (const [id, height] of reportedBeforeKill) {
        const s = await client(url).status(id);
        assert.equal(s.status, 'committed', `${id} lost on ${url}`);
        assert.equal(s.height, height);
      }
    }
    // The stream saw every height once, in order: none skipped, none repeated.
    const hs = load.heights;
    for (let i = 1; i < hs.length; i++) assert.equal(hs[i], hs[i - 1]! + 1, `stream went from ${hs[i - 1]} to ${hs[i]}`);
    // The chain links from 1 to the head on the sequencer.
    let prev: string | undefined;
    for (let height = 1; height <= h.height; height++) {
      const b = await client(net.sequencer.url).block(height);
      assert.equal(b.height, height);
      if (prev) assert.equal(b.prevHash, prev);
      prev = b.hash as string;
    }
  });

  it('removes a frozen node from the view within 3 heartbeat intervals, re-adds it, and keeps shards even', async () => {
    type View = { members: { id: string; role: string; ranges: { start: string; end: string }[] }[] };
    const view = async (): Promise<View> => (await (await fetch(`${net.tracker.url}/v1/members`)).json()) as View;
    const share = (v: View, id: string): bigint => (v.members.find((m) => m.id === id)?.ranges ?? []).reduce((s, r) => s + BigInt(r.end) - BigInt(r.start), 0n);
    const nodes = (v: View): string[] => v.members.filter((m) => m.role === 'replica').map((m) => m.id).sort();
    await waitFor('all three nodes in the view', async () => nodes(await view()).length === 3);
    const before = await view();
    // A watcher gets the view at once and every change pushed.
    const pushed: View[] = [];
    const watch = new WebSocket(`${net.tracker.url.replace('http', 'ws')}/v1/watch`);
    watch.on('message', (d) => pushed.push(JSON.parse(d.toString()) as View));
    await waitFor('the first view on the watch stream', () => pushed.length > 0);
    const frozen = net.nodes[1]!;
    process.kill(frozen.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    let after: View;
    try {
      after = await waitFor('the frozen node to be removed', async () => {
        const v = await view();
        return nodes(v).includes(frozen.id) ? undefined : v;
      }, 10_000, 20);
      const elapsed = Date.now() - stoppedAt;
      assert.ok(elapsed <= 3 * HEARTBEAT_MS, `removed after ${elapsed} ms; the bound is 2 × ${HEARTBEAT_MS} + ${HEARTBEAT_MS}`);
    } finally {
      process.kill(frozen.pid, 'SIGCONT');
    }
    await waitFor('the removal pushed to the watcher', () => pushed.some((v) => !nodes(v).includes(frozen.id)));
    watch.close();
    // Two members, even halves; each survivor kept everything it had (only the frozen node's share moved).
    const half = KEY_SPACE / 2n;
    const tolerance = KEY_SPACE / 4096n;
    for (const id of nodes(after)) {
      const s = share(after, id);
      assert.ok(s >= half - tolerance && s <= half + tolerance, `${id} holds ${s}`);
      const had = before.members.find((m) => m.id === id)!.ranges;
      const has = after.members.find((m) => m.id === id)!.ranges;
      for (const r of had) assert.ok(has.some((x) => BigInt(x.start) <= BigInt(r.start) && BigInt(x.end) >= BigInt(r.end)), `${id} lost part of its range`);
    }
    const back = await waitFor('the node to be re-added after SIGCONT', async () => {
      const v = await view();
      return nodes(v).includes(frozen.id) ? v : undefined;
    }, 10_000);
    const third = KEY_SPACE / 3n;
    for (const id of nodes(back)) {
      const s = share(back, id);
      assert.ok(s >= third - tolerance && s <= third + tolerance, `${id} holds ${s} after the re-add`);
    }
  });
});

