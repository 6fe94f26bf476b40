/**
 * latency-half-max: issue 15's "p99 commit latency under 250 ms at half of the network's
 * maximum rate", on the default scenario's network (embedded, 3 nodes, 2 beacons).
 *
 *  1. Max: `load.mode: max` for MAX_S with MAX_IN_FLIGHT unconfirmed; its average committed
 *     TPS is the network's maximum here.
 *  2. Half: open model, a constant rate of half that maximum (presigned, uniform arrivals): first
 *     WARM_S on the fresh network, unmeasured for the goal (its p99 is printed as the cold figure),
 *     then HALF_S on the same, now warm, network. p99 of commit latency from the intended send time
 *     (corrected: a beacon that falls behind is charged for it) of that second run is divided by
 *     250 ms. (Before 29 Nov 22:20 UTC the measured run was the fresh network's first 20 s: its first
 *     2-3 s, processes not yet compiled, carried p99s of 360-520 ms and set the run's p99.)
 *  3. Floor: the same at FLOOR_RATE_PER_SEC for FLOOR_S, where nothing queues: what the
 *     intervals alone cost (beacon batch delay, node→sequencer forwarding, block interval,
 *     fsync, the commit stream).
 * Each run starts its own network (`netUp`, as the embedded target does) and runs the scenario on it
 * (`runScenario` with `target.network`), so bench/lib/stage-probe.ts can read every role's metrics
 * meanwhile: each stage's p50/p99 (`tpslab_stage_seconds`, docs/metrics.md), sealed → seen on the
 * commit stream, and each role's event-loop delay. TPSLAB_BENCH_HALF_RATE=N runs the half-rate
 * stage at N tx/s without the max run (to compare commits at one rate). The sequencer's block
 * interval and the beacons' batch delay are the scenario's defaults unless
 * TPSLAB_BENCH_BLOCK_INTERVAL_MS / TPSLAB_BENCH_BATCH_DELAY_MS say otherwise (for tuning them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOOP_DELAY_ENV } from '../src/harness/beacon-process.js';
import { runScenario, type RunSummary } from '../src/harness/overseer.js';
import { defaultScenario, validateScenario, type Scenario } from '../src/harness/scenario.js';
import { netUp, stopProcesses, type NetworkFile } from '../src/ledger/net.js';
import type { BenchContext, BenchResult, BenchRow, Benchmark } from './contract.js';
import { envNumber } from './lib/common.js';
import { StageProbe, type ProbeResult } from './lib/stage-probe.js';

const MAX_S = 10;
const MAX_IN_FLIGHT = 2_000;
const HALF_S = 20;
const WARM_S = 10;
const FLOOR_S = 8;
const FLOOR_RATE_PER_SEC = 100;
const GOAL_P99_MS = 250;
const PROGRESS_EVERY_MS = 5_000;

function scenario(load: Record<string, unknown>, name: string, db: string, network?: string): Scenario {
  const base = defaultScenario();
  const blockIntervalMs = envNumber('TPSLAB_BENCH_BLOCK_INTERVAL_MS');
  const batchDelayMs = envNumber('TPSLAB_BENCH_BATCH_DELAY_MS');
  return validateScenario(
    {
      ...base,
      name,
      target: network ? { kind: 'tpslab', network } : { ...base.target, ...(blockIntervalMs !== undefined ? { blockIntervalMs } : {}) },
      beacons: { ...base.beacons, ...(batchDelayMs !== undefined ? { batchDelayMs } : {}) },
      load: { ...base.load, ...load },
      thresholds: [],
      results: { db, outcomes: false },
    },
    'bench latency-half-max scenario',
  );
}

/**
 * One run; started again once if the network could not be reached while funding its accounts
 * (seen on a heavily shared machine: UND_ERR_SOCKET from a node during provisioning).
 */
async function run1(ctx: BenchContext, load: Record<string, unknown>, name: string, notes: string[], warmup?: Record<string, unknown>): Promise<Measured> {
  try {
    return await runOnce(ctx, load, name, warmup);
  } catch (err) {
    if ((err as { code?: string }).code !== 'TPSLAB_E_UNAVAILABLE' || ctx.signal.aborted) throw err;
    notes.push(`${name}: started again after ${(err as Error).message}`);
    return await runOnce(ctx, load, name, warmup);
  }
}

interface Measured {
  summary: RunSummary;
  probe: ProbeResult;
  /** Each beacon's event-loop delay over its run (LOOP_DELAY_ENV), as it logged it. */
  beaconLoops: string[];
  /** The warm-up run's summary, when one ran first on the same network. */
  warm?: RunSummary;
}

/**
 * One run on a network started here (as the embedded target would), so its roles' metrics can be read while it
 * runs; with `warmup`, that load runs first on the same network, unprobed (its own results.db).
 */
