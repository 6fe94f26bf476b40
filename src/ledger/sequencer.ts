/**
 * The sequencer: fixes the total order. It admits verified transactions into
 * the mempool, cuts blocks by size or interval, executes them on the state,
 * appends them to the durable block log and announces each block only once
 * it is on disk. A transaction reported committed is in a block that is on disk.
 *
 * Blocks are pipelined: the next block may be cut while earlier ones wait for
 * fdatasync (at most `maxBlocksInFlight`); the log group-commits them.
 */
import { systemClock, type Clock } from '../clock.js';
import { TpslabError, asTpslabError, type ErrorCode } from '../errors.js';
import { decodeBlock, encodeBlock, makeBlock, type Block } from '../protocol/block.js';
import type { SignedTx } from '../protocol/tx.js';
import { ChainService } from './chain-service.js';
import { ChainStore, applyBlock, type ReplayProgress } from './chain-store.js';
import type { Genesis } from './genesis.js';
import { DEFAULT_SNAPSHOT_EVERY_BLOCKS, DEFAULT_SNAPSHOT_EVERY_TXS } from './snapshot.js';
import { DEFAULT_MEMPOOL_OPTIONS, Mempool, type BuildResult, type Dropped, type MempoolOptions } from './mempool.js';
import type { LedgerService } from './service.js';
import type { TxEffect } from './state.js';

export interface SequencerOptions {
  blockMaxTxs: number;
  blockMaxBytes: number;
  blockIntervalMs: number;
  maxBlocksInFlight: number;
  mempool: MempoolOptions;
  /** false only for benchmarks that measure everything but the disk. */
  fsync: boolean;
  /** Write a state snapshot every this many blocks (restart loads it and replays the rest); 0: never. */
  snapshotEveryBlocks: number;
  /** And once this many transactions were applied since the last one; 0: only by blocks. */
  snapshotEveryTxs: number;
}

/** What callers pass: any subset, mempool options included. */
export type SequencerConfig = Partial<Omit<SequencerOptions, 'mempool'>> & { mempool?: Partial<MempoolOptions> };

export const DEFAULT_SEQUENCER_OPTIONS: SequencerOptions = {
  blockMaxTxs: 4000,
  blockMaxBytes: 8 << 20,
  blockIntervalMs: 25,
  maxBlocksInFlight: 4,
  mempool: DEFAULT_MEMPOOL_OPTIONS,
  fsync: true,
  snapshotEveryBlocks: DEFAULT_SNAPSHOT_EVERY_BLOCKS,
  snapshotEveryTxs: DEFAULT_SNAPSHOT_EVERY_TXS,
};

export interface CommittedBlock {
  block: Block;
  encoded: Buffer;
  effects: TxEffect[];
}

export type TxStatus =
  | { status: 'pending' }
  | { status: 'committed'; height: number; index: number }
  | { status: 'failed'; code: ErrorCode; message: string }
  | { status: 'unknown' };

export interface FailedTx {
  id: Buffer;
  code: ErrorCode;
  message: string;
}

/**
 * Replicated ordering (replicated-sequencer.ts): each cut block goes to the replicated log first and
 * counts as committed (is persisted locally and announced) only once that append is acknowledged.
 */
export interface ReplicatedAppend {
  /** Called in cut order, without waiting for earlier appends; resolves once the block is on the replicated log. */
  append(block: Block, encoded: Buffer): Promise<void>;
  /** An append was refused or failed: this sequencer has stopped cutting; the caller steps down. */
  failed(err: unknown): void;
}

export class Sequencer extends ChainService implements LedgerService {
  readonly role: 'node' | 'sequencer';
  private readonly mempool: Mempool;
  private inFlight = 0;
  private cutTimer: unknown;
  private readonly expiryTimer: NodeJS.Timeout;
  private fatal: TpslabError | undefined;
  private closed = false;
  private replicated: ReplicatedAppend | undefined;
  /** Why this sequencer stopped taking work without failing (a replicated append was refused). */
  private halted: string | undefined;
  /** Resolves once the previous block's local persist was started (blocks reach the log in order). */
  private persistGate: Promise<void> = Promise.resolve();
  /** Blocks taken from the replicated log (follower): applied in order, announced once in the local log. */
  private followed: Promise<void> = Promise.resolve();

  private constructor(
    chain: ChainStore,
    readonly opts: SequencerOptions,
    private readonly clock: Clock,
    role: 'node' | 'sequencer',
  ) {
    super(chain);
    this.role = role;
    this.mempool = new Mempool(opts.mempool, clock, chain.state, (k) => chain.isIndexed(k));
    this.expiryTimer = setInterval(() => this.reportDropped(this.mempool.expire()), 1000);
    this.expiryTimer.unref();
  }

