/**
 * A network node: validates at ingress, forwards to the sequencer in batches,
 * follows the sequencer's block feed, applies each block (checking its state
 * hash), keeps its own copy of the log, and serves the public API from it.
 *
 * - Catching up: until it has applied the sequencer's head as of connecting,
 *   /health answers 503 "catching up".
 * - State hash mismatch: the node stops applying and serving (503) and says why.
 * - Sequencer unreachable: submitters get TPSLAB_E_UNAVAILABLE (retryable)
 *   within `requestTimeoutMs`, never a hang; the feed reconnects by itself.
 */
import { systemClock, type Clock } from '../clock.js';
import { TpslabError, asTpslabError, isErrorCode, type ErrorCode } from '../errors.js';
import { decodeBlock, type Block } from '../protocol/block.js';
import { senderOf, type SignedTx } from '../protocol/tx.js';
import { ChainService } from './chain-service.js';
import { ChainStore, applyBlock, type ReplayProgress } from './chain-store.js';
import { BlockFeed } from './block-feed.js';
import { LeaderForwarder, type Pending, type Waiting } from './leader-forwarder.js';
import { postBatch, type SubmitAnswer } from './sequencer-client.js';
import type { Genesis } from './genesis.js';
import type { LedgerService } from './service.js';
import { DEFAULT_SNAPSHOT_EVERY_BLOCKS, DEFAULT_SNAPSHOT_EVERY_TXS } from './snapshot.js';
import type { TxEffect } from './state.js';

export interface ReplicaOptions {
  /**
   * The sequencer's URL; with replicated ordering, every sequencer's, comma-separated: blocks are followed
   * from any of them, transactions go to the leader (found by asking them), and those a lost leader held
   * are sent again to the next one.
   */
  sequencerUrl: string;
  /** Most transactions in one forwarded batch. */
  forwardBatchMax: number;
  /** How long ingress waits to fill a batch: at most this long after its first transaction, at least this long after the previous batch. */
  forwardDelayMs: number;
  requestTimeoutMs: number;
  /**
   * Transactions queued for or in flight to the sequencer at most; beyond, ingress answers
   * TPSLAB_E_MEMPOOL_FULL (429) at once instead of queueing work that would time out.
   */
  maxForwardPending: number;
  fsync: boolean;
  /** Write a state snapshot every this many blocks; 0: never. */
  snapshotEveryBlocks: number;
  /** And once this many transactions were applied since the last one; 0: only by blocks. */
  snapshotEveryTxs: number;
  /** Timers and time of the forwarder and the feed (tests drive it). */
  clock?: Clock;
}

export const DEFAULT_REPLICA_OPTIONS: Omit<ReplicaOptions, 'sequencerUrl'> = {
  forwardBatchMax: 2000,
  forwardDelayMs: 2,
  requestTimeoutMs: 5000,
  maxForwardPending: 20_000,
  fsync: true,
  snapshotEveryBlocks: DEFAULT_SNAPSHOT_EVERY_BLOCKS,
  snapshotEveryTxs: DEFAULT_SNAPSHOT_EVERY_TXS,
};

export { INTERNAL_LEADER_PATH, INTERNAL_SUBMIT_PATH } from './sequencer-client.js';
const PENDING_TTL_MS = 120_000;
const SWEEP_EVERY_MS = 10_000;

export class Replica extends ChainService implements LedgerService {
  readonly role = 'replica' as const;
  private readonly opts: ReplicaOptions;
  private queue: Waiting[] = [];
  /** Transactions in forwarded batches not yet answered by the sequencer. */
  private forwarding = 0;
  private flushTimer: unknown;
  /** When the oldest transaction in `queue` arrived (stage `forward_queue`). */
  private queuedSinceMs = 0;
  /** When the last batch was forwarded. */
  private lastFlushAtMs = -Infinity;
  private readonly clock: Clock;
  /** Forwarded and accepted, not yet seen committed or failed. */
  private readonly pending = new Map<string, Pending>();
  /** Every sequencer's URL (one unless replicated ordering). */
  private readonly urls: string[];
  private readonly feed: BlockFeed;
  /** With several sequencers: where transactions go, and what is resent after a change of leader. */
  private readonly leaders: LeaderForwarder | undefined;
  private fatal: TpslabError | undefined;
  private closed = false;
  /** Blocks apply one after another; persisting them pipelines. */
  private applying: Promise<void> = Promise.resolve();
  private sweepTimer: unknown;

