/**
 * The ids a side saw committed, kept on local disk rather than in memory: each
 * with its sender (the number the beacon names it by) and position (block
 * height). Adding is cheap (a beacon's hot path): the id is appended as a
 * binary record to a scratch file in a temp directory, nothing more. The ids
 * are hashed into the digest on another thread, a range of the file at a time
 * as it grows (commit-hash-worker.ts), so asking for the total at the end of a
 * long run waits for the last range only and never blocks the event loop
 * (86.4 M ids hashed on the event loop at the end took minutes). Only when a question comes (reconciliation found a difference)
 * is the file loaded into a SQLite table indexed by (height, sender), the hash
 * of each id as eight 32-bit limbs, so the digest of any (sender range × height
 * range) is one SQL aggregate (a SUM per limb). Beacons keep what they saw
 * committed here; the overseer keeps the network's side the same way, so both
 * answer the same question with the same code.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Piscina } from 'piscina';
import { HEADER_BYTES, readRecords } from './commit-records.js';
import hashRangeHere, { type HashTask } from './commit-hash-worker.js';
import type { DigestRange } from './messages.js';
import { makeScratchDir, removeScratchDir } from './scratch-dir.js';
import { LIMBS, SetDigest, hashOfId, limbsOf, type DigestJson } from './set-digest.js';

const CHUNK_BYTES = 1 << 16;
/** The file is handed to the hashing thread a range of at least this many bytes at a time (≈ 13,000 64-hex ids). */
const HASH_RANGE_BYTES = 1 << 20;
const IMPORT_BATCH = 10_000;
const LIMB_COLUMNS = Array.from({ length: LIMBS }, (_, k) => `l${k}`);
const WHERE = 'height >= ? AND height < ? AND sender >= ? AND sender < ?';

/** One hashing thread for every store of the process, started on first use; idle, it does not keep the process alive. */
let hasher: Piscina | undefined;
function hashRange(task: HashTask): Promise<DigestJson> {
  hasher ??= new Piscina({ filename: new URL('./commit-hash-worker.js', import.meta.url).href, minThreads: 0, maxThreads: 1, idleTimeout: 5_000 });
  return hasher.run(task) as Promise<DigestJson>;
}

interface Sql {
  db: Database.Database;
  insert: Database.Statement;
  sums: Database.Statement;
  select: Database.Statement;
}

export class CommitStore {
  readonly dir: string;
  private readonly fd: number;
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  /** Bytes in the file (written), and how many of them are in SQLite. */
  private written = 0;
  private imported = 0;
  /** Bytes of the file handed to the hashing thread; `totals` holds bytes [0, foldedTo). */
  private hashing = 0;
  private foldedTo = 0;
  /** Ranges hashed but not yet folded (one ahead of another), by their start. */
  private readonly finished = new Map<number, { to: number; d: DigestJson }>();
  /** total() calls waiting for `foldedTo` to reach their mark. */
  private readonly marks = new Map<number, { resolve: (d: SetDigest) => void; reject: (e: Error) => void }[]>();
  private sql: Sql | undefined;
  private readonly totals = new SetDigest();
  private closed = false;
  private readonly path: string;

  constructor(prefix = 'tpslab-commits-') {
    // The first store of a process (a beacon's, as it starts) clears what killed processes left.
    this.dir = makeScratchDir(prefix);
    this.path = join(this.dir, 'commits.bin');
    this.fd = openSync(this.path, 'w+');
  }

  /** Records that `id`, sent by `sender`, was committed at `height`. */
  add(id: string, sender: number, height: number): void {
    const need = HEADER_BYTES + Buffer.byteLength(id);
    if (this.used + need > this.chunk.length) {
      this.flush();
      if (need > this.chunk.length) this.chunk = Buffer.allocUnsafe(need);
    }
    const c = this.chunk;
    const len = c.write(id, this.used + HEADER_BYTES);
    c.writeUInt32LE(len, this.used);
    c.writeDoubleLE(height, this.used + 4);
    c.writeUInt32LE(sender, this.used + 12);
    this.used += HEADER_BYTES + len;
  }

  /**
   * The digest of everything added until this call (ids added while it waits are not in it, so a
   * caller that reads its counts in the same tick gets the same set): resolves when the hashing
   * thread has hashed the file up to here.
   */
  total(): Promise<SetDigest> {
    if (this.closed) return Promise.reject(new Error(`the commit store ${this.dir} is closed`));
    this.flush();
    const mark = this.written;
    this.hashFrom(0);
    if (this.foldedTo === mark) return Promise.resolve(this.snapshot());
    return new Promise((resolve, reject) => {
      const waiting = this.marks.get(mark) ?? [];
      waiting.push({ resolve, reject });
      this.marks.set(mark, waiting);
    });
  }

  private snapshot(): SetDigest {
    return new SetDigest().merge(this.totals);
  }