async function runOnce(ctx: BenchContext, load: Record<string, unknown>, name: string, warmup?: Record<string, unknown>): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), 'tpslab-bench-latency-'));
  let net: NetworkFile | undefined;
  try {
    const blockIntervalMs = envNumber('TPSLAB_BENCH_BLOCK_INTERVAL_MS');
    net = await netUp({ dir: join(dir, 'net'), nodes: 3, ...(blockIntervalMs !== undefined ? { blockIntervalMs } : {}) });
    let lastProgress = 0;
    const beaconLoops: string[] = [];
    const log = (line: string): void => {
      const m = /^beacon (\d+): event-loop delay (.*)$/.exec(line);
      if (m) beaconLoops.push(`beacon${m[1]} ${m[2]}`);
      ctx.log(line);
    };
    const progress = (line: string): void => {
      if (performance.now() - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = performance.now();
      ctx.log(line);
    };
    // runScenario takes no signal: each run is bounded by its duration, the confirmation timeout and the overseer's grace.
    let warm: RunSummary | undefined;
    if (warmup) {
      ctx.log(`${name}: warm-up on the fresh network first (not measured for the goal)`);
      warm = (await runScenario(scenario(warmup, `${name}-warmup`, join(dir, 'warmup.db'), join(dir, 'net', 'network.json')), { log: () => {}, progress })).summary;
      if (ctx.signal.aborted) throw ctx.signal.reason;
    }
    const probe = new StageProbe(net);
    probe.start();
    let r: Awaited<ReturnType<typeof runScenario>>;
    process.env[LOOP_DELAY_ENV] = '1'; // inherited by the beacons the overseer forks
    try {
      r = await runScenario(scenario(load, name, join(dir, 'results.db'), join(dir, 'net', 'network.json')), { log, progress });
    } catch (err) {
      await probe.stop();
      throw err;
    }
    const probed = await probe.stop();
    if (ctx.signal.aborted) throw ctx.signal.reason;
    return { summary: r.summary, probe: probed, beaconLoops, ...(warm ? { warm } : {}) };
  } finally {
    delete process.env[LOOP_DELAY_ENV];
    if (net) {
      await stopProcesses(net.nodes);
      await stopProcesses([net.sequencer, net.tracker]);
    }
    await rm(dir, { recursive: true, force: true });
  }
}

function check(s: RunSummary, what: string, notes: string[]): void {
  if (s.lost + s.failed > 0) notes.push(`${what}: ${s.failed} failed, ${s.lost} lost (${JSON.stringify(s.errors)})`);
}

