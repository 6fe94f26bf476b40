/**
 * Pays admitted grants from the faucet key: one multi-output transfer per
 * batch of waiting grants, sent one at a time in nonce order. Every signed
 * transfer is recorded before it is sent, so after a crash the same bytes
 * (same id) are sent again and nothing is paid twice.
 */
import { NodeClient } from '../../client/node-client.js';
import { TpslabError, asTpslabError } from '../../errors.js';
import { decodeAddress } from '../../protocol/address.js';
import { decodeTx, signTx, type KeyPair } from '../../protocol/signing.js';
import type { Grant, GrantStore } from './grant-store.js';

export interface PayerOptions {
  nodeUrls: readonly string[];
  key: KeyPair;
  network: string;
  fee: bigint;
  /** Outputs per transfer at most. */
  maxOutputs?: number;
  /** How long to wait for each transfer to commit. */
  commitTimeoutMs?: number;
}

export type Settled = { ok: true; txId: string } | { ok: false; txId: string | undefined; error: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Payer {
  private readonly queue: Grant[] = [];
  private readonly waiters = new Map<string, ((s: Settled) => void)[]>();
  private nonce = 0n;
  private running = false;
  private closed = false;
  private nodeIndex = 0;
  onSettled: (grants: number, ok: boolean) => void = () => {};

  constructor(
    private readonly store: GrantStore,
    private readonly opts: PayerOptions,
  ) {}

  private get client(): NodeClient {
    return new NodeClient(this.opts.nodeUrls[this.nodeIndex % this.opts.nodeUrls.length]!);
  }

  /** Learns the next nonce, finishes transfers left from before a restart, re-queues unpaid grants. */
  async start(): Promise<void> {
    const account = await this.withFailover((c) => c.account(this.opts.key.address));
    const stored = this.store.nextNonce() ?? 0n;
    this.nonce = account.nonce > stored ? account.nonce : stored;
    for (const t of this.store.unsettled()) await this.deliver(t.txId, t.bytes);
    this.queue.push(...this.store.queued());
    void this.pump();
  }

  enqueue(g: Grant): void {
    this.queue.push(g);
    void this.pump();
  }

  /** Resolves when the grant's transfer commits or fails. */
  wait(requestId: string): Promise<Settled> {
    return new Promise((resolve) => {
      const list = this.waiters.get(requestId) ?? [];
      list.push(resolve);
      this.waiters.set(requestId, list);
    });
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  close(): void {
    this.closed = true;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const batch = this.queue.splice(0, this.opts.maxOutputs ?? 1000);
        const byAccount = new Map<string, bigint>();
        for (const g of batch) byAccount.set(g.account, (byAccount.get(g.account) ?? 0n) + g.amount);
        const total = [...byAccount.values()].reduce((a, b) => a + b, 0n);
        const nonce = this.nonce++;
        const tx = signTx(
          {
            kind: 'transfer',
            nonce,
            fee: this.opts.fee,
            deps: [],
            inputs: [{ account: this.opts.key.publicKey, amount: total }],
            outputs: [...byAccount].map(([a, amount]) => ({ account: decodeAddress(a), amount })),
          },
          [this.opts.key],
          this.opts.network,
        );
        const txId = tx.id.toString('hex');
        this.store.recordSent(batch.map((g) => g.requestId), txId, nonce, tx.bytes);
        await this.deliver(txId, tx.bytes, batch);
      }
    } finally {
      this.running = false;
    }
  }

  /** Sends the transfer (again, if need be) until it commits or fails for good; settles its grants. */
  private async deliver(txId: string, bytes: Buffer, batch?: Grant[]): Promise<void> {
    let outcome: Settled | undefined;
    for (let attempt = 0; outcome === undefined && !this.closed; attempt++) {
      try {
        const s = await this.client.submit(decodeTx(bytes), { waitMs: this.opts.commitTimeoutMs ?? 30_000 });
        if (s.status === 'committed') outcome = { ok: true, txId };
        else if (s.status === 'failed') outcome = { ok: false, txId, error: `${s.error?.code}: ${s.error?.message}` };
        else outcome = await this.poll(txId);
      } catch (err) {
        const e = asTpslabError(err);
        if (e.code === 'TPSLAB_E_DUPLICATE' || e.code === 'TPSLAB_E_NONCE_PENDING' || e.code === 'TPSLAB_E_NONCE_TOO_LOW') outcome = await this.poll(txId);
        else if (isRetryable(e) && attempt < 60) {
          this.nodeIndex++;
          await sleep(Math.min(2000, 100 * (attempt + 1)));
        } else outcome = { ok: false, txId, error: `${e.code}: ${e.message}` };
      }
    }
    // Not settled when stopping: after a restart the same bytes are sent again and the outcome read back.
    if (!outcome || this.closed) return;
    this.store.settle(txId, outcome.ok ? { ok: true } : { ok: false, error: outcome.error });
    const ids = batch?.map((g) => g.requestId) ?? [];
    this.onSettled(ids.length, outcome.ok);
    for (const id of ids) {
      for (const w of this.waiters.get(id) ?? []) w(outcome);
      this.waiters.delete(id);
    }
  }

  /** Polls the transfer's status until it is committed or failed (unknown after being sent means it was lost). */
  private async poll(txId: string): Promise<Settled> {
    for (let i = 0; i < 600 && !this.closed; i++) {
      try {
        const s = await this.client.status(txId);
        if (s.status === 'committed') return { ok: true, txId };
        if (s.status === 'failed') return { ok: false, txId, error: `${s.error?.code}: ${s.error?.message}` };
        if (s.status === 'unknown' && i > 20) return { ok: false, txId, error: 'the transfer was lost before it reached the sequencer' };
      } catch (err) {
        if (!isRetryable(asTpslabError(err))) throw err;
        this.nodeIndex++;
      }
      await sleep(50);
    }
    return { ok: false, txId, error: 'timed out waiting for the transfer to commit' };
  }

  private async withFailover<T>(fn: (c: NodeClient) => Promise<T>): Promise<T> {
    let last: unknown;
    for (let i = 0; i < this.opts.nodeUrls.length * 3; i++) {
      try {
        return await fn(this.client);
      } catch (err) {
        last = err;
        this.nodeIndex++;
        await sleep(100);
      }
    }
    throw last instanceof TpslabError ? last : new TpslabError('TPSLAB_E_UNAVAILABLE', `no node of ${this.opts.nodeUrls.join(', ')} answered`, { cause: last });
  }
}

function isRetryable(e: TpslabError): boolean {
  return e.retryable || e.code === 'TPSLAB_E_UNAVAILABLE';
}
