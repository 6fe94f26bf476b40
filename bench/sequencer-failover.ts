/**
 * sequencer-failover: replicated ordering (3 sequencers on a 3-server NATS JetStream cluster, R3) next
 * to the default single sequencer, on the same closed-loop load; then the commit pause when the leader
 * is killed with SIGKILL, over repeated kills.
 *
 * Procedure:
 *  1. per mode (1 sequencer, then 3): `netUp` with 2 nodes in a temp dir, fund SENDERS accounts, then a
 *     closed loop for LOAD_MS on the harness's load core (one in-process beacon per node, startSourced,
 *     in-flight cap = its senders: about one transfer outstanding per sender); commits are read from a
 *     node's commit stream. Committed tx/s over the window, and p99 of first send → commit seen.
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
import { signTx, type KeyPair } from '../src/protocol/signing.js';
import type { BeaconConnector, SourcedTx, SubmitItem } from '../src/connectors/contract.js';
import { startSourced, type SourcedRun } from '../src/harness/sourced-run.js';
import { fund, tempDir, testAccounts, waitFor } from '../test/testkit/index.js';
import { tpslabSender } from '../test/testkit/load.js';
import { pauseAround, resumedAfter } from '../test/testkit/failover-pause.js';
import type { BenchContext, BenchResult, Benchmark } from './contract.js';
import { envNumber, sleep } from './lib/common.js';
import { DEFAULT_LEASE_MS } from '../src/ledger/lease.js';

const SENDERS = 200;
const LOAD_MS = 10_000;
const KILLS = envNumber('TPSLAB_BENCH_KILLS', 20);

/**
 * The closed loop on the harness's load core: one in-process beacon per node (startSourced, as
 * bench/lib/pump.ts does), each sending its share of the senders' transfers in nonce waves as fast as its
 * in-flight cap (its senders) allows, so about one transfer per sender is outstanding. Retryable refusals
 * are resent with the same bytes by the beacon; what a lost leader held, the nodes resend. Commits and
 * block timestamps are read from the first node's commit stream; latency is first send → commit seen.
 */
class ClosedLoop {
  readonly latenciesMs: number[] = [];
  readonly blockTimesMs: number[] = [];
  committed = 0;
  private readonly firstSentMs = new Map<string, number>();
  private readonly runs: SourcedRun[] = [];
  private ws: WebSocket | undefined;

  constructor(private readonly net: () => NetworkFile, private readonly senders: KeyPair[]) {}

