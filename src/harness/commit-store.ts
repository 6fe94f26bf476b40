/**
 * The ids a side saw committed, kept on local disk rather than in memory: each
 * with its sender (the number the beacon names it by) and position (block
 * height). Adding is cheap (a beacon's hot path): the id is appended as a
 * binary record to a scratch file in a temp directory, nothing more; the ids
 * are hashed into the digest when it is asked for (at the end of the run, off
 * the hot path). Only when a question comes (reconciliation found a difference)
 * is the file loaded into a SQLite table indexed by (height, sender), the hash
 * of each id as eight 32-bit limbs, so the digest of any (sender range × height
 * range) is one SQL aggregate (a SUM per limb). Beacons keep what they saw
 * committed here; the overseer keeps the network's side the same way, so both
 * answer the same question with the same code.
 */
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { DigestRange } from './messages.js';
import { LIMBS, SetDigest, hashOfId, limbsOf } from './set-digest.js';

/** Record: u32 id length, f64 height, u32 sender, id (UTF-8). */
const HEADER_BYTES = 16;
const CHUNK_BYTES = 1 << 16;
const IMPORT_BATCH = 10_000;
const LIMB_COLUMNS = Array.from({ length: LIMBS }, (_, k) => `l${k}`);
const WHERE = 'height >= ? AND height < ? AND sender >= ? AND sender < ?';

/** Scratch directories still open, removed when the process exits however it ends. */
const open = new Set<string>();
process.on('exit', () => {
  for (const dir of open) rmSync(dir, { recursive: true, force: true });
});

/** In each scratch directory: who made it ({pid, host}), so a later process can tell an orphan. */
const OWNER_FILE = 'owner.json';
/** The prefixes commit stores are made with (a beacon's, the overseer's network side). */
const SCRATCH_PREFIXES = ['tpslab-commits-', 'tpslab-network-'];
let swept = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the scratch directories of commit stores whose process is gone without cleaning up
 * (a beacon killed with SIGKILL cannot run its exit handler): those under the temp directory
 * that name this host and a pid no longer running. A directory without an owner file, or of
 * another host, or of a live process, is left alone. Returns the directories removed.
 */
export function removeStaleScratch(dir = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const host = hostname();
  for (const name of names) {
    if (!SCRATCH_PREFIXES.some((p) => name.startsWith(p))) continue;
    const path = join(dir, name);
    try {
      const owner = JSON.parse(readFileSync(join(path, OWNER_FILE), 'utf8')) as { pid?: unknown; host?: unknown };
      if (owner.host !== host || typeof owner.pid !== 'number' || owner.pid === process.pid || alive(owner.pid)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // No owner file (not ours, or one being made right now), or gone already: leave it.
    }
  }
  return removed;
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
  /** Bytes of the file already hashed into `totals`. */
  private hashed = 0;
  private sql: Sql | undefined;
  private readonly totals = new SetDigest();
  private closed = false;

  constructor(prefix = 'tpslab-commits-') {
    // The first store of a process (a beacon's, as it starts) clears what killed processes left.
    if (!swept) {
      swept = true;
      removeStaleScratch();
    }
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    open.add(this.dir);
    writeFileSync(join(this.dir, OWNER_FILE), JSON.stringify({ pid: process.pid, host: hostname() }));
    this.fd = openSync(join(this.dir, 'commits.bin'), 'w+');
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

  /** The digest of everything added so far (hashes what was added since the last call). */
  get total(): SetDigest {
    this.flush();
    if (this.hashed < this.written) this.hashed = this.forEachRecord(this.hashed, (id) => void this.totals.add(id));
    return this.totals;
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
    const buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, this.chunk.length) * 4);
    let pos = from;
    while (pos < this.written) {
      const n = readSync(this.fd, buf, 0, Math.min(buf.length, this.written - pos), pos);
      let at = 0;
      while (at + HEADER_BYTES <= n) {
        const len = buf.readUInt32LE(at);
        if (at + HEADER_BYTES + len > n) break;
        visit(buf.toString('utf8', at + HEADER_BYTES, at + HEADER_BYTES + len), buf.readDoubleLE(at + 4), buf.readUInt32LE(at + 12));
        at += HEADER_BYTES + len;
      }
      pos += at;
    }
    return pos;
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
    this.sql?.db.close();
    closeSync(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
    open.delete(this.dir);
  }
}
