/**
 * soak: does memory follow what is in flight, not the run?
 *
 * 1. `net up` a 3-node network (snapshot every SNAPSHOT_EVERY blocks) and run a fixed open-model
 *    rate against it for TPSLAB_SOAK_MINUTES (default 2) at TPSLAB_SOAK_RATE tx/s (default
 *    1,000) with 2 beacons, sampling every process's RSS each second; print each process's RSS
 *    slope (MB/min, least squares over the load after its first quarter).
 * 2. Restart a node of that network (its history: the run's transactions) and time it from
 *    spawn to serving the sequencer's head.
 * 3. One beacon alone over BEACON_TXS planned transactions (a connector committing at once, in
 *    its own process): its peak RSS, described plan (today) next to the share shipped as arrays.
 * 4. One beacon alone over BEACON_LONG_TXS (TPSLAB_SOAK_BEACON_TXS, default 3 M): the slope of its live
 *    heap (after a full GC each second) and RSS per million transactions, and both extrapolated to
 *    86.4 M (24 hours at 1,000 TPS), next to the 512 MB.
 * Each role's live heap is also sampled from its /metrics during step 1: a leak grows the heap, allocator
 * and V8 slack grow only RSS.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NodeClient } from '../src/client/node-client.js';
import { restartRole, stopProcesses } from '../src/ledger/net.js';
import { between, slopeBytesPerMin, type RssSample } from '../test/testkit/proc-rss.js';
import type { BenchContext, BenchResult, BenchRow, Benchmark } from './contract.js';
import { envNumber } from './lib/common.js';
import { lowerEnvelope } from './lib/heap-sampler.js';
import { soak, stopNetwork } from './lib/soak.js';

const MINUTES = envNumber('TPSLAB_SOAK_MINUTES', 2, true);
const RATE_PER_SEC = envNumber('TPSLAB_SOAK_RATE', 1_000);
const SNAPSHOT_EVERY = 200;
const BEACON_TXS = 1_000_000;
const BEACON_RATE_PER_SEC = 50_000;
const BEACON_LONG_TXS = envNumber('TPSLAB_SOAK_BEACON_TXS', 3_000_000);
/** 24 hours at 1,000 TPS: the long run. */
const DAY_TXS = 86_400_000;
const BEACON_BUDGET_MB = 512;
const HEAP_WINDOW_MS = 10_000;
const MB = 1024 * 1024;
const CHILD = resolve(fileURLToPath(import.meta.url), '../lib/beacon-memory-child.js');

interface Alone {
  txs: number;
  committedIds: number;
  liveHeapMaxBytes: number;
  maxRssBytes: number;
  /** [ms, live heap after a full GC, RSS], once a second. */
  samples: [number, number, number][];
  ms: number;
}

