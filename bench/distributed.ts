/**
 * distributed: what the overseer costs with many beacons over NATS, and how
 * closely real beacon processes start together.
 *
 * (a) Merge cost. A real nats-server (testkit, port 0), the overseer's real
 *     NATS session and fleet in this process, and SIM_BEACONS simulated beacons
 *     in one child process (bench/lib/sim-beacons.ts) speaking the real wire
 *     protocol: they join, are assigned, start at one instant, and each
 *     publishes one sequence-numbered progress report per second (three encoded
 *     HdrHistograms of RECORDS latencies) for SIM_SECONDS, plus heartbeats. The
 *     overseer receives, reassembles, validates, merges per beacon (NatsFleet)
 *     and per second (RunAggregator), as `tpslab overseer` does (minus writing
 *     results.db). Its CPU over the steady seconds ÷ wall time is the fraction
 *     of one core it needs (the goal: under 0.2).
 * (b) Start spread. `tpslab overseer --nats` and REAL_BEACONS `tpslab beacon`
 *     processes run a short max-mode scenario on an embedded network; each
 *     beacon's first send after the start instant (its clock corrected by its
 *     measured offset, as stored in results.db) is read from the run's JSON.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunAggregator } from '../src/harness/aggregate.js';
import { assignment } from '../src/harness/assignment.js';
import { PROTOCOL_VERSION, type Assign } from '../src/harness/messages.js';
import type { RunResult } from '../src/harness/overseer.js';
import { NatsOverseer } from '../src/transport/nats-overseer.js';
import { CLI, runCli, tempDir, waitFor } from '../test/testkit/index.js';
import { startNatsServer } from '../test/testkit/nats.js';
import type { BenchContext, BenchResult, BenchRow, Benchmark } from './contract.js';

const SIM_BEACONS = 1_000;
const SIM_SECONDS = 12;
/** Steady seconds measured: from the end of second WARMUP_S to the end of the last. */
const WARMUP_S = 2;
/** Latencies per simulated beacon per second (1,000 beacons × 200 = 200k tx/s reported). */
const RECORDS = 200;
const REAL_BEACONS = 8;
const SIM = resolve(fileURLToPath(import.meta.url), '../lib/sim-beacons.js');

function assignFor(beacon: number): Assign {
  return assignment({
    runId: 'bench', beacon, connector: { kind: 'http', config: {} }, accounts: { start: beacon, end: beacon + 1 }, mode: 'max',
    maxDurationMs: SIM_SECONDS * 1000, batchMax: 1, confirmation: { method: 'stream', timeoutMs: 1000, retries: 0, pollIntervalMs: 100 },
  });
}

interface MergeResult {
  cpuFraction: number;
  seconds: number;
  reports: number;
  joinMs: number;
  gaps: number;
}

