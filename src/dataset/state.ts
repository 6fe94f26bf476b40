/**
 * The preparation's state on disk (SQLite, `<out>.state`): the unspent
 * outputs, each sender's next nonce, what genesis must fund, and the
 * checkpoint. Everything between two checkpoints is one SQLite transaction, so
 * a crash or an error rolls back to the last checkpoint, and the dataset file
 * is truncated to the length that checkpoint recorded.
 *
 * The UTXO table is the structure that grows with the input: one row per
 * spendable output not yet spent (36-byte key, about 90 bytes a row with
 * SQLite's overhead), on disk, with a bounded page cache in memory.
 */
import Database from 'better-sqlite3';
import { TpslabError } from '../errors.js';

export interface Utxo {
  /** Seed of the owning account (see accounts.ts). */
  seed: Buffer;
  /** The owning account (public key) when known (outputs of converted transactions); null: derive it from the seed. */
  account: Buffer | null;
  amount: number;
  /** Ledger sequence number of the dataset transaction that created it; null when it comes from outside the dataset. */
  parentSeq: number | null;
  parentId: Buffer | null;
  depth: number;
}

const PAGE_CACHE_KIB = 64 * 1024;

export class PrepareState {
  private readonly db: Database.Database;
  private readonly stmts;
  /** Unspent outputs held, counted as they come and go (a count(*) would scan the table); restored from the checkpoint. */
  utxoCount = 0;

  constructor(readonly path: string) {
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new TpslabError('TPSLAB_E_DATASET', `cannot open the preparation state ${path}: ${(err as Error).message}`, { cause: err });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS utxo (op BLOB PRIMARY KEY, seed BLOB NOT NULL, account BLOB, amount INTEGER NOT NULL, parent_seq INTEGER, parent_id BLOB, depth INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS nonce (account BLOB PRIMARY KEY, next INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS funding (account BLOB PRIMARY KEY, amount INTEGER NOT NULL) WITHOUT ROWID;
    `);
    if (!(this.db.pragma('table_info(utxo)') as { name: string }[]).some((c) => c.name === 'account')) {
      this.db.close();
      throw new TpslabError('TPSLAB_E_OLD_FORMAT', `${path} is the state of a preparation by an older tpslab (dataset format 1, signed records); it cannot be resumed into format 2: delete it and its .partial file, and prepare again`);
    }
    this.stmts = {
      take: this.db.prepare<[Buffer], { seed: Buffer; account: Buffer | null; amount: number; parent_seq: number | null; parent_id: Buffer | null; depth: number }>(
        'DELETE FROM utxo WHERE op = ? RETURNING seed, account, amount, parent_seq, parent_id, depth',
      ),
      put: this.db.prepare('INSERT OR REPLACE INTO utxo (op, seed, account, amount, parent_seq, parent_id, depth) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      nonce: this.db.prepare<[Buffer], { next: number }>('SELECT next FROM nonce WHERE account = ?'),
      setNonce: this.db.prepare('INSERT OR REPLACE INTO nonce (account, next) VALUES (?, ?)'),
      fund: this.db.prepare('INSERT INTO funding (account, amount) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET amount = amount + excluded.amount'),
      getMeta: this.db.prepare<[string], { v: string }>('SELECT v FROM meta WHERE k = ?'),
      setMeta: this.db.prepare('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)'),
      funding: this.db.prepare<[], { account: Buffer; amount: number }>('SELECT account, amount FROM funding ORDER BY account'),
    };
    this.db.exec('BEGIN');
  }

  /** Removes and returns the output `op` (txid ‖ u32 vout), or undefined if it is not unspent. */
  take(op: Buffer): Utxo | undefined {
    const r = this.stmts.take.get(op);
    if (r) this.utxoCount--;
    return r && { seed: r.seed, account: r.account, amount: r.amount, parentSeq: r.parent_seq, parentId: r.parent_id, depth: r.depth };
  }

  put(op: Buffer, u: Utxo): void {
    this.stmts.put.run(op, u.seed, u.account, u.amount, u.parentSeq, u.parentId, u.depth);
    this.utxoCount++;
  }

  /** Returns the sender's next nonce and advances it. */
  nextNonce(account: Buffer): number {
    const n = this.stmts.nonce.get(account)?.next ?? 0;
    this.stmts.setNonce.run(account, n + 1);
    return n;
  }

  fund(account: Buffer, amount: number): void {
    if (amount > 0) this.stmts.fund.run(account, amount);
  }

  *funding(): Generator<{ account: Buffer; amount: number }> {
    yield* this.stmts.funding.iterate();
  }

  getMeta<T>(key: string): T | undefined {
    const r = this.stmts.getMeta.get(key);
    return r ? (JSON.parse(r.v) as T) : undefined;
  }

  setMeta(key: string, value: unknown): void {
    this.stmts.setMeta.run(key, JSON.stringify(value));
  }

  /** Makes everything since the last commit durable, and starts the next transaction. */
  commit(): void {
    this.db.exec('COMMIT');
    this.db.exec('BEGIN');
  }

  get open(): boolean {
    return this.db.open;
  }

  /** Drops everything since the last commit and closes. */
  close(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.db.close();
  }
}