  /** Opens (or creates) the data directory, recovers the log and replays it into state. */
  static async open(
    dataDir: string,
    genesis: Genesis,
    options: SequencerConfig = {},
    clock: Clock = systemClock,
    role: 'node' | 'sequencer' = 'node',
    onReplay?: ReplayProgress,
  ): Promise<Sequencer> {
    const opts: SequencerOptions = { ...DEFAULT_SEQUENCER_OPTIONS, ...options, mempool: { ...DEFAULT_MEMPOOL_OPTIONS, ...options.mempool } };
    const chain = await ChainStore.open(dataDir, genesis, { fsync: opts.fsync, snapshotEveryBlocks: opts.snapshotEveryBlocks, snapshotEveryTxs: opts.snapshotEveryTxs, ...(onReplay ? { onReplay } : {}) });
    return new Sequencer(chain, opts, clock, role);
  }

  get mempoolSize(): number {
    return this.mempool.size;
  }

  get unavailableReason(): string | undefined {
    if (this.fatal) return this.fatal.message;
    return this.closed ? 'shutting down' : undefined;
  }

  /** Blocks cut or followed and not yet in the local log. */
  get blocksInFlight(): number {
    return this.inFlight;
  }

  /** Leads in replicated ordering: every block cut from now on goes to `replicated` before it commits. */
  replicateTo(replicated: ReplicatedAppend): void {
    this.replicated = replicated;
  }

  /** Stops cutting and taking work (stepping down as leader); blocks in flight still settle. */
  halt(reason: string): void {
    this.halted ??= reason;
  }

  /** Resolves once no cut or followed block waits for the replicated log or the local one. */
  async settled(): Promise<void> {
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    await this.followed;
  }

  /**
   * Follower: applies a block taken from the replicated log (checking that it links and reproduces its
   * state hash), writes it to the local log and announces it once there. Throws if it does not apply.
   */
  applyFollowed(encoded: Buffer): Block {
    const copy = Buffer.from(encoded); // the block's transactions are views of it, and it is what the log writes
    const block = decodeBlock(copy, true);
    const effects = applyBlock(this.chain.state, block);
    this.chain.index(block, effects);
    const persisted = this.chain.persist(block, copy);
    this.followed = Promise.all([this.followed, persisted]).then(
      () => {
        this.emit('commit', { block, encoded: copy, effects });
      },
      (err: unknown) => this.die(new TpslabError('TPSLAB_E_UNAVAILABLE', `writing block ${block.height} to the log failed: ${(err as Error).message}`, { cause: err })),
    );
    return block;
  }

  async submitMany(txs: readonly SignedTx[]): Promise<(TpslabError | undefined)[]> {
    return txs.map((tx) => {
      try {
        this.submit(tx);
        return undefined;
      } catch (err) {
        return err instanceof TpslabError ? err : new TpslabError('TPSLAB_E_INTERNAL', String(err), { cause: err });
      }
    });
  }

  protected isPending(idKey: string): boolean {
    return this.mempool.has(idKey);
  }

  /** Admits a transaction whose signature has been verified. Throws a coded error if it is refused. */
  submit(tx: SignedTx): void {
    if (this.fatal) throw new TpslabError('TPSLAB_E_UNAVAILABLE', `the sequencer stopped accepting work: ${this.fatal.message}`);
    if (this.closed) throw new TpslabError('TPSLAB_E_UNAVAILABLE', 'the sequencer is shutting down');
    if (this.halted) throw new TpslabError('TPSLAB_E_NOT_LEADER', `this sequencer is stepping down (${this.halted}); send to the new leader`);
    try {
      this.mempool.admit(tx);
    } finally {
      // A refusal may have dropped the sender's buffered successors: announce them as failed.
      this.reportDropped(this.mempool.takeDroppedOnAdmit());
    }
    // Announced failed (dropped for now) and sent again, through any node: the nodes that remember the failure forget it.
    if (this.forgetRetryableFailure(tx.idKey)) this.emit('retaken', { id: tx.id });
    this.scheduleCut();
  }

  /**
   * Cuts a block once `blockIntervalMs` has passed since the last block was cut
   * (at once if it already has: a transaction arriving after a quiet spell does not
   * wait a whole interval), and so at most `blockIntervalMs` after the first pending
   * transaction; or at once when a full block is pending. Blocks are still at least
   * an interval apart unless full. Checked on every submission as well as by timer,
   * so blocks keep their cadence while the event loop is busy with ingress.
   */
  private scheduleCut(): void {
    const now = this.clock.now();
    if (this.cutDueAtMs === undefined) {
      this.cutDueAtMs = Math.max(now, this.lastCutAtMs + this.opts.blockIntervalMs);
    }
    if (this.mempool.size >= this.opts.blockMaxTxs || now >= this.cutDueAtMs) {
      if (!this.cutSoon) {
        if (this.cutTimer !== undefined) this.clock.clearTimeout(this.cutTimer);
        this.cutSoon = true;
        this.cutTimer = this.clock.setTimeout(() => this.cut(), 0);
      }
    } else if (this.cutTimer === undefined) {
      this.cutTimer = this.clock.setTimeout(() => this.cut(), this.cutDueAtMs - now);
    }
  }

