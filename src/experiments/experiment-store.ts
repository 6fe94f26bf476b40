/**
 * Experiments in results.db: a sweep or a find-max search, and every run it made (a cell or
 * a probe) with its parameters and figures. The runs themselves are ordinary runs in the
 * `runs` table; these two tables tag them. Created if missing (CREATE TABLE IF NOT EXISTS),
 * so they need no migration of the runs schema (docs/experiments.md lists the columns).
 */
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../clock.js';
import { TpslabError } from '../errors.js';
import { ResultsStore, newRunId } from '../harness/store.js';

export type ExperimentKind = 'sweep' | 'find-max';

export interface ExperimentRecord {
  id: string;
  kind: ExperimentKind;
  name: string;
  startedAt: string;
  finishedAt?: string;
  spec: unknown;
  result?: unknown;
}

/** The figures of merit of one run. */
export interface RunFigures {
  /** Committed TPS: average over the seconds with commits (the run summary's tps.avg). */
  tps: number;
  /** Corrected latency p99, ms. */
  p99Ms: number;
  /** What the schedule asked for (open model), or sent. */
  offered: number;
  sent: number;
  committed: number;
  failed: number;
  lost: number;
}

export interface ExperimentRun {
  seq: number;
  runId?: string;
  /** field path → value (a sweep cell), or { rate } (a find-max probe). */
  params: Record<string, unknown>;
  status: string;
  figures?: RunFigures;
  /** Why it failed, or which service levels a probe missed. */
  note?: string;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT, spec_json TEXT, result_json TEXT);
  CREATE TABLE IF NOT EXISTS experiment_runs (
    experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
    run_id TEXT, params_json TEXT NOT NULL, status TEXT NOT NULL, figures_json TEXT, note TEXT,
    PRIMARY KEY (experiment_id, seq)) WITHOUT ROWID;
`;

interface ExperimentSql { id: string; kind: string; name: string; started_at: string; finished_at: string | null; spec_json: string | null; result_json: string | null }
interface RunSql { seq: number; run_id: string | null; params_json: string; status: string; figures_json: string | null; note: string | null }

export class ExperimentStore {
  private constructor(private readonly db: Database.Database, readonly path: string, private readonly clock: Clock) {}

  /** Opens results.db (creating and migrating it through ResultsStore first) and the experiment tables. */
  static open(file: string, opts: { mustExist?: boolean; clock?: Clock } = {}): ExperimentStore {
    ResultsStore.open(file, { ...(opts.mustExist ? { mustExist: true } : {}) }).close();
    try {
      const db = new Database(file);
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      return new ExperimentStore(db, file, opts.clock ?? systemClock);
    } catch (err) {
      throw new TpslabError('TPSLAB_E_STORE', `cannot open the experiment tables in ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  create(kind: ExperimentKind, name: string, spec: unknown): string {
    const id = `${kind}-${newRunId(this.clock.now())}`;
    this.db.prepare('INSERT INTO experiments (id, kind, name, started_at, spec_json) VALUES (?, ?, ?, ?, ?)').run(id, kind, name, new Date(this.clock.now()).toISOString(), JSON.stringify(spec));
    return id;
  }

  addRun(id: string, r: ExperimentRun): void {
    this.db
      .prepare('INSERT OR REPLACE INTO experiment_runs (experiment_id, seq, run_id, params_json, status, figures_json, note) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, r.seq, r.runId ?? null, JSON.stringify(r.params), r.status, r.figures ? JSON.stringify(r.figures) : null, r.note ?? null);
  }

  finish(id: string, result: unknown): void {
    this.db.prepare('UPDATE experiments SET finished_at = ?, result_json = ? WHERE id = ?').run(new Date(this.clock.now()).toISOString(), JSON.stringify(result), id);
  }

  /** An experiment by id, or the newest of `kind` for "latest". */
  get(idOrLatest: string, kind?: ExperimentKind): ExperimentRecord {
    const row = (
      idOrLatest === 'latest'
        ? this.db.prepare(`SELECT * FROM experiments ${kind ? 'WHERE kind = ?' : ''} ORDER BY started_at DESC, id DESC LIMIT 1`).get(...(kind ? [kind] : []))
        : this.db.prepare('SELECT * FROM experiments WHERE id = ?').get(idOrLatest)
    ) as ExperimentSql | undefined;
    if (!row) throw new TpslabError('TPSLAB_E_STORE', `no ${kind ?? 'experiment'} ${idOrLatest === 'latest' ? 'at all' : `"${idOrLatest}"`} in ${this.path}; list them with: sqlite3 ${this.path} 'SELECT id, kind, name FROM experiments'`);
    const rec: ExperimentRecord = { id: row.id, kind: row.kind as ExperimentKind, name: row.name, startedAt: row.started_at, spec: row.spec_json ? (JSON.parse(row.spec_json) as unknown) : null };
    if (row.finished_at) rec.finishedAt = row.finished_at;
    if (row.result_json) rec.result = JSON.parse(row.result_json) as unknown;
    return rec;
  }

  runs(id: string): ExperimentRun[] {
    const rows = this.db.prepare('SELECT seq, run_id, params_json, status, figures_json, note FROM experiment_runs WHERE experiment_id = ? ORDER BY seq').all(id) as RunSql[];
    return rows.map((r) => ({
      seq: r.seq,
      ...(r.run_id ? { runId: r.run_id } : {}),
      params: JSON.parse(r.params_json) as Record<string, unknown>,
      status: r.status,
      ...(r.figures_json ? { figures: JSON.parse(r.figures_json) as RunFigures } : {}),
      ...(r.note ? { note: r.note } : {}),
    }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