async function mergeCost(ctx: BenchContext, natsUrl: string): Promise<MergeResult> {
  const session = await NatsOverseer.open({ url: natsUrl, heartbeatMs: 1000, log: () => {} });
  let sim: ChildProcess | undefined;
  try {
    const t0 = performance.now();
    sim = fork(SIM, [natsUrl, String(SIM_BEACONS), String(SIM_SECONDS), String(RECORDS)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let simOut = '';
    sim.stdout!.on('data', (d: Buffer) => (simOut += d.toString()));
    const joined = await session.waitForBeacons(SIM_BEACONS, SIM_BEACONS, 120_000);
    const joinMs = performance.now() - t0;
    ctx.log(`${joined.length} simulated beacons joined in ${(joinMs / 1000).toFixed(1)} s`);
    const agg = new RunAggregator(SIM_BEACONS, () => Number.NaN);
    let ready = 0;
    let done = 0;
    let reports = 0;
    let rows = 0;
    let failure: Error | undefined;
    const fleet = session.fleet(joined.map((j) => j.name))({
      message: (m) => {
        if (m.type === 'ready') ready++;
        else if (m.type === 'progress') {
          reports++;
          rows += agg.add(m).length;
        } else if (m.type === 'done') {
          done++;
          rows += agg.finished(m.beacon).length;
        }
      },
      failure: (e) => (failure ??= e),
    });
    fleet.launch(Array.from({ length: SIM_BEACONS }, (_, b) => assignFor(b)));
    await waitFor('every simulated beacon to be ready', () => ready === SIM_BEACONS || failure !== undefined, 60_000, 20);
    if (failure) throw failure;
    const startAtMs = Date.now() + 1000;
    fleet.broadcast({ v: PROTOCOL_VERSION, type: 'start', atMs: startAtMs });
    // Measure from the end of the warm-up seconds to the end of the last second's reports.
    await new Promise((r) => setTimeout(r, startAtMs + WARMUP_S * 1000 + 500 - Date.now()));
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const rows0 = rows;
    await waitFor('every second merged', () => rows >= SIM_SECONDS || failure !== undefined, (SIM_SECONDS + 30) * 1000, 20);
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - wall0;
    await waitFor('every done', () => done === SIM_BEACONS, 30_000, 20);
    fleet.close();
    await waitFor('the simulator to finish', () => /done/.test(simOut), 60_000, 50).catch(() => undefined);
    const gaps = Object.values(session.gaps()).reduce((a, b) => a + b, 0);
    return { cpuFraction: (cpu.user + cpu.system) / 1000 / wallMs, seconds: rows - rows0, reports, joinMs, gaps };
  } finally {
    if (sim && sim.exitCode === null && sim.signalCode === null) sim.kill('SIGKILL');
    await session.close();
  }
}

/** First sends after the start instant (ms, overseer clock) of REAL_BEACONS beacon processes. */
async function startSpread(ctx: BenchContext, natsUrl: string, dir: string): Promise<number[]> {
  const file = join(dir, 'spread.yaml');
  await writeFile(file, `
name: bench-start-spread
target: { kind: embedded, nodes: 1 }
accounts: { count: ${REAL_BEACONS * 20} }
load: { mode: max, durationSec: 2, maxInFlight: ${REAL_BEACONS * 4} }
beacons: { count: ${REAL_BEACONS} }
confirmation: { timeoutMs: 20000 }
`);
  const overseer = runCli(['overseer', '--nats', natsUrl, file, '--results', join(dir, 'spread.db'), '--json', '--no-ui', '--no-report', '--wait', '120'], 170_000, dir);
  const beacons = Array.from({ length: REAL_BEACONS }, (_, i) =>
    spawn(process.execPath, [CLI, 'beacon', '--nats', natsUrl, '--name', `spread-${i}`, '--wait', '120'], { stdio: 'ignore', cwd: dir }),
  );
  try {
    const r = await overseer;
    if (r.code !== 0) throw new Error(`the overseer exited ${r.code}: ${r.stderr.slice(-2000)}`);
    const result = JSON.parse(r.stdout) as RunResult;
    ctx.log(`${REAL_BEACONS} beacons: committed ${result.summary.committed} in ${result.summary.durationSec} s`);
    return (result.clocks ?? []).flatMap((c) => (c.firstSendAfterStartMs === undefined ? [] : [c.firstSendAfterStartMs]));
  } finally {
    for (const b of beacons) if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
  }
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const dir = await tempDir('tpslab-bench-distributed-');
  const nats = await startNatsServer(dir.path);
  const notes: string[] = ['shared 2-core machine: the simulator and nats-server run beside the overseer'];
  const rows: BenchRow[] = [];
  const ratios: BenchResult['ratios'] = [];
  try {
    const m = await mergeCost(ctx, nats.url);
    rows.push(
      { metric: `overseer CPU, ${SIM_BEACONS} beacons reporting every second`, value: m.cpuFraction * 100, unit: '% of one core' },
      { metric: 'seconds merged in the measured window', value: m.seconds, unit: 's' },
      { metric: 'progress reports merged', value: m.reports, unit: 'reports' },
      { metric: `time for ${SIM_BEACONS} beacons to join`, value: m.joinMs / 1000, unit: 's' },
      { metric: 'report gaps re-requested', value: m.gaps, unit: 'gaps' },
    );
    ratios.push({ label: `overseer CPU ÷ one core, ${SIM_BEACONS} beacons over NATS`, value: m.cpuFraction, note: 'the goal is under 0.2: receiving, validating and merging per-second reports (results.db writes not included)' });
    const firsts = await startSpread(ctx, nats.url, dir.path);
    if (firsts.length === REAL_BEACONS) {
      const spread = Math.max(...firsts) - Math.min(...firsts);
      rows.push(
        { metric: `first send after the start, earliest of ${REAL_BEACONS} beacon processes`, value: Math.min(...firsts), unit: 'ms' },
        { metric: `first send after the start, latest of ${REAL_BEACONS}`, value: Math.max(...firsts), unit: 'ms' },
        { metric: 'spread between first sends', value: spread, unit: 'ms' },
      );
    } else notes.push(`only ${firsts.length} of ${REAL_BEACONS} beacons reported a first send`);
  } finally {
    await nats.stop();
    await dir.remove();
  }
  return { rows, ratios, notes };
}

export const distributed: Benchmark = {
  name: 'distributed',
  description: `overseer CPU merging per-second reports of ${SIM_BEACONS} simulated beacons over NATS (fraction of one core), and the spread of ${REAL_BEACONS} real beacons' first sends after the start`,
  timeoutMs: 300_000,
  run,
};
