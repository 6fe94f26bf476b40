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
  /** Ids (hex) of the dataset transactions in the blocks. */
  ids: Set<string>;
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

/** Reads blocks (fromHeight, toHeight] and keeps the transactions whose sender is in `senders`. */
export async function scanReplayBlocks(opts: { endpoint: string; fromHeight: number; toHeight: number; senders: ReadonlySet<string> }, visit?: VisitCommitted): Promise<ReplayBlocks> {
  /** id → [height, index in block, block time ms]; deps kept per dependent. */
  const where = new Map<string, [number, number, number]>();
  const withDeps: { id: string; deps: string[] }[] = [];
  await forEachBlock(opts, (block, h) => {
    block.txs.forEach((tx, k) => {
      const sender = senderOf(tx.body);
      if (!opts.senders.has(sender.toString('hex'))) return;
      const id = tx.id.toString('hex');
      visit?.(id, h, senderNumber(shardKeyOf(sender)));
      where.set(id, [h, k, block.timestampMs]);
      if (tx.body.deps.length) withDeps.push({ id, deps: tx.body.deps.map((d) => d.toString('hex')) });
    });
  });
  let deps = 0;
  let depsOutOfOrder = 0;
  let depsBefore = 0;
  const waitsMs: number[] = [];
  for (const { id, deps: ds } of withDeps) {
    const [h, k, t] = where.get(id)!;
    let lastMs = -Infinity;
    for (const d of ds) {
      deps++;
      const w = where.get(d);
      if (!w) {
        depsBefore++;
        continue;
      }
      if (w[0] > h || (w[0] === h && w[1] >= k)) depsOutOfOrder++;
      lastMs = Math.max(lastMs, w[2]);
    }
    if (lastMs > -Infinity) waitsMs.push(t - lastMs);
  }
  waitsMs.sort((a, b) => a - b);
  const commitTimesMs = [...where.values()].map((w) => w[2]).sort((a, b) => a - b);
  return { ids: new Set(where.keys()), deps, depsOutOfOrder, depsBefore, waitsMs, commitTimesMs };
}

const pct = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Sentences for the run's summary. */
export function replayNotes(b: ReplayBlocks, header: DatasetHeader): string[] {
  const notes = [`replay: ${b.ids.size} of the dataset's ${header.stats.records} transactions are in the blocks`];
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
