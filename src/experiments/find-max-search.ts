/**
 * The search behind `tpslab find-max`, apart from any run: step the offered rate up by a
 * factor while probes meet the service levels, bisect between the last pass and the first
 * fail, then confirm the answer with one more probe (falling back to lower passes if it does
 * not hold). Bounded by a probe count and a time budget. Pure but for `probe` and the clock.
 */
import type { Clock } from '../clock.js';

export interface SearchOptions {
  startPerSec: number;
  /** Multiplies the rate while probes pass (> 1). */
  stepFactor: number;
  maxPerSec: number;
  /** Bisection stops when the first fail is at most this far above the last pass. */
  resolutionPerSec: number;
  /** Probes at most, the confirmation included. */
  maxProbes: number;
  /** Total time at most, ms; a probe is not started when the previous one's length would exceed it. */
  maxTotalMs: number;
  clock: Clock;
}

export interface ProbeVerdict {
  rate: number;
  passed: boolean;
  phase: 'step' | 'bisect' | 'confirm';
}

export interface SearchResult {
  /** The highest rate that passed and held when confirmed; null when none did. */
  ratePerSec: number | null;
  /** The lowest rate that failed, null when none did. */
  failedAtPerSec: number | null;
  confirmed: boolean;
  reason: string;
  probes: ProbeVerdict[];
}

export async function searchMax(probe: (rate: number, phase: ProbeVerdict['phase']) => Promise<boolean>, o: SearchOptions): Promise<SearchResult> {
  const probes: ProbeVerdict[] = [];
  const started = o.clock.now();
  let lastMs = 0;
  const passes: number[] = [];
  let lo: number | null = null;
  let hi: number | null = null;
  let stop: string | undefined;

  /** Room for one more probe, keeping `reserve` for the confirmation. */
  const room = (reserve: number): string | undefined => {
    if (probes.length + reserve >= o.maxProbes) return `stopped after ${probes.length} probes (--max-probes ${o.maxProbes})`;
    if (o.clock.now() - started + lastMs > o.maxTotalMs) return `stopped: another probe would pass the time budget (--max-time ${Math.round(o.maxTotalMs / 1000)} s)`;
    return undefined;
  };
  const run = async (rate: number, phase: ProbeVerdict['phase']): Promise<boolean> => {
    const t0 = o.clock.now();
    const passed = await probe(rate, phase);
    lastMs = o.clock.now() - t0;
    probes.push({ rate, passed, phase });
    if (passed && phase !== 'confirm') passes.push(rate);
    return passed;
  };

  // Step up.
  for (let rate = Math.min(o.startPerSec, o.maxPerSec); ; rate = Math.min(o.maxPerSec, rate * o.stepFactor)) {
    stop = room(1);
    if (stop) break;
    if (await run(rate, 'step')) {
      lo = rate;
      if (rate >= o.maxPerSec) {
        stop = `every rate up to maxPerSec (${o.maxPerSec}) met the service levels; raise it to search further`;
        break;
      }
    } else {
      hi = rate;
      break;
    }
  }
  if (lo === null && hi !== null) stop = `the start rate (${hi}/s) already misses the service levels; lower startPerSec`;

  // Bisect.
  while (lo !== null && hi !== null && !stop) {
    if (hi - lo <= o.resolutionPerSec) {
      stop = `converged: the knee is between ${lo} and ${hi} tx/s (resolution ${o.resolutionPerSec})`;
      break;
    }
    stop = room(1);
    if (stop) break;
    const mid = lo + Math.max(1, Math.round((hi - lo) / 2));
    if (mid >= hi) {
      stop = `converged: the knee is between ${lo} and ${hi} tx/s`;
      break;
    }
    if (await run(mid, 'bisect')) lo = mid;
    else hi = mid;
  }

  // Confirm: the highest pass below the first fail; if it does not hold, the next lower one.
  let confirmed = false;
  const candidates = [...new Set(passes)].filter((r) => hi === null || r < hi).sort((a, b) => b - a);
  for (const rate of candidates) {
    if (room(0) !== undefined) {
      stop = `${stop ?? ''}; no probe left to confirm ${rate} tx/s`.replace(/^; /, '');
      lo = rate;
      break;
    }
    if (await run(rate, 'confirm')) {
      lo = rate;
      confirmed = true;
      break;
    }
    hi = rate;
    lo = null;
  }
  return { ratePerSec: lo, failedAtPerSec: hi, confirmed, reason: stop ?? 'no probe ran', probes };
}
