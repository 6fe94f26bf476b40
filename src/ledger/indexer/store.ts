/**
 * Where the indexer keeps account history. One contract, two stores (SQLite
 * through better-sqlite3, PostgreSQL through pg), one conformance suite.
 *
 * `commit` writes blocks, their rows, the balances and topic counters they
 * change and the new cursor in ONE database transaction, after checking that
 * the first block follows the stored cursor: a block is indexed exactly once,
 * whatever crashes in between. A block at or below the cursor is skipped
 * (another indexer sharing the database, or a replay after a restart).
 */
import { TpslabError } from '../../errors.js';
import type { IndexedBlock, StoredRow } from './history.js';

export interface Cursor {
  height: number;
  hash: string;
}

export interface IndexStore {
  readonly kind: 'sqlite' | 'postgres';
  cursor(): Promise<Cursor | undefined>;
  balances(accounts: readonly string[]): Promise<Map<string, bigint>>;
  topicSeqs(topics: readonly string[]): Promise<Map<string, bigint>>;
  /** Returns the number of blocks actually written (skipped ones are not counted). */
  commit(blocks: readonly IndexedBlock[]): Promise<number>;
  /** Rows of one account after `after` (a cursor from an earlier page), oldest first. */
  history(account: string, after: string | undefined, limit: number): Promise<StoredRow[]>;
  balance(account: string): Promise<bigint | undefined>;
  close(): Promise<void>;
}

/** Checks continuity of a block after `cur`; returns false for one already indexed. */
export function follows(cur: Cursor | undefined, b: IndexedBlock): boolean {
  const expected = cur === undefined ? 0 : cur.height + 1;
  if (b.height < expected) return false;
  if (b.height > expected) {
    throw new TpslabError('TPSLAB_E_INDEX_CONTINUITY', `block ${b.height} does not follow the indexed height ${cur?.height ?? 'none'}: a gap of ${b.height - expected} block(s)`);
  }
  if (cur !== undefined && b.prevHash !== cur.hash) {
    throw new TpslabError('TPSLAB_E_INDEX_CONTINUITY', `block ${b.height} names previous hash ${b.prevHash}, but block ${cur.height} was indexed with hash ${cur.hash}; is this the same network?`);
  }
  return true;
}

/** `sqlite:PATH` or `postgres://…` (also `postgresql://…`). */
export async function openIndexStore(spec: string): Promise<IndexStore> {
  if (spec.startsWith('sqlite:')) {
    const { SqliteIndexStore } = await import('./sqlite-store.js');
    return new SqliteIndexStore(spec.slice('sqlite:'.length));
  }
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const { PostgresIndexStore } = await import('./postgres-store.js');
    return PostgresIndexStore.open(spec);
  }
  throw new TpslabError('TPSLAB_E_USAGE', `--db "${spec.slice(0, 80)}" is not understood; use sqlite:PATH (e.g. sqlite:./index.db) or postgres://user@host:port/db`);
}