  /** Subscribes to the first node's stream, then starts one beacon per node until `untilMs` (or close). */
  async open(untilMs: number, signal: AbortSignal): Promise<void> {
    const urls = this.net().nodes.map((n) => n.url);
    const head = await new NodeClient(urls[0]!).head();
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${urls[0]!.replace('http', 'ws')}/v1/stream?from=${head.height + 1}`);
      this.ws = ws;
      ws.on('open', () => resolve());
      ws.on('error', reject);
      ws.on('message', (d) => {
        const ev = JSON.parse(d.toString()) as StreamEventJson;
        if (ev.type !== 'block') return;
        const now = Date.now();
        this.blockTimesMs.push(ev.timestampMs); // when the leader cut it: a node's backlog does not hide the pause
        for (const t of ev.txs ?? []) {
          const first = this.firstSentMs.get(t.id);
          if (first === undefined) continue;
          this.firstSentMs.delete(t.id);
          this.committed++;
          this.latenciesMs.push(now - first);
        }
      });
    });
    const network = this.net().network;
    const n = urls.length;
    for (let k = 0; k < n; k++) {
      const mine = this.senders.map((_, i) => i).filter((i) => i % n === k);
      const endpoints = [...urls.slice(k), ...urls.slice(0, k)];
      const fromHeight = (await new NodeClient(endpoints[0]!).head()).height;
      this.runs.push(
        await startSourced({
          connector: this.timed(tpslabSender({ network, endpoints, fromHeight })),
          txs: this.transfers(mine, network),
          maxInFlight: mine.length,
          batchMax: 500,
          durationMs: Math.max(0, untilMs - Date.now()),
          timeoutMs: 60_000,
          retries: 1000,
        }),
      );
    }
    signal.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** The senders' transfers in nonce waves (nonce 0 of each, then 1, …), signed as the beacon pulls them. */
  private *transfers(mine: number[], network: string): Generator<SourcedTx> {
    for (let nonce = 0n; ; nonce++) {
      for (const i of mine) {
        const k = this.senders[i]!;
        const to = this.senders[(i + 1) % this.senders.length]!;
        const tx = signTx({ kind: 'transfer', nonce, fee: 0n, deps: [], inputs: [{ account: k.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [k], network);
        yield { tx: { id: tx.id.toString('hex'), payload: tx.bytes }, sender: i };
      }
    }
  }

  /** The connector, with each transfer's first send time noted (for latency). */
  private timed(c: BeaconConnector): BeaconConnector {
    return {
      prepare: () => c.prepare(),
      build: (tx) => c.build(tx),
      submit: (batch: readonly SubmitItem[]) => {
        const now = Date.now();
        for (const it of batch) if (it.attempt === 1) this.firstSentMs.set(it.tx.id, now);
        return c.submit(batch);
      },
      confirm: (sink, pending) => c.confirm(sink, pending),
      get position() {
        return c.position;
      },
      close: () => c.close(),
    };
  }

  /** Resolves when every beacon has stopped sending (its duration passed, or close). */
  async done(): Promise<void> {
    await Promise.all(this.runs.map((r) => r.done.catch(() => undefined)));
  }

  async close(): Promise<void> {
    await Promise.all(this.runs.map((r) => r.stop()));
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
    const t0 = Date.now();
    await loop.open(t0 + LOAD_MS, ctx.signal);
    await sleep(Math.max(0, t0 + LOAD_MS - Date.now()));
    const tps = (loop.committed / (Date.now() - t0)) * 1000;
    await loop.close();
    ctx.log(`${sequencers} sequencer(s): ${Math.round(tps)} committed tx/s, p99 ${p99(loop.latenciesMs)} ms`);
    return { tps, p99Ms: p99(loop.latenciesMs) };
  });
}

async function kills(ctx: BenchContext): Promise<{ pauses: number[]; resumes: number[] }> {
  return withNetwork(3, async (get, set, senders) => {
    const loop = new ClosedLoop(get, senders);
    await loop.open(Date.now() + 30 * 60_000, ctx.signal);
    const pauses: number[] = [];
    const resumes: number[] = [];
    try {
      for (let k = 0; k < KILLS && !ctx.signal.aborted; k++) {
        const base = loop.committed;
        await waitFor('transfers to commit', () => loop.committed >= base + 100, 30_000);
        await sleep(Math.floor(Math.random() * 500));
        const l = await waitFor('a leader', () => leaderPid(get()), 20_000, 50);
        const killedAt = Date.now();
        process.kill(l.pid, 'SIGKILL');
        const atKill = loop.committed;
        await waitFor('commits to resume', async () => loop.committed >= atKill + 40 && resumedAfter(loop.blockTimesMs, killedAt) && ((await leaderPid(get()))?.term ?? 0) > l.term, 30_000, 50);
        const p = pauseAround(loop.blockTimesMs, killedAt);
        pauses.push(p.gapMs);
        resumes.push(p.resumedAfterMs);
        ctx.log(`kill ${k + 1}: ${l.id} (term ${l.term}); commit pause ${p.gapMs} ms, first block ${p.resumedAfterMs} ms after the kill`);
        await restartRole(get().dir, l.id);
        set(await readNetworkFile(get().dir));
      }
    } finally {
      await loop.close();
      await loop.done();
    }
    return { pauses, resumes };
  });
}

const medianOf = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export const sequencerFailover: Benchmark = {
  name: 'sequencer-failover',
  description: 'committed tx/s and p99 with 3 sequencers on NATS JetStream (R3) next to 1; commit pause when the leader is killed, over repeated kills',
  timeoutMs: 600_000,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const one = await steady(1, ctx);
    const three = await steady(3, ctx);
    const { pauses, resumes } = await kills(ctx);
    return {
      rows: [
        { metric: '1 sequencer: committed', value: one.tps, unit: 'tx/s' },
        { metric: '1 sequencer: p99 send → commit', value: one.p99Ms, unit: 'ms' },
        { metric: '3 sequencers (JetStream R3): committed', value: three.tps, unit: 'tx/s' },
        { metric: '3 sequencers (JetStream R3): p99 send → commit', value: three.p99Ms, unit: 'ms' },
        { metric: `commit pause at failover, median of ${pauses.length} kills`, value: medianOf(pauses), unit: 'ms' },
        { metric: `commit pause at failover, max of ${pauses.length} kills`, value: Math.max(...pauses), unit: 'ms' },
        { metric: `kill → first block of the new leader, median of ${resumes.length} kills`, value: medianOf(resumes), unit: 'ms' },
        { metric: `kill → first block of the new leader, max of ${resumes.length} kills`, value: Math.max(...resumes), unit: 'ms' },
      ],
      ratios: [
        { label: 'committed tx/s, 3 sequencers ÷ 1', value: three.tps / one.tps, note: `same closed loop of ${SENDERS} senders, 2 nodes` },
        { label: 'p99 latency, 3 sequencers ÷ 1', value: three.p99Ms / one.p99Ms },
      ],
      notes: [
        `the pause is the longest gap between blocks' cut times from 1 s before the kill through the new leader's first block; it includes the lease (${DEFAULT_LEASE_MS} ms by default), the takeover and the nodes finding the new leader; ${KILLS} kills (TPSLAB_BENCH_KILLS)`,
        'issue 16 asks that commits resume within 2 s of the kill: the "kill → first block" rows',
      ],
    };
  },
};
