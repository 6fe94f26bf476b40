/**
 * Where commit latency goes, for bench latency-half-max: while a run loads a network started by
 * `netUp`, polls every role's `/metrics` each second (prom-client's event-loop delay p99, reset at each
 * scrape, so one figure per role per second) and follows node 1's commit stream as a subscriber on a
 * worker thread (sealed → seen there, from the block's timestamp, weighted by the block's transactions). At the
 * end it reads each role's `tpslab_stage_seconds` histogram (docs/metrics.md) and gives each stage's
 * p50 and p99, interpolated inside the histogram's buckets, replicas' buckets added together, and
 * each role's garbage-collection pauses over its life.
 */
import { Worker } from 'node:worker_threads';
import type { NetworkFile, RoleProcess } from '../../src/ledger/net.js';

const POLL_MS = 1000;
const SCRAPE_TIMEOUT_MS = 2000;

export interface StageFigure {
  /** e.g. `replica forward`, `sequencer persist`, `stream (subscriber)`. */
  stage: string;
  count: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoopFigure {
  role: string;
  /** Median and highest of the per-second p99 of event-loop delay. */
  medianP99Ms: number;
  maxP99Ms: number;
  seconds: number;
}

/** A role's garbage collection over its life (prom-client's `nodejs_gc_duration_seconds`, every kind). */
export interface GcFigure {
  role: string;
  totalMs: number;
  pauses: number;
  /** Pauses longer than 10 ms and than 100 ms (the histogram's own bounds). */
  over10Ms: number;
  over100Ms: number;
  /** Pauses longer than 10 ms by prom-client's `kind` (minor: scavenges, major: mark-compact, incremental, weakcb). */
  over10MsByKind: Record<string, number>;
}

export interface ProbeResult {
  stages: StageFigure[];
  loops: LoopFigure[];
  gc: GcFigure[];
}

/** Sums `nodejs_gc_duration_seconds` over its `kind`s. */
export function parseGc(role: string, text: string): GcFigure {
  let totalS = 0;
  let pauses = 0;
  let upTo10 = 0;
  let upTo100 = 0;
  const over10MsByKind: Record<string, number> = {};
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count|bucket)\{([^}]*)\} (\S+)$/gm)) {
    const v = Number(m[3]);
    const kind = /kind="([^"]*)"/.exec(m[2]!)?.[1] ?? '?';
    if (m[1] === 'sum') totalS += v;
    else if (m[1] === 'count') {
      pauses += v;
      over10MsByKind[kind] = (over10MsByKind[kind] ?? 0) + v;
    } else if (m[2]!.includes('le="0.01"')) {
      upTo10 += v;
      over10MsByKind[kind] = (over10MsByKind[kind] ?? 0) - v;
    } else if (m[2]!.includes('le="0.1"')) upTo100 += v;
  }
  return { role, totalMs: totalS * 1000, pauses, over10Ms: pauses - upTo10, over100Ms: pauses - upTo100, over10MsByKind };
}

/** One histogram's cumulative buckets by `le` (seconds), per stage label. */
type Buckets = Map<string, Map<number, number>>;

/** Reads `tpslab_stage_seconds_bucket{stage=…,le=…}` lines of a Prometheus text exposition. */
export function parseStageBuckets(text: string, into: Buckets = new Map()): Buckets {
  const re = /^tpslab_stage_seconds_bucket\{([^}]*)\} (\S+)$/gm;
  for (const m of text.matchAll(re)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    const stage = labels.stage;
    if (stage === undefined || labels.le === undefined) continue;
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    let b = into.get(stage);
    if (!b) into.set(stage, (b = new Map()));
    b.set(le, (b.get(le) ?? 0) + Number(m[2]));
  }
  return into;
}

/** The q-quantile (0..1) of cumulative buckets, linear inside the bucket it falls in; seconds. */
export function bucketQuantile(buckets: Map<number, number>, q: number): number {
  const les = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = buckets.get(le)!;
    if (c >= rank) {
      if (le === Infinity) return prevLe; // beyond the last bound: say the bound
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function scrape(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}

export class StageProbe {
  private readonly roles: RoleProcess[];
  private readonly loops = new Map<string, number[]>();
  private timer: NodeJS.Timeout | undefined;
  private worker: Worker | undefined;
  private polling = false;

  constructor(net: NetworkFile) {
    this.roles = [net.sequencer, ...net.nodes];
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.worker = new Worker(new URL('./stream-probe-worker.js', import.meta.url), { workerData: { url: this.roles[1]!.url } });
    this.worker.on('error', () => {});
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await Promise.all(
        this.roles.map(async (r) => {
          const text = await scrape(r.url);
          const p99 = text === undefined ? undefined : gauge(text, 'nodejs_eventloop_lag_p99_seconds');
          if (p99 === undefined || !Number.isFinite(p99)) return;
          const xs = this.loops.get(r.id) ?? [];
          xs.push(p99 * 1000);
          this.loops.set(r.id, xs);
        }),
      );
    } finally {
      this.polling = false;
    }
  }

  /** Per block on the stream: [sealed → seen by the worker (ms), transactions]. */
  private streamSamples(): Promise<[number, number][]> {
    const w = this.worker;
    if (!w) return Promise.resolve([]);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        void w.terminate();
        resolve([]);
      }, SCRAPE_TIMEOUT_MS);
      w.once('message', (samples: [number, number][]) => {
        clearTimeout(timer);
        void w.terminate();
        resolve(samples);
      });
      w.postMessage('stop');
    });
  }

  async stop(): Promise<ProbeResult> {
    clearInterval(this.timer);
    const seen = await this.streamSamples();
    const byRole = { sequencer: new Map() as Buckets, replica: new Map() as Buckets };
    const gc: GcFigure[] = [];
    for (const r of this.roles) {
      const text = await scrape(r.url);
      if (text === undefined) continue;
      parseStageBuckets(text, r.role === 'sequencer' ? byRole.sequencer : byRole.replica);
      gc.push(parseGc(r.id, text));
    }
    const order = ['verify', 'forward_queue', 'forward', 'block_wait', 'seal', 'persist', 'feed', 'apply', 'index'];
    const stages: StageFigure[] = [];
    for (const [role, buckets] of [['sequencer', byRole.sequencer], ['replica', byRole.replica]] as const) {
      for (const stage of order) {
        const b = buckets.get(stage);
        if (!b) continue;
        stages.push({ stage: `${role} ${stage}`, count: b.get(Infinity) ?? 0, p50Ms: bucketQuantile(b, 0.5) * 1000, p99Ms: bucketQuantile(b, 0.99) * 1000 });
      }
    }
    stages.push({ stage: 'stream: sealed → seen by a subscriber (per tx)', count: seen.reduce((n, [, k]) => n + k, 0), ...weightedPercentiles(seen) });
    const loops = [...this.loops].map(([role, xs]) => ({ role, medianP99Ms: median(xs), maxP99Ms: Math.max(...xs), seconds: xs.length }));
    return { stages, loops, gc };
  }
}

/** p50 and p99 of values weighted by counts. */
function weightedPercentiles(samples: [number, number][]): { p50Ms: number; p99Ms: number } {
  const s = [...samples].sort((a, b) => a[0] - b[0]);
  const total = s.reduce((n, [, k]) => n + k, 0);
  const at = (q: number): number => {
    let acc = 0;
    for (const [v, k] of s) {
      acc += k;
      if (acc >= q * total) return v;
    }
    return NaN;
  };
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}
