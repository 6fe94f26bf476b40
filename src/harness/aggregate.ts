/**
 * The overseer's view of a run while it happens: beacons' per-second reports
 * merged into one row per second (counts added, histograms added — never
 * percentiles averaged), running totals, and the live progress line.
 */
import { LatencyHistogram, type LatencySummary } from './histogram.js';
import type { ProgressMessage } from './messages.js';
import type { SecondRow } from './store.js';
import type { Summary } from '../web/contract.js';

/**
 * Cumulative counters a beacon reports; per-second rows hold their increments, so every
 * per-second value is a count of events in that second (≥ 0): `expired` (timeouts that ran out)
 * and `late` (commits after the timeout), and `failed` counts failure reports. Lost is not a
 * series: lost = expired − late; nor is the run's failed, which drops a failed transaction later
 * seen committed.
 */
type Counts = { sent: number; committed: number; failures: number; expired: number; late: number; retries: number };
const ZERO: Counts = { sent: 0, committed: 0, failures: 0, expired: 0, late: 0, retries: 0 };

interface Pending {
  counts: Counts;
  errors: Record<string, number>;
  corrected: LatencyHistogram;
  uncorrected: LatencyHistogram;
  lag: LatencyHistogram;
}

export class RunAggregator {
  readonly corrected = new LatencyHistogram();
  readonly uncorrected = new LatencyHistogram();
  readonly lag = new LatencyHistogram();
  readonly rows: SecondRow[] = [];
  private readonly last = new Map<number, { second: number; counts: Counts; failed: number; errors: Record<string, number>; inFlight: number; height: number }>();
  private readonly pending = new Map<number, Pending>();
  private flushed = -1;
  /** Beacons that sent `done`: they no longer hold back the seconds after their last report. */
  private readonly ended = new Set<number>();
  /** Ended beacons that never reported a second. */
  private endedUnreported = 0;
  /** Second → how many live (not ended) beacons last reported it. */
  private readonly liveAt = new Map<number, number>();

  constructor(
    private readonly beacons: number,
    private readonly targetRateAt: (offsetMs: number) => number,
  ) {}

  /** Adds a beacon's report; returns the seconds now complete (every beacon reported past them). */
  add(m: ProgressMessage): SecondRow[] {
    const prev = this.last.get(m.beacon) ?? { second: -1, counts: ZERO, failed: 0, errors: {}, inFlight: 0, height: 0 };
    const second = Math.max(m.second, this.flushed + 1);
    let p = this.pending.get(second);
    if (!p) {
      p = { counts: { ...ZERO }, errors: {}, corrected: new LatencyHistogram(), uncorrected: new LatencyHistogram(), lag: new LatencyHistogram() };
      this.pending.set(second, p);
    }
    for (const k of Object.keys(ZERO) as (keyof Counts)[]) p.counts[k] += m[k] - prev.counts[k];
    for (const [code, n] of Object.entries(m.errors)) p.errors[code] = (p.errors[code] ?? 0) + n - (prev.errors[code] ?? 0);
    const c = LatencyHistogram.decodeSparse(m.corrected);
    const u = LatencyHistogram.decodeSparse(m.uncorrected);
    const l = LatencyHistogram.decodeSparse(m.lag);
    // Run totals take each second's merged histograms once, when it is flushed (not each report: 1,000 beacons).
    p.corrected.addSparse(c);
    p.uncorrected.addSparse(u);
    p.lag.addSparse(l);
    this.moveSecond(prev.second, m.second, m.beacon);
    this.last.set(m.beacon, { second: m.second, counts: { sent: m.sent, committed: m.committed, failures: m.failures, expired: m.expired, late: m.late, retries: m.retries }, failed: m.failed, errors: m.errors, inFlight: m.inFlight, height: m.height });
    return this.flushUpTo(this.completeSecond());
  }

  /** A beacon finished: seconds are complete once the others have reported them. */
  finished(beacon: number): SecondRow[] {
    if (!this.ended.has(beacon)) {
      this.ended.add(beacon);
      if (!this.last.has(beacon)) this.endedUnreported++;
      else this.moveSecond(this.last.get(beacon)!.second, undefined, beacon);
    }
    return this.flushUpTo(this.completeSecond());
  }

  /** Keeps `liveAt` (how many live beacons last reported each second) current: a beacon moves from `from` to `to` (undefined: it ended). */
  private moveSecond(from: number, to: number | undefined, beacon: number): void {
    if (this.ended.has(beacon) && to !== undefined) {
      // A report after `done` does not hold seconds back (and it is no longer an unreported ended beacon).
      if (!this.last.has(beacon)) this.endedUnreported--;
      return;
    }
    if (this.last.has(beacon)) {
      const n = (this.liveAt.get(from) ?? 0) - 1;
      if (n > 0) this.liveAt.set(from, n);
      else this.liveAt.delete(from);
    }
    if (to !== undefined) this.liveAt.set(to, (this.liveAt.get(to) ?? 0) + 1);
  }

  private completeSecond(): number {
    if (this.last.size + this.endedUnreported < this.beacons) return -1;
    // The lowest second a live beacon last reported (a handful of distinct seconds, not one per beacon).
    let min = Infinity;
    for (const s of this.liveAt.keys()) min = Math.min(min, s);
    // With every beacon ended, everything pending is complete.
    return min !== Infinity ? min : Math.max(-1, ...this.pending.keys());
  }

