/**
 * CPU per row of the transaction index, in process: random 32-byte ids written in batches (what a
 * process's index flush writes) into an empty index up to `--rows`, for the index of this tree
 * (`runs`: src/ledger/tx-index.ts, sorted runs merged on a worker thread) and the SQLite B-tree it
 * replaced (`sqlite`: the same schema, pragmas and statements as tx-index.ts had).
 *
 *   node dist/bench/tx-index-rows.js [--rows 400000] [--batch 8192] [--kinds runs,sqlite]
 *
 * Prints per kind: CPU per row over the whole fill and over its last tenth (what a row costs at that
 * size; process CPU, so the merge thread is counted), the median and longest batch call on the event loop,
 * a lookup of a present and of a missing id (CPU, 5,000 each over all runs, after a warm-up), bytes on disk
 * per row, and for `runs` how many runs a lookup asks and the bytes per row they keep in memory. `runs`
 * waits for its merges to finish before reading the CPU. Not part of `npm run bench`: a tool for changes
 * to the index.
 */
import Database from 'better-sqlite3';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { INDEX_SHIFT, TxIndex } from '../src/ledger/tx-index.js';

interface Subject {
  write(ids: Buffer[], height: number): void;
  get(id: Buffer): number | undefined;
  settle(): Promise<void>;
  close(): Promise<void>;
  /** Runs a lookup asks, and bytes kept in memory for lookups (runs only). */
  shape?(): { runs: number; memoryBytes: number };
}

function sqliteSubject(dir: string): Subject {
  const db = new Database(join(dir, 'txindex.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -16384');
  db.exec(`CREATE TABLE txs (id BLOB PRIMARY KEY, loc INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL); INSERT INTO meta VALUES ('indexed_height', 0);`);
  const put = db.prepare('INSERT OR REPLACE INTO txs (id, loc) VALUES (?, ?)');
  const get = db.prepare<[Buffer], number>('SELECT loc FROM txs WHERE id = ?').pluck();
  const mark = db.prepare("UPDATE meta SET value = ? WHERE key = 'indexed_height'");
  const write = db.transaction((ids: Buffer[], height: number) => {
    ids.forEach((id, i) => put.run(id, height * INDEX_SHIFT + i));
    mark.run(height);
  });
  return { write, get: (id) => get.get(id), settle: () => Promise.resolve(), close: async () => void db.close() };
}

function runsSubject(dir: string): Subject {
  const index = TxIndex.open(join(dir, 'txindex'), { fsync: true });
  return {
    write: (ids, height) => index.batch(() => index.addBlock(height, ids, undefined)),
    get: (id) => index.locate(id),
    settle: () => index.settle(),
    close: () => index.close(),
    shape: () => ({ runs: index.runCount, memoryBytes: index.memoryBytes }),
  };
}

/** Lookups timed, of present ids and of missing ones (each after as many not timed). */
const LOOKUPS = 5000;

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function diskBytes(dir: string): number {
  let sum = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) sum += statSync(join(e.parentPath, e.name)).size;
  return sum;
}

async function measure(kind: string, rows: number, batch: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tpslab-tx-index-rows-'));
  try {
    const subject = kind === 'sqlite' ? sqliteSubject(dir) : runsSubject(dir);
    const all = randomFillSync(Buffer.allocUnsafe(rows * 32));
    const tenthFrom = Math.floor(rows * 0.9);
    let cpuAll = 0;
    let cpuTail = 0;
    let tailRows = 0;
    const batchMs: number[] = [];
    for (let done = 0, height = 1; done < rows; height++) {
      const n = Math.min(batch, rows - done);
      const ids = Array.from({ length: n }, (_, i) => all.subarray((done + i) * 32, (done + i + 1) * 32));
      const c = cpuUs();
      const t = performance.now();
      subject.write(ids, height);
      batchMs.push(performance.now() - t);
      await new Promise((r) => setImmediate(r)); // let the persist chain and merges run as they would
      const d = cpuUs() - c;
      cpuAll += d;
      if (done >= tenthFrom) {
        cpuTail += d;
        tailRows += n;
      }
      done += n;
    }
    const c = cpuUs();
    await subject.settle();
    cpuAll += cpuUs() - c;
    batchMs.sort((a, b) => a - b);
    // LOOKUPS ids spread over the whole fill (so over every run), after as many not counted (warm-up).
    const samples: [Buffer, number][] = Array.from({ length: 2 * LOOKUPS }, (_, i) => {
      const k = Math.floor(((i * 7919) % (2 * LOOKUPS)) * (rows / (2 * LOOKUPS)));
      return [all.subarray(k * 32, k * 32 + 32), (Math.floor(k / batch) + 1) * INDEX_SHIFT + (k % batch)];
    });
    let hits = 0;
    let l = 0;
    samples.forEach(([id, loc], i) => {
      if (i === LOOKUPS) l = cpuUs();
      if (subject.get(id) === loc) hits++;
    });
    const hitUs = (cpuUs() - l) / LOOKUPS;
    const probe = randomFillSync(Buffer.allocUnsafe(32));
    let m = 0;
    for (let i = 0; i < 2 * LOOKUPS; i++) {
      if (i === LOOKUPS) m = cpuUs();
      probe.writeUInt32BE(i, 28);
      if (subject.get(probe) !== undefined) throw new Error('a random id was found');
    }
    const missUs = (cpuUs() - m) / LOOKUPS;
    const shape = subject.shape?.();
    await subject.close();
    if (hits !== samples.length) throw new Error(`${kind}: ${samples.length - hits} of ${samples.length} ids not found`);
    console.log(`${kind.padEnd(6)} ${rows} rows, batches of ${batch}: ${(cpuAll / rows).toFixed(2)} µs CPU a row (last tenth ${(cpuTail / tailRows).toFixed(2)}), ` +
      `batch on the event loop ${batchMs[batchMs.length >> 1]!.toFixed(1)} ms median, ${batchMs[batchMs.length - 1]!.toFixed(1)} ms longest, lookup ${hitUs.toFixed(1)} µs found / ${missUs.toFixed(1)} µs missing, ` +
      `${(diskBytes(dir) / rows).toFixed(0)} B a row on disk` +
      (shape ? `, ${shape.runs} runs, ${(shape.memoryBytes / rows).toFixed(2)} B a row in memory` : ''));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({ options: { rows: { type: 'string', default: '400000' }, batch: { type: 'string', default: '8192' }, kinds: { type: 'string', default: 'runs,sqlite' } } });
for (const kind of values.kinds.split(',')) await measure(kind, Number(values.rows), Number(values.batch));