  private cutDueAtMs: number | undefined;
  private cutSoon = false;
  /** When the last block was cut. */
  private lastCutAtMs = -Infinity;

  private cut(): void {
    this.cutTimer = undefined;
    this.cutSoon = false;
    this.cutDueAtMs = undefined;
    if (this.fatal || this.closed || this.halted) return;
    if (this.inFlight >= this.opts.maxBlocksInFlight) return; // resumed when a block lands
    const sink = this.stageSink;
    const startMs = sink ? performance.now() : 0;
    this.reportDropped(this.mempool.expire());
    let built: BuildResult;
    try {
      built = this.mempool.build(this.opts.blockMaxTxs, this.opts.blockMaxBytes);
    } catch (err) {
      // A bug (a lookup that throws ends the block instead: lookupError). Run from a timer: thrown on, it
      // would end the process with a stack; stopped here, nothing more is cut or admitted.
      this.die(asTpslabError(err));
      return;
    }
    const { included, effects, failed, oldestReadyAtMs, lookupError } = built;
    this.reportDropped(failed);
    if (included.length > 0) {
      this.lastCutAtMs = this.clock.now();
      if (sink && oldestReadyAtMs !== undefined) sink('block_wait', Math.max(0, this.lastCutAtMs - oldestReadyAtMs) / 1000);
      this.seal(included, effects); // what ran on the state makes a block, even when the service just died
      if (sink) sink('seal', (performance.now() - startMs) / 1000);
    }
    if (lookupError !== undefined) {
      // The index told its owner already (ChainService: TPSLAB_E_DATA_DIR); anything else is a bug.
      this.die(asTpslabError(lookupError));
      return;
    }
    if (this.mempool.readyCount > 0) this.scheduleCut();
  }

  private seal(txs: SignedTx[], effects: TxEffect[]): void {
    const state = this.chain.state;
    const height = state.height + 1;
    const prevHash = state.headHash;
    const stateHash = state.seal(height);
    const block = makeBlock({ height, prevHash, timestampMs: Math.max(this.clock.now(), this.chain.lastTimestampMs), stateHash, txs });
    state.setHead(block.hash);
    this.chain.index(block, effects);
    const encoded = encodeBlock(block);
    this.inFlight++;
    const sealedAt = this.stageSink ? performance.now() : 0;
    const onPersisted = (): void => {
      this.inFlight--;
      this.stageSink?.('persist', (performance.now() - sealedAt) / 1000);
      this.emit('commit', { block, encoded, effects });
      if (this.mempool.readyCount > 0) this.scheduleCut();
    };
    const onDiskError = (err: unknown): void => {
      this.inFlight--;
      this.die(new TpslabError('TPSLAB_E_UNAVAILABLE', `writing block ${height} to the log failed: ${(err as Error).message}`, { cause: err }));
    };
    const replicated = this.replicated;
    if (!replicated) {
      this.chain.persist(block, encoded).then(onPersisted, onDiskError);
      return;
    }
    // Appended to the replicated log at once (pipelined); written locally in height order once acknowledged.
    // A refused append fails this block and every later one (their gate rejects): none of them commits.
    const started = Promise.all([this.persistGate, replicated.append(block, encoded)]).then(() => ({ persisted: this.chain.persist(block, encoded) }));
    this.persistGate = started.then(() => undefined);
    this.persistGate.catch(() => {}); // handled below (and by the next block, which fails with it)
    started.then(
      ({ persisted }) => persisted.then(onPersisted, onDiskError),
      (err: unknown) => {
        this.inFlight--;
        this.halt(`block ${height} was not appended: ${(err as Error).message}`);
        replicated.failed(err);
      },
    );
  }

  protected die(err: TpslabError): void {
    if (this.fatal) return;
    this.fatal = err;
    this.emit('fatal', err);
  }

  private reportDropped(dropped: readonly Dropped[]): void {
    if (dropped.length > 0) console.log(`sequencer: dropped ${dropped.length} pending transactions (${dropped[0]!.code}: ${dropped[0]!.message}): ${dropped.slice(0, 4).map((d) => d.pending.tx.id.toString('hex').slice(0, 16)).join(' ')}`);
    for (const d of dropped) {
      this.rememberFailure(d.pending.idKey, d.code, d.message);
      this.emit('failed', { id: d.pending.tx.id, code: d.code, message: d.message });
    }
  }

  /** Stops cutting, waits for blocks on their way to disk, closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.expiryTimer);
    if (this.cutTimer !== undefined) this.clock.clearTimeout(this.cutTimer);
    await this.chain.close();
  }
}