  /** Closes every second still open (end of run). */
  flushAll(): SecondRow[] {
    return this.flushUpTo(Math.max(-1, ...this.pending.keys()));
  }

  private flushUpTo(second: number): SecondRow[] {
    const out: SecondRow[] = [];
    for (let s = this.flushed + 1; s <= second; s++) {
      const p = this.pending.get(s);
      this.pending.delete(s);
      const c = p?.counts ?? ZERO;
      const row: SecondRow = {
        second: s,
        targetRate: this.targetRateAt(s * 1000 + 500),
        sent: c.sent,
        committed: c.committed,
        failed: c.failures,
        expired: c.expired,
        late: c.late,
        inFlight: this.inFlight,
        errors: p ? Object.fromEntries(Object.entries(p.errors).filter(([, n]) => n > 0)) : {},
        ...(p ? { latCorrected: p.corrected.encode(), latUncorrected: p.uncorrected.encode(), scheduleLag: p.lag.encode() } : {}),
      };
      if (p) {
        this.corrected.add(p.corrected);
        this.uncorrected.add(p.uncorrected);
        this.lag.add(p.lag);
      }
      this.rows.push(row);
      out.push(row);
      this.flushed = s;
    }
    return out;
  }

  /** Run totals so far; `lost` = expired − late (expired and never committed, as of now). */
  get totals(): Counts & { failed: number; lost: number; inFlight: number; errors: Record<string, number> } {
    const t = { ...ZERO, failed: 0, lost: 0, inFlight: 0, errors: {} as Record<string, number> };
    for (const x of this.last.values()) {
      for (const k of Object.keys(ZERO) as (keyof Counts)[]) t[k] += x.counts[k];
      t.failed += x.failed;
      t.inFlight += x.inFlight;
      for (const [code, n] of Object.entries(x.errors)) t.errors[code] = (t.errors[code] ?? 0) + n;
    }
    t.lost = t.expired - t.late;
    return t;
  }

  get inFlight(): number {
    let n = 0;
    for (const x of this.last.values()) n += x.inFlight;
    return n;
  }

  /**
   * Committed TPS. `windowSec` = max(the planned load duration, whole seconds from the start
   * instant to the start of the last second with a commit); avg = all commits ÷ windowSec.
   * So commits that trail the schedule by less than a second do not stretch the window (50 tx/s
   * for 10 s is 50.00, not 500 ÷ 11 s), while a backlog that drains for 30 s more does.
   * `plannedMs`: the open model's stages (or a trace's last send), max mode's duration, or the
   * elapsed time of an aborted run. Peak: the most commits in one second.
   */
  tps(plannedMs: number): { avg: number; peak: number; windowSec: number } {
    const withCommits = this.rows.filter((r) => r.committed > 0);
    const plannedSec = Math.max(0, plannedMs) / 1000;
    const windowSec = Math.max(plannedSec, withCommits.at(-1)?.second ?? 0) || 1;
    if (withCommits.length === 0) return { avg: 0, peak: 0, windowSec };
    const total = this.rows.reduce((n, r) => n + r.committed, 0);
    return { avg: total / windowSec, peak: Math.max(...withCommits.map((r) => r.committed)), windowSec };
  }

  /**
   * The run's summary from what was aggregated: counts (pending = sent − committed − failed −
   * lost), TPS over `plannedMs` (see tps), latency; the caller adds what only it knows.
   */
  summary(runId: string, plannedMs: number, rest: Pick<Summary, 'reconciliation' | 'connector'> & Partial<Pick<Summary, 'notes'>>): Summary {
    const t = this.totals;
    return {
      runId,
      durationSec: this.rows.length,
      sent: t.sent,
      committed: t.committed,
      failed: t.failed,
      lost: t.lost,
      late: t.late,
      pending: Math.max(0, t.sent - t.committed - t.failed - t.lost),
      retries: t.retries,
      tps: this.tps(plannedMs),
      latency: this.corrected.summary(),
      latencyUncorrected: this.uncorrected.summary(),
      scheduleLag: this.lag.summary(),
      errors: t.errors,
      reconciliation: rest.reconciliation,
      connector: rest.connector,
      ...(rest.notes?.length ? { notes: rest.notes } : {}),
    };
  }

  /** One line for the terminal: target vs achieved rate, committed, in flight, p99 of the last second. */
  progressLine(elapsedSec: number): string {
    const row = this.rows.at(-1);
    const t = this.totals;
    // A second without commits has an empty histogram: its p99 is "-", not 0.0ms.
    const last = row?.latCorrected ? LatencyHistogram.decode(row.latCorrected) : undefined;
    const p99 = last && last.count > 0 ? last.summary().p99Ms : undefined;
    return [
      `t=${elapsedSec.toFixed(0)}s`,
      `target ${fmtRate(row?.targetRate)}/s`,
      `sent ${fmtRate(row?.sent)}/s`,
      `committed ${fmtRate(row?.committed)}/s (${t.committed} total)`,
      `in flight ${t.inFlight}`,
      `p99 ${p99 === undefined ? '-' : `${p99.toFixed(1)}ms`}`,
      t.failed + t.expired > 0 ? `failed ${t.failed} lost ${t.lost} late ${t.late}` : '',
    ]
      .filter(Boolean)
      .join('  ');
  }
}

function fmtRate(v: number | null | undefined): string {
  return v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(0);
}

export type { LatencySummary };
