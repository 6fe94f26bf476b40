/**
 * Recovery time of a fault, from a run's per-second committed counts. Pure.
 *
 * - The level before: the median committed TPS of the (up to) BASELINE_SEC whole seconds that
 *   end at or before the fault's start (with an even count, the mean of the middle two). A
 *   median, not a mean: an earlier fault's catch-up burst in that window would inflate a mean
 *   past anything the run can come back to, and recovery would never be found.
 * - Recovered: the first whole second starting at or after the fault's end whose committed
 *   count is within 10% of that level (|tps − before| ≤ 0.1 × before).
 * - Recovery time: that second's start minus the fault's end, in seconds (0 when the first
 *   second after the end is already back). null when it never comes back before the series
 *   ends, or when there is no level before (a fault at the very start, or nothing committed).
 */

export const BASELINE_SEC = 5;
export const RECOVERY_TOLERANCE = 0.1;

export interface RecoveryInput {
  /** committed[s] = transactions committed in second s since the run's start. */
  committed: readonly number[];
  startSec: number;
  endSec: number;
}

export interface Recovery {
  /** Median committed TPS before the fault; null without a baseline. */
  beforeTps: number | null;
  /** Seconds from the fault's end until committed TPS is back within 10%; null if never. */
  recoverySec: number | null;
  /** The second it was back in. */
  recoveredAtSec: number | null;
}

export function recoveryOf({ committed, startSec, endSec }: RecoveryInput): Recovery {
  const last = Math.floor(startSec); // seconds [first, last) end at or before the start
  const first = Math.max(0, last - BASELINE_SEC);
  const base = committed.slice(first, last);
  const beforeTps = base.length ? median(base) : null;
  if (beforeTps === null || beforeTps <= 0) return { beforeTps, recoverySec: null, recoveredAtSec: null };
  for (let s = Math.ceil(endSec); s < committed.length; s++) {
    if (Math.abs(committed[s]! - beforeTps) <= RECOVERY_TOLERANCE * beforeTps) {
      return { beforeTps, recoverySec: +(s - endSec).toFixed(3), recoveredAtSec: s };
    }
  }
  return { beforeTps, recoverySec: null, recoveredAtSec: null };
}

function median(xs: readonly number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const mid = a.length >> 1;
  return a.length % 2 ? a[mid]! : (a[mid - 1]! + a[mid]!) / 2;
}
