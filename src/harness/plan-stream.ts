/**
 * A plan descriptor and the lazy walk over it. Instead of the whole plan (16 bytes per
 * transaction), the overseer sends each beacon the parameters that generate it: the stages,
 * arrival, seed, account count, contention and topics. The beacon walks the run's global,
 * deterministic sequence one transaction at a time and keeps those whose sender is in its
 * account range: the same transactions, in the same order, as `planShares` gives it, in O(1)
 * memory (every beacon walks the whole sequence: O(run) time, tens of ns per transaction).
 */
import { z } from 'zod';
import { OpenOffsets, type Stage } from './schedule.js';
import { WorkloadDraws, type Contention } from './workload.js';

export const PlanDescriptorSchema = z.strictObject({
  kind: z.literal('open'),
  /** The open model's stages and arrival process (validated again when walked). */
  stages: z.array(z.record(z.string(), z.unknown())),
  arrival: z.enum(['uniform', 'poisson']),
  seed: z.number(),
  /** Accounts in the whole run (senders and recipients are drawn over all of them). */
  accounts: z.number().int().min(2),
  contention: z.record(z.string(), z.unknown()),
  /** Message workload: topics per message (targets are topic indices); absent for transfers. */
  topics: z.number().int().positive().optional(),
  /** Transactions in the whole run (all beacons). */
  txCount: z.number().int().nonnegative(),
});
export type PlanDescriptor = z.infer<typeof PlanDescriptorSchema>;

/** One beacon's share of a described plan, generated on demand. */
export class PlanStream {
  /** The current transaction (after `next()` returned true). */
  offsetMs = 0;
  sender = 0;
  target = 0;
  private readonly offsets: OpenOffsets;
  private readonly draws: WorkloadDraws;
  private readonly messages: boolean;

  constructor(
    d: PlanDescriptor,
    /** Keep only senders in [start, end). */
    private readonly range: { start: number; end: number },
  ) {
    this.offsets = new OpenOffsets(d.stages as unknown as Stage[], { arrival: d.arrival, seed: d.seed });
    this.messages = d.topics !== undefined;
    this.draws = new WorkloadDraws({ accounts: d.accounts, contention: d.contention as unknown as Contention, seed: d.seed, ...(d.topics !== undefined ? { topics: d.topics } : {}) });
  }

  /** Advances to this share's next transaction; false when the plan is over. */
  next(): boolean {
    const { start, end } = this.range;
    for (;;) {
      const offsetMs = this.offsets.next();
      if (Number.isNaN(offsetMs)) return false;
      const d = this.draws;
      d.next();
      if (d.sender < start || d.sender >= end) continue;
      this.offsetMs = offsetMs;
      this.sender = d.sender;
      this.target = this.messages ? d.topic : d.recipient;
      return true;
    }
  }

  /** Transactions of the whole run walked by `nextWithin` so far. */
  walked = 0;

  /**
   * `next()`, walking at most `steps` transactions of the whole run (`walked` counts them): undefined when
   * they ran out first, to be called again (the overseer walks a share in slices, between turns of its
   * event loop). `next()` itself stays as it is: it is the beacon's hot path.
   */
  nextWithin(steps: number): boolean | undefined {
    const { start, end } = this.range;
    for (let n = 0; n < steps; n++) {
      const offsetMs = this.offsets.next();
      if (Number.isNaN(offsetMs)) return false;
      this.walked++;
      const d = this.draws;
      d.next();
      if (d.sender < start || d.sender >= end) continue;
      this.offsetMs = offsetMs;
      this.sender = d.sender;
      this.target = this.messages ? d.topic : d.recipient;
      return true;
    }
    return undefined;
  }
}

/** Walks a whole share into arrays (tests, and reassigning a described share): 16 bytes per transaction. */
export function materialize(d: PlanDescriptor, range: { start: number; end: number }): { offsetsMs: Float64Array; senders: Uint32Array; targets: Uint32Array } {
  const offsets: number[] = [];
  const senders: number[] = [];
  const targets: number[] = [];
  const p = new PlanStream(d, range);
  while (p.next()) {
    offsets.push(p.offsetMs);
    senders.push(p.sender);
    targets.push(p.target);
  }
  return { offsetsMs: Float64Array.from(offsets), senders: Uint32Array.from(senders), targets: Uint32Array.from(targets) };
}

/** What a beacon walks: its share, described or shipped. */
export interface PlanCursor {
  offsetMs: number;
  sender: number;
  target: number;
  next(): boolean;
}

/** A shipped share (a trace, a reassigned part, a test's plan) walked like a described one. */
class ArrayCursor implements PlanCursor {
  offsetMs = 0;
  sender = 0;
  target = 0;
  private k = 0;

  constructor(private readonly a: { offsetsMs: Float64Array; senders: Uint32Array; targets: Uint32Array }) {}

  next(): boolean {
    const k = this.k;
    if (k >= this.a.offsetsMs.length) return false;
    this.offsetMs = this.a.offsetsMs[k]!;
    this.sender = this.a.senders[k]!;
    this.target = this.a.targets[k]!;
    this.k = k + 1;
    return true;
  }
}

/** The cursor over an assignment's share: generated from `plan` when described, else its arrays. */
export function planCursor(a: { plan?: PlanDescriptor | undefined; accounts: { start: number; end: number }; offsetsMs: Float64Array; senders: Uint32Array; targets: Uint32Array }): PlanCursor {
  return a.plan ? new PlanStream(a.plan, a.accounts) : new ArrayCursor(a);
}
