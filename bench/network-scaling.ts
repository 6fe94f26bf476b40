/**
 * network-scaling: committed transfers per second of a whole reference
 * network (tracker + sequencer + n nodes, fsync on) for n = 1, 3 and 5 on this
 * machine, with the CPU seconds each role spends per 1,000 committed
 * transfers, and the ratios between them.
 *
 * Procedure:
 *  0. one genesis and faucet for every network (written into each network's
 *     directory before `netUp`, which keeps an existing genesis), so the
 *     transfers are signed once, before any clock runs;
 *  1. per n: `netUp` in a temp dir, fund the senders from the faucet named in
 *     network.json, wait until every node has the funding block, then pump a
 *     warm-up set (every sender's first WARMUP_NONCES nonces) the same way as
 *     below, unmeasured, and wait for every node to apply it: the measured
 *     window sees processes past their start-up (JIT compilation, first key
 *     parses, pools filling), as a network does after its first seconds;
 *  2. pump the transfers as binary batches to the nodes' POST /v1/txs,
 *     round-robin over all n nodes, a few requests in flight, per-sender nonce
 *     order kept (nonce k+1 of a sender only once nonce k was accepted), while
 *     the sequencer's /stats (tx.committed) is polled: the window runs from the
 *     first request to the poll that sees everything accepted committed;
 *  3. CPU (utime + stime from /proc/<pid>/stat) of every process from before
 *     the first request until every node has applied the last block, divided
 *     by the committed transfers.
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { readKeyFile, writeKeyFile } from '../src/client/key-file.js';
import { NodeClient } from '../src/client/node-client.js';
import type { GenesisJson } from '../src/ledger/genesis.js';
import { netUp, stopProcesses, type NetworkFile } from '../src/ledger/net.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../src/protocol/signing.js';
import type { TxBody } from '../src/protocol/tx.js';
import { fund, tempDir, testAccounts } from '../test/testkit/index.js';
import type { BenchContext, BenchRatio, BenchResult, BenchRow, Benchmark } from './contract.js';
import { getStats, sleep, tmpfsNote } from './lib/common.js';
import { procCpuMany } from './lib/proc-cpu.js';
import { measureVerifyThreads } from './lib/verify.js';
import { pumpAndWatch, type PumpOptions } from './lib/pump.js';

/** Network sizes in order: 1, 3, 5, then back (5, 3, 1) while the budget allows, so drift in the machine's load cancels. */
const PLAN: readonly number[] = [1, 3, 5, 5, 3, 1];
/** Another pass starts only if, judged by the slowest so far, it ends within this since the start. */
const BUDGET_MS = 75_000;
/** Senders × nonces = transfers measured per network. SENDERS / PUMP.batch requests make one nonce "wave". */
const SENDERS = 2_000;
const NONCES = 20;
/** Nonces per sender pumped first, unmeasured, into each new network (its warm-up). */
const WARMUP_NONCES = 10;
const FUNDING = 1_000n;
export const NETWORK = 'tpslab-dev-benchnet';
/** One nonce wave (SENDERS transfers) unconfirmed at most, spread over the nodes. */
const PUMP: PumpOptions = { batch: 400, maxInFlight: SENDERS, deadlineMs: 25_000, maxAttempts: 50 };
/** From the first request, how long to wait for everything accepted to commit at the sequencer. */
const COMMIT_DEADLINE_MS = 35_000;
const STATS_POLL_MS = 20;
/** How long nodes get to reach the sequencer's head (after funding, after the window). */
const CATCH_UP_MS = 10_000;
/** Each multi-thread Ed25519 baseline runs this long. */
const VERIFY_MS = 1_500;

export interface Shared {
  genesisText: string;
  faucet: KeyPair;
  accounts: KeyPair[];
  /** txs[sender * nonces + k] (nonce warmup.nonces + k), signed for NETWORK, and their ids (hex). */
  txs: Buffer[];
  ids: string[];
  senders: number;
  nonces: number;
  /** Each sender's first nonces, pumped unmeasured before the window (laid out as txs); absent: no warm-up. */
  warmup?: { txs: Buffer[]; ids: string[]; nonces: number };
}