/** The stage table of one run, for the notes: each stage's p50 / p99 and each role's event-loop delay. */
function stageNotes(what: string, { probe: p, beaconLoops }: Measured): string[] {
  const f = (ms: number): string => (Number.isFinite(ms) ? (ms < 10 ? ms.toFixed(1) : ms.toFixed(0)) : '–');
  return [
    `${what} stages, p50 / p99 ms (count): ${p.stages.map((s) => `${s.stage} ${f(s.p50Ms)} / ${f(s.p99Ms)} (${s.count})`).join('; ')}`,
    `${what} event-loop delay, median / max of each second's p99, ms: ${p.loops.map((l) => `${l.role} ${f(l.medianP99Ms)} / ${f(l.maxP99Ms)}`).join('; ')}`,
    `${what} beacons' event-loop delay over the run: ${beaconLoops.join('; ') || 'not reported'}`,
    `${what} GC over each role's life, total ms / pauses / over 10 ms (by kind) / over 100 ms: ${p.gc
      .map((g) => `${g.role} ${g.totalMs.toFixed(0)} / ${g.pauses} / ${g.over10Ms} (${Object.entries(g.over10MsByKind).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')}) / ${g.over100Ms}`)
      .join('; ')}`,
  ];
}

function stageRows(what: string, p: ProbeResult): BenchRow[] {
  return [
    ...p.stages.map((s) => ({ metric: `${what}: stage ${s.stage}, p99`, value: s.p99Ms, unit: 'ms' })),
    ...p.loops.map((l) => ({ metric: `${what}: event-loop delay p99 (median of seconds), ${l.role}`, value: l.medianP99Ms, unit: 'ms' })),
  ];
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const notes: string[] = [];
  const load0 = loadavg()[0]!;
  // TPSLAB_BENCH_HALF_RATE: a fixed "half" rate, no max run (to compare commits at one rate).
  const fixedHalf = envNumber('TPSLAB_BENCH_HALF_RATE');
  let maxTps: number | undefined;
  if (fixedHalf === undefined) {
    const max = (await run1(ctx, { mode: 'max', durationSec: MAX_S, maxInFlight: MAX_IN_FLIGHT }, 'bench-latency-max', notes)).summary;
    check(max, 'max run', notes);
    maxTps = max.tps.avg;
  } else notes.push(`TPSLAB_BENCH_HALF_RATE=${fixedHalf}: no max run`);
  const halfRate = fixedHalf ?? Math.max(1, Math.round(maxTps! / 2));
  ctx.log(`${maxTps !== undefined ? `max: ${maxTps.toFixed(0)} tx/s committed; ` : ''}open model at ${halfRate} tx/s: ${WARM_S} s on a fresh network, then ${HALF_S} s measured on the same`);
  const halfLoad = (durationSec: number): Record<string, unknown> => ({ mode: 'open', arrival: 'uniform', stages: [{ kind: 'constant', ratePerSec: halfRate, durationSec }] });
  const halfRun = await run1(ctx, halfLoad(HALF_S), 'bench-latency-half', notes, halfLoad(WARM_S));
  const half = halfRun.summary;
  const cold = halfRun.warm!;
  check(cold, 'half-rate warm-up', notes);
  check(half, 'half-rate run', notes);
  const floorRun = await run1(ctx, { mode: 'open', arrival: 'uniform', stages: [{ kind: 'constant', ratePerSec: FLOOR_RATE_PER_SEC, durationSec: FLOOR_S }] }, 'bench-latency-floor', notes);
  const floor = floorRun.summary;
  check(floor, 'floor run', notes);
  // Latency is the first figure to suffer when other work takes the cores: say how busy the machine was.
  notes.push(`load average (1 min) ${load0.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${availableParallelism()} cores`);
  const s = scenario({}, 'x', 'x.db');
  notes.push(
    `intervals: beacons.batchDelayMs ${s.beacons.batchDelayMs}, target.blockIntervalMs ${s.target.kind === 'tpslab' ? s.target.blockIntervalMs : '?'}; ` +
      `half-rate run: ${half.committed} committed of ${half.sent} sent, ${half.tps.avg.toFixed(0)} tx/s; p50/p99 from the actual send ${half.latencyUncorrected.p50Ms.toFixed(0)}/${half.latencyUncorrected.p99Ms.toFixed(0)} ms; ` +
      `floor run: p50/p99 from the actual send ${floor.latencyUncorrected.p50Ms.toFixed(0)}/${floor.latencyUncorrected.p99Ms.toFixed(0)} ms`,
  );
  notes.push(...stageNotes('floor', floorRun), ...stageNotes('half', halfRun));
  const rows: BenchRow[] = [
    ...(maxTps !== undefined ? [{ metric: `max committed TPS (max mode, ${MAX_S} s, 3 nodes, 2 beacons)`, value: maxTps, unit: 'tx/s' }] : []),
    { metric: 'half-rate run: intended rate', value: halfRate, unit: 'tx/s' },
    { metric: 'half-rate run: committed TPS', value: half.tps.avg, unit: 'tx/s' },
    { metric: 'half-rate run: p50 latency (from intended send)', value: half.latency.p50Ms, unit: 'ms' },
    { metric: 'half-rate run: p99 latency (from intended send)', value: half.latency.p99Ms, unit: 'ms' },
    { metric: `half rate on a fresh network (the ${WARM_S} s warm-up): p99 latency (from intended send)`, value: cold.latency.p99Ms, unit: 'ms' },
    { metric: `floor run (${FLOOR_RATE_PER_SEC} tx/s): p50 latency (from intended send)`, value: floor.latency.p50Ms, unit: 'ms' },
    { metric: `floor run (${FLOOR_RATE_PER_SEC} tx/s): p99 latency (from intended send)`, value: floor.latency.p99Ms, unit: 'ms' },
    ...stageRows('floor', floorRun.probe),
    ...stageRows('half', halfRun.probe),
  ];
  return {
    rows,
    ratios: [
      { label: `p99 latency at half the max rate ÷ ${GOAL_P99_MS} ms`, value: half.latency.p99Ms / GOAL_P99_MS, note: `issue 15’s goal is below 1; corrected latency (from the intended send time), on the network after a ${WARM_S} s warm-up at the same rate` },
      { label: `same over the fresh network's first ${WARM_S} s ÷ ${GOAL_P99_MS} ms`, value: cold.latency.p99Ms / GOAL_P99_MS, note: 'processes just started (not yet compiled, caches cold): what a network just brought up gives' },
      { label: 'half-rate run: committed ÷ intended rate', value: half.tps.avg / halfRate, note: 'about 1 when the network kept up with half its maximum' },
      { label: 'p50 at half the max rate ÷ p50 at the floor rate', value: half.latency.p50Ms / floor.latency.p50Ms, note: 'what load adds to the typical latency over what the intervals alone cost' },
    ],
    notes,
  };
}

export const latencyHalfMax: Benchmark = {
  name: 'latency-half-max',
  description: 'p99 commit latency at half the network’s maximum committed rate, next to 250 ms and to the latency floor at 100 tx/s',
  timeoutMs: 240_000,
  run,
};
