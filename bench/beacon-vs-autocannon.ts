/**
 * beacon-vs-autocannon: how many transactions per second one tpslab beacon
 * submits, with its full per-transaction tracking, next to autocannon (one
 * process, HTTP pipelining) posting the same kind of batch to the same
 * endpoint in the same run.
 *
 * The endpoint is a sink (bench/sink-server.ts, a child process so its CPU is
 * not ours): it answers every batch "all pending" without decoding it, and
 * serves the head, account and commit-stream routes a beacon uses.
 *
 *  1. Beacon: a real `Beacon` (src/harness/beacon.ts) in this process, given an
 *     `assign` as the overseer builds one: open mode, BATCH per request, and a
 *     schedule far denser than a beacon can send (TXS intended within
 *     SPREAD_MS), so it sends flat out for DURATION_S; then beacon.stop().
 *     Signing TXS transfers would take minutes, so POOL are signed and their
 *     bytes put in the beacon's ledger before the start (it signs only what
 *     has no bytes): during the run it does exactly what it does in presign
 *     mode. Nothing ever commits at a sink, so every transaction is marked lost
 *     LOST_AFTER_MS after its intended time. Rate = the growth of the `sent`
 *     count of its per-second `progress` reports (through the `send`
 *     callback) from the first report to the last before it ran out.
 *  2. autocannon (in this process too): POST /v1/txs with one pre-encoded
 *     batch of BATCH of those signed transfers, CONNECTIONS connections ×
 *     PIPELINING, for DURATION_S after a WARMUP_S run; transactions/s = 2xx
 *     answers/s × BATCH.
 * The CPU of this process and of the sink is read over both windows.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { createBeacon } from '../src/harness/beacon-process.js';
import { PROTOCOL_VERSION, parseOverseerMessage, type Assign, type BeaconMessage, type DoneMessage } from '../src/harness/messages.js';
import { encodeBatch } from '../src/protocol/batch.js';
import { keyPairFromLabel, signTx } from '../src/protocol/signing.js';
import type { BenchContext, BenchResult, Benchmark } from './contract.js';
import { sleep } from './lib/common.js';
import { procCpuSeconds, selfCpuSeconds } from './lib/proc-cpu.js';

const NETWORK = 'tpslab-dev-sink0000';
/**
 * Transactions the beacon is given, and the span of their intended send times:
 * far more, far sooner, than it can send in DURATION_S, so it sends flat out.
 */
const TXS = 32_000_000;
/**
 * 16,000 intended a millisecond, as when TXS was 16 M within 1 s: every transaction has the same
 * intended time as then (a beacon at 5 M tx/s sent 16 M within 3.2 s, too soon to measure).
 */
const SPREAD_MS = 2_000;
/** Transfers really signed (signing TXS would take minutes); the beacon sends them cyclically. */
const POOL = 4_000;
const ACCOUNTS = 1_000;
const BATCH = 200;
/** Confirmation timeout given to the beacon: how long after its intended time a transaction counts as lost. */
const LOST_AFTER_MS = 1_000;
const CONNECTIONS = 16;
const PIPELINING = 4;
const DURATION_S = 4;
const WARMUP_S = 1;

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number; average: number };
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult> & { stop(): void };
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** Starts the sink in a child process; resolves with its URL. */
function startSink(): Promise<{ child: ChildProcess; url: string }> {
  const path = fileURLToPath(new URL('./sink-server.js', import.meta.url));
  const child = fork(path, [NETWORK], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sink did not start within 10 s')), 10_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve({ child, url: (m as { url: string }).url });
    });
    child.once('exit', (code) => reject(new Error(`the sink exited (${code}) while starting`)));
  });
}

const KEY_SEED = `tpslab:${NETWORK}:1`;

function assignFor(url: string): Assign {
  const offsetsMs = new Float64Array(TXS);
  const senders = new Uint32Array(TXS);
  const targets = new Uint32Array(TXS);
  for (let i = 0; i < TXS; i++) {
    offsetsMs[i] = (i * SPREAD_MS) / TXS;
    senders[i] = i % ACCOUNTS;
    targets[i] = (i + 1) % ACCOUNTS;
  }
  // Checked like any message from the overseer.
  const m = parseOverseerMessage({
    v: PROTOCOL_VERSION,
    type: 'assign',
    runId: 'bench-beacon-vs-autocannon',
    beacon: 0,
    connector: {
      kind: 'tpslab',
      config: {
        network: NETWORK,
        endpoints: [url],
        keySeed: KEY_SEED,
        accounts: { start: 0, end: ACCOUNTS },
        freshAccounts: true,
        workload: { kind: 'transfer', amount: 1, fee: 0 },
        fromHeight: 0,
        // The same requests in flight as autocannon's (CONNECTIONS × PIPELINING).
        connections: CONNECTIONS,
        pipelining: PIPELINING,
      },
    },
    accounts: { start: 0, end: ACCOUNTS },
    sign: 'live',
    mode: 'open',
    offsetsMs,
    senders,
    targets,
    maxDurationMs: 0,
    maxInFlight: TXS,
    batchMax: BATCH,
    batchDelayMs: 5,
    confirmation: { method: 'stream', timeoutMs: LOST_AFTER_MS, retries: 0, pollIntervalMs: 500 },
    collectOutcomes: false,
  } satisfies Assign);
  if (m.type !== 'assign') throw new Error('not an assign message');
  return m;
}

