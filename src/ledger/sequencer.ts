/**
 * The sequencer: fixes the total order. It admits verified transactions into
 * the mempool, cuts blocks by size or interval, executes them on the state,
 * appends them to the durable block log and announces each block only once
 * it is on disk. A transaction reported committed is in a block that is on disk.
 *
 * Blocks are pipelined: the next block may be cut while earlier ones wait for
 * fdatasync (at most `maxBlocksInFlight`); the log group-commits them.
 */
import { EventEmitter } from 'node:events';
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { TpslabError, type ErrorCode } from '../errors.js';
import { decodeBlock, encodeBlock, makeBlock, type Block } from '../protocol/block.js';
import type { SignedTx } from '../protocol/tx.js';
import { BlockLog } from './block-log.js';
import type { Genesis } from './genesis.js';
import { DEFAULT_MEMPOOL_OPTIONS, Mempool, type Dropped, type MempoolOptions } from './mempool.js';
import { LedgerState, type TxEffect } from './state.js';

export interface SequencerOptions {
  blockMaxTxs: number;
  blockMaxBytes: number;
  blockIntervalMs: number;
  maxBlocksInFlight: number;
  mempool: MempoolOptions;
  /** false only for benchmarks that measure everything but the disk. */
  fsync: boolean;
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

export interface SequencerEvents {
  commit: [CommittedBlock];
  failed: [FailedTx];
  fatal: [TpslabError];
}

const INDEX_SHIFT = 2 ** 20;
const FAILED_MEMORY = 100_000;

export class Sequencer extends EventEmitter<SequencerEvents> {
  readonly state: LedgerState;
  private readonly mempool: Mempool;
  /** tx id (latin1) → height * 2^20 + index, for every block cut (durable or in flight). */
  private readonly located = new Map<string, number>();
  /** For blocks with messages: each topic's first sequence number in that block (to rebuild effects on replay). */
  private readonly topicStarts = new Map<number, Map<string, bigint>>();
  private readonly failures = new Map<string, { code: ErrorCode; message: string }>();
  private durable = 0;
  private durableInfo: { hash: string; stateHash: string; timestampMs: number };
  private inFlight = 0;
  private cutTimer: unknown;
  private readonly expiryTimer: NodeJS.Timeout;
  private fatal: TpslabError | undefined;
  private closed = false;

  private constructor(
    readonly genesis: Genesis,
    private readonly log: BlockLog,
    readonly opts: SequencerOptions,
    private readonly clock: Clock,
  ) {
    super();
    this.state = new LedgerState(genesis);
    this.mempool = new Mempool(opts.mempool, clock, this.state, (k) => this.located.has(k));
    this.durableInfo = { hash: genesis.hash.toString('hex'), stateHash: this.state.stateHash.toString('hex'), timestampMs: genesis.timestampMs };
    this.expiryTimer = setInterval(() => this.reportDropped(this.mempool.expire()), 1000);
    this.expiryTimer.unref();
  }

  /** Opens (or creates) the data directory, recovers the log and replays it into state. */
  static async open(dataDir: string, genesis: Genesis, options: SequencerConfig = {}, clock: Clock = systemClock): Promise<Sequencer> {
    const opts: SequencerOptions = { ...DEFAULT_SEQUENCER_OPTIONS, ...options, mempool: { ...DEFAULT_MEMPOOL_OPTIONS, ...options.mempool } };
    await mkdir(dataDir, { recursive: true });
    await checkGenesis(dataDir, genesis);
    const log = await BlockLog.open(join(dataDir, 'blocks.log'), { fsync: opts.fsync });
    const seq = new Sequencer(genesis, log, opts, clock);
    try {
      await seq.replay();
    } catch (err) {
      await seq.close();
      throw err;
    }
    return seq;
  }

  private async replay(): Promise<void> {
    const total = this.log.length;
    for (let from = 0; from < total; from += 256) {
      const records = await this.log.readRange(from, Math.min(total, from + 256));
      for (const rec of records) {
        const block = decodeBlock(rec);
        this.noteEffects(block.height, applyBlock(this.state, block));
        this.lastTimestamp = block.timestampMs;
        this.durableInfo = headInfo(block);
        block.txs.forEach((tx, i) => this.located.set(tx.id.toString('latin1'), block.height * INDEX_SHIFT + i));
      }
    }
    this.durable = this.state.height;
  }

