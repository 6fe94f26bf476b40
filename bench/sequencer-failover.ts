/**
 * sequencer-failover: replicated ordering (3 sequencers on a 3-server NATS JetStream cluster, R3) next
 * to the default single sequencer, on the same closed-loop load; then the commit pause when the leader
 * is killed with SIGKILL, over repeated kills.
 *
 * Procedure:
 *  1. per mode (1 sequencer, then 3): `netUp` with 2 nodes in a temp dir, fund SENDERS accounts, then a
 *     closed loop for LOAD_MS: each sender has one transfer outstanding, sent (in batches, round-robin
 *     over the nodes) again with the same bytes if not committed within 3 s; commits are read from a
 *     node's commit stream. Committed tx/s over the window, and p99 of send → commit seen.
 *  2. on the 3-sequencer network, under the same load: KILLS times, find the leader, SIGKILL it, wait
 *     until 40 more transfers commit, restart it (`net restart`). The pause is the longest gap between
 *     consecutive blocks' timestamps (when the leader cut them; all processes share this machine's
 *     clock) from 1 s before the kill until commits resumed. Arrival times on a node would hide the pause
 *     behind the node's backlog under a saturating load.
 */
import WebSocket from 'ws';
import { readKeyFile } from '../src/client/key-file.js';
import { NodeClient } from '../src/client/node-client.js';
import { allProcesses, netUp, readNetworkFile, restartRole, stopProcesses, type NetworkFile } from '../src/ledger/net.js';
import type { StreamEventJson } from '../src/protocol/api.js';
import { encodeBatch } from '../src/protocol/batch.js';
import { signTx, type KeyPair } from '../src/protocol/signing.js';
import type { SignedTx } from '../src/protocol/tx.js';
import { fund, tempDir, testAccounts, waitFor } from '../test/testkit/index.js';
import type { BenchContext, BenchResult, Benchmark } from './contract.js';
import { sleep } from './lib/common.js';

const SENDERS = 200;
const LOAD_MS = 10_000;
const KILLS = Number(process.env.TPSLAB_BENCH_KILLS ?? 20);

/** One transfer outstanding per sender; latency from first send to the commit seen on the stream. */
class ClosedLoop {
  readonly latenciesMs: number[] = [];
  readonly blockTimesMs: number[] = [];
  committed = 0;
  private readonly out = new Map<string, { i: number; tx: SignedTx; firstMs: number; sentMs: number }>();
  private readonly nonces: bigint[];
  private ws: WebSocket | undefined;
  private stopped = false;

  constructor(private readonly net: () => NetworkFile, private readonly senders: KeyPair[]) {
    this.nonces = senders.map(() => 0n);
  }

