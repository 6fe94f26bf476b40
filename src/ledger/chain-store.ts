/**
 * The chain as a process holds it: the applied state, the durable block log,
 * an index from transaction id to (height, index), and what is needed to
 * serve blocks and topic sequence numbers again. Shared by the sequencer
 * (which executes blocks it cuts) and replicas (which apply blocks they receive).
 *
 * The index of durable blocks is on disk (tx-index.ts); blocks applied but not
 * yet written there (pipelined to the log, or waiting for the next index batch:
 * at most about INDEX_BATCH_TXS transactions) are indexed in memory.
 */
import { appendFile, mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { TpslabError } from '../errors.js';
import { decodeBlock, type Block } from '../protocol/block.js';
import { senderOf, type SignedTx } from '../protocol/tx.js';
import { BlockLog, type Checkpoint, type RecoveryReport } from './block-log.js';
import type { StageSink } from './chain-service.js';
import type { Genesis } from './genesis.js';
import type { HeadInfo } from './service.js';
import { LedgerState, type TxEffect } from './state.js';
import { INDEX_SHIFT, TxIndex } from './tx-index.js';
import { DEFAULT_SNAPSHOT_EVERY_BLOCKS, DEFAULT_SNAPSHOT_EVERY_TXS, encodeSnapshot, pickSnapshot, writeSnapshot } from './snapshot.js';

export type Location = { height: number; index: number };

/** Told how far the replay of the log is: `height` blocks applied of `of` in the log. */
export type ReplayProgress = (height: number, of: number) => void;

/** How start-up went: from which snapshot, how much of the log was replayed, how long it took. */
export interface StartupReport {
  /** Height of the snapshot loaded; undefined for a full replay from genesis. */
  fromSnapshot: number | undefined;
  replayedBlocks: number;
  durationMs: number;
  /** Snapshots passed over and why (damaged, beyond the log, ...). */
  notes: string[];
}

export interface ChainStoreOptions {
  fsync: boolean;
  onReplay?: ReplayProgress;
  /** Write a state snapshot every this many blocks; 0: never. */
  snapshotEveryBlocks?: number;
  /** Also write one once this many transactions were applied since the last (full blocks); 0: only by blocks. */
  snapshotEveryTxs?: number;
}

const CHECKPOINT_FILE = 'blocks.log.checkpoint';
/** The checkpoint's frame offsets (f64 little-endian each), named with their CRC in the checkpoint file. */
const OFFSETS_FILE = 'blocks.log.offsets';
/**
 * Durable blocks are written to the on-disk index in batches (one run file each, tx-index.ts): at this
 * many transactions, or this long after the first one waiting; until written, they are answered from
 * memory (so at most about INDEX_BATCH_TXS ids, whatever the rate). Fewer, larger runs mean fewer merges
 * and fewer runs for a lookup to read. After a crash the log re-indexes what was not written
 * (ChainStore.open).
 */
const INDEX_BATCH_TXS = 8192;
const INDEX_FLUSH_MS = 1000;

/** Replay yields to the event loop at least this often, so a process listening early can answer. */
const REPLAY_SLICE_MS = 20;

export class ChainStore {
  readonly state: LedgerState;
  /** tx id (latin1) → height * 2^20 + index, for blocks indexed but not yet in the on-disk index. */
  private readonly recent = new Map<string, number>();
  /** For those blocks with messages: each topic's first sequence number in that block. */
  private readonly recentTopics = new Map<number, Map<string, bigint>>();
  private durable = 0;
  private head: HeadInfo;
  /** Timestamp of the last indexed block; block timestamps never go back. */
  lastTimestampMs = 0;
  startup: StartupReport = { fromSnapshot: undefined, replayedBlocks: 0, durationMs: 0, notes: [] };
  /** A snapshot encoded when its block was applied, written once that block is durable. */
  private pendingSnapshot: { height: number; bytes: Buffer } | undefined;
  private txsSinceSnapshot = 0;
  /**
   * Durable blocks waiting to be written to the on-disk index (still in `recent`): their heights and
   * ids only, so the decoded blocks are not kept alive (and copied by every young-generation GC) for
   * up to INDEX_FLUSH_MS.
   */
  /** Durable blocks not yet in the on-disk index: their ids as latin1 keys (SignedTx.idKey, the keys of `recent`). */
  private indexQueue: { height: number; ids: string[] }[] = [];
  private indexQueuedTxs = 0;
  private indexTimer: NodeJS.Timeout | undefined;
  /** Receives the `index` stage (each flush's duration); set by the service's owner. */
  stageSink: StageSink | undefined;
  /** Told once when the on-disk index is found damaged while running (TxIndexOptions.onDamaged); set by the service, which stops serving. */
  onIndexDamaged: ((err: TpslabError) => void) | undefined;
  private snapshotWriting: Promise<void> | undefined;
  /** Height of the last snapshot written by this process. */
  lastSnapshotHeight: number | undefined;
  /** What `blocks.log.offsets` holds: appended to at each checkpoint, not rewritten. */
  private offsetsSaved: OffsetsSaved = { records: 0, crc: 0 };

  private constructor(
    readonly genesis: Genesis,
    private readonly log: BlockLog,
    private readonly txIndex: TxIndex,
    private readonly dataDir: string,
    private readonly opts: ChainStoreOptions,
  ) {
    this.state = new LedgerState(genesis);
    this.head = { hash: genesis.hash.toString('hex'), stateHash: this.state.stateHash.toString('hex'), timestampMs: genesis.timestampMs };
  }

  /** Opens (or creates) a data directory, recovers its log and replays it into state, checking every state hash. */
  static async open(dataDir: string, genesis: Genesis, opts: ChainStoreOptions): Promise<ChainStore> {
    const startedMs = performance.now();
    await mkdir(dataDir, { recursive: true });
    await checkGenesis(dataDir, genesis);
    const checkpoint = await readCheckpoint(dataDir);
    const log = await BlockLog.open(join(dataDir, 'blocks.log'), { fsync: opts.fsync, ...(checkpoint ? { checkpoint } : {}) });
    // The offsets file is appended to from here if it holds exactly what this log has.
    const saved = checkpoint?.offsets && checkpoint.offsetsCrc !== undefined && sameOffsets(log.offsetsOf(checkpoint.records), checkpoint.offsets)
      ? { records: checkpoint.records, crc: checkpoint.offsetsCrc } : { records: 0, crc: 0 };
    let txIndex: TxIndex;
    const owner: { chain?: ChainStore } = {}; // the index is opened first
    try {
      txIndex = TxIndex.open(join(dataDir, 'txindex'), {
        fsync: opts.fsync,
        legacyPath: join(dataDir, 'txindex.sqlite'),
        onDamaged: (err) => owner.chain?.onIndexDamaged?.(err),
      });
    } catch (err) {
      await log.close();
      throw err;
    }
    const chain = new ChainStore(genesis, log, txIndex, dataDir, opts);
    owner.chain = chain;
    chain.offsetsSaved = saved;
    try {
      const total = log.length;
      if (txIndex.indexedHeight > total) txIndex.truncateAbove(total); // only after --no-fsync: the log lost blocks
      const notes: string[] = [];
      // The newest snapshot the log and the index both cover; the index is filled in while replaying from it.
      const snap = await pickSnapshot(dataDir, genesis.hash, Math.min(total, txIndex.indexedHeight), async (h) => decodeBlock(await log.read(h - 1)), notes);
      if (snap) {
        chain.state.restore(snap);
        chain.lastTimestampMs = snap.lastTimestampMs;
        chain.head = { hash: snap.headHash.toString('hex'), stateHash: snap.stateHash.toString('hex'), timestampMs: snap.lastTimestampMs };
      }
      const start = snap?.height ?? 0;
      opts.onReplay?.(start, total);
      let sliceStart = Date.now();
      for (let from = start; from < total; from += 256) {
        const recs = await log.readRange(from, Math.min(total, from + 256));
        txIndex.batch(() => {
          for (const rec of recs) {
            const block = decodeBlock(rec);
            const effects = applyBlock(chain.state, block);
            if (block.height > txIndex.indexedHeight) txIndex.addBlock(block.height, block.txs.map((tx) => tx.idKey), topicStartsOf(effects));
            chain.lastTimestampMs = block.timestampMs;
            chain.head = { hash: block.hash.toString('hex'), stateHash: block.stateHash.toString('hex'), timestampMs: block.timestampMs };
          }
        });
        if (Date.now() - sliceStart >= REPLAY_SLICE_MS) {
          opts.onReplay?.(chain.state.height, total);
          await new Promise((r) => setImmediate(r));
          sliceStart = Date.now();
        }
      }
      opts.onReplay?.(chain.state.height, total);
      chain.durable = chain.state.height;
      chain.startup = { fromSnapshot: snap?.height, replayedBlocks: total - start, durationMs: performance.now() - startedMs, notes };
    } catch (err) {
      await txIndex.close();
      await log.close();
      throw err;
    }
    return chain;
  }

  get recovery(): RecoveryReport {
    return this.log.recovery;
  }

  get sizeBytes(): number {
    return this.log.sizeBytes;
  }

  get durableHeight(): number {
    return this.durable;
  }

  get durableHead(): HeadInfo {
    return this.head;
  }

  /** Records a block whose transactions have just been applied to `state`. */
  index(block: Block, effects: readonly TxEffect[]): void {
    block.txs.forEach((tx, i) => this.recent.set(tx.idKey, block.height * INDEX_SHIFT + i));
    const starts = topicStartsOf(effects);
    if (starts) this.recentTopics.set(block.height, starts);
    this.lastTimestampMs = block.timestampMs;
    const every = this.opts.snapshotEveryBlocks ?? DEFAULT_SNAPSHOT_EVERY_BLOCKS;
    const everyTxs = this.opts.snapshotEveryTxs ?? DEFAULT_SNAPSHOT_EVERY_TXS;
    this.txsSinceSnapshot += block.txs.length;
    const due = (every > 0 && block.height % every === 0) || (everyTxs > 0 && this.txsSinceSnapshot >= everyTxs);
    if (due && this.state.height === block.height) {
      this.pendingSnapshot = { height: block.height, bytes: encodeSnapshot(this.state, block.timestampMs) };
      this.txsSinceSnapshot = 0;
    }
  }

  /** Writes the pending snapshot once its block is durable (never one ahead of the log); one write at a time. */
  private writeSnapshotWhenDurable(): void {
    const snap = this.pendingSnapshot;
    if (!snap || this.snapshotWriting || snap.height > this.durable) return;
    this.pendingSnapshot = undefined;
    const checkpoint = this.log.checkpoint;
    const log = this.log;
    this.snapshotWriting = writeSnapshot(this.dataDir, snap.height, snap.bytes, this.opts.fsync).then(
      async () => {
        this.lastSnapshotHeight = snap.height;
        if (checkpoint) {
          await writeCheckpoint(this.dataDir, checkpoint, (from) => log.offsetsOf(checkpoint.records, from), this.offsetsSaved).catch((err: unknown) =>
            console.error(`warning: writing the log checkpoint in ${this.dataDir} failed: ${(err as Error).message}; the next restart walks or scans more of the log`));
        }
      },
      (err: unknown) => console.error(`warning: writing the state snapshot at height ${snap.height} in ${this.dataDir} failed: ${(err as Error).message}; the next restart replays more of the log`),
    ).finally(() => {
      this.snapshotWriting = undefined;
      this.writeSnapshotWhenDurable();
    });
  }

  /** Appends an indexed block; resolves once it is on disk, and only then counts it durable (and indexes it on disk). */
  async persist(block: Block, encoded: Buffer): Promise<void> {
    const index = await this.log.append(encoded);
    if (index !== block.height - 1) throw new TpslabError('TPSLAB_E_INTERNAL', `log index ${index} does not match height ${block.height}`);
    this.indexQueue.push({ height: block.height, ids: block.txs.map((tx) => tx.idKey) });
    this.indexQueuedTxs += block.txs.length;
    if (this.indexQueuedTxs >= INDEX_BATCH_TXS) this.flushIndex();
    else if (!this.indexTimer) {
      this.indexTimer = setTimeout(() => this.flushIndex(), INDEX_FLUSH_MS);
      this.indexTimer.unref();
    }
    this.durable = block.height;
    this.head = { hash: block.hash.toString('hex'), stateHash: block.stateHash.toString('hex'), timestampMs: block.timestampMs };
    this.writeSnapshotWhenDurable();
  }

  /** Writes the queued durable blocks to the on-disk index as one run, then drops them from memory. */
  private flushIndex(): void {
    clearTimeout(this.indexTimer);
    this.indexTimer = undefined;
    const blocks = this.indexQueue;
    if (blocks.length === 0) return;
    const startMs = performance.now();
    try {
      this.txIndex.batch(() => {
        for (const b of blocks) this.txIndex.addBlock(b.height, b.ids, this.recentTopics.get(b.height));
      });
      this.stageSink?.('index', (performance.now() - startMs) / 1000);
    } catch (err) {
      // Still answered from memory; retried with the next batch. The log has them: a restart re-indexes.
      console.error(`warning: writing ${blocks.length} blocks to the transaction index in ${this.dataDir} failed: ${(err as Error).message}`);
      return;
    }
    this.indexQueue = [];
    this.indexQueuedTxs = 0;
    for (const b of blocks) {
      for (const id of b.ids) this.recent.delete(id);
      this.recentTopics.delete(b.height);
    }
  }

  /**
   * Whether `tx` is in an indexed block, asking the index only when it can be: a transaction in
   * a block ran there and moved its sender's nonce past its own, so a nonce the state has not
   * passed is not in any block (the common case for a fresh submission).
   */
  holds(tx: SignedTx, idKey: string): boolean {
    const account = this.state.getAccount(senderOf(tx.body));
    return account !== undefined && tx.body.nonce < account.nonce && this.isIndexed(idKey);
  }

  isIndexed(idKey: string): boolean {
    return this.recent.has(idKey) || this.txIndex.locate(Buffer.from(idKey, 'latin1')) !== undefined;
  }

  /** Where a transaction is, if in an indexed block; `durable` tells whether that block is on disk. */
  locate(idKey: string): (Location & { durable: boolean }) | undefined {
    const loc = this.recent.get(idKey) ?? this.txIndex.locate(Buffer.from(idKey, 'latin1'));
    if (loc === undefined) return undefined;
    const height = Math.floor(loc / INDEX_SHIFT);
    return { height, index: loc % INDEX_SHIFT, durable: height <= this.durable };
  }

  async readEncodedBlock(height: number): Promise<Buffer> {
    if (!Number.isInteger(height) || height < 1 || height > this.durable) {
      throw new TpslabError('TPSLAB_E_NOT_FOUND', `block ${height} does not exist; the head is at ${this.durable}`);
    }
    return this.log.read(height - 1);
  }

  async readBlock(height: number): Promise<Block> {
    return decodeBlock(await this.readEncodedBlock(height));
  }

  /** Height of the block holding message `seq` of `topic` (or the first after it); undefined if not committed yet. */
  heightOfTopicSeq(topic: string, seq: bigint): number | undefined {
    let found = this.txIndex.heightOfTopicSeq(topic, seq);
    for (const [height, starts] of this.recentTopics) { // ascending heights, all above the on-disk index
      const start = starts.get(topic);
      if (start === undefined) continue;
      if (found === undefined || start <= seq) found = height;
      if (start > seq) break;
    }
    return found;
  }

  /** The effects (topic sequence numbers) of an indexed block, as when it was applied. */
  effectsOf(block: Block): TxEffect[] {
    const starts = this.recentTopics.get(block.height) ?? this.txIndex.topicStartsAt(block.height);
    if (!starts) return block.txs.map(() => ({}));
    const next = new Map(starts);
    return block.txs.map((tx) => {
      if (tx.body.kind !== 'message') return {};
      const seq = next.get(tx.body.topic)!;
      next.set(tx.body.topic, seq + 1n);
      return { topic: tx.body.topic, seq };
    });
  }

  async close(): Promise<void> {
    await this.log.close(); // waits for appends in flight, which index their blocks
    await new Promise((r) => setImmediate(r)); // let their continuations (persist) run first
    while (this.snapshotWriting) await this.snapshotWriting;
    this.flushIndex();
    await this.txIndex.close();
  }
}

/**
 * `<data>/blocks.log.checkpoint`: where the log ended (records, bytes) when the last snapshot was written,
 * so the next open walks that part by headers only; and `<data>/blocks.log.offsets`, those records' frame
 * offsets (named by CRC in the checkpoint), so it need not walk them at all. Only hints: the log checks
 * they fit, else walks or scans it all.
 */
async function readCheckpoint(dataDir: string): Promise<(Checkpoint & { offsetsCrc?: number }) | undefined> {
  let cp: Partial<Checkpoint> & { offsetsCrc?: unknown };
  try {
    cp = JSON.parse(await readFile(join(dataDir, CHECKPOINT_FILE), 'utf8')) as typeof cp;
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(cp.records) || !Number.isSafeInteger(cp.bytes)) return undefined;
  const out: Checkpoint & { offsetsCrc?: number } = { records: cp.records!, bytes: cp.bytes! };
  if (typeof cp.offsetsCrc === 'number') {
    const b = await readFile(join(dataDir, OFFSETS_FILE)).catch(() => undefined);
    if (b && b.length === out.records * 8 && crc32(b) === cp.offsetsCrc) {
      out.offsets = new Float64Array(out.records);
      for (let i = 0; i < out.records; i++) out.offsets[i] = b.readDoubleLE(i * 8);
      out.offsetsCrc = cp.offsetsCrc;
    }
  }
  return out;
}

/** How many records' offsets `blocks.log.offsets` holds, and the CRC of its bytes. */
export interface OffsetsSaved { records: number; crc: number }

const sameOffsets = (a: Float64Array, b: Float64Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function encodeOffsets(offsets: Float64Array): Buffer {
  const b = Buffer.allocUnsafe(offsets.length * 8);
  offsets.forEach((o, i) => b.writeDoubleLE(o, i * 8));
  return b;
}

/**
 * Appends the offsets of the records since `saved` to `blocks.log.offsets` (or writes it whole, atomically,
 * when it does not hold exactly `saved`), then writes the checkpoint naming the file's CRC, atomically.
 * A crash between the two leaves a file whose length or CRC does not match: ignored, then rewritten.
 */
export async function writeCheckpoint(dataDir: string, cp: Checkpoint, offsets: (from: number) => Float64Array, saved: OffsetsSaved): Promise<void> {
  const op = join(dataDir, OFFSETS_FILE);
  const size = saved.records > 0 ? (await stat(op).catch(() => undefined))?.size : undefined;
  if (size === saved.records * 8 && cp.records >= saved.records) {
    const b = encodeOffsets(offsets(saved.records));
    await appendFile(op, b);
    saved.crc = crc32(b, saved.crc);
  } else {
    const b = encodeOffsets(offsets(0));
    await writeFile(`${op}.tmp`, b);
    await rename(`${op}.tmp`, op);
    saved.crc = crc32(b);
  }
  saved.records = cp.records;
  const path = join(dataDir, CHECKPOINT_FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify({ records: cp.records, bytes: cp.bytes, offsetsCrc: saved.crc })}\n`);
  await rename(`${path}.tmp`, path);
}

/** Each topic's first sequence number in a block, from its effects; undefined without messages. */
function topicStartsOf(effects: readonly TxEffect[]): Map<string, bigint> | undefined {
  let starts: Map<string, bigint> | undefined;
  for (const e of effects) {
    if (e.topic === undefined) continue;
    starts ??= new Map();
    if (!starts.has(e.topic)) starts.set(e.topic, e.seq!);
  }
  return starts;
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
    const f = await open(`${path}.tmp`, 'w');
    await f.writeFile(`${hex}\n`);
    await f.datasync();
    await f.close();
    await rename(`${path}.tmp`, path);
  } else if (stored !== hex) {
    throw new TpslabError(
      'TPSLAB_E_WRONG_NETWORK',
      `data directory ${dataDir} holds a ledger of another genesis (${stored.slice(0, 16)}…, given ${hex.slice(0, 16)}…); use a fresh --data directory or the genesis it was created with`,
    );
  }
}
