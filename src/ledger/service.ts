/**
 * What the node API serves from. Two implementations:
 * - Sequencer: the standalone node and the `tpslab sequencer` process (orders, executes, stores);
 * - Replica: a network node that forwards to a remote sequencer and follows its block stream.
 */
import type { EventEmitter } from 'node:events';
import type { TpslabError } from '../errors.js';
import type { Block } from '../protocol/block.js';
import type { SignedTx } from '../protocol/tx.js';
import type { StageSink } from './chain-service.js';
import type { Genesis } from './genesis.js';
import type { CommittedBlock, FailedTx, TxStatus } from './sequencer.js';
import type { LedgerState, TxEffect } from './state.js';

export interface LedgerServiceEvents {
  commit: [CommittedBlock];
  failed: [FailedTx];
  /** A transaction announced `failed` with a retryable code was sent again and accepted (the sequencer's block feed tells nodes). */
  retaken: [{ id: Buffer }];
  fatal: [TpslabError];
}

export interface HeadInfo {
  hash: string;
  stateHash: string;
  timestampMs: number;
}

export interface LedgerService extends EventEmitter<LedgerServiceEvents> {
  readonly role: 'node' | 'sequencer' | 'replica';
  readonly genesis: Genesis;
  /** Applied state, for reads. Do not mutate. */
  readonly state: LedgerState;
  readonly durableHeight: number;
  readonly durableHead: HeadInfo;
  readonly mempoolSize: number;
  readonly logSizeBytes: number;
  /** undefined while serving; otherwise why /health answers 503. */
  readonly unavailableReason: string | undefined;
  /** Serving reads but not taking work (e.g. its sequencer is unreachable): /health answers 503 "degraded". */
  readonly degradedReason?: string | undefined;
  /**
   * Submits verified transactions; one result per transaction, in order:
   * undefined when accepted, otherwise the coded refusal.
   */
  submitMany(txs: readonly SignedTx[]): Promise<(TpslabError | undefined)[]>;
  status(id: Buffer): TxStatus;
  readBlock(height: number): Promise<Block>;
  readEncodedBlock(height: number): Promise<Buffer>;
  effectsOf(block: Block): TxEffect[];
  /** Height of the block holding message `seq` of `topic`, if committed. */
  heightOfTopicSeq(topic: string, seq: bigint): number | undefined;
  /** Replicated ordering (replicated-sequencer.ts): the leader as this process knows it. */
  readonly leader?: { term: number; id: string; url: string; self: boolean } | undefined;
  /** Replicated ordering: the term this process leads, if it does. */
  readonly leaderTerm?: number | undefined;
  /** Receives stage durations for `tpslab_stage_seconds` (Sequencer and Replica measure them). */
  stageSink?: StageSink | undefined;
  close(): Promise<void>;
}
