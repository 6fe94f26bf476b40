/**
 * The indexer's PostgreSQL store (pg). Several indexers may share one
 * database: each commit takes a transaction-scoped advisory lock and checks
 * the cursor inside it, so a block is written once whoever gets there first.
 */
import pg from 'pg';
import { TpslabError } from '../../errors.js';
import type { IndexedBlock, StoredRow } from './history.js';
import { fromDbRow } from './sqlite-store.js';
import { follows, type Cursor, type IndexStore } from './store.js';

/** Advisory lock key serialising commits of every indexer on one database ("tpslab" in ASCII). */
const LOCK_KEY = 0x7470736c6162;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS cursor (one INTEGER PRIMARY KEY CHECK (one = 1), height BIGINT NOT NULL, hash TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, balance NUMERIC(20) NOT NULL);
  CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, next_seq NUMERIC(20) NOT NULL);
  CREATE TABLE IF NOT EXISTS history (
    id BIGSERIAL PRIMARY KEY, account TEXT NOT NULL, height BIGINT NOT NULL, tx_index INTEGER NOT NULL, leg INTEGER NOT NULL,
    tx_id TEXT NOT NULL, kind TEXT NOT NULL, direction TEXT NOT NULL, amount NUMERIC(20) NOT NULL, fee NUMERIC(20) NOT NULL, counterparty TEXT NOT NULL,
    balance_after NUMERIC(20) NOT NULL, topic TEXT, seq NUMERIC(20), timestamp_ms BIGINT NOT NULL,
    UNIQUE (account, height, tx_index, leg));
  CREATE INDEX IF NOT EXISTS history_account ON history (account, id);`;

export class PostgresIndexStore implements IndexStore {
  readonly kind = 'postgres';

  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string): Promise<PostgresIndexStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => {});
    try {
      const c = await pool.connect();
      try {
        await c.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
        await c.query(SCHEMA);
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
        c.release();
      }
    } catch (err) {
      await pool.end().catch(() => {});
      const safe = url.replace(/\/\/[^@/]*@/, '//***@');
      throw new TpslabError('TPSLAB_E_DATA_DIR', `cannot use the PostgreSQL database ${safe}: ${(err as Error).message}`, { cause: err });
    }
    return new PostgresIndexStore(pool);
  }

  async cursor(): Promise<Cursor | undefined> {
    const r = await this.pool.query<{ height: string; hash: string }>('SELECT height, hash FROM cursor WHERE one = 1');
    const row = r.rows[0];
    return row ? { height: Number(row.height), hash: row.hash } : undefined;
  }

  async balances(accounts: readonly string[]): Promise<Map<string, bigint>> {
    const r = await this.pool.query<{ account: string; balance: string }>('SELECT account, balance::text FROM balances WHERE account = ANY($1)', [accounts]);
    return new Map(r.rows.map((x) => [x.account, BigInt(x.balance)]));
  }

  async topicSeqs(topics: readonly string[]): Promise<Map<string, bigint>> {
    const r = await this.pool.query<{ name: string; next_seq: string }>('SELECT name, next_seq::text FROM topics WHERE name = ANY($1)', [topics]);
    return new Map(r.rows.map((x) => [x.name, BigInt(x.next_seq)]));
  }

  async commit(blocks: readonly IndexedBlock[]): Promise<number> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const r = await c.query<{ height: string; hash: string }>('SELECT height, hash FROM cursor WHERE one = 1');
      let cur: Cursor | undefined = r.rows[0] ? { height: Number(r.rows[0].height), hash: r.rows[0].hash } : undefined;
      let written = 0;
      for (const b of blocks) {
        if (!follows(cur, b)) continue;
        const rows = b.rows;
        if (rows.length > 0) {
          const col = <T>(f: (x: (typeof rows)[number]) => T): T[] => rows.map(f);
          await c.query(
            `INSERT INTO history (account, height, tx_index, leg, tx_id, kind, direction, amount, fee, counterparty, balance_after, topic, seq, timestamp_ms)
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::numeric[], $9::numeric[], $10::text[], $11::numeric[], $12::text[], $13::numeric[], $14::bigint[])`,
            [
              col((x) => x.account),
              col((x) => x.height),
              col((x) => x.txIndex),
              col((x) => x.leg),
              col((x) => x.txId),
              col((x) => x.kind),
              col((x) => x.direction),
              col((x) => x.amount.toString()),
              col((x) => x.fee.toString()),
              col((x) => x.counterparty),
              col((x) => x.balanceAfter.toString()),
              col((x) => x.topic ?? null),
              col((x) => x.seq?.toString() ?? null),
              col((x) => x.timestampMs),
            ],
          );
        }
        if (b.balances.size > 0) {
          await c.query('INSERT INTO balances (account, balance) SELECT * FROM unnest($1::text[], $2::numeric[]) ON CONFLICT (account) DO UPDATE SET balance = excluded.balance', [
            [...b.balances.keys()],
            [...b.balances.values()].map(String),
          ]);
        }
        if (b.topics.size > 0) {
          await c.query('INSERT INTO topics (name, next_seq) SELECT * FROM unnest($1::text[], $2::numeric[]) ON CONFLICT (name) DO UPDATE SET next_seq = excluded.next_seq', [
            [...b.topics.keys()],
            [...b.topics.values()].map(String),
          ]);
        }
        await c.query('INSERT INTO cursor (one, height, hash) VALUES (1, $1, $2) ON CONFLICT (one) DO UPDATE SET height = excluded.height, hash = excluded.hash', [b.height, b.hash]);
        cur = { height: b.height, hash: b.hash };
        written++;
      }
      await c.query('COMMIT');
      return written;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  async history(account: string, after: string | undefined, limit: number): Promise<StoredRow[]> {
    const r = await this.pool.query(
      `SELECT h.id::text AS id, account, height, tx_index, leg, tx_id, kind, direction, amount::text AS amount, fee::text AS fee, counterparty,
              balance_after::text AS balance_after, topic, seq::text AS seq, timestamp_ms
       FROM history h WHERE h.account = $1 AND h.id > $2 ORDER BY h.id LIMIT $3`,
      [account, after ?? '0', limit],
    );
    return r.rows.map(fromDbRow);
  }

  async balance(account: string): Promise<bigint | undefined> {
    return (await this.balances([account])).get(account);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
