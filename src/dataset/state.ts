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
/**
 * Unspent outputs created since the last commit are held in memory, up to this
 * many (≈ 250 bytes each with their Map entry: ≈ 50 MB), and written to SQLite
 * only at the commit (or when the bound is reached): most outputs are spent
 * soon after they are created, and those never touch SQLite. The senders'
 * next nonces changed since the commit are held the same way, to the same bound.
 */
export const FRESH_UTXOS_MAX = 200_000;

export class PrepareState {
  private readonly db: Database.Database;
  private readonly stmts;
  /** Unspent outputs held, counted as they come and go (a count(*) would scan the table); restored from the checkpoint. */
  utxoCount = 0;
  /** Outputs created since the last commit and not yet written: outpoint (latin1) → [outpoint, output]. */
  private fresh = new Map<string, [Buffer, Utxo]>();
  /** Next nonces changed since the last commit: account (latin1) → [account, next]; written at the commit. */
  private nonces = new Map<string, [Buffer, number]>();
  /** Outputs taken from `fresh` (never written to SQLite) since the state opened: a figure for the bench and the docs. */
  freshSpent = 0;

  constructor(
    readonly path: string,
    /** Fresh outputs (and changed nonces) held in memory before they are written; see FRESH_UTXOS_MAX. */
    private readonly freshMax = FRESH_UTXOS_MAX,
  ) {
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
    const k = op.toString('latin1');
    const f = this.fresh.get(k);
    if (f) {
      // Bitcoin never spends an output twice, so a row of the same outpoint in SQLite (only
      // possible for the two duplicate coinbase txids of 2010, which INSERT OR REPLACE
      // overwrote) is left there; it is never taken again.
      this.fresh.delete(k);
      this.utxoCount--;
      this.freshSpent++;
      return f[1];
    }
    const r = this.stmts.take.get(op);
    if (r) this.utxoCount--;
    return r && { seed: r.seed, account: r.account, amount: r.amount, parentSeq: r.parent_seq, parentId: r.parent_id, depth: r.depth };
  }

  put(op: Buffer, u: Utxo): void {
    const k = op.toString('latin1');
    if (!this.fresh.has(k)) this.utxoCount++;
    this.fresh.set(k, [op, u]);
    if (this.fresh.size >= this.freshMax) this.flushFresh();
  }

  /** Writes the fresh outputs to SQLite (inside the open transaction). */
  private flushFresh(): void {
    for (const [op, u] of this.fresh.values()) this.stmts.put.run(op, u.seed, u.account, u.amount, u.parentSeq, u.parentId, u.depth);
    this.fresh.clear();
  }

  /** Returns the sender's next nonce and advances it. */
  nextNonce(account: Buffer): number {
    const k = account.toString('latin1');
    const held = this.nonces.get(k);
    const n = held ? held[1] : (this.stmts.nonce.get(account)?.next ?? 0);
    if (held) held[1] = n + 1;
    else this.nonces.set(k, [account, n + 1]);
    if (this.nonces.size >= this.freshMax) this.flushNonces();
    return n;
  }

  private flushNonces(): void {
    for (const [account, next] of this.nonces.values()) this.stmts.setNonce.run(account, next);
    this.nonces.clear();
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
    this.flushFresh();
    this.flushNonces();
    this.db.exec('COMMIT');
    this.db.exec('BEGIN');
  }

  get open(): boolean {
    return this.db.open;
  }

  /** Drops everything since the last commit and closes. */
  close(): void {
    this.fresh.clear();
    this.nonces.clear();
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.db.close();
  }
}
