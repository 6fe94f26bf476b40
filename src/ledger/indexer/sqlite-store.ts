/** The indexer's SQLite store (better-sqlite3): one file, WAL, one transaction per commit. */
import Database from 'better-sqlite3';
import { TpslabError } from '../../errors.js';
import type { Direction, IndexedBlock, StoredRow } from './history.js';
import { follows, type Cursor, type IndexStore } from './store.js';

interface DbRow {
  id: number;
  account: string;
  height: number;
  tx_index: number;
  leg: number;
  tx_id: string;
  kind: string;
  direction: Direction;
  amount: string;
  fee: string;
  counterparty: string;
  balance_after: string;
  topic: string | null;
  seq: string | null;
  timestamp_ms: number;
}

export function fromDbRow(r: DbRow): StoredRow {
  return {
    cursor: String(r.id),
    account: r.account,
    height: Number(r.height),
    txIndex: r.tx_index,
    leg: r.leg,
    txId: r.tx_id,
    kind: r.kind,
    direction: r.direction,
    amount: BigInt(r.amount),
    fee: BigInt(r.fee),
    counterparty: r.counterparty,
    balanceAfter: BigInt(r.balance_after),
    topic: r.topic ?? undefined,
    seq: r.seq === null ? undefined : BigInt(r.seq),
    timestampMs: Number(r.timestamp_ms),
  };
}

export class SqliteIndexStore implements IndexStore {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;

  constructor(path: string) {
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new TpslabError('TPSLAB_E_DATA_DIR', `cannot open the index database ${path}: ${(err as Error).message}`, { cause: err });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS cursor (one INTEGER PRIMARY KEY CHECK (one = 1), height INTEGER NOT NULL, hash TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, balance TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, next_seq TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, height INTEGER NOT NULL, tx_index INTEGER NOT NULL, leg INTEGER NOT NULL,
        tx_id TEXT NOT NULL, kind TEXT NOT NULL, direction TEXT NOT NULL, amount TEXT NOT NULL, fee TEXT NOT NULL, counterparty TEXT NOT NULL,
        balance_after TEXT NOT NULL, topic TEXT, seq TEXT, timestamp_ms INTEGER NOT NULL,
        UNIQUE (account, height, tx_index, leg));
      CREATE INDEX IF NOT EXISTS history_account ON history (account, id);`);
  }

  private cursorSync(): Cursor | undefined {
    return this.db.prepare('SELECT height, hash FROM cursor WHERE one = 1').get() as Cursor | undefined;
  }

  async cursor(): Promise<Cursor | undefined> {
    return this.cursorSync();
  }

  async balances(accounts: readonly string[]): Promise<Map<string, bigint>> {
    const get = this.db.prepare('SELECT balance FROM balances WHERE account = ?');
    const out = new Map<string, bigint>();
    for (const a of accounts) {
      const r = get.get(a) as { balance: string } | undefined;
      if (r) out.set(a, BigInt(r.balance));
    }
    return out;
  }

  async topicSeqs(topics: readonly string[]): Promise<Map<string, bigint>> {
    const get = this.db.prepare('SELECT next_seq FROM topics WHERE name = ?');
    const out = new Map<string, bigint>();
    for (const t of topics) {
      const r = get.get(t) as { next_seq: string } | undefined;
      if (r) out.set(t, BigInt(r.next_seq));
    }
    return out;
  }

  async commit(blocks: readonly IndexedBlock[]): Promise<number> {
    const insert = this.db.prepare(
      'INSERT INTO history (account, height, tx_index, leg, tx_id, kind, direction, amount, fee, counterparty, balance_after, topic, seq, timestamp_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const setBalance = this.db.prepare('INSERT INTO balances (account, balance) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET balance = excluded.balance');
    const setTopic = this.db.prepare('INSERT INTO topics (name, next_seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET next_seq = excluded.next_seq');
    const setCursor = this.db.prepare('INSERT INTO cursor (one, height, hash) VALUES (1, ?, ?) ON CONFLICT (one) DO UPDATE SET height = excluded.height, hash = excluded.hash');
    const run = this.db.transaction((): number => {
      let cur = this.cursorSync();
      let written = 0;
      for (const b of blocks) {
        if (!follows(cur, b)) continue;
        for (const r of b.rows) {
          insert.run(r.account, r.height, r.txIndex, r.leg, r.txId, r.kind, r.direction, r.amount.toString(), r.fee.toString(), r.counterparty, r.balanceAfter.toString(), r.topic ?? null, r.seq?.toString() ?? null, r.timestampMs);
        }
        for (const [a, v] of b.balances) setBalance.run(a, v.toString());
        for (const [t, v] of b.topics) setTopic.run(t, v.toString());
        setCursor.run(b.height, b.hash);
        cur = { height: b.height, hash: b.hash };
        written++;
      }
      return written;
    });
    return run.immediate();
  }

  async history(account: string, after: string | undefined, limit: number): Promise<StoredRow[]> {
    const rows = this.db.prepare('SELECT * FROM history WHERE account = ? AND id > ? ORDER BY id LIMIT ?').all(account, Number(after ?? 0), limit) as DbRow[];
    return rows.map(fromDbRow);
  }

  async balance(account: string): Promise<bigint | undefined> {
    return (await this.balances([account])).get(account);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
