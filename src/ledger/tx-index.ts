/**
 * The persistent transaction-id index of a data directory (`<data>/txindex.sqlite`): where each
 * committed transaction is (height, index), and, for blocks with messages, each topic's first
 * sequence number in that block. Memory stays bounded (SQLite's page cache) whatever the history.
 *
 * SQLite (better-sqlite3) rather than a hand-written hash file: a B-tree keyed by the 32-byte id
 * answers point lookups in a few microseconds, range queries serve the topic lookups, and the
 * transactions make a block's rows and the "indexed up to" mark change together.
 *
 * The block log is the truth. Rows are written once a block is durable in the log, so the index
 * is never ahead of the log (except with `--no-fsync`), and after an OS crash in WAL
 * `synchronous = NORMAL` it may be behind. `indexedHeight` says how far it is whole;
 * ChainStore.open cuts what is past the log and re-indexes what is missing while it replays.
 */
import Database from 'better-sqlite3';
import { TpslabError } from '../errors.js';

/** Locations are packed as height * 2^20 + index (a block holds fewer than 2^20 transactions). */
export const INDEX_SHIFT = 2 ** 20;
const PAGE_CACHE_KIB = 16 * 1024;

export class TxIndex {
  private readonly db: Database.Database;
  private readonly getLoc: Database.Statement<[Buffer], number>;
  private readonly putTx: Database.Statement<[Buffer, number]>;
  private readonly putTopic: Database.Statement<[number, string, Buffer]>;
  private readonly setMark: Database.Statement<[number]>;
  private readonly topicsAt: Database.Statement<[number], { topic: string; start_seq: Buffer }>;
  private readonly topicAtOrBefore: Database.Statement<[string, Buffer], number>;
  private readonly topicFirst: Database.Statement<[string], number>;
  private readonly addBlockTx: (height: number, ids: readonly Buffer[], starts: ReadonlyMap<string, bigint> | undefined) => void;
  private mark: number;

  private constructor(path: string) {
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS txs (id BLOB PRIMARY KEY, loc INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS topic_blocks (height INTEGER NOT NULL, topic TEXT NOT NULL, start_seq BLOB NOT NULL,
          PRIMARY KEY (height, topic)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS topic_blocks_by_seq ON topic_blocks (topic, start_seq);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT OR IGNORE INTO meta (key, value) VALUES ('indexed_height', 0);
      `);
    } catch (err) {
      throw new TpslabError('TPSLAB_E_DATA_DIR', `cannot open the transaction index ${path}: ${(err as Error).message}; ` +
        'if it is damaged, stop the node and delete it: it is rebuilt from the block log at the next start', { cause: err });
    }
    this.getLoc = this.db.prepare<[Buffer], number>('SELECT loc FROM txs WHERE id = ?').pluck();
    this.putTx = this.db.prepare('INSERT OR REPLACE INTO txs (id, loc) VALUES (?, ?)');
    this.putTopic = this.db.prepare('INSERT OR REPLACE INTO topic_blocks (height, topic, start_seq) VALUES (?, ?, ?)');
    this.setMark = this.db.prepare("UPDATE meta SET value = ? WHERE key = 'indexed_height'");
    this.topicsAt = this.db.prepare('SELECT topic, start_seq FROM topic_blocks WHERE height = ?');
    this.topicAtOrBefore = this.db
      .prepare<[string, Buffer], number>('SELECT height FROM topic_blocks WHERE topic = ? AND start_seq <= ? ORDER BY start_seq DESC LIMIT 1')
      .pluck();
    this.topicFirst = this.db.prepare<[string], number>('SELECT height FROM topic_blocks WHERE topic = ? ORDER BY start_seq LIMIT 1').pluck();
    this.mark = this.db.prepare<[], number>("SELECT value FROM meta WHERE key = 'indexed_height'").pluck().get()!;
    this.addBlockTx = this.db.transaction((height: number, ids: readonly Buffer[], starts: ReadonlyMap<string, bigint> | undefined) => {
      ids.forEach((id, i) => this.putTx.run(id, height * INDEX_SHIFT + i));
      if (starts) for (const [topic, seq] of starts) this.putTopic.run(height, topic, seqKey(seq));
      if (height > this.mark) this.setMark.run(height);
    });
  }

  static open(path: string): TxIndex {
    return new TxIndex(path);
  }

  /** Blocks 1..indexedHeight are all in the index. */
  get indexedHeight(): number {
    return this.mark;
  }

  /** Records a block's transaction ids and its topics' first sequence numbers (idempotent). */
  addBlock(height: number, ids: readonly Buffer[], starts: ReadonlyMap<string, bigint> | undefined): void {
    this.addBlockTx(height, ids, starts);
    if (height > this.mark) this.mark = height;
  }

  /** Runs `fn` in one SQLite transaction (replay indexes many blocks per commit). */
  batch(fn: () => void): void {
    this.db.transaction(fn)();
  }

  /** Packed location (height * 2^20 + index) of a transaction, if indexed. */
  locate(id: Buffer): number | undefined {
    return this.getLoc.get(id);
  }

  /** Forgets every block above `height` (they are not in the log). */
  truncateAbove(height: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM txs WHERE loc >= ?').run((height + 1) * INDEX_SHIFT);
      this.db.prepare('DELETE FROM topic_blocks WHERE height > ?').run(height);
      this.setMark.run(height);
    })();
    this.mark = height;
  }

  topicStartsAt(height: number): Map<string, bigint> | undefined {
    const rows = this.topicsAt.all(height);
    return rows.length === 0 ? undefined : new Map(rows.map((r) => [r.topic, r.start_seq.readBigUInt64BE(0)]));
  }

  /** Height of the block holding message `seq` of `topic` (or the first after it). */
  heightOfTopicSeq(topic: string, seq: bigint): number | undefined {
    return this.topicAtOrBefore.get(topic, seqKey(seq)) ?? this.topicFirst.get(topic);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Sequence numbers as 8 big-endian bytes: SQLite compares blobs bytewise, so they sort as u64. */
function seqKey(seq: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(seq);
  return b;
}