/** A full collection every second (--expose-gc) in the child: live heap is what is held, peak RSS includes V8's slack. */
async function beaconAlone(arrays: boolean, txs = BEACON_TXS): Promise<Alone> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', CHILD, String(txs), String(BEACON_RATE_PER_SEC)], {
    env: { ...process.env, ...(arrays ? { ARRAYS: '1' } : {}) },
    timeout: 300_000 + txs / 10,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Alone;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'tpslab-bench-soak-'));
  try {
    const durationSec = Math.round(MINUTES * 60);
    const r = await soak({ dir, ratePerSec: RATE_PER_SEC, durationSec, beacons: 2, nodes: 3, sampleEveryMs: 1000, heapEveryMs: 1000, snapshotEvery: SNAPSHOT_EVERY, log: ctx.log });
    try {
      const span = r.loadToMs - r.loadFromMs;
      for (const [name, samples] of [...r.series].sort(([a], [b]) => a.localeCompare(b))) {
        const load = between(samples, r.loadFromMs + 0.25 * span, r.loadToMs);
        const half = between(samples, r.loadFromMs + 0.5 * span, r.loadToMs);
        if (load.length < 5 || half.length < 5) continue;
        const slope = slopeBytesPerMin(load) / MB;
        const halfSlope = slopeBytesPerMin(half) / MB;
        const peak = Math.max(...samples.map((s) => s.rssBytes)) / MB;
        const level = (xs: RssSample[]): number => Math.max(...xs.map((x) => x.rssBytes)) / MB;
        const quarters = [0, 1, 2, 3].map((q) => level(between(samples, r.loadFromMs + (q * span) / 4, r.loadFromMs + ((q + 1) * span) / 4)));
        rows.push({ metric: `${name}: RSS slope over the load's last 3/4`, value: slope, unit: 'MB/min' });
        rows.push({ metric: `${name}: RSS slope over the load's second half`, value: halfSlope, unit: 'MB/min' });
        rows.push({ metric: `${name}: RSS growth, last quarter's max − second quarter's max`, value: quarters[3]! - quarters[1]!, unit: 'MB' });
        ctx.log(`${name.padEnd(20)} peak ${peak.toFixed(0)} MB, max per quarter ${quarters.map((x) => x.toFixed(0)).join(' / ')} MB, slope ${slope.toFixed(2)} MB/min (second half ${halfSlope.toFixed(2)})`);
      }
      for (const [id, h] of [...(r.heap ?? new Map())].sort(([a], [b]) => a.localeCompare(b))) {
        const live = lowerEnvelope(between(h.heap, r.loadFromMs + 0.25 * span, r.loadToMs), HEAP_WINDOW_MS);
        if (live.length < 3) continue;
        const slope = slopeBytesPerMin(live) / MB;
        rows.push({ metric: `${id}: live heap slope over the load's last 3/4 (each ${HEAP_WINDOW_MS / 1000} s window's minimum, from /metrics)`, value: slope, unit: 'MB/min' });
        const liveHalf = between(live, r.loadFromMs + 0.5 * span, r.loadToMs);
        if (liveHalf.length >= 3) rows.push({ metric: `${id}: live heap slope over the load's second half`, value: slopeBytesPerMin(liveHalf) / MB, unit: 'MB/min' });
        const ext = between(h.external, r.loadFromMs + 0.25 * span, r.loadToMs);
        const committed = [0, 1, 2, 3].map((q) => Math.max(0, ...between(h.total, r.loadFromMs + (q * span) / 4, r.loadFromMs + ((q + 1) * span) / 4).map((x) => x.rssBytes)) / MB);
        rows.push({ metric: `${id}: V8 committed heap growth, last quarter's max − second quarter's max`, value: committed[3]! - committed[1]!, unit: 'MB' });
        ctx.log(`${id.padEnd(20)} V8 committed heap, max per quarter ${committed.map((x) => x.toFixed(0)).join(' / ')} MB`);
        ctx.log(`${id.padEnd(20)} live heap ${(live[0]!.rssBytes / MB).toFixed(0)} -> ${(live.at(-1)!.rssBytes / MB).toFixed(0)} MB (slope ${slope.toFixed(2)} MB/min), external ${(ext.at(-1)?.rssBytes ?? 0) / MB | 0} MB`);
      }
      const s = r.summary;
      notes.push(`soak: ${s.committed} of ${s.sent} committed in ${durationSec} s at ${RATE_PER_SEC} tx/s (lost ${s.lost}, failed ${s.failed}); p99 ${s.latency.p99Ms.toFixed(0)} ms`);
      // A node's restart with the run's history behind it.
      const seqHead = await new NodeClient(r.net.sequencer.url).head();
      const node1 = r.net.nodes.find((n) => n.id === 'node1')!;
      const stopBegan = performance.now();
      await stopProcesses([node1]);
      rows.push({ metric: 'node1 stop (SIGTERM to exit: blocks in flight to disk, index flushed)', value: performance.now() - stopBegan, unit: 'ms' });
      const began = performance.now();
      const again = await restartRole(join(dir, 'net'), 'node1');
      const node = new NodeClient(again.url);
      for (;;) {
        const h = await node.head().catch(() => undefined);
        if (h && h.height >= seqHead.height) break;
        if (performance.now() - began > 120_000) throw new Error('node1 did not serve the sequencer head within 120 s of its restart');
        await new Promise((res) => setTimeout(res, 20));
      }
      const restartMs = performance.now() - began;
      rows.push({ metric: `node restart (spawn to serving height ${seqHead.height}, ${s.committed} transactions of history, snapshot every ${SNAPSHOT_EVERY} blocks)`, value: restartMs, unit: 'ms' });
      const recovered = (await readFile(again.logFile, 'utf8').catch(() => '')).match(/recovered in [^\n]*/g)?.at(-1) ?? '(no recovery line)';
      notes.push(`node1 after its restart logged: ${recovered}`);
    } finally {
      await stopNetwork(join(dir, 'net'), r.net);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const lazy = await beaconAlone(false);
  const shipped = await beaconAlone(true);
  for (const [what, r] of [['described plan', lazy], ['share shipped as arrays', shipped]] as const) {
    rows.push({ metric: `one beacon, ${BEACON_TXS} planned, ${what}: peak RSS`, value: r.maxRssBytes / MB, unit: 'MB' });
    rows.push({ metric: `one beacon, ${BEACON_TXS} planned, ${what}: live heap (max after full GC)`, value: r.liveHeapMaxBytes / MB, unit: 'MB' });
  }
  notes.push(`one beacon: ${lazy.committedIds} committed ids went to its on-disk commit store (src/harness/commit-store.ts), not its heap`);
  if (ctx.signal.aborted) throw ctx.signal.reason;
  ctx.log(`one beacon over ${BEACON_LONG_TXS} planned transactions, live heap and RSS sampled every second`);
  const long = await beaconAlone(false, BEACON_LONG_TXS);
  const day = extrapolate(long, rows);
  notes.push(`one beacon over ${long.txs} planned: ${long.samples.length} samples in ${(long.ms / 1000).toFixed(0)} s; extrapolated linearly from the slope per transaction over the last 3/4`);
  return {
    rows,
    ratios: [
      { label: 'beacon live heap, described plan ÷ shipped arrays (1 M planned)', value: lazy.liveHeapMaxBytes / shipped.liveHeapMaxBytes, note: 'the arrays are 16 bytes per transaction of the share; the rest of the beacon is bounded by what is in flight either way' },
      { label: `one beacon's RSS extrapolated to ${DAY_TXS / 1e6} M ÷ ${BEACON_BUDGET_MB} MB`, value: day.rssMb / BEACON_BUDGET_MB, note: 'below 1: a 24-hour run at 1,000 TPS fits one beacon in 512 MB' },
    ],
    notes,
  };
}

/** Slopes per million transactions over the last 3/4 of a long beacon run, and where they lead at DAY_TXS. */
function extrapolate(r: Alone, rows: BenchRow[]): { heapMb: number; rssMb: number } {
  const txPerMs = r.txs / r.ms;
  const tail = r.samples.filter(([ms]) => ms >= 0.25 * r.ms);
  const series = (i: 1 | 2): RssSample[] => tail.map((x) => ({ tMs: x[0], rssBytes: x[i] }));
  const perMillion = (i: 1 | 2): number => (slopeBytesPerMin(series(i)) / 60_000 / txPerMs) * 1e6 / MB;
  const heapSlope = perMillion(1);
  const rssSlope = perMillion(2);
  const left = (DAY_TXS - r.txs) / 1e6;
  const heapMb = r.liveHeapMaxBytes / MB + Math.max(0, heapSlope) * left;
  const rssMb = r.maxRssBytes / MB + Math.max(0, rssSlope) * left;
  rows.push(
    { metric: `one beacon, ${r.txs} planned: live heap (max after full GC)`, value: r.liveHeapMaxBytes / MB, unit: 'MB' },
    { metric: `one beacon, ${r.txs} planned: peak RSS`, value: r.maxRssBytes / MB, unit: 'MB' },
    { metric: `one beacon, ${r.txs} planned: live heap slope over the last 3/4`, value: heapSlope, unit: 'MB per M tx' },
    { metric: `one beacon, ${r.txs} planned: RSS slope over the last 3/4`, value: rssSlope, unit: 'MB per M tx' },
    { metric: `one beacon extrapolated to ${DAY_TXS / 1e6} M tx (24 h at 1,000 TPS): live heap`, value: heapMb, unit: 'MB' },
    { metric: `one beacon extrapolated to ${DAY_TXS / 1e6} M tx (24 h at 1,000 TPS): RSS`, value: rssMb, unit: 'MB' },
  );
  return { heapMb, rssMb };
}

export const soakBench: Benchmark = {
  name: 'soak',
  description: 'RSS and live-heap slope of every process over a fixed-rate run (TPSLAB_SOAK_MINUTES, TPSLAB_SOAK_RATE), a node restart with that history, one beacon over 1 M and 3 M planned (extrapolated to 86.4 M)',
  timeoutMs: MINUTES * 60_000 + 360_000 + BEACON_LONG_TXS / 10, // the long beacon run: up to 100 µs a transaction on a loaded machine
  run,
};
