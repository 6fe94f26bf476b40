/**
 * `tpslab dataset info`: the header's counts plus what a full pass over the
 * records shows: sizes, fan-in and fan-out, deps per transaction, dependency
 * depth, and how the records fall on even shard ranges.
 */
import { stat } from 'node:fs/promises';
import { KEY_SPACE } from '../ledger/shard-allocator.js';
import { ByteReader } from '../protocol/bytes.js';
import { decodeBody, SIGNATURE_BYTES } from '../protocol/tx.js';
import type { DatasetHeader } from './format.js';
import { openDataset } from './reader.js';

/** Histogram buckets: 1, 2, 3, 4-7, 8-15, 16-63, 64+ (0 where it can occur). */
const EDGES = [0, 1, 2, 3, 4, 8, 16, 64] as const;
const LABELS = ['0', '1', '2', '3', '4-7', '8-15', '16-63', '64+'] as const;

export type Distribution = Record<(typeof LABELS)[number], number>;

function emptyDist(): Distribution {
  return Object.fromEntries(LABELS.map((l) => [l, 0])) as Distribution;
}

function add(d: Distribution, v: number): void {
  let i = EDGES.length - 1;
  while (i > 0 && v < EDGES[i]!) i--;
  d[LABELS[i]!]++;
}

export interface DatasetInfo {
  file: string;
  fileBytes: number;
  header: DatasetHeader;
  frames: number;
  records: number;
  txBytes: number;
  inputs: number;
  outputs: number;
  deps: number;
  fanIn: Distribution;
  fanOut: Distribution;
  depsPerTx: Distribution;
  depth: { max: number; mean: number; distribution: Distribution };
  heights: { first: number; last: number } | null;
  shards: { start: string; end: string; records: number }[];
}

export async function datasetInfo(file: string, shardCount = 8): Promise<DatasetInfo> {
  const ds = await openDataset(file);
  try {
    const fileBytes = (await stat(file)).size;
    const frames = (await ds.frames()).length;
    const fanIn = emptyDist();
    const fanOut = emptyDist();
    const depsPerTx = emptyDist();
    const depthDist = emptyDist();
    const size = KEY_SPACE / BigInt(shardCount);
    const shards = Array.from({ length: shardCount }, (_, i) => ({
      start: (BigInt(i) * size).toString(),
      end: (i === shardCount - 1 ? KEY_SPACE : BigInt(i + 1) * size).toString(),
      records: 0,
    }));
    let records = 0, txBytes = 0, inputs = 0, outputs = 0, deps = 0, depthSum = 0, maxDepth = 0;
    let heights: { first: number; last: number } | null = null;
    for await (const r of ds.records()) {
      const body = decodeBody(new ByteReader(r.body, `${file}: record ${r.seq}`));
      if (body.kind !== 'transfer') continue;
      records++;
      // As sent: the body and one signature per input.
      txBytes += r.body.length + SIGNATURE_BYTES * body.inputs.length;
      inputs += body.inputs.length;
      outputs += body.outputs.length;
      deps += body.deps.length;
      add(fanIn, body.inputs.length);
      add(fanOut, body.outputs.length);
      add(depsPerTx, body.deps.length);
      add(depthDist, r.depth);
      depthSum += r.depth;
      if (r.depth > maxDepth) maxDepth = r.depth;
      heights = heights ? { first: Math.min(heights.first, r.height), last: Math.max(heights.last, r.height) } : { first: r.height, last: r.height };
      shards[Math.min(shardCount - 1, Number(r.shardKey / size))]!.records++;
    }
    return {
      file, fileBytes, header: ds.header, frames, records, txBytes, inputs, outputs, deps, fanIn, fanOut, depsPerTx,
      depth: { max: maxDepth, mean: records ? depthSum / records : 0, distribution: depthDist }, heights, shards,
    };
  } finally {
    await ds.close();
  }
}

export function formatInfo(i: DatasetInfo): string {
  const h = i.header;
  const s = h.stats;
  const dist = (d: Distribution): string => Object.entries(d).filter(([, n]) => n > 0).map(([k, n]) => `${k}: ${n}`).join(', ') || '-';
  const iso = (sec: number): string => new Date(sec * 1000).toISOString();
  return [
    `dataset ${i.file}: format ${h.formatVersion}, ${h.sourceNetwork} → ledger network "${h.ledgerNetwork}", genesis ${h.genesisHash}`,
    `blocks ${h.fromBlock}..${h.toBlock} (${s.blocks} blocks, ${iso(h.firstBlockTimeSec)} .. ${iso(h.lastBlockTimeSec)}), ${s.blocksBeforeRange} read before the range`,
    `transactions: ${s.btcTxs} Bitcoin → ${i.records} records; left out: ${s.coinbases} coinbases, ${s.zeroOutputTxs} zero-output, ${s.oversizedTxs} oversized, ${s.unknownInputTxs} with unknown inputs`,
    `sizes: file ${i.fileBytes} bytes in ${i.frames} frames, transactions ${i.txBytes} bytes (${i.records ? Math.round(i.txBytes / i.records) : 0} per record), input ${s.inputBytes} bytes`,
    `inputs ${i.inputs}, outputs ${i.outputs}, deps ${i.deps} (${s.depsOverflowTxs} txs had more than 16 parents); genesis funds ${s.externalSpend} sat (${s.overflowSpend} for dropped deps); fees ${s.feeTotal} sat`,
    `fan-in:  ${dist(i.fanIn)}`,
    `fan-out: ${dist(i.fanOut)}`,
    `deps:    ${dist(i.depsPerTx)}`,
    `depth:   max ${i.depth.max}, mean ${i.depth.mean.toFixed(2)}; ${dist(i.depth.distribution)}`,
    `shards (${i.shards.length} even ranges of the 2^64 sender space): ${i.shards.map((x) => x.records).join(' / ')}`,
  ].join('\n');
}
