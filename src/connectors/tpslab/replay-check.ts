/**
 * The target side of a replay: the dataset checked before anything starts,
 * each beacon's shard ranges (the tracker's allocator over 2^64), and what the
 * blocks show afterwards: every dataset transaction committed (reconciliation),
 * every dependency committed before its dependent, how long dependents waited
 * after their last dependency, and the tail (how long the last 5% took).
 */
import { TpslabError } from '../../errors.js';
import type { DatasetHeader } from '../../dataset/format.js';
import { openDataset } from '../../dataset/reader.js';
import { loadGenesis } from '../../ledger/genesis.js';
import { allocationOf, rebalance, type KeyRange } from '../../ledger/shard-allocator.js';
import type { Block } from '../../protocol/block.js';
import { senderOf } from '../../protocol/tx.js';
import { shardKeyOf } from '../../dataset/accounts.js';
import type { VisitCommitted } from '../contract.js';
import { forEachBlock } from './committed.js';
import { SenderSet, SeenIds } from './replay-seen.js';
import { senderNumber } from './replay-source.js';

/** The tail is the last this fraction of the dataset's committed transactions. */
const TAIL_FRACTION = 0.05;

/** The genesis an embedded network starts on for a replay, unless target.genesis says otherwise. */
export function datasetGenesisPath(dataset: string): string {
  return `${dataset}.genesis.json`;
}

/** The dataset's header, once it is known readable and complete; with `genesis`, that file must be the dataset's network. */
export async function checkDataset(dataset: string, genesis?: string): Promise<DatasetHeader> {
  const ds = await openDataset(dataset);
  const header = ds.header;
  await ds.close();
  if (genesis) {
    const g = await loadGenesis(genesis);
    if (g.network !== header.ledgerNetwork) {
      throw new TpslabError('TPSLAB_E_DATASET', `genesis ${genesis} is for network "${g.network}", but ${dataset} is signed for "${header.ledgerNetwork}"; give the dataset's own genesis (${datasetGenesisPath(dataset)}) as target.genesis`);
    }
  }
  return header;
}

/** Beacon `beacon`'s shard ranges among `beacons`: the tracker's even, stable allocation of the 2^64 space. */
export function beaconShardRanges(beacon: number, beacons: number): KeyRange[] {
  const members = Array.from({ length: beacons }, (_, b) => `beacon${b}`);
  return allocationOf(rebalance([], members), 0).ranges.get(`beacon${beacon}`) ?? [];
}

/** Every sender of the dataset (by the first 8 bytes of its key: 8 bytes a sender in memory). */
export async function datasetSenders(dataset: string): Promise<SenderSet> {
  const ds = await openDataset(dataset);
  const senders = new SenderSet();
  try {
    for await (const r of ds.records()) senders.add(r.sender);
  } finally {
    await ds.close();
  }
  senders.compact();
  return senders;
}

/** Values with how often each was seen: exact ranks in memory that grows with the distinct values, not the count. */
export class Tally {
  private readonly counts = new Map<number, number>();
  private sorted: number[] | undefined;
  private cum: number[] = [];
  n = 0;

  add(value: number, count = 1): void {
    this.counts.set(value, (this.counts.get(value) ?? 0) + count);
    this.n += count;
    this.sorted = undefined;
  }

  /** The value at 0-based `rank` of all values in ascending order (as `sorted[rank]` of the full list). */
  at(rank: number): number {
    if (!this.sorted) {
      this.sorted = [...this.counts.keys()].sort((a, b) => a - b);
      let c = 0;
      this.cum = this.sorted.map((v) => (c += this.counts.get(v)!));
    }
    let lo = 0;
    let hi = this.sorted.length - 1;
    while (lo < hi) { // the first value whose cumulative count passes rank
      const mid = (lo + hi) >>> 1;
      if (this.cum[mid]! > rank) hi = mid;
      else lo = mid + 1;
    }
    return this.sorted[lo] ?? 0;
  }

  /** The p-quantile as the sorted list's element floor(p × n), capped at the last. */
  pct(p: number): number {
    return this.at(Math.min(this.n - 1, Math.floor(p * this.n)));
  }
}

export interface ReplayBlocks {
  /** Dataset transactions in the blocks. */
  committed: number;
  /** Dependencies checked, and those not committed strictly before their dependent (must be 0). */
  deps: number;
  depsOutOfOrder: number;
  /** Dependencies committed before the blocks read (not checkable here). */
  depsBefore: number;
  /** Per transaction with deps: its block's time minus its last dependency's block time, ms. */
  waitsMs: Tally;
  /** Block times (ms) of the dataset transactions. */
  commitTimesMs: Tally;
}

/**
 * The check of the blocks, fed them in height order (`onBlock`), keeping the transactions whose
 * sender is in `senders` and checking each one's deps: a dep already seen (an earlier block, or
 * earlier in the same block) was committed before it; a dep not seen yet is remembered, and counts
 * as out of order if it turns up later, or as committed before the run if it never does.
 *
 * Memory, whatever the replay's length: the last WINDOW_IDS ids read (45 MB of heap), older ones in
 * a transaction index on disk (replay-seen.ts); each height's block time (8 bytes a block); the
 * waits and block times as distinct values with counts; plus one entry per dependency named
 * before its transaction was read (none when every dependency is in order and inside the run).
 */
