/**
 * The faucet's ledger of grants in SQLite: what was asked (by request id),
 * for whom, by which client, when, and how it ended. Limits are counted from
 * these rows, so they hold across a restart; failed grants do not count.
 */
import Database from 'better-sqlite3';
import { TpslabError } from '../../errors.js';

export type GrantStatus = 'queued' | 'sent' | 'committed' | 'failed';

export interface Grant {
  requestId: string;
  client: string;
  account: string;
  amount: bigint;
  atMs: number;
  status: GrantStatus;
  txId: string | undefined;
  error: string | undefined;
}

export interface FaucetLimits {
  windowMs: number;
  perClient: number;
  perAccount: number;
  /** Total amount granted per window. */
  budget: bigint;
}

export type LimitName = 'client' | 'account' | 'budget';

export interface Refusal {
  limit: LimitName;
  retryAfterMs: number;
}

interface Row {
  request_id: string;
  client: string;
  account: string;
  amount: string;
  at_ms: number;
  status: GrantStatus;
  tx_id: string | null;
  error: string | null;
}

const toGrant = (r: Row): Grant => ({
  requestId: r.request_id,
  client: r.client,
  account: r.account,
  amount: BigInt(r.amount),
  atMs: r.at_ms,
  status: r.status,
  txId: r.tx_id ?? undefined,
  error: r.error ?? undefined,
});

export class GrantStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new TpslabError('TPSLAB_E_DATA_DIR', `cannot open the faucet database ${path}: ${(err as Error).message}`, { cause: err });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS grants (
        request_id TEXT PRIMARY KEY, client TEXT NOT NULL, account TEXT NOT NULL, amount TEXT NOT NULL,
        at_ms INTEGER NOT NULL, status TEXT NOT NULL, tx_id TEXT, error TEXT);
      CREATE INDEX IF NOT EXISTS grants_client ON grants (client, at_ms);
      CREATE INDEX IF NOT EXISTS grants_account ON grants (account, at_ms);
      CREATE INDEX IF NOT EXISTS grants_at ON grants (at_ms);
      CREATE TABLE IF NOT EXISTS txs (tx_id TEXT PRIMARY KEY, nonce TEXT NOT NULL, bytes BLOB NOT NULL, done INTEGER NOT NULL DEFAULT 0);`);
  }

  get(requestId: string): Grant | undefined {
    const r = this.db.prepare('SELECT * FROM grants WHERE request_id = ?').get(requestId) as Row | undefined;
    return r && toGrant(r);
  }

  /**
   * Admits a grant if no limit is reached, atomically: returns the refusal
   * (with when to retry) or undefined after recording the grant as queued.
   */
  admit(g: Omit<Grant, 'status' | 'txId' | 'error'>, limits: FaucetLimits): Refusal | undefined {
    const since = g.atMs - limits.windowMs;
    const retryAt = (oldest: number | null): number => Math.max(1000, (oldest ?? g.atMs) + limits.windowMs - g.atMs);
    const run = this.db.transaction((): Refusal | undefined => {
      const byClient = this.db.prepare("SELECT count(*) AS n, min(at_ms) AS oldest FROM grants WHERE client = ? AND at_ms > ? AND status != 'failed'").get(g.client, since) as { n: number; oldest: number | null };
      if (byClient.n >= limits.perClient) return { limit: 'client', retryAfterMs: retryAt(byClient.oldest) };
      const byAccount = this.db.prepare("SELECT count(*) AS n, min(at_ms) AS oldest FROM grants WHERE account = ? AND at_ms > ? AND status != 'failed'").get(g.account, since) as { n: number; oldest: number | null };
      if (byAccount.n >= limits.perAccount) return { limit: 'account', retryAfterMs: retryAt(byAccount.oldest) };
      const rows = this.db.prepare("SELECT amount, at_ms FROM grants WHERE at_ms > ? AND status != 'failed' ORDER BY at_ms").all(since) as { amount: string; at_ms: number }[];
      let spent = rows.reduce((s, r) => s + BigInt(r.amount), 0n);
      if (spent + g.amount > limits.budget) {
        // Retry when enough of the window's grants have aged out.
        let at: number | null = null;
        for (const r of rows) {
          spent -= BigInt(r.amount);
          at = r.at_ms;
          if (spent + g.amount <= limits.budget) break;
        }
        return { limit: 'budget', retryAfterMs: retryAt(at) };
      }
      this.db
        .prepare("INSERT INTO grants (request_id, client, account, amount, at_ms, status) VALUES (?, ?, ?, ?, ?, 'queued')")
        .run(g.requestId, g.client, g.account, g.amount.toString(), g.atMs);
      return undefined;
    });
    return run.immediate();
  }

  /** Records a signed transfer paying these grants, before it is sent. */
  recordSent(requestIds: readonly string[], txId: string, nonce: bigint, bytes: Buffer): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO txs (tx_id, nonce, bytes, done) VALUES (?, ?, ?, 0)').run(txId, nonce.toString(), bytes);
      const up = this.db.prepare("UPDATE grants SET status = 'sent', tx_id = ? WHERE request_id = ?");
      for (const id of requestIds) up.run(txId, id);
    })();
  }

  /** Marks every grant paid by `txId` committed or failed. */
  settle(txId: string, outcome: { ok: true } | { ok: false; error: string }): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE txs SET done = 1 WHERE tx_id = ?').run(txId);
      if (outcome.ok) this.db.prepare("UPDATE grants SET status = 'committed' WHERE tx_id = ?").run(txId);
      else this.db.prepare("UPDATE grants SET status = 'failed', error = ? WHERE tx_id = ?").run(outcome.error, txId);
    })();
  }

  /** Grants admitted but never signed (the faucet stopped before paying them). */
  queued(): Grant[] {
    return (this.db.prepare("SELECT * FROM grants WHERE status = 'queued' ORDER BY at_ms").all() as Row[]).map(toGrant);
  }

  /** Signed transfers whose outcome was not recorded, in nonce order. */
  unsettled(): { txId: string; nonce: bigint; bytes: Buffer }[] {
    const rows = this.db.prepare('SELECT tx_id, nonce, bytes FROM txs WHERE done = 0').all() as { tx_id: string; nonce: string; bytes: Buffer }[];
    return rows.map((r) => ({ txId: r.tx_id, nonce: BigInt(r.nonce), bytes: r.bytes })).sort((a, b) => (a.nonce < b.nonce ? -1 : 1));
  }

  /** The nonce after the highest signed transfer, if any. */
  nextNonce(): bigint | undefined {
    const rows = this.db.prepare('SELECT nonce FROM txs').all() as { nonce: string }[];
    if (rows.length === 0) return undefined;
    return rows.reduce((m, r) => (BigInt(r.nonce) > m ? BigInt(r.nonce) : m), 0n) + 1n;
  }

  counts(): Record<GrantStatus, number> {
    const out: Record<GrantStatus, number> = { queued: 0, sent: 0, committed: 0, failed: 0 };
    for (const r of this.db.prepare('SELECT status, count(*) AS n FROM grants GROUP BY status').all() as { status: GrantStatus; n: number }[]) out[r.status] = r.n;
    return out;
  }

  close(): void {
    this.db.close();
  }
}
