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
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NodeClient } from '../src/client/node-client.js';
import { restartRole } from '../src/ledger/net.js';
import { between, slopeBytesPerMin } from '../test/testkit/proc-rss.js';
import type { BenchContext, BenchResult, BenchRow, Benchmark } from './contract.js';
import { soak, stopNetwork } from './lib/soak.js';

const MINUTES = Number(process.env.TPSLAB_SOAK_MINUTES ?? 2);
const RATE_PER_SEC = Number(process.env.TPSLAB_SOAK_RATE ?? 1_000);
const SNAPSHOT_EVERY = 200;
const BEACON_TXS = 1_000_000;
const BEACON_RATE_PER_SEC = 50_000;
const MB = 1024 * 1024;
const CHILD = resolve(fileURLToPath(import.meta.url), '../lib/beacon-memory-child.js');

interface Alone {
  txs: number;
  committedIds: number;
  liveHeapMaxBytes: number;
  maxRssBytes: number;
  ms: number;
}

/** A full collection every second (--expose-gc) in the child: live heap is what is held, peak RSS includes V8's slack. */
async function beaconAlone(arrays: boolean): Promise<Alone> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', CHILD, String(BEACON_TXS), String(BEACON_RATE_PER_SEC)], {
    env: { ...process.env, ...(arrays ? { ARRAYS: '1' } : {}) },
    timeout: 300_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Alone;
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'tpslab-bench-soak-'));
  try {
    const durationSec = Math.round(MINUTES * 60);
    const r = await soak({ dir, ratePerSec: RATE_PER_SEC, durationSec, beacons: 2, nodes: 3, sampleEveryMs: 1000, snapshotEvery: SNAPSHOT_EVERY, log: ctx.log });
    try {
      const span = r.loadToMs - r.loadFromMs;
      for (const [name, samples] of [...r.series].sort(([a], [b]) => a.localeCompare(b))) {
        const load = between(samples, r.loadFromMs + 0.25 * span, r.loadToMs);
        if (load.length < 5) continue;
        const slope = slopeBytesPerMin(load) / MB;
        const peak = Math.max(...samples.map((s) => s.rssBytes)) / MB;
        rows.push({ metric: `${name}: RSS slope over the load's last 3/4`, value: slope, unit: 'MB/min' });
        ctx.log(`${name.padEnd(20)} peak ${peak.toFixed(0)} MB, slope ${slope.toFixed(2)} MB/min`);
      }
      const s = r.summary;
      notes.push(`soak: ${s.committed} of ${s.sent} committed in ${durationSec} s at ${RATE_PER_SEC} tx/s (lost ${s.lost}, failed ${s.failed}); p99 ${s.latency.p99Ms.toFixed(0)} ms`);
      // A node's restart with the run's history behind it.
      const seqHead = await new NodeClient(r.net.sequencer.url).head();
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
  notes.push(`one beacon: ${lazy.committedIds} committed ids held for reconciliation (≈ 90 bytes each) are most of its live heap, until per-sender-range digests replace them`);
  return {
    rows,
    ratios: [{ label: 'beacon live heap, described plan ÷ shipped arrays (1 M planned)', value: lazy.liveHeapMaxBytes / shipped.liveHeapMaxBytes, note: 'the arrays are 16 bytes per transaction of the share; the rest of the beacon is bounded by what is in flight either way' }],
    notes,
  };
}

export const soakBench: Benchmark = {
  name: 'soak',
  description: 'RSS slope of every process over a fixed-rate run (TPSLAB_SOAK_MINUTES, TPSLAB_SOAK_RATE), a node restart with that history, one beacon over 1 M planned',
  timeoutMs: MINUTES * 60_000 + 360_000,
  run,
};