  get recovery(): { records: number; truncatedBytes: number } {
    return this.log.recovery;
  }

  get durableHeight(): number {
    return this.durable;
  }

  /** Hash, state hash and timestamp of the last durable block (genesis before any). */
  get durableHead(): { hash: string; stateHash: string; timestampMs: number } {
    return this.durableInfo;
  }

  get mempoolSize(): number {
    return this.mempool.size;
  }

  get logSizeBytes(): number {
    return this.log.sizeBytes;
  }

  get healthy(): boolean {
    return !this.fatal && !this.closed;
  }

  get fatalError(): TpslabError | undefined {
    return this.fatal;
  }

  /** Admits a transaction whose signature has been verified. Throws a coded error if it is refused. */
  submit(tx: SignedTx): void {
    if (this.fatal) throw new TpslabError('TPSLAB_E_UNAVAILABLE', `the sequencer stopped accepting work: ${this.fatal.message}`);
    if (this.closed) throw new TpslabError('TPSLAB_E_UNAVAILABLE', 'the sequencer is shutting down');
    this.mempool.admit(tx);
    this.scheduleCut();
  }

  status(id: Buffer): TxStatus {
    const k = id.toString('latin1');
    const loc = this.located.get(k);
    if (loc !== undefined) {
      const height = Math.floor(loc / INDEX_SHIFT);
      return height <= this.durable ? { status: 'committed', height, index: loc % INDEX_SHIFT } : { status: 'pending' };
    }
    if (this.mempool.has(k)) return { status: 'pending' };
    const f = this.failures.get(k);
    return f ? { status: 'failed', ...f } : { status: 'unknown' };
  }

  async readBlock(height: number): Promise<Block> {
    return decodeBlock(await this.readEncodedBlock(height));
  }

  async readEncodedBlock(height: number): Promise<Buffer> {
    if (!Number.isInteger(height) || height < 1 || height > this.durable) {
      throw new TpslabError('TPSLAB_E_NOT_FOUND', `block ${height} does not exist; the head is at ${this.durable}`);
    }
    return this.log.read(height - 1);
  }

  private scheduleCut(): void {
    if (this.mempool.readyCount >= this.opts.blockMaxTxs) {
      if (this.cutTimer !== undefined) this.clock.clearTimeout(this.cutTimer);
      this.cutTimer = this.clock.setTimeout(() => this.cut(), 0);
    } else if (this.cutTimer === undefined) {
      this.cutTimer = this.clock.setTimeout(() => this.cut(), this.opts.blockIntervalMs);
    }
  }

  private cut(): void {
    this.cutTimer = undefined;
    if (this.fatal || this.closed) return;
    if (this.inFlight >= this.opts.maxBlocksInFlight) return; // resumed when a block lands
    this.reportDropped(this.mempool.expire());
    const { included, effects, failed } = this.mempool.build(this.opts.blockMaxTxs, this.opts.blockMaxBytes);
    this.reportDropped(failed);
    if (included.length > 0) this.seal(included, effects);
    if (this.mempool.readyCount > 0) this.scheduleCut();
  }

  private seal(txs: SignedTx[], effects: TxEffect[]): void {
    const height = this.state.height + 1;
    const prev = this.state.headHash;
    const stateHash = this.state.seal(height);
    const block = makeBlock({ height, prevHash: prev, timestampMs: Math.max(this.clock.now(), this.lastTimestamp), stateHash, txs });
    this.lastTimestamp = block.timestampMs;
    this.state.setHead(block.hash);
    txs.forEach((tx, i) => this.located.set(tx.id.toString('latin1'), height * INDEX_SHIFT + i));
    this.noteEffects(height, effects);
    const encoded = encodeBlock(block);
    this.inFlight++;
    this.log.append(encoded).then(
      (index) => {
        this.inFlight--;
        if (index !== height - 1) this.die(new TpslabError('TPSLAB_E_INTERNAL', `log index ${index} does not match height ${height}`));
        this.durable = height;
        this.durableInfo = headInfo(block);
        this.emit('commit', { block, encoded, effects });
        if (this.mempool.readyCount > 0) this.scheduleCut();
      },
      (err: unknown) => this.die(new TpslabError('TPSLAB_E_UNAVAILABLE', `writing block ${height} to the log failed: ${(err as Error).message}`, { cause: err })),
    );
  }

