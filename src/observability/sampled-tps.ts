/**
 * Sampled global TPS, as a large test's explorer does when it cannot scrape every node each
 * interval: every `intervalMs`, read /stats of a random `fraction` of the nodes, take the rate
 * of transactions accepted at their ingress, and extrapolate to all nodes (× N / k). To judge the
 * estimate, every node is read too (the full count) and the error of the estimate is reported.
 * An output (RunOutput): it samples from the beacons' start until they finish.
 */
import type { Clock } from '../clock.js';
import { createRng, type Rng } from '../harness/rng.js';
import type { RunOutput } from '../harness/outputs.js';
import type { SampledTpsInfo } from '../web/contract.js';
import { storeSampledTps } from './sampled-store.js';

export interface SampledTpsOptions {
  /** Share of the nodes read for the estimate each interval (0 < f ≤ 1; at least one node). */
  fraction: number;
  intervalMs: number;
  seed: number;
  clock: Clock;
  log?: (line: string) => void;
  /** results.db: the result is stored there (table run_sampled_tps) for the report. */
  dbPath?: string;
  /** Reads a node's transactions accepted so far; /stats `tx.accepted` unless given. */
  read?: (url: string) => Promise<number | undefined>;
}

/** The estimate and every node's count: the shape reports show (src/web/contract.ts). */
export type SampledTpsResult = SampledTpsInfo;

async function readAccepted(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { tx?: { accepted?: unknown } };
    return typeof body.tx?.accepted === 'number' ? body.tx.accepted : undefined;
  } catch {
    return undefined;
  }
}

/** k distinct indexes of [0, n), drawn with `rng` (partial Fisher–Yates). */
export function sampleIndexes(n: number, k: number, rng: Rng): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.nextBelow(n - i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, k);
}

/** One interval: each node's accepted delta; the estimate extrapolates the sampled ones' sum. */
export function extrapolate(deltas: readonly number[], sampled: readonly number[]): number {
  if (sampled.length === 0) return 0;
  return (sampled.reduce((s, i) => s + (deltas[i] ?? 0), 0) * deltas.length) / sampled.length;
}

export class SampledTps {
  private urls: string[] = [];
  private last: number[] = [];
  private timer: unknown;
  private readonly rng: Rng;
  private busy: Promise<void> = Promise.resolve();
  private estimated = 0;
  private full = 0;
  private intervals = 0;
  private runId: string | undefined;
  result: SampledTpsResult | undefined;

  constructor(private readonly o: SampledTpsOptions) {
    this.rng = createRng(o.seed, 'sampled-tps');
  }

  get k(): number {
    return Math.max(1, Math.min(this.urls.length, Math.ceil(this.o.fraction * this.urls.length)));
  }

  get output(): RunOutput {
    return {
      created: (id) => void (this.runId = id),
      failed: () => this.o.clock.clearTimeout(this.timer),
      target: (t) => void (this.urls = t.roles.filter((r) => r.role === 'replica' || r.role === 'node' || r.role === 'endpoint').map((r) => r.url)),
      started: () => {
        this.busy = this.readAll().then((v) => void (this.last = v));
        const tick = (): void => {
          this.timer = this.o.clock.setTimeout(() => {
            this.busy = this.busy.then(() => this.interval());
            tick();
          }, this.o.intervalMs);
        };
        tick();
      },
      finishing: () => {
        this.o.clock.clearTimeout(this.timer);
        this.busy = this.busy.then(() => this.interval()).then(() => this.finish());
      },
    };
  }

  /** Resolves when the last interval is counted (after the beacons finished). */
  async done(): Promise<SampledTpsResult | undefined> {
    await this.busy;
    return this.result;
  }

  private async readAll(): Promise<number[]> {
    const read = this.o.read ?? readAccepted;
    return Promise.all(this.urls.map(async (u, i) => (await read(u)) ?? this.last[i] ?? 0));
  }

  private async interval(): Promise<void> {
    if (this.urls.length === 0) return;
    const now = await this.readAll();
    const deltas = now.map((v, i) => Math.max(0, v - (this.last[i] ?? 0)));
    this.last = now;
    this.estimated += extrapolate(deltas, sampleIndexes(deltas.length, this.k, this.rng));
    this.full += deltas.reduce((a, b) => a + b, 0);
    this.intervals++;
  }

  private finish(): void {
    if (this.urls.length === 0) {
      this.o.log?.('sampled ingress count: the target lists no nodes to sample');
      return;
    }
    const error = this.full > 0 ? (this.estimated - this.full) / this.full : null;
    this.result = { nodes: this.urls.length, sampledPerInterval: this.k, intervalMs: this.o.intervalMs, intervals: this.intervals, estimatedTotal: Math.round(this.estimated), fullTotal: this.full, error };
    this.o.log?.(`sampled ingress count: ${this.result.estimatedTotal} estimated from ${this.k} of ${this.urls.length} nodes every ${this.o.intervalMs / 1000} s, ${this.full} counted on every node; error ${error === null ? 'n/a' : `${(error * 100).toFixed(1)}%`}`);
    if (this.o.dbPath && this.runId) {
      try {
        storeSampledTps(this.o.dbPath, this.runId, this.result);
      } catch (err) {
        this.o.log?.(`the sampled estimate was not stored: ${(err as Error).message}`);
      }
    }
  }
}