  /** Hands what was written since the last range to the hashing thread, once it is at least `minBytes`. */
  private hashFrom(minBytes: number): void {
    if (this.written - this.hashing < Math.max(1, minBytes) || this.closed) return;
    const task: HashTask = { path: this.path, from: this.hashing, to: this.written };
    this.hashing = this.written;
    hashRange(task)
      .catch(() => hashRangeHere(task)) // the thread failed (could not start, out of memory): hash it here
      .then(
        (d) => this.fold(task, d),
        (err: unknown) => this.fail(new Error(`cannot hash the commit store ${this.path} (bytes ${task.from}–${task.to}): ${(err as Error).message}; the beacon's temp directory (TMPDIR) must stay readable with room to spare for the run (80 bytes per committed id)`, { cause: err })),
      );
  }

  /** Adds finished ranges to the total in file order, answering each total() whose mark it reaches. */
  private fold(task: HashTask, d: DigestJson): void {
    if (this.closed) return;
    this.finished.set(task.from, { to: task.to, d });
    for (let next = this.finished.get(this.foldedTo); next; next = this.finished.get(this.foldedTo)) {
      this.finished.delete(this.foldedTo);
      this.totals.merge(next.d);
      this.foldedTo = next.to;
      const waiting = this.marks.get(this.foldedTo);
      if (!waiting) continue;
      this.marks.delete(this.foldedTo);
      for (const w of waiting) w.resolve(this.snapshot());
    }
  }

  private fail(err: Error): void {
    for (const waiting of this.marks.values()) for (const w of waiting) w.reject(err);
    this.marks.clear();
  }

  /** Bytes of the file handed to the hashing thread so far. */
  get hashingBytes(): number {
    return this.hashing;
  }

  /** Bytes on disk so far. */
  get sizeBytes(): number {
    return this.written + this.used;
  }

  private flush(): void {
    if (this.used === 0) return;
    writeSync(this.fd, this.chunk, 0, this.used, this.written);
    this.written += this.used;
    this.used = 0;
    this.hashFrom(HASH_RANGE_BYTES);
  }

  /** SQLite, loaded with every record not loaded yet (the first question loads them all, then builds the index). */
  private query(): Sql {
    this.flush();
    const sql = (this.sql ??= this.openSql());
    if (this.imported < this.written) this.load(sql);
    return sql;
  }

  private openSql(): Sql {
    const db = new Database(join(this.dir, 'commits.db'));
    // Scratch data: nothing to recover after a crash, so no journal and no fsync.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(`CREATE TABLE c (height INTEGER NOT NULL, sender INTEGER NOT NULL, id TEXT NOT NULL, ${LIMB_COLUMNS.map((l) => `${l} INTEGER NOT NULL`).join(', ')})`);
    return {
      db,
      insert: db.prepare(`INSERT INTO c VALUES (?, ?, ?, ${LIMB_COLUMNS.map(() => '?').join(', ')})`),
      sums: db.prepare(`SELECT count(*) AS n, ${LIMB_COLUMNS.map((l) => `coalesce(sum(${l}), 0) AS ${l}`).join(', ')} FROM c WHERE ${WHERE}`).safeIntegers(true),
      select: db.prepare(`SELECT id FROM c WHERE ${WHERE} ORDER BY height, sender, id LIMIT ?`).pluck(),
    };
  }

  /** Visits the flushed records from byte `from` on; returns the offset after the last. */
  private forEachRecord(from: number, visit: (id: string, height: number, sender: number) => void): number {
    return readRecords(this.fd, from, this.written, (buf, start, end, height, sender) => visit(buf.toString('utf8', start, end), height, sender));
  }

  /** Reads the file from `imported` on into SQLite, in batches; the index is built after the first load. */
  private load(sql: Sql): void {
    const first = this.imported === 0;
    let rows: unknown[][] = [];
    const insert = sql.db.transaction((batch: unknown[][]) => {
      for (const r of batch) sql.insert.run(...r);
    });
    this.imported = this.forEachRecord(this.imported, (id, height, sender) => {
      rows.push([height, sender, id, ...limbsOf(hashOfId(id))]);
      if (rows.length < IMPORT_BATCH) return;
      insert(rows);
      rows = [];
    });
    insert(rows);
    if (first) sql.db.exec('CREATE INDEX c_height_sender ON c (height, sender)');
  }

  digest(r: DigestRange): SetDigest {
    const row = this.query().sums.get(r.heightFrom, r.heightTo, r.senderFrom, r.senderTo) as Record<string, bigint>;
    return new SetDigest().addLimbSums(LIMB_COLUMNS.map((l) => row[l]!), Number(row.n));
  }

  /** Ids in the range, by height and sender, at most `limit`. */
  ids(r: DigestRange, limit = -1): string[] {
    return this.query().select.all(r.heightFrom, r.heightTo, r.senderFrom, r.senderTo, limit) as string[];
  }

  /** Removes the scratch files. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error(`the commit store ${this.dir} was closed while its digest was asked for`));
    this.sql?.db.close();
    closeSync(this.fd);
    removeScratchDir(this.dir);
  }
}
