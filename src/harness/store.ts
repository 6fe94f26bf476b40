/**
 * results.db: every run, its per-second series, beacons, nodes and per-transaction outcomes.
 *
 * SQLite through better-sqlite3 in WAL mode, so `tpslab report` can read while an overseer
 * writes. The schema is versioned with `PRAGMA user_version`; `MIGRATIONS[i]` takes the
 * database from version i to i + 1 inside one transaction. Table and column names are
 * public (docs describe them): add columns and tables in new migrations, never rename.
 *
 * A run left `running` by an overseer that crashed stays readable as it is.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../clock.js';
import type { NodeRow } from '../connectors/contract.js';
import { TpslabError } from '../errors.js';

export const RUN_STATUSES = ['running', 'passed', 'breached', 'failed', 'aborted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const OUTCOME_STATUSES = ['committed', 'failed', 'lost', 'pending'] as const;
export type OutcomeStatus = (typeof OUTCOME_STATUSES)[number];

export interface RunRecord {
  id: string;
  name: string;
  /** ISO 8601. */
  startedAt: string;
  /** ISO 8601; undefined while running (or if the overseer died). */
  finishedAt?: string;
  status: RunStatus;
  scenario: unknown;
  environment: unknown;
  /** undefined until the run is finished. */
  summary?: unknown;
  thresholds?: unknown;
  error?: string;
}

/** Error counts by error code. */
export type ErrorCounts = Record<string, number>;

/** One second of a run; histograms are encoded (LatencyHistogram.encode) and merged over beacons. */
export interface SecondRow {
  /** 0-based seconds since the run's start. */
  second: number;
  /** Transactions per second the schedule asked for in this second; NaN (stored as NULL, read as null) outside the open model. */
  targetRate: number | null;
  sent: number;
  committed: number;
  failed: number;
  /** Transactions whose confirmation timeout ran out in this second (not committed by then). */
  expired: number;
  /** Transactions that committed in this second after their timeout had run out. */
  late: number;
  inFlight: number;
  errors: ErrorCounts;
  latCorrected?: string;
  latUncorrected?: string;
  scheduleLag?: string;
}

export interface BeaconRow {
  beacon: number;
  accountsStart: number;
  accountsEnd: number;
  sent: number;
  committed: number;
  failed: number;
  /** Expired and never committed (expired − late). */
  lost: number;
  /** Committed after the confirmation timeout ran out; absent in runs stored before schema v2. */
  late?: number;
  retries: number;
  errors: ErrorCounts;
  /** Beacons over NATS (schema v3; absent for local beacons and older runs): the beacon's --name. */
  name?: string;
  /** Its clock offset to the overseer's (overseer minus beacon), ms, and that offset's uncertainty (± half the best round trip). */
  clockOffsetMs?: number;
  clockUncertaintyMs?: number;
  /** Its first send after the run's start instant, ms on the overseer's clock (its own clock corrected by the offset). */
  firstSendAfterStartMs?: number;
}

/** A process of the network at the end of the run, as its connector describes it. */
export type { NodeRow };

/** One transaction; times are epoch milliseconds as the beacon saw them. */
export interface OutcomeRow {
  txId: string;
  beacon: number;
  sender: string;
  nonce: number;
  intendedMs: number;
  sentMs?: number;
  committedMs?: number;
  status: OutcomeStatus;
  errorCode?: string;
  height?: number;
  attempts: number;
}

export interface NewRun {
  /** Default: a sortable time-based id such as 2026-11-21T20-47-55Z-ab12. */
  id?: string;
  name: string;
  scenario: unknown;
  environment: unknown;
}

export interface FinishRun {
  status: RunStatus;
  summary: unknown;
  thresholds: unknown;
  error?: string;
}

export interface OpenOptions {
  /** Refuse to create a new database (for readers such as `tpslab report`). */
  mustExist?: boolean;
  clock?: Clock;
}

type Db = Database.Database;