  private lastTimestamp = 0;

  private noteEffects(height: number, effects: readonly TxEffect[]): void {
    let starts: Map<string, bigint> | undefined;
    for (const e of effects) {
      if (e.topic === undefined) continue;
      starts ??= new Map();
      if (!starts.has(e.topic)) starts.set(e.topic, e.seq!);
    }
    if (starts) this.topicStarts.set(height, starts);
  }

  /** The effects (topic sequence numbers) of a durable block, as when it was applied. */
  effectsOf(block: Block): TxEffect[] {
    const starts = this.topicStarts.get(block.height);
    if (!starts) return block.txs.map(() => ({}));
    const next = new Map(starts);
    return block.txs.map((tx) => {
      if (tx.body.kind !== 'message') return {};
      const seq = next.get(tx.body.topic)!;
      next.set(tx.body.topic, seq + 1n);
      return { topic: tx.body.topic, seq };
    });
  }

  private die(err: TpslabError): void {
    if (this.fatal) return;
    this.fatal = err;
    this.emit('fatal', err);
  }

  private reportDropped(dropped: Dropped[]): void {
    for (const d of dropped) {
      this.failures.set(d.pending.idKey, { code: d.code, message: d.message });
      if (this.failures.size > FAILED_MEMORY) this.failures.delete(this.failures.keys().next().value!);
      this.emit('failed', { id: d.pending.tx.id, code: d.code, message: d.message });
    }
  }

  /** Stops cutting, waits for blocks on their way to disk, closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.expiryTimer);
    if (this.cutTimer !== undefined) this.clock.clearTimeout(this.cutTimer);
    await this.log.close();
  }
}

function headInfo(b: Block): { hash: string; stateHash: string; timestampMs: number } {
  return { hash: b.hash.toString('hex'), stateHash: b.stateHash.toString('hex'), timestampMs: b.timestampMs };
}

/** Applies a block produced elsewhere (or replayed): every transaction must succeed and the state hash must match. */
export function applyBlock(state: LedgerState, block: Block): TxEffect[] {
  if (block.height !== state.height + 1) {
    throw new TpslabError('TPSLAB_E_LOG_CORRUPT', `block ${block.height} follows head ${state.height}; heights must be consecutive`);
  }
  if (!block.prevHash.equals(state.headHash)) {
    throw new TpslabError('TPSLAB_E_LOG_CORRUPT', `block ${block.height} does not link to the previous block (prevHash mismatch)`);
  }
  const effects = block.txs.map((tx, i) => {
    try {
      return state.execute(tx);
    } catch (err) {
      throw new TpslabError('TPSLAB_E_LOG_CORRUPT', `block ${block.height} transaction ${i} does not apply: ${(err as Error).message}`, { cause: err });
    }
  });
  const stateHash = state.seal(block.height);
  if (!stateHash.equals(block.stateHash)) {
    throw new TpslabError(
      'TPSLAB_E_LOG_CORRUPT',
      `state hash mismatch at block ${block.height}: computed ${stateHash.toString('hex')}, block says ${block.stateHash.toString('hex')}`,
    );
  }
  state.setHead(block.hash);
  return effects;
}

/** A data directory belongs to one network: refuse to reuse it with another genesis. */
async function checkGenesis(dataDir: string, genesis: Genesis): Promise<void> {
  const path = join(dataDir, 'genesis.hash');
  let stored: string | undefined;
  try {
    stored = (await readFile(path, 'utf8')).trim();
  } catch {
    stored = undefined;
  }
  const hex = genesis.hash.toString('hex');
  if (stored === undefined) {
    await writeFile(`${path}.tmp`, `${hex}\n`);
    await rename(`${path}.tmp`, path);
  } else if (stored !== hex) {
    throw new TpslabError(
      'TPSLAB_E_WRONG_NETWORK',
      `data directory ${dataDir} holds a ledger of another genesis (${stored.slice(0, 16)}…, given ${hex.slice(0, 16)}…); use a fresh --data directory or the genesis it was created with`,
    );
  }
}
