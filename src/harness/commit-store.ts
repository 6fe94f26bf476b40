/**
 * The ids a side saw committed, kept on local disk rather than in memory: each
 * with its sender (the number the beacon names it by) and position (block
 * height), in a scratch SQLite file in a temp directory. The hash of each id is
 * stored as eight 32-bit limbs, so the digest of any (sender range × height
 * range) is one SQL aggregate (a SUM per limb) over the (height, sender) key.
 * Beacons keep what they saw committed here; the overseer keeps the network's
 * side the same way, so both answer the same question with the same code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { DigestRange } from './messages.js';
import { LIMBS, SetDigest, hashOfId, limbsOf } from './set-digest.js';

const FLUSH_ROWS = 4096;
const LIMB_COLUMNS = Array.from({ length: LIMBS }, (_, k) => `l${k}`);
const WHERE = 'height >= ? AND height < ? AND sender >= ? AND sender < ?';

/** Scratch directories still open, removed when the process exits however it ends. */
const open = new Set<string>();
process.on('exit', () => {
  for (const dir of open) rmSync(dir, { recursive: true, force: true });
});

type Row = [height: number, sender: number, id: string, ...limbs: number[]];

export class CommitStore {
  readonly dir: string;
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly sums: Database.Statement;
  private readonly select: Database.Statement;
  private pending: Row[] = [];
  private readonly totals = new SetDigest();
  private closed = false;

  constructor(prefix = 'tpslab-commits-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    open.add(this.dir);
    this.db = new Database(join(this.dir, 'commits.db'));
    // Scratch data: nothing to recover after a crash, so no journal and no fsync.
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.exec(`CREATE TABLE c (height INTEGER NOT NULL, sender INTEGER NOT NULL, id TEXT NOT NULL, ${LIMB_COLUMNS.map((l) => `${l} INTEGER NOT NULL`).join(', ')}, PRIMARY KEY (height, sender, id)) WITHOUT ROWID`);
    this.insert = this.db.prepare(`INSERT OR IGNORE INTO c VALUES (?, ?, ?, ${LIMB_COLUMNS.map(() => '?').join(', ')})`);
    this.sums = this.db.prepare(`SELECT count(*) AS n, ${LIMB_COLUMNS.map((l) => `coalesce(sum(${l}), 0) AS ${l}`).join(', ')} FROM c WHERE ${WHERE}`).safeIntegers(true);
    this.select = this.db.prepare(`SELECT id FROM c WHERE ${WHERE} ORDER BY height, sender, id LIMIT ?`).pluck();
  }

  /** Records that `id`, sent by `sender`, was committed at `height`. */
  add(id: string, sender: number, height: number): void {
    const hash = hashOfId(id);
    this.totals.addHash(hash);
    this.pending.push([height, sender, id, ...limbsOf(hash)]);
    if (this.pending.length >= FLUSH_ROWS) this.flush();
  }

  /** Everything added so far (from memory: no disk read). */
  get total(): SetDigest {
    return this.totals;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    this.db.transaction(() => {
      for (const r of rows) this.insert.run(...r);
    })();
  }

  digest(r: DigestRange): SetDigest {
    this.flush();
    const row = this.sums.get(r.heightFrom, r.heightTo, r.senderFrom, r.senderTo) as Record<string, bigint>;
    return new SetDigest().addLimbSums(LIMB_COLUMNS.map((l) => row[l]!), Number(row.n));
  }

  /** Ids in the range, by height and sender, at most `limit`. */
  ids(r: DigestRange, limit = -1): string[] {
    this.flush();
    return this.select.all(r.heightFrom, r.heightTo, r.senderFrom, r.senderTo, limit) as string[];
  }

  /** Removes the scratch file. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
    open.delete(this.dir);
  }
}