/** MIGRATIONS[i] upgrades user_version i → i + 1. Append only. */
const MIGRATIONS: readonly ((db: Db) => void)[] = [
  (db) => {
    db.exec(`
      CREATE TABLE runs (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
        status TEXT NOT NULL, scenario_json TEXT, environment_json TEXT, summary_json TEXT,
        thresholds_json TEXT, error TEXT);
      CREATE INDEX runs_started_at ON runs(started_at);
      CREATE TABLE run_seconds (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, second INTEGER NOT NULL,
        target_rate REAL, sent INTEGER, committed INTEGER, failed INTEGER, lost INTEGER,
        in_flight INTEGER, errors_json TEXT, lat_corrected TEXT, lat_uncorrected TEXT, schedule_lag TEXT,
        PRIMARY KEY (run_id, second)) WITHOUT ROWID;
      CREATE TABLE run_beacons (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, beacon INTEGER NOT NULL,
        accounts_start INTEGER, accounts_end INTEGER, sent INTEGER, committed INTEGER, failed INTEGER,
        lost INTEGER, retries INTEGER, errors_json TEXT,
        PRIMARY KEY (run_id, beacon)) WITHOUT ROWID;
      CREATE TABLE run_nodes (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, node TEXT NOT NULL,
        url TEXT, role TEXT, head INTEGER, healthy INTEGER, stats_json TEXT,
        PRIMARY KEY (run_id, node)) WITHOUT ROWID;
      CREATE TABLE tx_outcomes (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, tx_id TEXT NOT NULL,
        beacon INTEGER, sender TEXT, nonce INTEGER, intended_ms REAL, sent_ms REAL, committed_ms REAL,
        status TEXT NOT NULL, error_code TEXT, height INTEGER, attempts INTEGER,
        PRIMARY KEY (run_id, tx_id)); -- a rowid table: inserts of random tx ids are ~2x faster
      CREATE INDEX tx_outcomes_status ON tx_outcomes(run_id, status);
    `);
  },
  // v2: per-second `lost` was a net change that went negative when late commits came in; seconds
  // now hold event counts, `expired` and `late` (lost = expired − late), and beacons their `late`.
  // v1 rows keep `lost` and read back as expired = max(lost, 0), late = max(−lost, 0).
  (db) => {
    db.exec(`
      ALTER TABLE run_seconds ADD COLUMN expired INTEGER;
      ALTER TABLE run_seconds ADD COLUMN late INTEGER;
      ALTER TABLE run_beacons ADD COLUMN late INTEGER;
    `);
  },
  // v3: beacons over NATS keep their name, clock offset to the overseer and its uncertainty, and their
  // first send after the start instant. NULL for local beacons and runs stored before.
  (db) => {
    db.exec(`
      ALTER TABLE run_beacons ADD COLUMN name TEXT;
      ALTER TABLE run_beacons ADD COLUMN clock_offset_ms REAL;
      ALTER TABLE run_beacons ADD COLUMN clock_uncertainty_ms REAL;
      ALTER TABLE run_beacons ADD COLUMN first_send_after_start_ms REAL;
    `);
  },
];
export const SCHEMA_VERSION = MIGRATIONS.length;

function storeError(message: string, cause?: unknown): TpslabError {
  return new TpslabError('TPSLAB_E_STORE', message, cause === undefined ? undefined : { cause });
}

const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const parse = (s: unknown): unknown => (typeof s === 'string' ? (JSON.parse(s) as unknown) : undefined);
const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

/** 2026-11-21T20-47-55Z-ab12: sorts by time, safe in file names. */
export function newRunId(nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().slice(0, 19).replaceAll(':', '-');
  return `${stamp}Z-${randomBytes(2).toString('hex')}`;
}

interface RunSql {
  id: string; name: string; started_at: string; finished_at: string | null; status: string;
  scenario_json: string | null; environment_json: string | null; summary_json: string | null;
  thresholds_json: string | null; error: string | null;
}

function runFromSql(r: RunSql): RunRecord {
  const rec: RunRecord = {
    id: r.id, name: r.name, startedAt: r.started_at, status: r.status as RunStatus,
    scenario: parse(r.scenario_json), environment: parse(r.environment_json),
  };
  if (r.finished_at !== null) rec.finishedAt = r.finished_at;
  if (r.summary_json !== null) rec.summary = parse(r.summary_json);
  if (r.thresholds_json !== null) rec.thresholds = parse(r.thresholds_json);
  if (r.error !== null) rec.error = r.error;
  return rec;
}

export class ResultsStore {
  private closed = false;

  private constructor(
    private readonly db: Db,
    readonly path: string,
    private readonly clock: Clock,
  ) {}

