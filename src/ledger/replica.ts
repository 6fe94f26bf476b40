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
import WebSocket from 'ws';
import { systemClock, type Clock } from '../clock.js';
import type { HeadJson } from '../protocol/api.js';
import { TpslabError, isErrorCode, type ErrorCode } from '../errors.js';
import { decodeBlock, type Block } from '../protocol/block.js';
import { senderOf, type SignedTx } from '../protocol/tx.js';
import { ChainService } from './chain-service.js';
import { ChainStore, applyBlock, type ReplayProgress } from './chain-store.js';
import { BLOCK_FEED_PATH } from './commit-stream.js';
import { fetchLeader, postBatch, type SubmitAnswer } from './sequencer-client.js';
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
  /** How long ingress waits to fill a batch. */
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
/** With several sequencers: how often a node asks who leads. */
const LEADER_POLL_MS = 200;
/** With several sequencers: how long a batch is retried on the next leader before UNAVAILABLE. */
const FAILOVER_RETRY_MS = 1500;
const LEADER_POLL_TIMEOUT_MS = 1000;
/** With several sequencers: a feed silent this long while another sequencer is ahead is replaced. */
const FEED_STALL_MS = 1000;

interface Pending {
  atMs: number;
  tx: SignedTx;
  /** Term of the leader that accepted it (0: single sequencer). */
  term: number;
}

const PENDING_TTL_MS = 120_000;
const SWEEP_EVERY_MS = 10_000;

interface Waiting {
  tx: SignedTx;
  resolve: (r: TpslabError | undefined) => void;
}