export interface PassResult {
  nodes: number;
  /** Passes summed into this one (see combine). */
  passes: number;
  accepted: number;
  committed: number;
  windowMs: number;
  /** CPU seconds over the measurement: sequencer, each node, tracker, this process. */
  seqCpu: number;
  nodeCpu: number[];
  trackerCpu: number;
  clientCpu: number;
  /** Cores all processes (and this one) used over each pass's window. */
  cores: number[];
  notes: string[];
  /** The warm-up (fresh processes): transfers committed and the network's CPU seconds (sequencer, tracker, nodes) over it. */
  warmCommitted?: number;
  warmNetworkCpu?: number;
  /** process.hrtime (CLOCK_MONOTONIC, the clock of CPU profiles) in µs around the CPU measurement: to cut profiles to it. */
  monoUs?: [number, number];
}

export const tps = (p: PassResult) => (p.committed / p.windowMs) * 1000;
export const per1k = (cpu: number, p: PassResult) => (cpu / p.committed) * 1000;
const sum = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0);
/** Sequencer, nodes and tracker: every process of the network (not the bench client). */
const networkCpu = (p: PassResult) => p.seqCpu + sum(p.nodeCpu) + p.trackerCpu;

function combine(ps: PassResult[]): PassResult {
  return ps.slice(1).reduce(
    (a, p) => ({
      nodes: a.nodes,
      passes: a.passes + 1,
      accepted: a.accepted + p.accepted,
      committed: a.committed + p.committed,
      windowMs: a.windowMs + p.windowMs,
      seqCpu: a.seqCpu + p.seqCpu,
      nodeCpu: a.nodeCpu.map((c, i) => c + p.nodeCpu[i]!),
      trackerCpu: a.trackerCpu + p.trackerCpu,
      clientCpu: a.clientCpu + p.clientCpu,
      cores: [...a.cores, ...p.cores],
      notes: [...a.notes, ...p.notes],
      warmCommitted: (a.warmCommitted ?? 0) + (p.warmCommitted ?? 0),
      warmNetworkCpu: (a.warmNetworkCpu ?? 0) + (p.warmNetworkCpu ?? 0),
    }),
    ps[0]!,
  );
}

