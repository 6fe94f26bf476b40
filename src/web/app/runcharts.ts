/** Chart specs built from a run's per-second points: shared by report, dashboard and compare. */
import type { DistributionPoint, LatencyPoint, SecondPoint } from '../contract.js';
import { CATEGORICAL, COLORS, DASHED, joinSeries, ninesX, type ChartSpec, type Val } from './charts.js';

export function sortedSeconds(points: readonly SecondPoint[]): SecondPoint[] {
  return [...points].sort((a, b) => a.second - b.second);
}

const lat = (pts: SecondPoint[], pick: (p: SecondPoint) => LatencyPoint | undefined, f: (l: LatencyPoint) => number): Val[] =>
  pts.map((p) => {
    const l = pick(p);
    return l && l.count > 0 ? f(l) : null;
  });

export function sendRateSpec(pts: SecondPoint[], sync?: string): ChartSpec {
  return {
    name: 'send-rate', title: 'Send rate: target vs achieved', yUnit: 'tx/s', sync,
    x: pts.map((p) => p.second),
    series: [
      { label: 'target', values: pts.map((p) => p.targetRate), color: COLORS.target, dash: DASHED, width: 2 },
      { label: 'sent', values: pts.map((p) => p.sent), color: COLORS.sent },
    ],
  };
}

export function tpsSpec(pts: SecondPoint[], sync?: string): ChartSpec {
  const hasFailures = pts.some((p) => p.failed > 0 || p.expired > 0);
  const series: ChartSpec['series'] = [{ label: 'committed', values: pts.map((p) => p.committed), color: COLORS.committed, fill: 'rgba(5,150,105,0.08)' }];
  // Event counts per second, never negative: late commits are charted as commits, not subtracted here.
  if (hasFailures) series.push({ label: 'failed + expired', values: pts.map((p) => p.failed + p.expired), color: COLORS.failed });
  return { name: 'committed-tps', title: 'Committed TPS', yUnit: 'tx/s', sync, x: pts.map((p) => p.second), series };
}

export function cumulativeSpec(pts: SecondPoint[], sync?: string): ChartSpec {
  let c = 0;
  let s = 0;
  const committed: number[] = [];
  const sent: number[] = [];
  for (const p of pts) {
    c += p.committed;
    s += p.sent;
    committed.push(c);
    sent.push(s);
  }
  return {
    name: 'cumulative-committed', title: 'Cumulative committed', sync,
    x: pts.map((p) => p.second),
    series: [
      { label: 'sent', values: sent, color: COLORS.sent, dash: DASHED },
      { label: 'committed', values: committed, color: COLORS.committed, fill: 'rgba(5,150,105,0.10)' },
    ],
  };
}

export function latencySpec(pts: SecondPoint[], sync?: string): ChartSpec {
  return {
    name: 'latency-over-time', title: 'Latency percentiles per second', yUnit: 'ms', sync, logToggle: true,
    x: pts.map((p) => p.second),
    series: [
      { label: 'p50', values: lat(pts, (p) => p.corrected, (l) => l.p50Ms), color: COLORS.p50, width: 1.5 },
      { label: 'p90', values: lat(pts, (p) => p.corrected, (l) => l.p90Ms), color: COLORS.p90, width: 1.5 },
      { label: 'p99', values: lat(pts, (p) => p.corrected, (l) => l.p99Ms), color: COLORS.p99, width: 2 },
      { label: 'p99 uncorrected', values: lat(pts, (p) => p.uncorrected, (l) => l.p99Ms), color: COLORS.uncorrected, dash: DASHED, width: 2 },
    ],
  };
}

export function inFlightSpec(pts: SecondPoint[], sync?: string): ChartSpec {
  return {
    name: 'in-flight', title: 'In flight (sent, not yet confirmed)', sync,
    x: pts.map((p) => p.second),
    series: [{ label: 'in flight', values: pts.map((p) => p.inFlight), color: COLORS.inFlight, fill: 'rgba(124,58,237,0.08)' }],
  };
}

export function errorCodes(pts: readonly SecondPoint[]): string[] {
  const totals = new Map<string, number>();
  for (const p of pts) for (const [c, n] of Object.entries(p.errors ?? {})) totals.set(c, (totals.get(c) ?? 0) + n);
  return [...totals.entries()].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([c]) => c);
}

export function errorsSpec(pts: SecondPoint[], sync?: string): ChartSpec {
  const codes = errorCodes(pts);
  return {
    name: 'errors', title: 'Errors per second by code', sync, emptyText: 'no errors',
    x: codes.length ? pts.map((p) => p.second) : [],
    series: codes.map((c, i) => ({
      label: c.replace(/^TPSLAB_E_/, ''),
      values: pts.map((p) => p.errors?.[c] ?? 0),
      color: CATEGORICAL[i % CATEGORICAL.length] ?? COLORS.failed,
    })),
  };
}

/** (x = 1/(1-p), value) sorted by x, one point per x, dropping p = 100 (x would be infinite). */
export function distributionXY(points: readonly DistributionPoint[]): { x: number[]; y: number[] } {
  const byX = new Map<number, number>();
  for (const d of points) {
    const x = ninesX(d.percentile);
    if (x === undefined || !Number.isFinite(d.valueMs)) continue;
    byX.set(x, Math.max(byX.get(x) ?? -Infinity, d.valueMs));
  }
  const xs = [...byX.keys()].sort((a, b) => a - b);
  return { x: xs, y: xs.map((x) => byX.get(x) ?? 0) };
}

/** Committed per hour, as bars. */
export function hourlySpec(pts: SecondPoint[]): ChartSpec {
  const hours = new Map<number, number>();
  for (const p of pts) hours.set(Math.floor(p.second / 3600), (hours.get(Math.floor(p.second / 3600)) ?? 0) + p.committed);
  const last = pts.length ? Math.floor((pts[pts.length - 1]?.second ?? 0) / 3600) : -1;
  const x: number[] = [];
  for (let i = 0; i <= last; i++) x.push(i);
  return {
    name: 'hourly-volume', title: 'Committed per hour', xKind: 'index', xLabel: (v) => `h${v + 1}`,
    x, series: [{ label: 'committed', values: x.map((i) => hours.get(i) ?? 0), color: COLORS.committed, bars: true }],
  };
}

/** The run's length in seconds: the summary's duration, else the span of its seconds. */
export function runLengthSec(pts: readonly SecondPoint[], durationSec?: number): number {
  const span = pts.reduce((m, p) => Math.max(m, p.second + 1), 0);
  return Math.max(durationSec ?? 0, span);
}

export interface DistributionLine {
  label: string;
  color: string;
  dash?: number[];
  points: readonly DistributionPoint[];
}

/** Latency against percentile on a log "nines" axis; several lines joined on one x. */
export function distributionSpec(lines: DistributionLine[], name = 'latency-distribution', title = 'Latency by percentile'): ChartSpec {
  const xy = lines.map((l) => distributionXY(l.points));
  const { x, ys } = joinSeries(xy.map((d) => ({ x: d.x, y: d.y })));
  return {
    name, title, xKind: 'nines', yUnit: 'ms', logToggle: true, x,
    series: lines.map((l, i) => ({ label: l.label, color: l.color, dash: l.dash, width: 2, values: ys[i] ?? [], spanGaps: true })),
  };
}
