/**
 * A missing beacon's unsent work, split among the beacons left. Pure.
 *
 * A job's plan entries are in schedule order and a beacon sends them in that
 * order, so what it reported as sent is a prefix. The rest is split by whole
 * sender ranges (each sender's transactions stay in one beacon, so its FIFO
 * and nonce order hold). Every part keeps its senders' whole plan from their
 * first transaction and a `skip`: the entries the previous owner already
 * sent, which the new owner builds (so a deterministic connector rebuilds the
 * same transactions and nonces) but does not send.
 *
 * Max mode has no plan: a beacon keeps maxInFlight unconfirmed, round-robin
 * over its sender range, until the run's end. A missing beacon's range is split
 * into whole sub-ranges, one per survivor, each run for the remaining duration
 * (same start instant, same end) with its part of the in-flight budget; the new
 * owner learns each sender's next nonce from the network (a takeover), so it
 * continues after what the missing beacon got committed.
 */
import type { Assign } from '../harness/messages.js';
import { materialize } from '../harness/plan-stream.js';
import { beaconRanges } from '../harness/workload.js';

export interface JobPart {
  assign: Assign;
  /** Leading entries of `assign` the previous owner sent. */
  skip: number;
}

/**
 * Splits `job` (whose first `sentBefore` entries were sent) into at most `parts` parts, by
 * account range; parts with nothing left to send are dropped.
 */
export function splitUnsent(described: Assign, sentBefore: number, parts: number): JobPart[] {
  // A described share is walked into arrays here: only a missing beacon's share, only on reassignment.
  const { plan, ...rest } = described;
  const job: Assign = plan ? { ...rest, ...materialize(plan, described.accounts) } : described;
  const { start, end } = job.accounts;
  const ranges = beaconRanges(end - start, Math.max(1, Math.min(parts, end - start))).map((r) => ({ start: r.start + start, end: r.end + start }));
  const out: JobPart[] = [];
  for (const r of ranges) {
    const idx: number[] = [];
    let skip = 0;
    for (let i = 0; i < job.senders.length; i++) {
      const s = job.senders[i]!;
      if (s >= r.start && s < r.end) {
        idx.push(i);
        if (i < sentBefore) skip++;
      }
    }
    if (skip === idx.length) continue; // everything of this range was sent already
    out.push({
      assign: {
        ...job,
        accounts: r,
        offsetsMs: Float64Array.from(idx, (i) => job.offsetsMs[i]!),
        senders: Uint32Array.from(idx, (i) => job.senders[i]!),
        targets: Uint32Array.from(idx, (i) => job.targets[i]!),
      },
      skip,
    });
  }
  return out;
}

/** Max mode: `job`'s sender range split into at most `parts` whole sub-ranges, each with its share of maxInFlight. */
export function splitRange(job: Assign, parts: number): Assign[] {
  const { start, end } = job.accounts;
  const span = end - start;
  return beaconRanges(span, Math.max(1, Math.min(parts, span))).map((r) => ({
    ...job,
    accounts: { start: r.start + start, end: r.end + start },
    offsetsMs: new Float64Array(0),
    senders: new Uint32Array(0),
    targets: new Uint32Array(0),
    maxInFlight: Math.max(1, Math.floor((job.maxInFlight * (r.end - r.start)) / span)),
  }));
}
