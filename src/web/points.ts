/** Converting stored per-second rows (encoded histograms) into what the browser charts. */
import { LatencyHistogram, type LatencySummary } from '../harness/histogram.js';
import type { SecondRow } from '../harness/store.js';
import type { LatencyPoint, SecondPoint } from './contract.js';

/** A histogram's summary as charted; undefined when it holds nothing. */
export function latencyPoint(h: LatencyHistogram): LatencyPoint | undefined {
  if (h.count === 0) return undefined;
  const s: LatencySummary = h.summary();
  return { count: s.count, meanMs: s.meanMs, p50Ms: s.p50Ms, p90Ms: s.p90Ms, p99Ms: s.p99Ms, p999Ms: s.p999Ms, maxMs: s.maxMs };
}

function point(encoded: string | undefined): LatencyPoint | undefined {
  return encoded ? latencyPoint(LatencyHistogram.decode(encoded)) : undefined;
}

export function secondPoint(row: SecondRow): SecondPoint {
  const corrected = point(row.latCorrected);
  const uncorrected = point(row.latUncorrected);
  const lag = point(row.scheduleLag);
  return {
    second: row.second,
    targetRate: row.targetRate === null || Number.isNaN(row.targetRate) ? null : row.targetRate,
    sent: row.sent,
    committed: row.committed,
    failed: row.failed,
    expired: row.expired,
    late: row.late,
    inFlight: row.inFlight,
    errors: row.errors,
    ...(corrected ? { corrected } : {}),
    ...(uncorrected ? { uncorrected } : {}),
    ...(lag ? { lag } : {}),
  };
}