export class Replica extends ChainService implements LedgerService {
  readonly role = 'replica' as const;
  private readonly opts: ReplicaOptions;
  private queue: Waiting[] = [];
  /** Transactions in forwarded batches not yet answered by the sequencer. */
  private forwarding = 0;
  private flushTimer: unknown;
  private readonly clock: Clock;
  /** Forwarded and accepted, not yet seen committed or failed. */
  private readonly pending = new Map<string, Pending>();
  /** Every sequencer's URL (one unless replicated ordering); where transactions and the feed go now. */
  private readonly urls: string[];
  private submitIdx = 0;
  private feedIdx = 0;
  /** Highest leader term seen; pending transactions accepted under an older one are sent again. */
  private knownTerm = 0;
  private resending = false;
  private leaderTimer: unknown;
  /** When the feed last delivered anything (or was replaced). */
  private lastFeedMs = 0;
  private ws: WebSocket | undefined;
  private reconnectTimer: unknown;
  private backoffMs = 100;
  /** Sequencer head when the feed (re)connected; healthy once applied. */
  private catchUpTarget: number | undefined;
  private connected = false;
  /** When the block feed to the sequencer was lost (undefined while connected). */
  private unreachableSinceMs: number | undefined;
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
    this.scheduleSweep();
    if (this.urls.length > 1) this.scheduleLeaderPoll();
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
    r.connect();
    return r;
  }

  get mempoolSize(): number {
    return this.pending.size;
  }
  get sequencerConnected(): boolean {
    return this.connected;
  }

  get degradedReason(): string | undefined {
    if (this.unreachableSinceMs === undefined) return undefined;
    return `sequencer unreachable since ${new Date(this.unreachableSinceMs).toISOString()} (${this.opts.sequencerUrl}); submissions fail with TPSLAB_E_UNAVAILABLE`;
  }

  get unavailableReason(): string | undefined {
    if (this.fatal) return this.fatal.message;
    if (this.closed) return 'shutting down';
    if (this.catchUpTarget === undefined) return `catching up: waiting for the sequencer at ${this.opts.sequencerUrl}`;
    if (this.chain.durableHeight < this.catchUpTarget) return `catching up: at block ${this.chain.durableHeight} of ${this.catchUpTarget}`;
    return undefined;
  }

  // ---- ingress: forward to the sequencer in batches ----

  submitMany(txs: readonly SignedTx[]): Promise<(TpslabError | undefined)[]> {
    return Promise.all(txs.map((tx) => this.submitOne(tx)));
  }

  private submitOne(tx: SignedTx): Promise<TpslabError | undefined> {
    if (this.fatal) return Promise.resolve(new TpslabError('TPSLAB_E_UNAVAILABLE', `this node stopped serving: ${this.fatal.message}`));
    if (this.closed) return Promise.resolve(new TpslabError('TPSLAB_E_UNAVAILABLE', 'this node is shutting down'));
    // Nonces below the applied state's are certainly used (state only lags the sequencer).
    const account = this.chain.state.getAccount(senderOf(tx.body));
    if (account && tx.body.nonce < account.nonce) {
      return Promise.resolve(
        new TpslabError('TPSLAB_E_NONCE_TOO_LOW', `nonce ${tx.body.nonce} is used; the sender's next nonce is at least ${account.nonce}`, {
          details: { expectedNonce: account.nonce.toString() },
        }),
      );
    }
    if (this.queue.length + this.forwarding >= this.opts.maxForwardPending) {
      // The sequencer is behind (or gone): shed at once with a retryable 429 rather than queue work
      // that would time out as UNAVAILABLE.
      return Promise.resolve(
        new TpslabError('TPSLAB_E_MEMPOOL_FULL', `${this.queue.length + this.forwarding} transactions are waiting for the sequencer (at most ${this.opts.maxForwardPending}); retry the same transaction after Retry-After`),
      );
    }
    return new Promise((resolve) => {
      this.queue.push({ tx, resolve });
      if (this.queue.length >= this.opts.forwardBatchMax) this.flush();
      else this.flushTimer ??= this.clock.setTimeout(() => this.flush(), this.opts.forwardDelayMs);
    });
  }

  private flush(): void {
    this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.queue.splice(0, this.opts.forwardBatchMax);
    if (this.queue.length > 0) this.flushTimer = this.clock.setTimeout(() => this.flush(), 0);
    if (batch.length > 0) void this.forward(batch);
  }

  private async forward(batch: Waiting[]): Promise<void> {
    this.forwarding += batch.length;
    try {
      await this.forwardNow(batch);
    } finally {
      this.forwarding -= batch.length;
    }
  }

  private async forwardNow(batch: Waiting[]): Promise<void> {
    if (this.urls.length > 1) return this.forwardToLeader(batch);
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
      } else {
        const k = w.tx.id.toString('latin1');
        if (!this.chain.holds(w.tx, k) && !this.hasFailed(k)) this.pending.set(k, { atMs: now, tx: w.tx, term: 0 });
        w.resolve(undefined);
      }
    });
  }

  // ---- replicated ordering: transactions to the leader, resent after a change of leader ----

  /** Sends to the leader, following NOT_LEADER hints and moving on from unreachable sequencers for a while. */
  private async forwardToLeader(batch: Waiting[]): Promise<void> {
    const deadline = this.clock.now() + FAILOVER_RETRY_MS;
    let todo = batch;
    let why = 'no sequencer answered';
    while (todo.length > 0) {
      const idx = this.submitIdx;
      const url = this.urls[idx]!;
      const retry: Waiting[] = [];
      try {
        const answer = await postBatch(url, todo.map((w) => w.tx), this.opts.requestTimeoutMs);
        if (answer.term !== undefined) this.learnTerm(answer.term, idx);
        const now = this.clock.now();
        todo.forEach((w, i) => {
          const e = answer.results[i]?.error;
          if (e?.code === 'TPSLAB_E_NOT_LEADER') {
            why = e.message;
            const hinted = e.details?.leaderUrl ? this.urls.indexOf(e.details.leaderUrl.replace(/\/+$/, '')) : -1;
            if (this.submitIdx === idx) this.submitIdx = hinted >= 0 && hinted !== idx ? hinted : (idx + 1) % this.urls.length;
            retry.push(w);
          } else if (e) w.resolve(new TpslabError(isErrorCode(e.code) ? e.code : 'TPSLAB_E_REMOTE', e.message));
          else {
            const k = w.tx.id.toString('latin1');
            if (!this.chain.holds(w.tx, k) && !this.hasFailed(k)) this.pending.set(k, { atMs: now, tx: w.tx, term: answer.term ?? this.knownTerm });
            w.resolve(undefined);
          }
        });
      } catch (err) {
        why = `${url}: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`;
        if (this.submitIdx === idx) this.submitIdx = (idx + 1) % this.urls.length;
        retry.push(...todo);
      }
      todo = retry;
      if (todo.length === 0 || this.clock.now() > deadline || this.closed) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const e = new TpslabError('TPSLAB_E_UNAVAILABLE', `no sequencer leader took the transaction (${why}); retry the same transaction`);
    for (const w of todo) w.resolve(e);
  }

  private learnTerm(term: number, leaderIdx: number): void {
    if (term <= this.knownTerm) return;
    this.knownTerm = term;
    this.submitIdx = leaderIdx;
    void this.resendPending();
  }

  private scheduleLeaderPoll(): void {
    this.leaderTimer = this.clock.setTimeout(() => {
      void this.pollLeader().finally(() => {
        if (!this.closed) this.scheduleLeaderPoll();
      });
    }, LEADER_POLL_MS);
  }

  /**
   * Asks every sequencer who leads (the newest term wins) and how far it is. A feed that delivers nothing
   * while another sequencer is ahead (its sequencer paused or cut off) is dropped for the next one.
   */
  private async pollLeader(): Promise<void> {
    const answers = await Promise.all(this.urls.map((u) => fetchLeader(u, LEADER_POLL_TIMEOUT_MS).catch(() => undefined)));
    let ahead = false;
    for (const a of answers) {
      const idx = a?.leader ? this.urls.indexOf(a.leader.url.replace(/\/+$/, '')) : -1;
      if (a?.leader && idx >= 0) this.learnTerm(a.leader.term, idx);
      if ((a?.height ?? 0) > this.chain.state.height) ahead = true;
    }
    if (ahead && this.clock.now() - this.lastFeedMs > FEED_STALL_MS) {
      this.lastFeedMs = this.clock.now();
      this.ws?.terminate(); // reconnects to the next sequencer
    }
    void this.resendPending();
  }

  /**
   * Sends again, to the leader of the newest term, what an older leader accepted and did not commit (its
   * mempool is gone). Same bytes, same ids: a duplicate is refused, so nothing runs twice.
   */
  private async resendPending(): Promise<void> {
    if (this.resending || this.closed) return;
    const term = this.knownTerm;
    const stale: Pending[] = [];
    for (const [k, p] of this.pending) {
      if (p.term >= term) continue;
      if (this.chain.isIndexed(k)) this.pending.delete(k);
      else stale.push(p);
    }
    if (stale.length === 0) return;
    this.resending = true;
    try {
      for (let i = 0; i < stale.length; i += this.opts.forwardBatchMax) {
        const part = stale.slice(i, i + this.opts.forwardBatchMax);
        const answer = await postBatch(this.urls[this.submitIdx]!, part.map((p) => p.tx), this.opts.requestTimeoutMs);
        if (answer.term === undefined || answer.term < term) return; // not the leader of that term: later
        part.forEach((p, j) => {
          const e = answer.results[j]?.error;
          const k = p.tx.id.toString('latin1');
          if (!e || e.code === 'TPSLAB_E_DUPLICATE') p.term = answer.term!;
          else if (!(isErrorCode(e.code) && new TpslabError(e.code, '').retryable) && this.pending.delete(k)) {
            const code: ErrorCode = isErrorCode(e.code) ? e.code : 'TPSLAB_E_REMOTE';
            this.rememberFailure(k, code, e.message);
            this.emit('failed', { id: p.tx.id, code, message: e.message });
          }
        });
      }
    } catch {
      // The leader is not reachable yet: the next poll tries again.
    } finally {
      this.resending = false;
    }
  }

  private sweepPending(): void {
    const cutoff = this.clock.now() - PENDING_TTL_MS;
    for (const [k, p] of this.pending) if (p.atMs < cutoff) this.pending.delete(k);
  }

  protected isPending(idKey: string): boolean {
    return this.pending.has(idKey);
  }

  // ---- the block feed ----

  private connect(): void {
    if (this.closed || this.fatal) return;
    const from = this.chain.state.height + 1;
    const feedUrl = this.urls[this.feedIdx]!;
    const wsUrl = `${feedUrl.replace(/^http/, 'ws')}${BLOCK_FEED_PATH}?from=${from}`;
    const ws = new WebSocket(wsUrl, { handshakeTimeout: this.opts.requestTimeoutMs, maxPayload: 256 * 1024 * 1024 });
    this.ws = ws;
    ws.on('open', () => {
      this.connected = true;
      this.unreachableSinceMs = undefined;
      this.backoffMs = 100;
      void this.fetchTarget(feedUrl);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.lastFeedMs = this.clock.now();
      if (isBinary) this.onBlock(data);
      else this.onText(data.toString());
    });
    const retry = (): void => {
      this.connected = false;
      this.unreachableSinceMs ??= this.clock.now();
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.closed || this.fatal) return;
      this.feedIdx = (this.feedIdx + 1) % this.urls.length; // any sequencer serves the feed
      this.reconnectTimer = this.clock.setTimeout(() => this.connect(), this.urls.length > 1 ? 50 : this.backoffMs);
      this.backoffMs = Math.min(2000, this.backoffMs * 2);
    };
    ws.on('close', retry);
    ws.on('error', () => ws.terminate());
  }

  private async fetchTarget(feedUrl: string): Promise<void> {
    try {
      const res = await fetch(`${feedUrl}/v1/head`, { signal: AbortSignal.timeout(this.opts.requestTimeoutMs) });
      const head = (await res.json()) as HeadJson;
      if (head.network !== this.chain.genesis.network) {
        this.die(new TpslabError('TPSLAB_E_WRONG_NETWORK', `the sequencer serves network "${head.network}", this node's genesis is "${this.chain.genesis.network}"`));
        return;
      }
      this.catchUpTarget = Math.max(this.catchUpTarget ?? 0, head.height);
    } catch {
      // The feed itself still delivers; health reports catching up until a target is known.
    }
  }

  private onText(text: string): void {
    let ev: { type?: string; id?: string; code?: string; message?: string };
    try {
      ev = JSON.parse(text) as typeof ev;
    } catch {
      return;
    }
    if (ev.type !== 'failed' || typeof ev.id !== 'string') return;
    const id = Buffer.from(ev.id, 'hex');
    const k = id.toString('latin1');
    const code: ErrorCode = isErrorCode(ev.code) ? ev.code : 'TPSLAB_E_REMOTE';
    this.pending.delete(k);
    this.rememberFailure(k, code, ev.message ?? '');
    this.emit('failed', { id, code, message: ev.message ?? '' });
  }

  private onBlock(encoded: Buffer): void {
    if (this.fatal) return;
    let block: Block;
    let effects: TxEffect[];
    try {
      block = decodeBlock(encoded);
      if (block.height <= this.chain.state.height) return; // already have it (resent after a reconnect)
      if (block.height !== this.chain.state.height + 1) {
        this.ws?.terminate(); // a gap: reconnect from our height
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
    for (const tx of block.txs) this.pending.delete(tx.id.toString('latin1'));
    const copy = Buffer.from(encoded);
    // Appends go to the log at once (it group-commits them); commits are announced in height order.
    const persisted = this.chain.persist(block, copy);
    this.applying = Promise.all([this.applying, persisted]).then(
      () => {
        this.emit('commit', { block, encoded: copy, effects });
      },
      (err: unknown) => this.die(new TpslabError('TPSLAB_E_UNAVAILABLE', `writing block ${block.height} to this node's log failed: ${(err as Error).message}`, { cause: err })),
    );
  }

  private die(err: TpslabError): void {
    if (this.fatal) return;
    this.fatal = err;
    this.ws?.terminate();
    this.emit('fatal', err);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.sweepTimer);
    this.clock.clearTimeout(this.reconnectTimer);
    this.clock.clearTimeout(this.leaderTimer);
    this.ws?.terminate();
    this.flush();
    await this.applying;
    await this.chain.close();
  }
}
