// results.db: runs, per-second series, beacons, nodes and outcomes round trip; migrations on reopen.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/clock.js';
import { TpslabError } from '../../src/errors.js';
import { collectEnvironment } from '../../src/harness/environment.js';
import { LatencyHistogram } from '../../src/harness/histogram.js';
import { ResultsStore, SCHEMA_VERSION, type BeaconRow, type NodeRow, type OutcomeRow, type SecondRow } from '../../src/harness/store.js';

const isStoreError = (e: unknown) => e instanceof TpslabError && e.code === 'TPSLAB_E_STORE';

describe('ResultsStore', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tpslab-store-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates, finishes, gets, lists and resolves "latest"', () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 21, 20, 47, 55));
    const store = ResultsStore.open(join(dir, 'runs.db'), { clock });
    try {
      const first = store.createRun({ name: 'smoke', scenario: { rate: 100 }, environment: { hostname: 'h' } });
      assert.match(first, /^2026-11-21T20-47-55Z-[0-9a-f]{4}$/);
      clock.advance(60_000);
      const second = store.createRun({ id: 'run-b', name: 'soak', scenario: { rate: 500 }, environment: {} });
      assert.equal(second, 'run-b');
      assert.throws(() => store.createRun({ id: 'run-b', name: 'again', scenario: {}, environment: {} }), isStoreError);

      const running = store.getRun('latest');
      assert.equal(running.id, 'run-b');
      assert.equal(running.status, 'running');
      assert.equal(running.finishedAt, undefined);
      assert.equal(running.summary, undefined);

      clock.advance(5000);
      store.finishRun(first, { status: 'breached', summary: { tps: 98.5 }, thresholds: [{ expr: 'p99 < 100ms', ok: false }], error: 'p99 too high' });
      const done = store.getRun(first);
      assert.deepEqual(done, {
        id: first, name: 'smoke', startedAt: '2026-11-21T20:47:55.000Z', finishedAt: '2026-11-21T20:49:00.000Z',
        status: 'breached', scenario: { rate: 100 }, environment: { hostname: 'h' }, summary: { tps: 98.5 },
        thresholds: [{ expr: 'p99 < 100ms', ok: false }], error: 'p99 too high',
      });
      assert.deepEqual(store.listRuns().map((r) => r.id), ['run-b', first]);
      assert.deepEqual(store.listRuns(1).map((r) => r.id), ['run-b']);

      assert.throws(() => store.getRun('nope'), (e: unknown) => isStoreError(e) && /no run nope in .*runs\.db.*run-b/.test((e as Error).message));
      assert.throws(() => store.finishRun('nope', { status: 'passed', summary: {}, thresholds: [] }), isStoreError);
      assert.throws(() => store.addSecond('nope', { second: 0, targetRate: 1, sent: 0, committed: 0, failed: 0, expired: 0, late: 0, inFlight: 0, errors: {} }), isStoreError);
      assert.throws(() => store.seconds('nope'), isStoreError);
    } finally {
      store.close();
    }
  });

  it('says so when asked for "latest" in an empty database', () => {
    const store = ResultsStore.open(join(dir, 'empty.db'));
    try {
      assert.throws(() => store.getRun('latest'), (e: unknown) => isStoreError(e) && /no runs yet/.test((e as Error).message));
      assert.deepEqual(store.listRuns(), []);
    } finally {
      store.close();
    }
  });

  it('round-trips seconds, beacons, nodes and outcomes', async () => {
    const store = ResultsStore.open(join(dir, 'rows.db'));
    try {
      const id = store.createRun({ name: 'rows', scenario: {}, environment: await collectEnvironment() });
      const h = new LatencyHistogram();
      h.record(12.5);
      const seconds: SecondRow[] = [
        { second: 0, targetRate: 100, sent: 100, committed: 97, failed: 1, expired: 0, late: 0, inFlight: 2, errors: { TPSLAB_E_MEMPOOL_FULL: 1 },
          latCorrected: h.encode(), latUncorrected: h.encode(), scheduleLag: new LatencyHistogram().encode() },
        { second: 1, targetRate: 150.5, sent: 0, committed: 2, failed: 0, expired: 0, late: 0, inFlight: 0, errors: {} },
      ];
      store.addSecond(id, seconds[1]!);
      store.addSecond(id, { ...seconds[0]!, committed: 1 });
      store.addSecond(id, seconds[0]!); // a late report replaces the second
      assert.deepEqual(store.seconds(id), seconds);
      assert.ok(Math.abs(LatencyHistogram.decode(store.seconds(id)[0]!.latCorrected!).percentileMs(50) - 12.5) < 0.01);

      const beacons: BeaconRow[] = [
        { beacon: 0, accountsStart: 0, accountsEnd: 500, sent: 50, committed: 49, failed: 1, lost: 0, retries: 3, errors: { TPSLAB_E_TIMEOUT: 1 } },
        { beacon: 1, accountsStart: 500, accountsEnd: 1000, sent: 50, committed: 50, failed: 0, lost: 0, retries: 0, errors: {},
          name: 'beacon-1', clockOffsetMs: -2000.25, clockUncertaintyMs: 0.4, firstSendAfterStartMs: 1.5 },
      ];
      store.setBeacons(id, [{ ...beacons[0]!, sent: 1 }]);
      store.setBeacons(id, beacons);
      assert.deepEqual(store.beacons(id), beacons);

      const nodes: NodeRow[] = [
        { node: 'n0', url: 'http://127.0.0.1:1', role: 'node', head: 42, healthy: true, stats: { mempool: 3 } },
        { node: 'seq', url: 'http://127.0.0.1:2', role: 'sequencer', healthy: false, stats: null },
      ];
      store.setNodes(id, nodes);
      assert.deepEqual(store.nodes(id), nodes);

      const outcomes: OutcomeRow[] = [
        { txId: 'aa', beacon: 0, sender: 'alice', nonce: 1, intendedMs: 1000, sentMs: 1001.5, committedMs: 1030.25, status: 'committed', height: 7, attempts: 1 },
        { txId: 'bb', beacon: 1, sender: 'bob', nonce: 1, intendedMs: 1002, sentMs: 1002, status: 'failed', errorCode: 'TPSLAB_E_NONCE_TOO_LOW', attempts: 2 },
        { txId: 'cc', beacon: 1, sender: 'bob', nonce: 2, intendedMs: 1001, status: 'lost', attempts: 0 },
      ];
      store.addOutcomes(id, outcomes);
      assert.deepEqual(store.outcomes(id), [outcomes[0], outcomes[2], outcomes[1]]);
      assert.deepEqual(store.outcomes(id, { status: 'failed' }), [outcomes[1]]);
      assert.deepEqual(store.outcomes(id, { limit: 1 }), [outcomes[0]]);
      assert.deepEqual(store.outcomes(id, { status: 'pending' }), []);

      const env = store.getRun(id).environment as { nodeVersion: string; tpslabVersion: string; cpus: { count: number }; gitCommit?: string };
      const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
      assert.equal(env.nodeVersion, process.version);
      assert.equal(env.tpslabVersion, pkg.version);
      assert.ok(env.cpus.count >= 1);
      if (env.gitCommit !== undefined) assert.match(env.gitCommit, /^[0-9a-f]{40,64}$/);
    } finally {
      store.close();
    }
  });

  it('stores 100k outcomes in one call', (t) => {
    const store = ResultsStore.open(join(dir, 'bulk.db'));
    try {
      const id = store.createRun({ name: 'bulk', scenario: {}, environment: {} });
      const rows: OutcomeRow[] = [];
      for (let i = 0; i < 100_000; i++) {
        rows.push({
          txId: (i * 2_654_435_761 % 2 ** 32).toString(16).padStart(8, '0') + i.toString(16), beacon: i % 8, sender: `acct-${i % 1000}`,
          nonce: Math.floor(i / 1000), intendedMs: 1_700_000_000_000 + i / 10, sentMs: 1_700_000_000_000 + i / 10 + 1,
          committedMs: i % 100 === 0 ? undefined : 1_700_000_000_050 + i / 10, status: i % 100 === 0 ? 'lost' : 'committed', attempts: 1,
        });
      }
      const t0 = performance.now();
      store.addOutcomes(id, rows);
      const elapsedMs = performance.now() - t0;
      t.diagnostic(`100k outcomes inserted in ${elapsedMs.toFixed(0)} ms`);
      // No timing assertion (timings live in bench/): the figure is reported, the rows are checked.
      assert.equal(store.outcomes(id, { status: 'lost' }).length, 1000);
      assert.equal(store.outcomes(id, { limit: 5 }).length, 5);
    } finally {
      store.close();
    }
  });

  it('keeps data and user_version when reopened, and a run left running stays readable', () => {
    const file = join(dir, 'reopen.db');
    const a = ResultsStore.open(file);
    const id = a.createRun({ name: 'crashed', scenario: { x: 1 }, environment: {} });
    a.addSecond(id, { second: 0, targetRate: 10, sent: 10, committed: 10, failed: 0, expired: 0, late: 0, inFlight: 0, errors: {} });
    assert.equal(a.schemaVersion, SCHEMA_VERSION);
    a.close(); // no finishRun: the overseer "crashed"

    const b = ResultsStore.open(file, { mustExist: true });
    try {
      assert.equal(b.schemaVersion, SCHEMA_VERSION);
      const run = b.getRun('latest');
      assert.equal(run.id, id);
      assert.equal(run.status, 'running');
      assert.equal(b.seconds(id).length, 1);
    } finally {
      b.close();
    }
    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      raw.close();
    }
  });

  it('regression: a v1 results.db with negative per-second lost reads back as expired and late, never negative', () => {
    const file = join(dir, 'v1.db');
    const raw = new Database(file);
    raw.exec(`
      CREATE TABLE runs (id TEXT PRIMARY KEY, name TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
        scenario_json TEXT, environment_json TEXT, summary_json TEXT, thresholds_json TEXT, error TEXT);
      CREATE INDEX runs_started_at ON runs(started_at);
      CREATE TABLE run_seconds (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, second INTEGER NOT NULL,
        target_rate REAL, sent INTEGER, committed INTEGER, failed INTEGER, lost INTEGER, in_flight INTEGER, errors_json TEXT,
        lat_corrected TEXT, lat_uncorrected TEXT, schedule_lag TEXT, PRIMARY KEY (run_id, second)) WITHOUT ROWID;
      CREATE TABLE run_beacons (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, beacon INTEGER NOT NULL,
        accounts_start INTEGER, accounts_end INTEGER, sent INTEGER, committed INTEGER, failed INTEGER, lost INTEGER, retries INTEGER,
        errors_json TEXT, PRIMARY KEY (run_id, beacon)) WITHOUT ROWID;
      CREATE TABLE run_nodes (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, node TEXT NOT NULL, url TEXT, role TEXT,
        head INTEGER, healthy INTEGER, stats_json TEXT, PRIMARY KEY (run_id, node)) WITHOUT ROWID;
      CREATE TABLE tx_outcomes (run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, tx_id TEXT NOT NULL, beacon INTEGER,
        sender TEXT, nonce INTEGER, intended_ms REAL, sent_ms REAL, committed_ms REAL, status TEXT NOT NULL, error_code TEXT,
        height INTEGER, attempts INTEGER, PRIMARY KEY (run_id, tx_id));
      INSERT INTO runs (id, name, started_at, status) VALUES ('old', 'old', '2026-11-01T00:00:00.000Z', 'passed');
      INSERT INTO run_seconds (run_id, second, target_rate, sent, committed, failed, lost, in_flight, errors_json) VALUES
        ('old', 0, 10, 10, 5, 0, 5, 0, '{}'), ('old', 1, 10, 0, 3, 0, -3, 0, '{}');
      INSERT INTO run_beacons (run_id, beacon, accounts_start, accounts_end, sent, committed, failed, lost, retries, errors_json)
        VALUES ('old', 0, 0, 10, 10, 8, 0, 2, 0, '{}');
    `);
    raw.pragma('user_version = 1');
    raw.close();
    const store = ResultsStore.open(file, { mustExist: true });
    try {
      assert.equal(store.schemaVersion, SCHEMA_VERSION);
      assert.deepEqual(store.seconds('old').map((r) => [r.expired, r.late]), [[5, 0], [0, 3]]);
      assert.deepEqual(store.beacons('old').map((b) => [b.lost, b.late]), [[2, undefined]]);
      // v3's beacon clock columns read back absent for rows stored before them.
      assert.deepEqual(store.beacons('old').map((b) => [b.name, b.clockOffsetMs, b.clockUncertaintyMs, b.firstSendAfterStartMs]), [[undefined, undefined, undefined, undefined]]);
      store.addSecond('old', { second: 2, targetRate: 10, sent: 0, committed: 0, failed: 0, expired: 1, late: 0, inFlight: 0, errors: {} });
      assert.deepEqual(store.seconds('old').map((r) => [r.expired, r.late]), [[5, 0], [0, 3], [1, 0]]);
    } finally {
      store.close();
    }
  });

  it('refuses a database from a newer tpslab', () => {
    const file = join(dir, 'future.db');
    ResultsStore.open(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => ResultsStore.open(file), (e: unknown) => isStoreError(e) && /newer tpslab/.test((e as Error).message));
  });

  it('gives TPSLAB_E_STORE naming the path when the directory is missing or the file is absent', () => {
    const missing = join(dir, 'no-such-dir', 'results.db');
    assert.throws(
      () => ResultsStore.open(missing),
      (e: unknown) => isStoreError(e) && (e as Error).message.includes(missing) && /does not exist; create it/.test((e as Error).message),
    );
    assert.throws(() => ResultsStore.open(join(dir, 'absent.db'), { mustExist: true }), isStoreError);
  });
});
