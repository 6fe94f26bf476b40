/**
 * Clock offset between a beacon and the overseer, NTP-style: the beacon sends
 * its time t0, the overseer answers with its time t1, the beacon notes t3 on
 * receipt. Assuming the request and the answer take equally long,
 * offset = t1 − (t0 + t3) / 2 (overseer minus beacon), and the true offset lies
 * within ± (t3 − t0) / 2 of it. Over several round trips the sample with the
 * smallest round trip is kept: it has the tightest bound.
 */
export interface ClockSample {
  t0: number;
  t1: number;
  t3: number;
}

export interface ClockOffset {
  /** Overseer clock minus beacon clock, ms: overseer time = beacon time + offsetMs. */
  offsetMs: number;
  /** Half the round trip of the kept sample: the offset is exact within ± this. */
  uncertaintyMs: number;
  rounds: number;
}

export function bestOffset(samples: readonly ClockSample[]): ClockOffset {
  if (samples.length === 0) throw new RangeError('no clock samples');
  let best = samples[0]!;
  for (const s of samples) if (s.t3 - s.t0 < best.t3 - best.t0) best = s;
  return { offsetMs: best.t1 - (best.t0 + best.t3) / 2, uncertaintyMs: Math.max(0, best.t3 - best.t0) / 2, rounds: samples.length };
}

/** Runs `rounds` probes one after another (`probe` returns the overseer's time for the beacon's t0). */
export async function measureOffset(now: () => number, probe: (t0: number) => Promise<number>, rounds: number): Promise<ClockOffset> {
  const samples: ClockSample[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = now();
    const t1 = await probe(t0);
    samples.push({ t0, t1, t3: now() });
  }
  return bestOffset(samples);
}
