/**
 * The beacon side of a replay: the dataset records of this beacon's shard
 * ranges, in dataset order (parents before children), as signed transactions
 * ready to submit. Read lazily: the reader holds at most one decoded frame per
 * bucket, and the harness pulls a bounded read-ahead.
 */
import { createHash } from 'node:crypto';
import { openDataset } from '../../dataset/reader.js';
import type { SourcedTx } from '../contract.js';
import type { TpslabBeaconConfig } from './schema.js';

export type ReplayConfig = Extract<TpslabBeaconConfig['workload'], { kind: 'replay' }>;

/** The sender's number in outcomes: the top 32 bits of its shard key (its place in the 2^64 space). */
export function senderNumber(shardKey: bigint): number {
  return Number(shardKey >> 32n);
}

/** The records of `w.ranges`, each with its intended offset under `timing: original` (block time − first block time, ÷ speed, never decreasing). */
export async function* replaySource(w: ReplayConfig): AsyncGenerator<SourcedTx> {
  const ds = await openDataset(w.dataset);
  let latestMs = 0;
  try {
    for await (const r of ds.records({ ranges: w.ranges, ordered: true })) {
      const tx = { id: createHash('sha256').update(r.tx).digest('hex'), payload: r.tx };
      if (w.timing === 'max') {
        yield { tx, sender: senderNumber(r.shardKey) };
        continue;
      }
      // Block times may step back a little (Bitcoin allows it): the source must not.
      latestMs = Math.max(latestMs, ((r.timeSec - w.firstBlockTimeSec) * 1000) / w.speed);
      yield { tx, sender: senderNumber(r.shardKey), intendedOffsetMs: latestMs };
    }
  } finally {
    await ds.close();
  }
}
