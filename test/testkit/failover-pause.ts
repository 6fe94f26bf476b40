/**
 * The commit pause around a killed sequencer leader, from the blocks' cut times (the leader's clock; every
 * process shares this machine's). Used by the failover e2e and `bench --only sequencer-failover`.
 */

/**
 * Around a kill at `killedAtMs`: the longest gap between consecutive blocks from 1 s before the kill through
 * the first block cut after it, and how long after the kill that first block was cut. A block cut after a
 * SIGKILL is the next leader's, so until one is seen commits have not resumed, whatever the dead leader's
 * last blocks still bring in (`resumedAfterMs` is NaN then).
 */
export function pauseAround(blockTimesMs: readonly number[], killedAtMs: number): { gapMs: number; resumedAfterMs: number } {
  const fromMs = killedAtMs - 1000;
  let gapMs = 0;
  for (let i = 1; i < blockTimesMs.length; i++) {
    const t = blockTimesMs[i]!;
    if (t < fromMs) continue;
    gapMs = Math.max(gapMs, t - Math.max(blockTimesMs[i - 1]!, fromMs));
    if (t > killedAtMs) return { gapMs, resumedAfterMs: t - killedAtMs };
  }
  return { gapMs, resumedAfterMs: Number.NaN };
}

/** Whether a block cut after `killedAtMs` was seen. */
export const resumedAfter = (blockTimesMs: readonly number[], killedAtMs: number): boolean => blockTimesMs.some((t) => t > killedAtMs);