export class ReplayChecker {
  private readonly seen: SeenIds;
  /** Block time (ms) of each height read, from fromHeight + 1. */
  private times = new Float64Array(1024);
  /** Deps named before their transaction was read: id (latin1) → how many dependents named it. */
  private readonly ahead = new Map<string, number>();
  private readonly r: ReplayBlocks = { committed: 0, deps: 0, depsOutOfOrder: 0, depsBefore: 0, waitsMs: new Tally(), commitTimesMs: new Tally() };

  constructor(private readonly opts: { fromHeight: number; senders: SenderSet; windowIds?: number }, private readonly visit?: VisitCommitted) {
    this.seen = new SeenIds(opts.windowIds);
  }

  /** Block `h` (heights must come in order, from fromHeight + 1). */
  onBlock(block: Block, h: number): void {
    const slot = h - this.opts.fromHeight - 1;
    if (slot >= this.times.length) {
      const grown = new Float64Array(Math.max(slot + 1, this.times.length * 2));
      grown.set(this.times);
      this.times = grown;
    }
    this.times[slot] = block.timestampMs;
    const keys: string[] = [];
    const inBlock = new Set<string>();
    for (const tx of block.txs) {
      const sender = senderOf(tx.body);
      if (!this.opts.senders.has(sender)) continue;
      const key = tx.id.toString('latin1');
      this.visit?.(tx.id.toString('hex'), h, senderNumber(shardKeyOf(sender)));
      const early = this.ahead.get(key);
      if (early !== undefined) {
        this.r.depsOutOfOrder += early;
        this.ahead.delete(key);
      }
      let lastMs = -Infinity;
      for (const d of tx.body.deps) {
        this.r.deps++;
        const dk = d.toString('latin1');
        const dh = inBlock.has(dk) ? h : this.seen.heightOf(dk);
        if (dh === undefined) this.ahead.set(dk, (this.ahead.get(dk) ?? 0) + 1);
        else lastMs = Math.max(lastMs, this.times[dh - this.opts.fromHeight - 1]!);
      }
      if (lastMs > -Infinity) this.r.waitsMs.add(block.timestampMs - lastMs);
      inBlock.add(key);
      keys.push(key);
    }
    if (keys.length > 0) this.r.commitTimesMs.add(block.timestampMs, keys.length);
    this.r.committed += keys.length;
    this.seen.add(h, keys);
  }

  /** The figures, once every block is read; frees the scratch index. */
  async finish(): Promise<ReplayBlocks> {
    await this.seen.close();
    for (const n of this.ahead.values()) this.r.depsBefore += n;
    this.ahead.clear();
    return this.r;
  }
}

/** Reads blocks (fromHeight, toHeight] and checks them (ReplayChecker). */
export async function scanReplayBlocks(opts: { endpoint: string; fromHeight: number; toHeight: number; senders: SenderSet }, visit?: VisitCommitted): Promise<ReplayBlocks> {
  const check = new ReplayChecker(opts, visit);
  try {
    // forEachBlock's readers run in parallel, so blocks can arrive out of height order: check them in order (a few held).
    const arrived = new Map<number, Block>();
    let nextHeight = opts.fromHeight + 1;
    await forEachBlock(opts, (block, h) => {
      arrived.set(h, block);
      for (let b = arrived.get(nextHeight); b; b = arrived.get(nextHeight)) {
        arrived.delete(nextHeight);
        check.onBlock(b, nextHeight++);
      }
    });
  } catch (err) {
    await check.finish().catch(() => undefined); // removes the scratch index
    throw err;
  }
  return check.finish();
}

const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Sentences for the run's summary. */
export function replayNotes(b: ReplayBlocks, header: DatasetHeader): string[] {
  const notes = [`replay: ${b.committed} of the dataset's ${header.stats.records} transactions are in the blocks`];
  const order = b.depsOutOfOrder === 0 ? 'every one committed before its dependent' : `${b.depsOutOfOrder} NOT committed before their dependent`;
  notes.push(`replay dependencies: ${b.deps} checked, ${order}${b.depsBefore ? ` (${b.depsBefore} committed before the run's blocks)` : ''}`);
  const w = b.waitsMs;
  if (w.n > 0) {
    notes.push(`replay dependency waits (a dependent's commit after its last dependency's), ${w.n} transactions: p50 ${w.pct(0.5)} ms, p99 ${w.pct(0.99)} ms, max ${w.at(w.n - 1)} ms`);
  }
  const t = b.commitTimesMs;
  if (t.n > 1) {
    const first = t.at(0);
    const last = t.at(t.n - 1);
    const edge = t.pct(1 - TAIL_FRACTION);
    notes.push(`replay tail: the first 95% committed in ${sec(edge - first)}, the last 5% (${t.n - Math.floor((1 - TAIL_FRACTION) * t.n)} transactions) took ${sec(last - edge)} more (block times)`);
  }
  return notes;
}