  /** Opens (creating if needed) and migrates results.db. The parent directory must exist. */
  static open(file: string, opts: OpenOptions = {}): ResultsStore {
    const inMemory = file === ':memory:';
    if (!inMemory) {
      const dir = path.dirname(path.resolve(file));
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        throw storeError(`cannot open results database ${file}: directory ${dir} does not exist; create it (mkdir -p ${dir}) or choose another path`);
      }
      if (opts.mustExist && !existsSync(file)) {
        throw storeError(`no results database at ${file}; run a scenario first (tpslab run) or point to an existing results.db`);
      }
    }
    let db: Db | undefined;
    try {
      db = new Database(file);
      db.pragma('busy_timeout = 5000');
      if (!inMemory) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db, file);
    } catch (err) {
      db?.close();
      if (err instanceof TpslabError) throw err;
      throw storeError(`cannot open results database ${file}: ${(err as Error).message}; check that it is a tpslab results.db and that you may write to it`, err);
    }
    return new ResultsStore(db, file, opts.clock ?? systemClock);
  }

  createRun(r: NewRun): string {
    const id = r.id ?? newRunId(this.clock.now());
    this.write(id, `create run ${id}`, () => {
      if (this.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(id)) {
        throw storeError(`cannot create run ${id} in ${this.path}: a run with that id already exists; choose another id or leave it out`);
      }
      this.db
        .prepare(`INSERT INTO runs (id, name, started_at, status, scenario_json, environment_json) VALUES (?, ?, ?, 'running', ?, ?)`)
        .run(id, r.name, new Date(this.clock.now()).toISOString(), json(r.scenario), json(r.environment));
    });
    return id;
  }

  /** Stores one second; storing the same second again replaces it (a late report re-merged). */
  addSecond(runId: string, s: SecondRow): void {
    this.write(runId, `store second ${s.second} of run ${runId}`, () =>
      this.db
        .prepare(`INSERT OR REPLACE INTO run_seconds (run_id, second, target_rate, sent, committed, failed, lost, expired, late, in_flight, errors_json, lat_corrected, lat_uncorrected, schedule_lag)
          VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)`)
        .run(runId, s.second, s.targetRate, s.sent, s.committed, s.failed, s.expired, s.late, s.inFlight, json(s.errors),
          s.latCorrected ?? null, s.latUncorrected ?? null, s.scheduleLag ?? null),
    );
  }

  /** Replaces the run's beacon rows. */
  setBeacons(runId: string, rows: readonly BeaconRow[]): void {
    this.write(runId, `store beacons of run ${runId}`, () => {
      this.mustExist(runId);
      this.db.prepare('DELETE FROM run_beacons WHERE run_id = ?').run(runId);
      const ins = this.db.prepare(`INSERT INTO run_beacons (run_id, beacon, accounts_start, accounts_end, sent, committed, failed, lost, late, retries, errors_json,
        name, clock_offset_ms, clock_uncertainty_ms, first_send_after_start_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const b of rows) {
        ins.run(runId, b.beacon, b.accountsStart, b.accountsEnd, b.sent, b.committed, b.failed, b.lost, b.late ?? null, b.retries, json(b.errors),
          b.name ?? null, b.clockOffsetMs ?? null, b.clockUncertaintyMs ?? null, b.firstSendAfterStartMs ?? null);
      }
    });
  }

  /** Replaces the run's node rows. */
  setNodes(runId: string, rows: readonly NodeRow[]): void {
    this.write(runId, `store nodes of run ${runId}`, () => {
      this.mustExist(runId);
      this.db.prepare('DELETE FROM run_nodes WHERE run_id = ?').run(runId);
      const ins = this.db.prepare('INSERT INTO run_nodes (run_id, node, url, role, head, healthy, stats_json) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const n of rows) ins.run(runId, n.node, n.url, n.role, n.head ?? null, n.healthy ? 1 : 0, json(n.stats));
    });
  }

  /** Inserts or replaces outcomes in one transaction (100k rows take well under a second). */
  addOutcomes(runId: string, rows: readonly OutcomeRow[]): void {
    if (rows.length === 0) return;
    this.write(runId, `store ${rows.length} outcomes of run ${runId}`, () => {
      this.mustExist(runId);
      const ins = this.db.prepare(`INSERT OR REPLACE INTO tx_outcomes (run_id, tx_id, beacon, sender, nonce, intended_ms, sent_ms, committed_ms, status, error_code, height, attempts)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const o of rows) {
        ins.run(runId, o.txId, o.beacon, o.sender, o.nonce, o.intendedMs, o.sentMs ?? null, o.committedMs ?? null,
          o.status, o.errorCode ?? null, o.height ?? null, o.attempts);
      }
    });
  }

  finishRun(runId: string, r: FinishRun): void {
    if (!(RUN_STATUSES as readonly string[]).includes(r.status)) {
      throw storeError(`cannot finish run ${runId} with status "${r.status}"; valid: ${RUN_STATUSES.join(', ')}`);
    }
    this.write(runId, `finish run ${runId}`, () => {
      const res = this.db
        .prepare('UPDATE runs SET status = ?, finished_at = ?, summary_json = ?, thresholds_json = ?, error = ? WHERE id = ?')
        .run(r.status, new Date(this.clock.now()).toISOString(), json(r.summary), json(r.thresholds), r.error ?? null, runId);
      if (res.changes === 0) throw this.noRun(runId);
    });
  }

  /** A run by id, or the newest one with "latest" (the newest not aborted with `skipAborted`). */
  getRun(idOrLatest: string, opts: { skipAborted?: boolean } = {}): RunRecord {
    const skip = opts.skipAborted ? ` WHERE status != 'aborted'` : '';
    const row = (idOrLatest === 'latest'
      ? this.db.prepare(`SELECT * FROM runs${skip} ORDER BY started_at DESC, id DESC LIMIT 1`).get()
      : this.db.prepare('SELECT * FROM runs WHERE id = ?').get(idOrLatest)) as RunSql | undefined;
    if (!row && idOrLatest === 'latest' && opts.skipAborted && this.db.prepare('SELECT 1 FROM runs').get()) {
      throw storeError(`no run in ${this.path} except aborted ones; pass --include-aborted to use the newest aborted run, or name a run id`);
    }
    if (!row) throw this.noRun(idOrLatest);
    return runFromSql(row);
  }

  /** Newest first; all of them unless `limit` is given. */
  listRuns(limit = -1): RunRecord[] {
    const rows = this.db.prepare('SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?').all(limit) as RunSql[];
    return rows.map(runFromSql);
  }

  seconds(runId: string): SecondRow[] {
    this.mustExist(runId);
    const rows = this.db.prepare('SELECT * FROM run_seconds WHERE run_id = ? ORDER BY second').all(runId) as {
      second: number; target_rate: number; sent: number; committed: number; failed: number; lost: number | null;
      expired: number | null; late: number | null; in_flight: number;
      errors_json: string | null; lat_corrected: string | null; lat_uncorrected: string | null; schedule_lag: string | null;
    }[];
    return rows.map((r) => {
      // A v1 row holds the net change in `lost` instead (negative when late commits outnumbered timeouts).
      const v1 = r.expired === null && r.late === null;
      const lost = r.lost ?? 0;
      const s: SecondRow = {
        second: r.second, targetRate: r.target_rate, sent: r.sent, committed: r.committed, failed: r.failed,
        expired: v1 ? Math.max(lost, 0) : (r.expired ?? 0), late: v1 ? Math.max(-lost, 0) : (r.late ?? 0),
        inFlight: r.in_flight, errors: (parse(r.errors_json) ?? {}) as ErrorCounts,
      };
      if (r.lat_corrected !== null) s.latCorrected = r.lat_corrected;
      if (r.lat_uncorrected !== null) s.latUncorrected = r.lat_uncorrected;
      if (r.schedule_lag !== null) s.scheduleLag = r.schedule_lag;
      return s;
    });
  }

  beacons(runId: string): BeaconRow[] {
    this.mustExist(runId);
    const rows = this.db.prepare('SELECT * FROM run_beacons WHERE run_id = ? ORDER BY beacon').all(runId) as {
      beacon: number; accounts_start: number; accounts_end: number; sent: number; committed: number; failed: number;
      lost: number; late: number | null; retries: number; errors_json: string | null;
      name: string | null; clock_offset_ms: number | null; clock_uncertainty_ms: number | null; first_send_after_start_ms: number | null;
    }[];
    return rows.map((r) => ({
      beacon: r.beacon, accountsStart: r.accounts_start, accountsEnd: r.accounts_end, sent: r.sent, committed: r.committed,
      failed: r.failed, lost: r.lost, ...(r.late !== null ? { late: r.late } : {}), retries: r.retries, errors: (parse(r.errors_json) ?? {}) as ErrorCounts,
      ...(r.name !== null ? { name: r.name } : {}),
      ...(r.clock_offset_ms !== null ? { clockOffsetMs: r.clock_offset_ms } : {}),
      ...(r.clock_uncertainty_ms !== null ? { clockUncertaintyMs: r.clock_uncertainty_ms } : {}),
      ...(r.first_send_after_start_ms !== null ? { firstSendAfterStartMs: r.first_send_after_start_ms } : {}),
    }));
  }

  nodes(runId: string): NodeRow[] {
    this.mustExist(runId);
    const rows = this.db.prepare('SELECT * FROM run_nodes WHERE run_id = ? ORDER BY node').all(runId) as {
      node: string; url: string; role: string; head: number | null; healthy: number; stats_json: string | null;
    }[];
    return rows.map((r) => {
      const n: NodeRow = { node: r.node, url: r.url, role: r.role, healthy: r.healthy === 1, stats: parse(r.stats_json) };
      if (r.head !== null) n.head = r.head;
      return n;
    });
  }

  /** Ordered by intended send time; `status` filters, `limit` caps. */
  outcomes(runId: string, opts: { status?: string; limit?: number } = {}): OutcomeRow[] {
    this.mustExist(runId);
    const where = opts.status === undefined ? '' : ' AND status = @status';
    const rows = this.db
      .prepare(`SELECT * FROM tx_outcomes WHERE run_id = @runId${where} ORDER BY intended_ms, tx_id LIMIT @limit`)
      .all({ runId, status: opts.status, limit: opts.limit ?? -1 }) as {
      tx_id: string; beacon: number; sender: string; nonce: number; intended_ms: number; sent_ms: number | null;
      committed_ms: number | null; status: string; error_code: string | null; height: number | null; attempts: number;
    }[];
    return rows.map((r) => {
      const o: OutcomeRow = {
        txId: r.tx_id, beacon: r.beacon, sender: r.sender, nonce: r.nonce, intendedMs: r.intended_ms,
        status: r.status as OutcomeStatus, attempts: r.attempts,
      };
      const sentMs = opt(r.sent_ms), committedMs = opt(r.committed_ms), errorCode = opt(r.error_code), height = opt(r.height);
      if (sentMs !== undefined) o.sentMs = sentMs;
      if (committedMs !== undefined) o.committedMs = committedMs;
      if (errorCode !== undefined) o.errorCode = errorCode;
      if (height !== undefined) o.height = height;
      return o;
    });
  }

  /** The schema version of the open database. */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private mustExist(runId: string): void {
    if (!this.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(runId)) throw this.noRun(runId);
  }

  private noRun(id: string): TpslabError {
    const recent = (this.db.prepare('SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 5').all() as { id: string }[]).map((r) => r.id);
    if (recent.length === 0) return storeError(`no run ${id} in ${this.path}: it holds no runs yet; start one with tpslab run`);
    return storeError(`no run ${id} in ${this.path}; the newest runs are ${recent.join(', ')} (or use "latest")`);
  }

  /** Runs `fn` in a transaction; SQLite errors become TPSLAB_E_STORE naming what was being written. */
  private write(runId: string, what: string, fn: () => void): void {
    try {
      this.db.transaction(fn)();
    } catch (err) {
      if (err instanceof TpslabError) throw err;
      const code = (err as { code?: unknown }).code;
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw this.noRun(runId);
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw storeError(`cannot ${what} in ${this.path}: two rows have the same key (${(err as Error).message})`, err);
      throw storeError(`cannot ${what} in ${this.path}: ${(err as Error).message}`, err);
    }
  }
}

function migrate(db: Db, file: string): void {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > SCHEMA_VERSION) {
    throw storeError(`${file} has results schema v${from} but this tpslab knows up to v${SCHEMA_VERSION}; open it with a newer tpslab`);
  }
  for (let v = from; v < SCHEMA_VERSION; v++) {
    const step = MIGRATIONS[v]!;
    try {
      db.transaction(() => {
        step(db);
        db.pragma(`user_version = ${v + 1}`);
      })();
    } catch (err) {
      throw storeError(`cannot migrate ${file} from results schema v${v} to v${v + 1}: ${(err as Error).message}; is it a tpslab results.db?`, err);
    }
  }
}