interface Phase {
  txPerSec: number;
  /** This process's CPU over the phase, in cores. */
  selfCores: number;
  /** Transactions per CPU-second of this process. */
  txPerCpuSec: number;
  sinkCores: number;
}

/** POOL transfers really signed for the beacon's accounts, to be reused cyclically. */
function signPool(): { bytes: Buffer[]; ids: string[] } {
  const bytes: Buffer[] = [];
  const ids: string[] = [];
  const keys = Array.from({ length: ACCOUNTS }, (_, k) => keyPairFromLabel(`${KEY_SEED}:${k}`));
  for (let i = 0; i < POOL; i++) {
    const from = keys[i % ACCOUNTS]!;
    const to = keys[(i + 1) % ACCOUNTS]!;
    const nonce = BigInt(Math.floor(i / ACCOUNTS));
    const tx = signTx({ kind: 'transfer', nonce, fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [from], NETWORK);
    bytes.push(tx.bytes);
    ids.push(tx.id.toString('hex'));
  }
  return { bytes, ids };
}

interface Sample {
  at: number;
  sent: number;
  self: number;
  sink: number;
  /** performance.eventLoopUtilization() then. */
  elu: EventLoopUtilization;
}

async function beaconPhase(url: string, sinkPid: number, ctx: BenchContext): Promise<Phase & { sample: Buffer[]; notes: string[] }> {
  const notes: string[] = [];
  const samples: Sample[] = [];
  let done: DoneMessage | undefined;
  const assign = assignFor(url);
  const beacon = createBeacon(assign, (m: BeaconMessage) => {
    if (m.type === 'progress') samples.push({ at: performance.now(), sent: m.sent, self: selfCpuSeconds(), sink: procCpuSeconds(sinkPid), elu: performance.eventLoopUtilization() });
    else if (m.type === 'done') done = m;
    else if (m.type === 'error') notes.push(`beacon error ${m.code}: ${m.message}`);
  });
  try {
    const t0 = performance.now();
    const pool = signPool();
    // Pre-signed bytes instead of signing, so the beacon sends as in presign mode: its connector
    // builds from the pool (the beacon lays its plan out lazily, so there is no whole ledger to fill).
    // The pool's own objects, shared: millions of per-transaction copies would be the bench's garbage, not the beacon's.
    const built = pool.ids.map((id, k) => ({ id, payload: pool.bytes[k]! }));
    beacon.connector.build = (tx) => built[tx.index % POOL]!;
    await beacon.prepare(); // sign "live": nothing signed here
    ctx.log(`beacon ready in ${(performance.now() - t0).toFixed(0)} ms: ${TXS} transfers (${POOL} signed, reused), intended within ${SPREAD_MS} ms; measuring for ${DURATION_S} s`);
    const startMs = Date.now() + 100;
    beacon.start(startMs);
    await sleep(startMs - Date.now() + DURATION_S * 1000 + 300, ctx.signal);
    await beacon.stop();
    if (ctx.signal.aborted) throw ctx.signal.reason;
    // Whole seconds after the first, until the plan ran out: the steady rate.
    const steady = samples.filter((x) => x.sent < TXS);
    if (steady.length < 3) throw new Error(`the beacon sent its ${TXS} transactions too soon to measure (within ${steady.length} s): raise TXS`);
    const first = steady[0]!;
    const last = steady.at(-1)!;
    const s = (last.at - first.at) / 1000;
    const d = done as DoneMessage | undefined;
    ctx.log(`beacon: ${last.sent - first.sent} sent in ${s.toFixed(2)} s (seconds 1–${steady.length}); ${d?.sent ?? '?'} sent in all, ${d?.lost ?? '?'} marked lost, ${d?.committed ?? '?'} committed`);
    if (steady.length < samples.length) notes.push(`the beacon sent all ${TXS} transactions within ${DURATION_S} s: measured over ${steady.length} s`);
    // Busy near 100% with less than a core of CPU: the scheduler (other processes) held it back; busy well below: it waited on answers.
    const busy = performance.eventLoopUtilization(last.elu, first.elu).utilization;
    notes.push(`the beacon's event loop was busy ${(busy * 100).toFixed(0)}% of its window (idle = waiting for answers)`);
    return {
      txPerSec: (last.sent - first.sent) / s,
      selfCores: (last.self - first.self) / s,
      txPerCpuSec: (last.sent - first.sent) / (last.self - first.self),
      sinkCores: (last.sink - first.sink) / s,
      sample: pool.bytes.slice(0, BATCH),
      notes,
    };
  } finally {
    await beacon.stop();
  }
}

async function autocannonPhase(url: string, sinkPid: number, body: Buffer, seconds: number): Promise<Phase & { result: AutocannonResult }> {
  const opts = { url: `${url}/v1/txs`, method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body, connections: CONNECTIONS, pipelining: PIPELINING, duration: seconds };
  const sink0 = procCpuSeconds(sinkPid);
  const self0 = selfCpuSeconds();
  const result = await autocannon(opts);
  const selfCpu = selfCpuSeconds() - self0;
  const sinkCpu = procCpuSeconds(sinkPid) - sink0;
  const ok = result.requests.total - result.non2xx;
  const tx = ok * BATCH;
  return { txPerSec: tx / result.duration, selfCores: selfCpu / result.duration, txPerCpuSec: tx / selfCpu, sinkCores: sinkCpu / result.duration, result };
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const notes: string[] = [];
  const sink = await startSink();
  try {
    const pid = sink.child.pid!;
    const b = await beaconPhase(sink.url, pid, ctx);
    notes.push(...b.notes);
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const body = encodeBatch(b.sample);
    await autocannonPhase(sink.url, pid, body, WARMUP_S); // warms autocannon's path and the sink's answer for this size
    const a = await autocannonPhase(sink.url, pid, body, DURATION_S);
    const r = a.result;
    if (r.errors || r.non2xx || r.timeouts) notes.push(`autocannon: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx answers`);
    ctx.log(`autocannon: ${r.requests.total} requests of ${BATCH} transactions in ${r.duration.toFixed(2)} s (${body.length}-byte bodies)`);
    notes.push(
      `this process used ${(b.selfCores * 100).toFixed(0)}% of a core for the beacon and ${(a.selfCores * 100).toFixed(0)}% for autocannon; ` +
        `the sink ${(b.sinkCores * 100).toFixed(0)}% and ${(a.sinkCores * 100).toFixed(0)}%. A side near 100% is what limited that phase`,
    );
    notes.push(
      'autocannon reads no answer and tracks nothing; the beacon reads each answer (only its head when the whole batch was taken, in full otherwise) and keeps every transaction’s state, schedule-lag histogram and loss timer ' +
        '(nothing commits at a sink, so the commit matching and latency recording of a real run are not in its figure)',
    );
    return {
      rows: [
        { metric: `beacon submitted tx/s (open mode, batches of ${BATCH}, ${CONNECTIONS} connections × pipelining ${PIPELINING}, full tracking)`, value: b.txPerSec, unit: 'tx/s' },
        { metric: `autocannon tx/s (${CONNECTIONS} connections × pipelining ${PIPELINING}, batches of ${BATCH})`, value: a.txPerSec, unit: 'tx/s' },
        { metric: 'autocannon requests/s', value: (r.requests.total - r.non2xx) / r.duration, unit: 'req/s' },
        { metric: 'beacon tx per CPU-second of this process', value: b.txPerCpuSec, unit: 'tx/CPU-s' },
        { metric: 'autocannon tx per CPU-second of this process', value: a.txPerCpuSec, unit: 'tx/CPU-s' },
      ],
      ratios: [
        { label: 'beacon tx/s ÷ autocannon tx/s', value: b.txPerSec / a.txPerSec, note: 'what one beacon’s bookkeeping costs in send rate against a bare HTTP load tool (1.0 = as fast)' },
        { label: 'same per CPU-second of the load generator', value: b.txPerCpuSec / a.txPerCpuSec, note: 'work per transaction compared, not wall time: the steadier figure on a shared machine' },
      ],
      notes,
    };
  } finally {
    sink.child.kill('SIGTERM');
  }
}

export const beaconVsAutocannon: Benchmark = {
  name: 'beacon-vs-autocannon',
  description: 'one beacon’s submitted tx/s with full tracking next to autocannon against the same sink',
  timeoutMs: 60_000,
  run,
};
