/**
 * A missing beacon's unsent work, split among the beacons left. Pure (the overseer's
 * walk only yields to the event loop between slices).
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
import { PlanStream } from '../harness/plan-stream.js';
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
 * filtered. Walks in one go: the overseer uses `splitUnsentInSlices`.
 */
export function splitUnsent(job: Assign, sentBefore: number, parts: number): JobPart[] {
  const w = new UnsentWalk(job, sentBefore, parts);
  w.walk(Number.POSITIVE_INFINITY);
  return w.parts();
}

/** Transactions walked between two turns of the event loop by `splitUnsentInSlices`: about 7–20 ms at 0.13–0.4 µs each. */
export const SPLIT_STEPS_PER_TURN = 50_000;

/**
 * `splitUnsent` without holding the event loop: a described share is walked over the whole run's
 * sequence (an 86 M-transaction run: 11–35 s at 0.13–0.4 µs a step), so the walk goes in slices of `stepsPerTurn`
 * transactions with a turn of the event loop (setImmediate) between them, and heartbeats, reports and
 * liveness checks are handled meanwhile. The same parts as `splitUnsent`; undefined once `cancelled()`
 * says so (checked between slices).
 */
export async function splitUnsentInSlices(job: Assign, sentBefore: number, parts: number, o: { stepsPerTurn?: number; cancelled?: () => boolean } = {}): Promise<JobPart[] | undefined> {
  const w = new UnsentWalk(job, sentBefore, parts);
  const steps = o.stepsPerTurn ?? SPLIT_STEPS_PER_TURN;
  while (!w.walk(steps)) {
    await new Promise((r) => setImmediate(r));
    if (o.cancelled?.()) return undefined;
  }
  return w.parts();
}

/** The walk behind `splitUnsent`: counts, per part, a share's entries and those sent, a slice at a time. */
class UnsentWalk {
  private readonly ranges: { start: number; end: number }[];
  private readonly total: number[];
  private readonly skip: number[];
  /** Described: the share over the whole run's sequence. */
  private readonly stream: PlanStream | undefined;
  /** Entries of the share seen so far. */
  private i = 0;

  constructor(
    private readonly job: Assign,
    private readonly sentBefore: number,
    parts: number,
  ) {
    const { start, end } = job.accounts;
    this.ranges = beaconRanges(end - start, Math.max(1, Math.min(parts, end - start))).map((r) => ({ start: r.start + start, end: r.end + start }));
    this.total = new Array<number>(this.ranges.length).fill(0);
    this.skip = new Array<number>(this.ranges.length).fill(0);
    this.stream = job.plan ? new PlanStream(job.plan, job.accounts) : undefined;
  }

  /** The part of a sender: ranges are consecutive and cover [start, end). */
  private partOf(sender: number): number {
    const ranges = this.ranges;
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (ranges[mid]!.start <= sender) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private count(sender: number): void {
    const k = this.partOf(sender);
    this.total[k]!++;
    if (this.i++ < this.sentBefore) this.skip[k]!++;
  }

  /** Walks at most `steps` transactions (of the whole run when described, of the share when shipped); true once over. */
  walk(steps: number): boolean {
    const p = this.stream;
    if (!p) {
      const senders = this.job.senders;
      const stop = Math.min(senders.length, this.i + steps);
      while (this.i < stop) this.count(senders[this.i]!);
      return this.i >= senders.length;
    }
    const budget = p.walked + steps;
    for (;;) {
      const left = budget - p.walked;
      if (left <= 0) return false;
      const found = p.nextWithin(left);
      if (found === undefined) return false;
      if (!found) return true;
      this.count(p.sender);
    }
  }

  parts(): JobPart[] {
    const job = this.job;
    const out: JobPart[] = [];
    this.ranges.forEach((r, k) => {
      if (this.skip[k] === this.total[k]) return; // everything of this range was sent already
      const arrays = job.plan ? { offsetsMs: new Float64Array(0), senders: new Uint32Array(0), targets: new Uint32Array(0) } : shipped(job, r);
      out.push({ assign: { ...job, accounts: r, ...arrays }, skip: this.skip[k]!, entries: this.total[k]! });
    });
    return out;
  }
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
