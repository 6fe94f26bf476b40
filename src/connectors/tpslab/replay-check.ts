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

/** Public keys (hex) of every sender in the dataset. */
export async function datasetSenders(dataset: string): Promise<Set<string>> {
  const ds = await openDataset(dataset);
  const senders = new Set<string>();
  try {
    for await (const r of ds.records()) senders.add(r.sender.toString('hex'));
  } finally {
    await ds.close();
  }
  return senders;
}

export interface ReplayBlocks {
  /** Dataset transactions in the blocks. */
  committed: number;
  /** Dependencies checked, and those not committed strictly before their dependent (must be 0). */
  deps: number;
  depsOutOfOrder: number;
  /** Dependencies committed before the blocks read (not checkable here). */
  depsBefore: number;
  /** Per transaction with deps: its block's time minus its last dependency's block time, ms, sorted. */
  waitsMs: number[];
  /** Block times (ms) of the dataset transactions, sorted. */
  commitTimesMs: number[];
}

/**
 * Reads blocks (fromHeight, toHeight] in order and keeps the transactions whose
 * sender is in `senders`, checking each one's deps in block order: a dep already
 * seen was committed before it; a dep not seen yet is remembered, and counts
 * as out of order if it turns up later, or as committed before the run if it
 * never does.
 *
 * Memory (the bound, not a cap): one entry per dataset transaction committed
 * in the run (its 32-byte id as a one-byte string and its block time) plus two
 * numbers for the waits and the tail: measured 104 bytes a transaction for a
 * million entries with the time list, so about 110 MB per million committed
 * transactions, 1.1 GB for ten million; plus one entry per dependency named
 * before its transaction was read (none when every dependency is in order)
 * and the few blocks read ahead of the one being checked. Only dataset
 * transactions of this run count; a replay past some tens of millions needs
 * this check on disk, which is not built.
 */
export async function scanReplayBlocks(opts: { endpoint: string; fromHeight: number; toHeight: number; senders: ReadonlySet<string> }, visit?: VisitCommitted): Promise<ReplayBlocks> {
  /** id (latin1) → block time ms, for every dataset transaction read so far. */
  const seen = new Map<string, number>();
  /** Deps named before their transaction was read: id (latin1) → how many dependents named it. */
  const ahead = new Map<string, number>();
  let deps = 0;
  let depsOutOfOrder = 0;
  const waitsMs: number[] = [];
  const commitTimesMs: number[] = [];
  const onBlock = (block: Block, h: number): void => {
    for (const tx of block.txs) {
      const sender = senderOf(tx.body);
      if (!opts.senders.has(sender.toString('hex'))) continue;
      const key = tx.id.toString('latin1');
      visit?.(tx.id.toString('hex'), h, senderNumber(shardKeyOf(sender)));
      const early = ahead.get(key);
      if (early !== undefined) {
        depsOutOfOrder += early;
        ahead.delete(key);
      }
      let lastMs = -Infinity;
      for (const d of tx.body.deps) {
        deps++;
        const dk = d.toString('latin1');
        const t = seen.get(dk);
        if (t === undefined) ahead.set(dk, (ahead.get(dk) ?? 0) + 1);
        else lastMs = Math.max(lastMs, t);
      }
      if (lastMs > -Infinity) waitsMs.push(block.timestampMs - lastMs);
      seen.set(key, block.timestampMs);
      commitTimesMs.push(block.timestampMs);
    }
  };
  // forEachBlock's readers run in parallel, so blocks can arrive out of height order: check them in order (a few held).
  const arrived = new Map<number, Block>();
  let nextHeight = opts.fromHeight + 1;
  await forEachBlock(opts, (block, h) => {
    arrived.set(h, block);
    for (let b = arrived.get(nextHeight); b; b = arrived.get(nextHeight)) {
      arrived.delete(nextHeight);
      onBlock(b, nextHeight++);
    }
  });
  let depsBefore = 0;
  for (const n of ahead.values()) depsBefore += n;
  waitsMs.sort((a, b) => a - b);
  commitTimesMs.sort((a, b) => a - b);
  return { committed: seen.size, deps, depsOutOfOrder, depsBefore, waitsMs, commitTimesMs };
}

const pct = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Sentences for the run's summary. */
export function replayNotes(b: ReplayBlocks, header: DatasetHeader): string[] {
  const notes = [`replay: ${b.committed} of the dataset's ${header.stats.records} transactions are in the blocks`];
  const order = b.depsOutOfOrder === 0 ? 'every one committed before its dependent' : `${b.depsOutOfOrder} NOT committed before their dependent`;
  notes.push(`replay dependencies: ${b.deps} checked, ${order}${b.depsBefore ? ` (${b.depsBefore} committed before the run's blocks)` : ''}`);
  if (b.waitsMs.length) {
    const w = b.waitsMs;
    notes.push(`replay dependency waits (a dependent's commit after its last dependency's), ${w.length} transactions: p50 ${pct(w, 0.5)} ms, p99 ${pct(w, 0.99)} ms, max ${w[w.length - 1]} ms`);
  }
  const t = b.commitTimesMs;
  if (t.length > 1) {
    const first = t[0]!;
    const last = t[t.length - 1]!;
    const edge = t[Math.min(t.length - 1, Math.floor((1 - TAIL_FRACTION) * t.length))]!;
    notes.push(`replay tail: the first 95% committed in ${sec(edge - first)}, the last 5% (${t.length - Math.floor((1 - TAIL_FRACTION) * t.length)} transactions) took ${sec(last - edge)} more (block times)`);
  }
  return notes;
}
