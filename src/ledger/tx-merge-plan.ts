/**
 * Which runs of the transaction index (tx-index.ts) to merge next, and where the output goes: size tiers
 * of FANOUT runs, consecutive so the runs stay oldest first.
 */
import type { RunInfo } from './tx-runs.js';

/** Runs of one size tier merged into one. */
export const FANOUT = 8;
/** Tier 0 holds runs up to this many ids (about one flush); tier t up to FANOUT^t times that. */
export const TIER_BASE_IDS = 8192;

const tierOf = (count: number): number => (count <= TIER_BASE_IDS ? 0 : Math.floor(Math.log(count / TIER_BASE_IDS) / Math.log(FANOUT)) + 1);

/**
 * What to merge next (oldest first), if anything: FANOUT runs of the lowest tier that has them, with the
 * runs between them if they are not consecutive (a large replay batch between small flushes, say), so the
 * output can take their place in the order. Of the windows of FANOUT runs of that tier, the one with the
 * fewest ids in all.
 */
export function mergeInputs<R extends { info: RunInfo }>(runs: readonly R[]): R[] | undefined {
  const byTier = new Map<number, number[]>();
  runs.forEach((r, i) => {
    const t = tierOf(r.info.count);
    const list = byTier.get(t) ?? [];
    list.push(i);
    byTier.set(t, list);
  });
  const tier = [...byTier.keys()].sort((a, b) => a - b).find((t) => byTier.get(t)!.length >= FANOUT);
  if (tier === undefined) return undefined;
  const at = byTier.get(tier)!;
  let best: [number, number] | undefined;
  let bestIds = Infinity;
  for (let j = 0; j + FANOUT <= at.length; j++) {
    const [from, to] = [at[j]!, at[j + FANOUT - 1]!];
    let ids = 0;
    for (let i = from; i <= to; i++) ids += runs[i]!.info.count;
    if (ids < bestIds) [best, bestIds] = [[from, to], ids];
  }
  return runs.slice(best![0], best![1] + 1);
}

/** `list` with the consecutive entries named in `gone` replaced by `output`, where they were. */
export function inPlaceOf<T extends { name: string }>(list: readonly T[], gone: ReadonlySet<string>, output: T): T[] {
  const at = list.findIndex((r) => gone.has(r.name));
  const kept = list.filter((r) => !gone.has(r.name));
  kept.splice(at < 0 ? kept.length : at, 0, output);
  return kept;
}
