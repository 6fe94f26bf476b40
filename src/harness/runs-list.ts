/** `tpslab runs`: the stored runs, newest first, with the figures people look for first. */
import type { Summary } from '../web/contract.js';
import type { ResultsStore } from './store.js';

export interface RunListRow {
  id: string;
  name: string;
  status: string;
  startedAt: string;
  finishedAt?: string;
  /** Committed TPS average; undefined when the run has no summary (failed, running, aborted early). */
  tpsAvg?: number;
  /** Corrected latency p99, ms. */
  p99Ms?: number;
  committed?: number;
  lost?: number;
}

const isSummary = (v: unknown): v is Summary => typeof v === 'object' && v !== null && 'tps' in v && 'latency' in v;

export function listRunRows(store: ResultsStore, limit = -1): RunListRow[] {
  return store.listRuns(limit).map((r) => {
    const row: RunListRow = { id: r.id, name: r.name, status: r.status, startedAt: r.startedAt };
    if (r.finishedAt !== undefined) row.finishedAt = r.finishedAt;
    if (isSummary(r.summary)) {
      row.tpsAvg = r.summary.tps.avg;
      row.p99Ms = r.summary.latency.p99Ms;
      row.committed = r.summary.committed;
      row.lost = r.summary.lost;
    }
    return row;
  });
}

/** A text table: id, name, status, started, TPS, p99. */
export function formatRuns(rows: readonly RunListRow[]): string {
  if (rows.length === 0) return 'no runs stored yet; start one with tpslab run';
  const header = ['id', 'name', 'status', 'started', 'TPS avg', 'p99 ms'];
  const cells = rows.map((r) => [
    r.id, r.name, r.status, r.startedAt.replace('T', ' ').slice(0, 19),
    r.tpsAvg === undefined ? '-' : r.tpsAvg.toFixed(1),
    r.p99Ms === undefined ? '-' : r.p99Ms >= 100 ? r.p99Ms.toFixed(0) : r.p99Ms.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => (i >= 4 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}