  private constructor(
    chain: ChainStore,
    opts: ReplicaOptions,
  ) {
    super(chain);
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.urls = opts.sequencerUrl.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean);
    this.feed = new BlockFeed(this.urls, chain.genesis.network, opts.requestTimeoutMs, this.clock, {
      from: () => this.chain.state.height + 1,
      block: (encoded) => this.onBlock(encoded),
      text: (text) => this.onText(text),
      wrongNetwork: (err) => this.die(err),
    });
    this.scheduleSweep();
    if (this.urls.length > 1) {
      this.leaders = new LeaderForwarder(this.urls, opts.requestTimeoutMs, opts.forwardBatchMax, this.clock, {
        pending: this.pending,
        track: (tx, term, atMs, failureMark) => {
          const k = tx.idKey;
          this.forgetRetryableFailure(k, failureMark); // a resend of one dropped for now (not a failure streamed since it was sent)
          if (!this.holdsOrStopped(tx, k) && !this.hasFailed(k)) this.pending.set(k, { atMs, tx, term });
        },
        isIndexed: (k) => this.isIndexedOrStopped(k),
        fail: (tx, code, message) => {
          const k = tx.idKey;
          if (!this.pending.delete(k)) return;
          this.rememberFailure(k, code, message);
          this.emit('failed', { id: tx.id, code, message });
        },
        height: () => this.chain.state.height,
        feed: this.feed,
        closed: () => this.closed,
      });
      this.leaders.start();
    }
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepPending();
      if (!this.closed) this.scheduleSweep();
    }, SWEEP_EVERY_MS);
  }

  static async open(dataDir: string, genesis: Genesis, options: Partial<ReplicaOptions> & { sequencerUrl: string }, onReplay?: ReplayProgress): Promise<Replica> {
    const opts = { ...DEFAULT_REPLICA_OPTIONS, ...options, sequencerUrl: options.sequencerUrl.replace(/\/+$/, '') };
    const chain = await ChainStore.open(dataDir, genesis, { fsync: opts.fsync, snapshotEveryBlocks: opts.snapshotEveryBlocks, snapshotEveryTxs: opts.snapshotEveryTxs, ...(onReplay ? { onReplay } : {}) });
    const r = new Replica(chain, opts);
    r.feed.connect();
    return r;
  }

  get mempoolSize(): number {
    return this.pending.size;
  }
  get sequencerConnected(): boolean {
    return this.feed.connected;
  }

  get degradedReason(): string | undefined {
    const since = this.feed.unreachableSinceMs;
    if (since === undefined) return undefined;
    return `sequencer unreachable since ${new Date(since).toISOString()} (${this.opts.sequencerUrl}); submissions fail with TPSLAB_E_UNAVAILABLE`;
  }

  get unavailableReason(): string | undefined {
    if (this.fatal) return this.fatal.message;
    if (this.closed) return 'shutting down';
    const target = this.feed.catchUpTarget;
    if (target === undefined) return `catching up: waiting for the sequencer at ${this.opts.sequencerUrl}`;
    if (this.chain.durableHeight < target) return `catching up: at block ${this.chain.durableHeight} of ${target}`;
    return undefined;
  }

  // ---- ingress: forward to the sequencer in batches ----

  submitMany(txs: readonly SignedTx[]): Promise<(TpslabError | undefined)[]> {
    // One promise a batch, settled when its last transaction is answered: not a promise (and a reaction
    // of Promise.all) per transaction.
    return new Promise((done) => {
      const out = new Array<TpslabError | undefined>(txs.length);
      let left = txs.length;
      if (left === 0) return done(out);
      for (let i = 0; i < txs.length; i++) {
        this.submitOne(txs[i]!, (r) => {
          out[i] = r;
          if (--left === 0) done(out);
        });
      }
    });
  }

  private submitOne(tx: SignedTx, resolve: (r: TpslabError | undefined) => void): void {
    if (this.fatal) return resolve(new TpslabError('TPSLAB_E_UNAVAILABLE', `this node stopped serving: ${this.fatal.message}`));
    if (this.closed) return resolve(new TpslabError('TPSLAB_E_UNAVAILABLE', 'this node is shutting down'));
    // Nonces below the applied state's are certainly used (state only lags the sequencer).
    const account = this.chain.state.getAccount(senderOf(tx.body));
    if (account && tx.body.nonce < account.nonce) {
      return resolve(
        new TpslabError('TPSLAB_E_NONCE_TOO_LOW', `nonce ${tx.body.nonce} is used; the sender's next nonce is at least ${account.nonce}`, {
          details: { expectedNonce: account.nonce.toString() },
        }),
      );
    }
    if (this.queue.length + this.forwarding >= this.opts.maxForwardPending) {
      // The sequencer is behind (or gone): shed at once with a retryable 429 rather than queue work
      // that would time out as UNAVAILABLE.
      return resolve(
        new TpslabError('TPSLAB_E_MEMPOOL_FULL', `${this.queue.length + this.forwarding} transactions are waiting for the sequencer (at most ${this.opts.maxForwardPending}); retry the same transaction after Retry-After`),
      );
    }
    if (this.queue.length === 0) this.queuedSinceMs = performance.now();
    this.queue.push({ tx, resolve });
    if (this.queue.length >= this.opts.forwardBatchMax) this.flush();
    // Batches are at least forwardDelayMs apart; after a quiet spell the first goes out at once (with the rest of its request).
    else this.flushTimer ??= this.clock.setTimeout(() => this.flush(), Math.max(0, this.lastFlushAtMs + this.opts.forwardDelayMs - this.clock.now()));
  }

  private flush(): void {
    this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.queue.splice(0, this.opts.forwardBatchMax);
    if (batch.length > 0) {
      this.lastFlushAtMs = this.clock.now();
      this.stageSink?.('forward_queue', (performance.now() - this.queuedSinceMs) / 1000);
    }
    // What is left waits from now (as the sequencer's block_wait after a full block): not from the
    // first arrival of the batch just sent.
    if (this.queue.length > 0) {
      this.queuedSinceMs = performance.now();
      this.flushTimer = this.clock.setTimeout(() => this.flush(), 0);
    }
    if (batch.length > 0) {
      // Its waiters are all answered (forwardNow); a throw after that is a bug: stop rather than leave
      // an unhandled rejection, which ends the process with a stack.
      this.forward(batch).catch((err: unknown) => this.die(asTpslabError(err)));
    }
  }

  private async forward(batch: Waiting[]): Promise<void> {
    this.forwarding += batch.length;
    const startMs = performance.now();
    try {
      await this.forwardNow(batch);
    } finally {
      this.forwarding -= batch.length;
      this.stageSink?.('forward', (performance.now() - startMs) / 1000);
    }
  }

  private async forwardNow(batch: Waiting[]): Promise<void> {
    const mark = this.failureMark();
    if (this.leaders) {
      for (const w of batch) w.failureMark = mark;
      return this.leaders.forward(batch);
    }
    let results: SubmitAnswer['results'];
    try {
      results = (await postBatch(this.opts.sequencerUrl, batch.map((w) => w.tx), this.opts.requestTimeoutMs)).results;
    } catch (err) {
      const why = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      const e = new TpslabError('TPSLAB_E_UNAVAILABLE', `the sequencer at ${this.opts.sequencerUrl} did not take the transaction (${why}); retry the same transaction`, { cause: err });
      for (const w of batch) w.resolve(e);
      return;
    }
    const now = this.clock.now();
    batch.forEach((w, i) => {
      const r = results[i];
      if (r?.error) {
        const code: ErrorCode = isErrorCode(r.error.code) ? r.error.code : 'TPSLAB_E_REMOTE';
        w.resolve(new TpslabError(code, r.error.message));
        return;
      }
      // The sequencer took it, whatever the bookkeeping below meets (a damaged index throws, and stops
      // this node): every waiter is answered, or submitMany would never settle.
      try {
        const k = w.tx.idKey;
        this.forgetRetryableFailure(k, mark); // a resend of one dropped for now (not a failure streamed since it was sent)
        if (!this.holdsOrStopped(w.tx, k) && !this.hasFailed(k)) this.pending.set(k, { atMs: now, tx: w.tx, term: 0 });
      } finally {
        w.resolve(undefined);
      }
    });
  }

  /**
   * Whether `tx` is in an indexed block here; false when the index cannot tell (found damaged: it has
   * stopped this node through ChainService, TPSLAB_E_DATA_DIR). Tracking it as pending is then harmless:
   * at worst it is sent again, and refused as a duplicate.
   */
  private holdsOrStopped(tx: SignedTx, idKey: string): boolean {
    try {
      return this.chain.holds(tx, idKey);
    } catch (err) {
      if (!(err instanceof TpslabError && err.code === 'TPSLAB_E_DATA_DIR')) throw err;
      return false;
    }
  }

  private isIndexedOrStopped(idKey: string): boolean {
    try {
      return this.chain.isIndexed(idKey);
    } catch (err) {
      if (!(err instanceof TpslabError && err.code === 'TPSLAB_E_DATA_DIR')) throw err;
      return false;
    }
  }

  private sweepPending(): void {
    const cutoff = this.clock.now() - PENDING_TTL_MS;
    let dropped = 0;
    for (const [k, p] of this.pending) {
      if (p.atMs < cutoff) {
        this.pending.delete(k);
        dropped++;
      }
    }
    if (dropped > 0) console.log(`node: forgot ${dropped} pending transactions older than ${PENDING_TTL_MS} ms`);
  }

  protected isPending(idKey: string): boolean {
    return this.pending.has(idKey);
  }

  // ---- the block feed ----

  private onText(text: string): void {
    let ev: { type?: string; id?: string; code?: string; message?: string };
    try {
      ev = JSON.parse(text) as typeof ev;
    } catch {
      return;
    }
    if (typeof ev.id !== 'string') return;
    const id = Buffer.from(ev.id, 'hex');
    const k = id.toString('latin1');
    // Sent again after a failure this node remembers (through any node) and accepted: no longer failed.
    if (ev.type === 'retaken') return void this.forgetRetryableFailure(k);
    if (ev.type !== 'failed') return;
    const code: ErrorCode = isErrorCode(ev.code) ? ev.code : 'TPSLAB_E_REMOTE';
    if (this.pending.delete(k)) console.log(`node: pending ${ev.id.slice(0, 16)} failed at the sequencer: ${code} ${ev.message ?? ''}`);
    this.rememberFailure(k, code, ev.message ?? '');
    this.emit('failed', { id, code, message: ev.message ?? '' });
  }

  private onBlock(encoded: Buffer): void {
    if (this.fatal) return;
    const sink = this.stageSink;
    const receivedAt = sink ? performance.now() : 0;
    let block: Block;
    let effects: TxEffect[];
    // One copy of the frame: the block's transactions are views of it, and it is what the log writes.
    const copy = Buffer.from(encoded);
    try {
      block = decodeBlock(copy, true);
      if (block.height <= this.chain.state.height) return; // already have it (resent after a reconnect)
      if (block.height !== this.chain.state.height + 1) {
        this.feed.reconnect(); // a gap: reconnect from our height
        return;
      }
      effects = applyBlock(this.chain.state, block);
    } catch (err) {
      this.die(
        new TpslabError(
          'TPSLAB_E_LOG_CORRUPT',
          `stopped following the sequencer: ${(err as Error).message}. This node's state diverged; restore its data directory from a healthy node or start it on an empty one`,
          { cause: err },
        ),
      );
      return;
    }
    this.chain.index(block, effects);
    for (const tx of block.txs) this.pending.delete(tx.idKey);
    this.forgetFailuresOf(block.txs);
    const appliedAt = sink ? performance.now() : 0;
    if (sink) {
      // Sealed (the sequencer's wall clock, in the block) to received here: its fdatasync, the feed, this event loop.
      sink('feed', Math.max(0, Date.now() - (appliedAt - receivedAt) - block.timestampMs) / 1000);
      sink('apply', (appliedAt - receivedAt) / 1000);
    }
    // Appends go to the log at once (it group-commits them); commits are announced in height order.
    const persisted = this.chain.persist(block, copy);
    this.applying = Promise.all([this.applying, persisted]).then(
      () => {
        if (sink) sink('persist', (performance.now() - appliedAt) / 1000);
        this.emit('commit', { block, encoded: copy, effects });
      },
      (err: unknown) => this.die(new TpslabError('TPSLAB_E_UNAVAILABLE', `writing block ${block.height} to this node's log failed: ${(err as Error).message}`, { cause: err })),
    );
  }

  protected die(err: TpslabError): void {
    if (this.fatal) return;
    this.fatal = err;
    this.feed.close();
    this.emit('fatal', err);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.sweepTimer);
    this.leaders?.close();
    this.feed.close();
    this.flush();
    await this.applying;
    await this.chain.close();
  }
}
