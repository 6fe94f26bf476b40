/**
 * A run's faults in results.db: table `run_faults` (created if missing), one row per fault of
 * the scenario's timeline with when it really began and ended and its recovery time.
 */
import Database from 'better-sqlite3';
import { TpslabError } from '../errors.js';
import type { FaultInfo } from '../web/contract.js';

/** One fault of a run's timeline as stored: the shape reports show (src/web/contract.ts). */
export type FaultRecord = FaultInfo;

const SCHEMA = `CREATE TABLE IF NOT EXISTS run_faults (
  run_id TEXT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL, planned_at_sec REAL,
  start_sec REAL, end_sec REAL, before_tps REAL, recovery_sec REAL, error TEXT,
  PRIMARY KEY (run_id, idx)) WITHOUT ROWID`;

function open(file: string): Database.Database {
  try {
    const db = new Database(file);
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    return db;
  } catch (err) {
    throw new TpslabError('TPSLAB_E_STORE', `cannot open the run_faults table in ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export function storeFaults(file: string, runId: string, faults: readonly FaultRecord[]): void {
  const db = open(file);
  try {
    const ins = db.prepare('INSERT OR REPLACE INTO run_faults (run_id, idx, kind, label, planned_at_sec, start_sec, end_sec, before_tps, recovery_sec, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (const f of faults) ins.run(runId, f.index, f.kind, f.label, f.plannedAtSec, f.startSec, f.endSec, f.beforeTps, f.recoverySec, f.error ?? null);
    })();
  } finally {
    db.close();
  }
}

interface FaultSql { idx: number; kind: string; label: string; planned_at_sec: number; start_sec: number | null; end_sec: number | null; before_tps: number | null; recovery_sec: number | null; error: string | null }

/** A run's faults in order; empty when it had none (or the table does not exist). */
export function readFaults(file: string, runId: string): FaultRecord[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_faults'").get();
    if (!has) return [];
    const rows = db.prepare('SELECT * FROM run_faults WHERE run_id = ? ORDER BY idx').all(runId) as FaultSql[];
    return rows.map((r) => ({
      index: r.idx, kind: r.kind, label: r.label, plannedAtSec: r.planned_at_sec, startSec: r.start_sec, endSec: r.end_sec,
      beforeTps: r.before_tps, recoverySec: r.recovery_sec, ...(r.error ? { error: r.error } : {}),
    }));
  } finally {
    db.close();
  }
}
