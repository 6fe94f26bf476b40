/**
 * Shard allocation over the 2^64 key space, even and stable.
 *
 * The space is cut into SLOT_COUNT equal slots. Each member owns a set of
 * slots; counts differ by at most one (even). When membership changes only
 * the slots that must move do (stable): a leaving member's slots go to the
 * members below their share, and a joining member takes slots only from
 * members above theirs, each giving up the end of its ranges. Slots a member
 * owns are reported as merged contiguous ranges `[start, end)`.
 *
 * Overlap: with `overlap` = f (0 ≤ f < 1) each member also covers, after each
 * of its ranges, f × that range's length of the following key space, so about
 * a fraction f of every member's share is held by two members.
 */
export const SLOT_COUNT = 4096;
export const KEY_SPACE = 1n << 64n;
const SLOT_SIZE = KEY_SPACE / BigInt(SLOT_COUNT);

export interface KeyRange {
  /** Inclusive start, decimal string of a u64. */
  start: string;
  /** Exclusive end, decimal string (may be 2^64). */
  end: string;
}

export interface Allocation {
  /** Primary ranges per member. */
  ranges: Map<string, KeyRange[]>;
  /** Ranges including overlap per member. */
  covered: Map<string, KeyRange[]>;
  /** Slot owner by slot index (for tests and diagnostics). */
  slots: (string | undefined)[];
}

/**
 * Reassigns `previous` slot owners to `members` (ordered by join), moving as
 * few slots as possible. Returns the new owner of every slot.
 */
export function rebalance(previous: readonly (string | undefined)[], members: readonly string[]): (string | undefined)[] {
  const slots: (string | undefined)[] = Array.from({ length: SLOT_COUNT }, (_, i) => previous[i]);
  if (members.length === 0) return slots.fill(undefined);
  const alive = new Set(members);
  const n = members.length;
  const base = Math.floor(SLOT_COUNT / n);
  const extra = SLOT_COUNT % n;
  // Earlier members get the extra slot, so the targets are deterministic.
  const target = new Map(members.map((m, i) => [m, base + (i < extra ? 1 : 0)]));
  const count = new Map(members.map((m) => [m, 0]));
  for (let i = 0; i < SLOT_COUNT; i++) {
    const o = slots[i];
    if (o === undefined || !alive.has(o)) slots[i] = undefined;
    else count.set(o, count.get(o)! + 1);
  }
  // Members above target give up the last slots of their ranges.
  for (let i = SLOT_COUNT - 1; i >= 0; i--) {
    const o = slots[i];
    if (o !== undefined && count.get(o)! > target.get(o)!) {
      slots[i] = undefined;
      count.set(o, count.get(o)! - 1);
    }
  }
  // Free slots go to a neighbour below target if there is one (keeps ranges contiguous), else to the neediest member.
  const needy = (): string | undefined => {
    let best: string | undefined;
    let gap = 0;
    for (const m of members) {
      const g = target.get(m)! - count.get(m)!;
      if (g > gap) [best, gap] = [m, g];
    }
    return best;
  };
  for (let i = 0; i < SLOT_COUNT; i++) {
    if (slots[i] !== undefined) continue;
    const prev = i > 0 ? slots[i - 1] : undefined;
    const owner = prev !== undefined && count.get(prev)! < target.get(prev)! ? prev : needy();
    if (owner === undefined) break;
    slots[i] = owner;
    count.set(owner, count.get(owner)! + 1);
  }
  return slots;
}

export function allocationOf(slots: readonly (string | undefined)[], overlap: number): Allocation {
  const runs = new Map<string, [number, number][]>();
  for (let i = 0; i < SLOT_COUNT; ) {
    const o = slots[i];
    let j = i + 1;
    while (j < SLOT_COUNT && slots[j] === o) j++;
    if (o !== undefined) {
      let list = runs.get(o);
      if (!list) runs.set(o, (list = []));
      list.push([i, j]);
    }
    i = j;
  }
  const ranges = new Map<string, KeyRange[]>();
  const covered = new Map<string, KeyRange[]>();
  for (const [m, list] of runs) {
    ranges.set(m, list.map(([a, b]) => ({ start: (BigInt(a) * SLOT_SIZE).toString(), end: (BigInt(b) * SLOT_SIZE).toString() })));
    const cov: KeyRange[] = [];
    for (const [a, b] of list) {
      const start = BigInt(a) * SLOT_SIZE;
      const end = BigInt(b) * SLOT_SIZE;
      const ext = (BigInt(Math.round(overlap * 1_000_000)) * (end - start)) / 1_000_000n;
      const stop = end + ext;
      if (stop <= KEY_SPACE) cov.push({ start: start.toString(), end: stop.toString() });
      else {
        cov.push({ start: start.toString(), end: KEY_SPACE.toString() });
        cov.push({ start: '0', end: (stop - KEY_SPACE).toString() });
      }
    }
    covered.set(m, cov);
  }
  return { ranges, covered, slots: [...slots] };
}

/** True if `key` (a u64) falls in one of the ranges. */
export function inRanges(key: bigint, ranges: readonly KeyRange[]): boolean {
  return ranges.some((r) => key >= BigInt(r.start) && key < BigInt(r.end));
}