  async open(): Promise<void> {
    const url = this.net().nodes[0]!.url;
    const head = await new NodeClient(url).head();
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream?from=${head.height + 1}`);
      this.ws = ws;
      ws.on('open', () => resolve());
      ws.on('error', reject);
      ws.on('message', (d) => {
        const ev = JSON.parse(d.toString()) as StreamEventJson;
        if (ev.type !== 'block') return;
        const now = Date.now();
        this.blockTimesMs.push(ev.timestampMs); // when the leader cut it: a node's backlog does not hide the pause
        for (const t of ev.txs ?? []) {
          const o = this.out.get(t.id);
          if (!o) continue;
          this.out.delete(t.id);
          this.committed++;
          this.latenciesMs.push(now - o.firstMs);
        }
      });
    });
  }

  async run(untilMs: number, signal: AbortSignal): Promise<void> {
    const busy = new Set<number>();
    let round = 0;
    while (!this.stopped && !signal.aborted && Date.now() < untilMs) {
      const now = Date.now();
      for (const o of this.out.values()) busy.add(o.i);
      const batch: SignedTx[] = [];
      for (const o of this.out.values()) if (now - o.sentMs > 3000) {
        o.sentMs = now;
        batch.push(o.tx);
      }
      this.senders.forEach((k, i) => {
        if (busy.has(i)) return;
        const to = this.senders[(i + 1) % this.senders.length]!;
        const tx = signTx({ kind: 'transfer', nonce: this.nonces[i]!++, fee: 0n, deps: [], inputs: [{ account: k.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [k], this.net().network);
        this.out.set(tx.id.toString('hex'), { i, tx, firstMs: now, sentMs: now });
        batch.push(tx);
      });
      busy.clear();
      const nodes = this.net().nodes;
      for (let j = 0; j < batch.length; j += 500) {
        const url = nodes[round++ % nodes.length]!.url;
        await fetch(`${url}/v1/txs`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: encodeBatch(batch.slice(j, j + 500).map((t) => t.bytes)), signal: AbortSignal.timeout(10_000) }).then((r) => r.arrayBuffer(), () => undefined);
      }
      await sleep(10);
    }
  }

  close(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? NaN;
}

async function leaderPid(net: NetworkFile): Promise<{ id: string; pid: number; term: number } | undefined> {
  for (const s of net.sequencers ?? []) {
    const a = (await fetch(`${s.url}/v1/internal/leader`, { signal: AbortSignal.timeout(1000) }).then((r) => r.json(), () => undefined)) as { leader?: { self: boolean; term: number } | null } | undefined;
    if (a?.leader?.self) return { id: s.id, pid: s.pid, term: a.leader.term };
  }
  return undefined;
}

async function withNetwork<T>(sequencers: number, fn: (get: () => NetworkFile, set: (n: NetworkFile) => void, senders: KeyPair[]) => Promise<T>): Promise<T> {
  const dir = await tempDir('tpslab-bench-failover-');
  let net = await netUp({ dir: `${dir.path}/net`, nodes: 2, sequencers });
  try {
    const senders = testAccounts(`failover-bench-${sequencers}`, SENDERS);
    await fund(new NodeClient(net.nodes[0]!.url), await readKeyFile(net.faucetKey), senders, 1_000_000n);
    return await fn(() => net, (n) => (net = n), senders);
  } finally {
    const file = await readNetworkFile(net.dir).catch(() => net);
    await stopProcesses(allProcesses(file).filter((p) => p.role !== 'nats'), 3000);
    await stopProcesses(file.nats ?? [], 3000);
    await dir.remove();
  }
}

async function steady(sequencers: number, ctx: BenchContext): Promise<{ tps: number; p99Ms: number }> {
  return withNetwork(sequencers, async (get, _set, senders) => {
    const loop = new ClosedLoop(get, senders);
    await loop.open();
    const t0 = Date.now();
    await loop.run(t0 + LOAD_MS, ctx.signal);
    const tps = (loop.committed / (Date.now() - t0)) * 1000;
    loop.close();
    ctx.log(`${sequencers} sequencer(s): ${Math.round(tps)} committed tx/s, p99 ${p99(loop.latenciesMs)} ms`);
    return { tps, p99Ms: p99(loop.latenciesMs) };
  });
}

async function kills(ctx: BenchContext): Promise<number[]> {
  return withNetwork(3, async (get, set, senders) => {
    const loop = new ClosedLoop(get, senders);
    await loop.open();
    const running = loop.run(Date.now() + 30 * 60_000, ctx.signal);
    const pauses: number[] = [];
    try {
      for (let k = 0; k < KILLS && !ctx.signal.aborted; k++) {
        const base = loop.committed;
        await waitFor('transfers to commit', () => loop.committed >= base + 100, 30_000);
        await sleep(Math.floor(Math.random() * 500));
        const l = await waitFor('a leader', () => leaderPid(get()), 20_000, 50);
        const killedAt = Date.now();
        process.kill(l.pid, 'SIGKILL');
        const atKill = loop.committed;
        await waitFor('commits to resume', async () => loop.committed >= atKill + 40 && ((await leaderPid(get()))?.term ?? 0) > l.term, 30_000, 50);
        let gap = 0;
        const t = loop.blockTimesMs;
        for (let i = 1; i < t.length; i++) if (t[i]! >= killedAt - 1000) gap = Math.max(gap, t[i]! - Math.max(t[i - 1]!, killedAt - 1000));
        pauses.push(gap);
        ctx.log(`kill ${k + 1}: ${l.id} (term ${l.term}); commit pause ${gap} ms`);
        await restartRole(get().dir, l.id);
        set(await readNetworkFile(get().dir));
      }
    } finally {
      loop.close();
      await running;
    }
    return pauses;
  });
}

export const sequencerFailover: Benchmark = {
  name: 'sequencer-failover',
  description: 'committed tx/s and p99 with 3 sequencers on NATS JetStream (R3) next to 1; commit pause when the leader is killed, over repeated kills',
  timeoutMs: 600_000,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const one = await steady(1, ctx);
    const three = await steady(3, ctx);
    const pauses = await kills(ctx);
    const sorted = [...pauses].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
    return {
      rows: [
        { metric: '1 sequencer: committed', value: one.tps, unit: 'tx/s' },
        { metric: '1 sequencer: p99 send → commit', value: one.p99Ms, unit: 'ms' },
        { metric: '3 sequencers (JetStream R3): committed', value: three.tps, unit: 'tx/s' },
        { metric: '3 sequencers (JetStream R3): p99 send → commit', value: three.p99Ms, unit: 'ms' },
        { metric: `commit pause at failover, median of ${pauses.length} kills`, value: median, unit: 'ms' },
        { metric: `commit pause at failover, max of ${pauses.length} kills`, value: sorted.at(-1) ?? NaN, unit: 'ms' },
      ],
      ratios: [
        { label: 'committed tx/s, 3 sequencers ÷ 1', value: three.tps / one.tps, note: `same closed loop of ${SENDERS} senders, 2 nodes` },
        { label: 'p99 latency, 3 sequencers ÷ 1', value: three.p99Ms / one.p99Ms },
      ],
      notes: [`the pause includes the lease (1,500 ms by default), the takeover and the nodes finding the new leader; ${KILLS} kills (TPSLAB_BENCH_KILLS)`],
    };
  },
};
