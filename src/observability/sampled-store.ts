/**
 * A run's sampled global TPS estimate in results.db: table `run_sampled_tps` (created if
 * missing), one row per run that asked for it (`tpslab run --sample-nodes`).
 */
import Database from 'better-sqlite3';
import { TpslabError } from '../errors.js';
import type { SampledTpsInfo } from '../web/contract.js';

const SCHEMA = `CREATE TABLE IF NOT EXISTS run_sampled_tps (
  run_id TEXT PRIMARY KEY, nodes INTEGER NOT NULL, sampled_per_interval INTEGER NOT NULL, interval_ms INTEGER NOT NULL,
  intervals INTEGER NOT NULL, estimated_total INTEGER NOT NULL, full_total INTEGER NOT NULL, error REAL) WITHOUT ROWID`;

export function storeSampledTps(file: string, runId: string, s: SampledTpsInfo): void {
  let db: Database.Database;
  try {
    db = new Database(file);
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
  } catch (err) {
    throw new TpslabError('TPSLAB_E_STORE', `cannot open the run_sampled_tps table in ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.prepare('INSERT OR REPLACE INTO run_sampled_tps (run_id, nodes, sampled_per_interval, interval_ms, intervals, estimated_total, full_total, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(runId, s.nodes, s.sampledPerInterval, s.intervalMs, s.intervals, s.estimatedTotal, s.fullTotal, s.error);
  } finally {
    db.close();
  }
}

interface Row { nodes: number; sampled_per_interval: number; interval_ms: number; intervals: number; estimated_total: number; full_total: number; error: number | null }

/** The run's estimate; undefined when it did not sample (or the table does not exist). */
export function readSampledTps(file: string, runId: string): SampledTpsInfo | undefined {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_sampled_tps'").get()) return undefined;
    const r = db.prepare('SELECT * FROM run_sampled_tps WHERE run_id = ?').get(runId) as Row | undefined;
    return r && { nodes: r.nodes, sampledPerInterval: r.sampled_per_interval, intervalMs: r.interval_ms, intervals: r.intervals, estimatedTotal: r.estimated_total, fullTotal: r.full_total, error: r.error };
  } finally {
    db.close();
  }
}