export function prepare(ctx: Pick<BenchContext, 'log'>, senders = SENDERS, nonces = NONCES, warmupNonces = WARMUP_NONCES): Shared {
  const faucet = keyPairFromLabel('bench-net-faucet');
  const genesis: GenesisJson = {
    network: NETWORK,
    timestampMs: Date.now(),
    params: { minFee: '0', maxPayloadBytes: 4096 },
    faucet: faucet.address,
    accounts: [{ address: faucet.address, balance: (10n ** 18n).toString() }],
  };
  const t0 = performance.now();
  const accounts = testAccounts('bench-net', senders);
  /** Every sender's nonces first … first + count - 1, laid out as txs[sender * count + k]. */
  const sign = (first: number, count: number) => {
    const txs: Buffer[] = new Array<Buffer>(senders * count);
    const ids: string[] = new Array<string>(senders * count);
    accounts.forEach((from, s) => {
      const to = accounts[(s + 1) % senders]!;
      for (let k = 0; k < count; k++) {
        const body: TxBody = { kind: 'transfer', nonce: BigInt(first + k), fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] };
        const tx = signTx(body, [from], NETWORK);
        txs[s * count + k] = tx.bytes;
        ids[s * count + k] = tx.id.toString('hex');
      }
    });
    return { txs, ids, nonces: count };
  };
  const warmup = warmupNonces > 0 ? sign(0, warmupNonces) : undefined;
  const { txs, ids } = sign(warmupNonces, nonces);
  ctx.log(
    `pre-signed ${txs.length + (warmup?.txs.length ?? 0)} transfers (${senders} senders × ${warmupNonces > 0 ? `${warmupNonces} warm-up + ` : ''}${nonces} measured nonces) in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  return { genesisText: `${JSON.stringify(genesis, null, 2)}\n`, faucet, accounts, txs, ids, senders, nonces, warmup };
}

/** Waits (bounded) until every node's head is at least the sequencer's; false if the time ran out. */
async function nodesCaughtUp(net: NetworkFile, signal: AbortSignal): Promise<boolean> {
  const deadline = performance.now() + CATCH_UP_MS;
  const target = (await new NodeClient(net.sequencer.url).head()).height;
  while (performance.now() < deadline && !signal.aborted) {
    const heights = await Promise.all(net.nodes.map((n) => new NodeClient(n.url).head().then((h) => h.height)));
    if (heights.every((h) => h >= target)) return true;
    await sleep(20, signal);
  }
  return false;
}

/** Which build runs the network: this one's, or another checkout's `dist/src/ledger/net.js` (A/B runs, net-cpu-ab.ts). */
export interface NetLauncher {
  netUp: typeof netUp;
  stopProcesses: typeof stopProcesses;
}

/** Called around the measured window with the network's pids (sequencer, tracker, nodes): e.g. to run `perf record` on them. */
export interface WindowHooks {
  start(pids: readonly number[]): void | Promise<void>;
  end(): void | Promise<void>;
}

export async function networkPass(
  n: number,
  shared: Shared,
  ctx: Pick<BenchContext, 'log' | 'signal'>,
  launcher: NetLauncher = { netUp, stopProcesses },
  hooks?: WindowHooks,
): Promise<PassResult> {
  const tag = `${n} node${n === 1 ? '' : 's'}`;
  const notes: string[] = [];
  const dir = await tempDir('tpslab-bench-net-');
  let net: NetworkFile | undefined;
  try {
    // netUp keeps a genesis already in its directory: ours, so the pre-signed transfers fit.
    await writeFile(join(dir.path, 'genesis.json'), shared.genesisText);
    await writeKeyFile(join(dir.path, 'faucet.key.json'), shared.faucet);
    net = await launcher.netUp({ dir: dir.path, nodes: n });
    if (net.network !== NETWORK) throw new Error(`network runs ${net.network}, expected ${NETWORK}`);
    const faucet = await readKeyFile(net.faucetKey);
    const urls = net.nodes.map((x) => x.url);
    await fund(new NodeClient(urls[0]!), faucet, shared.accounts, FUNDING);
    if (!(await nodesCaughtUp(net, ctx.signal))) notes.push(`${tag}: not every node had the funding block within ${CATCH_UP_MS / 1000} s`);

    // More transfers than the bench's own (net-cpu-ab.ts --nonces) get proportionally longer deadlines.
    const scale = Math.max(1, shared.txs.length / (SENDERS * NONCES));
    const pumpOptions: PumpOptions = { ...PUMP, deadlineMs: PUMP.deadlineMs * scale };
    const commitDeadlineMs = COMMIT_DEADLINE_MS * scale;
    const seqUrl = net.sequencer.url;
    const pids = [net.sequencer.pid, net.tracker.pid, ...net.nodes.map((x) => x.pid)];
    let warmCommitted: number | undefined;
    let warmNetworkCpu: number | undefined;
    if (shared.warmup) {
      // Unmeasured: the same load, so the window below starts on warm processes.
      const w = shared.warmup;
      const warmBefore = await getStats(seqUrl, ctx.signal);
      const warmCpu0 = procCpuMany(pids);
      const warm = await pumpAndWatch({
        statsUrl: seqUrl,
        before: warmBefore,
        urls,
        network: NETWORK,
        ...w,
        senders: shared.senders,
        signal: ctx.signal,
        pump: PUMP,
        commitDeadlineMs: COMMIT_DEADLINE_MS,
        pollMs: STATS_POLL_MS,
      });
      if (Number.isNaN(warm.completeAt) || warm.p.accepted < w.txs.length) {
        notes.push(`${tag}: the warm-up committed ${warm.last.tx.committed - warmBefore.tx.committed} of ${w.txs.length} transfers; the window's later nonces may wait for them`);
      }
      if (!(await nodesCaughtUp(net, ctx.signal))) notes.push(`${tag}: not every node applied the warm-up within ${CATCH_UP_MS / 1000} s`);
      warmNetworkCpu = sum(procCpuMany(pids).map((c, i) => c - warmCpu0[i]!));
      warmCommitted = warm.last.tx.committed - warmBefore.tx.committed;
    }
    await hooks?.start(pids);
    const before = await getStats(seqUrl, ctx.signal);
    const cpu0 = procCpuMany(pids);
    const mono0 = Number(process.hrtime.bigint() / 1000n);
    const self0 = process.cpuUsage();
    const w = await pumpAndWatch({
      statsUrl: seqUrl,
      before,
      urls,
      network: NETWORK,
      txs: shared.txs,
      ids: shared.ids,
      senders: shared.senders,
      nonces: shared.nonces,
      signal: ctx.signal,
      pump: pumpOptions,
      commitDeadlineMs,
      pollMs: STATS_POLL_MS,
    });
    const complete = !Number.isNaN(w.completeAt);
    const windowMs = (complete ? w.completeAt : performance.now()) - w.p.firstSendMs;
    // CPU counts the nodes' work on the last blocks too: read it once every node has applied them.
    if (!(await nodesCaughtUp(net, ctx.signal))) notes.push(`${tag}: not every node reached the sequencer's head within ${CATCH_UP_MS / 1000} s after the window`);
    const cpu1 = procCpuMany(pids);
    const mono1 = Number(process.hrtime.bigint() / 1000n);
    await hooks?.end();
    const self = process.cpuUsage(self0);
    const cpu = cpu1.map((c, i) => c - cpu0[i]!);
    const committed = w.last.tx.committed - before.tx.committed;
    const failed = w.last.tx.failed - before.tx.failed;
    if (w.p.timedOut) notes.push(`${tag}: pumping hit its ${pumpOptions.deadlineMs / 1000} s deadline with ${shared.txs.length - w.p.accepted} transfers not accepted`);
    if (!complete) notes.push(`${tag}: only ${committed} of ${w.p.accepted} accepted transfers committed within ${commitDeadlineMs / 1000} s`);
    if (failed > 0) notes.push(`${tag}: ${failed} accepted transfers failed: ${JSON.stringify(w.last.tx.failedByCode)}`);
    if (Object.keys(w.p.rejected).length > 0) notes.push(`${tag}: refused for good: ${JSON.stringify(w.p.rejected)} `);
    if (w.p.lost > 0) notes.push(`${tag}: ${w.p.lost} transfers sent were never seen committed or failed (lost)`);
    if (cpu.some((c) => Number.isNaN(c))) notes.push(`${tag}: a process was gone before its CPU time could be read`);
    const r: PassResult = {
      nodes: n,
      passes: 1,
      accepted: w.p.accepted,
      committed,
      windowMs,
      seqCpu: cpu[0]!,
      trackerCpu: cpu[1]!,
      nodeCpu: cpu.slice(2),
      clientCpu: (self.user + self.system) / 1e6,
      cores: [],
      notes,
      warmCommitted,
      warmNetworkCpu,
      monoUs: [mono0, mono1],
    };
    const allCores = (sum(cpu) + r.clientCpu) / (windowMs / 1000);
    r.cores.push(allCores);
    ctx.log(
      `${tag}: ${committed} committed in ${windowMs.toFixed(0)} ms = ${Math.round(tps(r))} tx/s; CPU-s per 1k tx: sequencer ${per1k(r.seqCpu, r).toFixed(3)}, ` +
        `nodes ${r.nodeCpu.map((c) => per1k(c, r).toFixed(3)).join('/')}, tracker ${per1k(r.trackerCpu, r).toFixed(4)}, client ${per1k(r.clientCpu, r).toFixed(3)} ` +
        `(all processes ≈ ${allCores.toFixed(2)} cores over the window)`,
    );
    return r;
  } finally {
    if (net) {
      await launcher.stopProcesses(net.nodes).catch(() => undefined);
      await launcher.stopProcesses([net.sequencer, net.tracker]).catch(() => undefined);
    }
    await dir.remove().catch(() => undefined);
  }
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const notes: string[] = [];
  const tmpfs = await tmpfsNote();
  if (tmpfs) notes.push(tmpfs);
  const started = performance.now();
  const shared = prepare(ctx);
  // Issue 15's yardstick: what all the machine's cores verify (one thread each), before and after the passes.
  const threads = availableParallelism();
  const verifyBefore = await measureVerifyThreads(NETWORK, threads, VERIFY_MS);
  const all: PassResult[] = [];
  let slowest = 0;
  for (const [i, n] of PLAN.entries()) {
    if (ctx.signal.aborted) break;
    if (i >= 3 && performance.now() - started + slowest * 1.25 > BUDGET_MS) {
      notes.push(`ran ${i} of ${PLAN.length} passes (${PLAN.slice(0, i).join(', ')} nodes): another would overrun the ${BUDGET_MS / 1000} s budget`);
      break;
    }
    const t = performance.now();
    all.push(await networkPass(n, shared, ctx));
    slowest = Math.max(slowest, performance.now() - t);
  }
  const verifyAfter = await measureVerifyThreads(NETWORK, threads, VERIFY_MS);
  const verifyPerSecond = (verifyBefore.perSecond + verifyAfter.perSecond) / 2;
  const verifyPerCpuSecond = (verifyBefore.perCpuSecond + verifyAfter.perCpuSecond) / 2;
  // One figure per size: transfers and CPU summed over its passes (so rates are weighted by time).
  const passes = [...new Set(all.map((p) => p.nodes))].sort((a, b) => a - b).map((n) => combine(all.filter((p) => p.nodes === n)));
  const rows: BenchRow[] = [
    { metric: 'transfers per network', value: shared.txs.length, unit: 'tx' },
    { metric: `Ed25519 verifications/s, ${threads} threads`, value: verifyPerSecond, unit: 'verify/s' },
    { metric: 'Ed25519 verifications per CPU-second', value: verifyPerCpuSecond, unit: 'verify/CPU-s' },
  ];
  for (const p of passes) {
    const tag = `${p.nodes} node${p.nodes === 1 ? '' : 's'}${p.passes > 1 ? `, ${p.passes} passes` : ''}`;
    rows.push(
      { metric: `committed TPS at the sequencer (${tag})`, value: tps(p), unit: 'tx/s' },
      { metric: `sequencer CPU per 1k tx (${tag})`, value: per1k(p.seqCpu, p), unit: 'CPU-s' },
      { metric: `node CPU per 1k tx, mean per node (${tag})`, value: per1k(sum(p.nodeCpu) / p.nodes, p), unit: 'CPU-s' },
      { metric: `node CPU per 1k tx, all nodes (${tag})`, value: per1k(sum(p.nodeCpu), p), unit: 'CPU-s' },
      { metric: `tracker CPU per 1k tx (${tag})`, value: per1k(p.trackerCpu, p), unit: 'CPU-s' },
      { metric: `whole network CPU per 1k tx (${tag})`, value: per1k(networkCpu(p), p), unit: 'CPU-s' },
      { metric: `bench client CPU per 1k tx (${tag})`, value: per1k(p.clientCpu, p), unit: 'CPU-s' },
    );
    notes.push(...p.notes);
  }
  const ratios: BenchRatio[] = [];
  const three = passes.find((p) => p.nodes === 3);
  if (three) {
    ratios.push(
      {
        label: `committed TPS, 3 nodes ÷ Ed25519 verifications/s on ${threads} threads`,
        value: tps(three) / verifyPerSecond,
        note: `issue 15's goal is at least 0.5: the network commits half of what the machine's ${threads} cores could only verify (measured before and after the passes, ${verifyBefore.perSecond.toFixed(0)} and ${verifyAfter.perSecond.toFixed(0)}/s); moves with other load on the machine`,
      },
      {
        label: 'same per CPU-second: verification CPU ÷ whole-network CPU per transfer, 3 nodes',
        value: 1 / verifyPerCpuSecond / (networkCpu(three) / three.committed),
        note: 'the share of the network\'s work that is the one signature check per transfer: the ratio above as it would be with every core for the network (the bench client excluded); steadier on a shared machine',
      },
    );
    if (three.warmCommitted && three.warmNetworkCpu) {
      rows.push({ metric: 'whole network CPU per 1k tx during the warm-up (3 nodes, fresh processes)', value: (three.warmNetworkCpu / three.warmCommitted) * 1000, unit: 'CPU-s' });
      ratios.push({
        label: 'same per CPU-second over the warm-up: the first transfers of a fresh 3-node network',
        value: 1 / verifyPerCpuSecond / (three.warmNetworkCpu / three.warmCommitted),
        note: 'what a network just started reaches: its processes are still compiling their hot code and parsing each sender\'s key for the first time; not issue 15\'s figure, which is the steady state above',
      });
    }
  }
  const one = passes.find((p) => p.nodes === 1);
  for (const p of passes) {
    if (!one || p === one) continue;
    ratios.push({
      label: `committed TPS ${p.nodes} nodes ÷ 1 node`,
      value: tps(p) / tps(one),
      note: `on a machine with few cores ${p.nodes + 2} processes share the same cores: this shows what replication costs here, not how the design scales (see the note on cores used)`,
    });
  }
  for (const p of passes) {
    if (!one || p === one) continue;
    ratios.push({
      label: `whole network CPU-s per 1k tx, ${p.nodes} nodes ÷ 1 node`,
      value: per1k(networkCpu(p), p) / per1k(networkCpu(one), one),
      note: 'the same cost in work rather than wall time: what each extra replica adds per transfer; steadier than the TPS ratio when other load takes the cores',
    });
  }
  for (const p of passes) {
    ratios.push({
      label: `sequencer CPU-s per 1k tx ÷ node CPU-s per 1k tx, mean per node (${p.nodes} node${p.nodes === 1 ? '' : 's'})`,
      value: p.seqCpu / (sum(p.nodeCpu) / p.nodes),
      note: 'the sequencer checks no signatures; each node verifies the transfers sent to it (1/n of them) and applies every block',
    });
  }
  notes.push(
    `cores used by all processes over each window: ${passes.map((p) => `${p.nodes} node${p.nodes === 1 ? '' : 's'} ${p.cores.map((c) => c.toFixed(2)).join('/')}`).join(', ')} ` +
      `(this machine has ${availableParallelism()}). One node is bound by its single JavaScript thread, which verifies every signature; with more nodes the checks spread over more processes, ` +
      'so with 2 cores 3 nodes can beat 1, and with more nodes than cores the extra copies of every block cost more than that spreading gains: expect ratios ≤ 1 once the cores are full',
  );
  notes.push('every node applies and logs every block while only the nodes that received a transfer verify it: total node CPU per transfer grows with n, the share per node falls');
  return { rows, ratios, notes };
}

export const networkScaling: Benchmark = {
  name: 'network-scaling',
  description: 'committed TPS of 1/3/5-node networks, with CPU-s per 1k tx per role',
  // The first three passes always run (about 45 s on a quiet machine, signing included); a loaded machine takes longer.
  timeoutMs: 180_000,
  run,
};
