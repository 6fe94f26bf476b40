/**
 * What the sequencer and a replica share as ledger services: reads served from
 * their ChainStore, and the status of a transaction (committed from the chain,
 * pending from the subclass, failed from a bounded memory of failures).
 */
import { EventEmitter } from 'node:events';
import { ERROR_SPECS, type ErrorCode, type TpslabError } from '../errors.js';
import type { Block } from '../protocol/block.js';
import type { RecoveryReport } from './block-log.js';
import type { ChainStore, StartupReport } from './chain-store.js';
import type { Genesis } from './genesis.js';
import type { TxStatus } from './sequencer.js';
import type { HeadInfo, LedgerServiceEvents } from './service.js';
import type { LedgerState, TxEffect } from './state.js';

/** Failure reasons kept for status queries (the oldest are forgotten first). */
const FAILED_MEMORY = 100_000;

/**
 * Where a transaction's commit latency goes, hop by hop (docs/metrics.md, `tpslab_stage_seconds`):
 * node ingress: verify; sequencer: block_wait, seal, persist; replica: forward_queue, forward, feed, apply,
 * persist; both: index (writing committed ids to the on-disk index, on the event loop).
 */
export type Stage = 'verify' | 'forward_queue' | 'forward' | 'block_wait' | 'seal' | 'persist' | 'feed' | 'apply' | 'index';
export type StageSink = (stage: Stage, seconds: number) => void;

export abstract class ChainService extends EventEmitter<LedgerServiceEvents> {
  private readonly failures = new Map<string, { code: ErrorCode; message: string; gen: number }>();
  /** Failures remembered so far: `failureMark()` taken when a submit is sent tells, at its answer, which failures came after it. */
  private failureGen = 0;
  private sink: StageSink | undefined;
  /** Receives stage durations (serveLedger points it at the stage histogram); undefined: not measured. */
  get stageSink(): StageSink | undefined {
    return this.sink;
  }
  set stageSink(sink: StageSink | undefined) {
    this.sink = sink;
    this.chain.stageSink = sink;
  }

  protected constructor(protected readonly chain: ChainStore) {
    super();
    // Lookups in the hot paths (admission, block building, forwarding) cannot answer without the index.
    chain.onIndexDamaged = (err) => this.die(err);
  }

  /** Stops serving for good: emits `fatal` (once); the process prints it and, for TPSLAB_E_DATA_DIR, exits. */
  protected abstract die(err: TpslabError): void;

  get genesis(): Genesis {
    return this.chain.genesis;
  }
  get state(): LedgerState {
    return this.chain.state;
  }
  get recovery(): RecoveryReport {
    return this.chain.recovery;
  }
  /** How start-up went: the snapshot loaded, blocks replayed, time taken. */
  get startup(): StartupReport {
    return this.chain.startup;
  }
  get durableHeight(): number {
    return this.chain.durableHeight;
  }
  /** Hash, state hash and timestamp of the last durable block (genesis before any). */
  get durableHead(): HeadInfo {
    return this.chain.durableHead;
  }
  get logSizeBytes(): number {
    return this.chain.sizeBytes;
  }

  readBlock(height: number): Promise<Block> {
    return this.chain.readBlock(height);
  }
  readEncodedBlock(height: number): Promise<Buffer> {
    return this.chain.readEncodedBlock(height);
  }
  effectsOf(block: Block): TxEffect[] {
    return this.chain.effectsOf(block);
  }
  heightOfTopicSeq(topic: string, seq: bigint): number | undefined {
    return this.chain.heightOfTopicSeq(topic, seq);
  }

  /** True while the transaction is accepted and not yet in a block. */
  protected abstract isPending(idKey: string): boolean;

  status(id: Buffer): TxStatus {
    const k = id.toString('latin1');
    const loc = this.chain.locate(k);
    if (loc) return loc.durable ? { status: 'committed', height: loc.height, index: loc.index } : { status: 'pending' };
    if (this.isPending(k)) return { status: 'pending' };
    const f = this.failures.get(k);
    return f ? { status: 'failed', code: f.code, message: f.message } : { status: 'unknown' };
  }

  protected hasFailed(idKey: string): boolean {
    return this.failures.has(idKey);
  }

  /** Now, for `forgetRetryableFailure`: a failure remembered after this mark is newer than a submit sent at it. */
  protected failureMark(): number {
    return this.failureGen;
  }

  /**
   * A resend of a transaction dropped for now (a retryable code) was taken again: it is no longer failed. True if it
   * was. `sentAtMark` (the `failureMark()` when the resend was sent): a failure remembered since is newer (the feed
   * and the submit's answer come on different sockets) and stays.
   */
  protected forgetRetryableFailure(idKey: string, sentAtMark = Number.POSITIVE_INFINITY): boolean {
    if (this.failures.size === 0) return false; // the common case (hot path, per transaction)
    const f = this.failures.get(idKey);
    if (!f || !ERROR_SPECS[f.code].retryable || f.gen > sentAtMark) return false;
    this.failures.delete(idKey);
    return true;
  }

  /** Transactions of a block applied here: a failure remembered for any of them (dropped, then sent again) is over. */
  protected forgetFailuresOf(txs: readonly { idKey: string }[]): void {
    if (this.failures.size === 0) return; // the common case
    for (const tx of txs) this.failures.delete(tx.idKey);
  }

  protected rememberFailure(idKey: string, code: ErrorCode, message: string): void {
    this.failures.set(idKey, { code, message, gen: ++this.failureGen });
    if (this.failures.size > FAILED_MEMORY) this.failures.delete(this.failures.keys().next().value!);
  }
}
