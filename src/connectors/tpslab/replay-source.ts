/**
 * The beacon side of a replay: the dataset records of this beacon's shard
 * ranges, in dataset order (parents before children), signed here as they are
 * read (the dataset holds unsigned bodies and their inputs' seeds; keys are
 * derived once per sender and cached for this beacon). Read lazily: the reader
 * holds at most one decoded frame per bucket, and the harness pulls a bounded
 * read-ahead, so signing runs ahead of sending by that window (before the start
 * for the first window).
 */
import { openDataset } from '../../dataset/reader.js';
import { KeyCache, signRecord } from '../../dataset/sign.js';
import type { SourcedTx } from '../contract.js';
import type { TpslabBeaconConfig } from './schema.js';

export type ReplayConfig = Extract<TpslabBeaconConfig['workload'], { kind: 'replay' }>;

/** Signing keys a beacon keeps: each holds about 2.3 KB of native memory (an OpenSSL key), so 10,000 are ≈ 23 MB. */
const BEACON_KEY_CACHE = 10_000;

/** Records signed between two turns of the event loop. */
const YIELD_EVERY = 128;

/** The sender's number in outcomes: the top 32 bits of its shard key (its place in the 2^64 space). */
export function senderNumber(shardKey: bigint): number {
  return Number(shardKey >> 32n);
}

/** The records of `w.ranges`, each with its intended offset under `timing: original` (block time − first block time, ÷ speed, never decreasing). */
export async function* replaySource(w: ReplayConfig): AsyncGenerator<SourcedTx> {
  const ds = await openDataset(w.dataset);
  let latestMs = 0;
  const keys = new KeyCache(BEACON_KEY_CACHE);
  const network = ds.header.ledgerNetwork;
  let signedCount = 0;
  try {
    for await (const r of ds.records({ ranges: w.ranges, ordered: true })) {
      // Signing costs about 40 µs an input: let timers and sockets run between slices of the read-ahead.
      if (++signedCount % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
      const signed = signRecord(r, network, keys);
      const tx = { id: signed.id.toString('hex'), payload: signed.bytes };
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
