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
import { planCursor } from '../harness/plan-stream.js';
import { beaconRanges } from '../harness/workload.js';

export interface JobPart {
  assign: Assign;
  /** Leading entries of `assign` the previous owner sent. */
  skip: number;
  /** Entries of `assign` in all (sent by the previous owner or not). */
  entries: number;
}

/**
 * Splits `job` (whose first `sentBefore` entries were sent) into at most `parts` parts, by
 * account range; parts with nothing left to send are dropped. A described share stays
 * described: each part is the same plan over its sub-range (a beacon walks only its range's
 * entries, in schedule order), so its size does not grow with the run; the plan is walked
 * once here to count each part's entries (no memory per entry). A shipped share's arrays are
 * filtered.
 */
export function splitUnsent(job: Assign, sentBefore: number, parts: number): JobPart[] {
  const { start, end } = job.accounts;
  const ranges = beaconRanges(end - start, Math.max(1, Math.min(parts, end - start))).map((r) => ({ start: r.start + start, end: r.end + start }));
  const total = new Array<number>(ranges.length).fill(0);
  const skip = new Array<number>(ranges.length).fill(0);
  /** The part of a sender: ranges are consecutive and cover [start, end). */
  const partOf = (sender: number): number => {
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (ranges[mid]!.start <= sender) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const cursor = planCursor(job);
  for (let i = 0; cursor.next(); i++) {
    const k = partOf(cursor.sender);
    total[k]!++;
    if (i < sentBefore) skip[k]!++;
  }
  const out: JobPart[] = [];
  ranges.forEach((r, k) => {
    if (skip[k] === total[k]) return; // everything of this range was sent already
    const arrays = job.plan ? { offsetsMs: new Float64Array(0), senders: new Uint32Array(0), targets: new Uint32Array(0) } : shipped(job, r);
    out.push({ assign: { ...job, accounts: r, ...arrays }, skip: skip[k]!, entries: total[k]! });
  });
  return out;
}

/** A shipped share's entries of senders in `r`, in order. */
function shipped(job: Assign, r: { start: number; end: number }): Pick<Assign, 'offsetsMs' | 'senders' | 'targets'> {
  const idx: number[] = [];
  for (let i = 0; i < job.senders.length; i++) if (job.senders[i]! >= r.start && job.senders[i]! < r.end) idx.push(i);
  return {
    offsetsMs: Float64Array.from(idx, (i) => job.offsetsMs[i]!),
    senders: Uint32Array.from(idx, (i) => job.senders[i]!),
    targets: Uint32Array.from(idx, (i) => job.targets[i]!),
  };
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
