/** Synthetic beacon reports for the overseer-merge benchmarks (harness, distributed). */
import { IntervalRecorder, type EncodedInterval } from '../../src/harness/histogram.js';
import type { Rng } from '../../src/harness/rng.js';

/** One beacon-second of `records` latencies: lognormal around 20 ms with a 1% tail up to 1 s; schedule lag mostly under 2 ms. */
export function beaconSecond(rng: Rng, records: number): EncodedInterval {
  const r = new IntervalRecorder();
  for (let i = 0; i < records; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
    const latency = rng.nextFloat() < 0.01 ? 100 + 900 * rng.nextFloat() : 20 * Math.exp(0.5 * z);
    const lag = -Math.log(1 - rng.nextFloat()) * 0.8;
    const intended = 1_000_000 + i;
    r.recordLag(lag);
    r.recordCommit(intended, intended + lag, intended + latency + lag);
  }
  return r.snapshot();
}
