/** The observability outputs `tpslab run` can add: Prometheus metrics served during the run, per-second JSON lines, sampled global TPS. */
import { preciseClock } from '../clock.js';
import { TpslabError } from '../errors.js';
import type { RunOutput } from '../harness/outputs.js';
import { JsonlOutput } from '../observability/jsonl-output.js';
import { PrometheusOutput } from '../observability/prometheus-output.js';
import { SampledTps } from '../observability/sampled-tps.js';

export interface ObservabilityOptions {
  metricsPort?: number;
  jsonl?: string;
  sampleNodes?: number;
  sampleIntervalMs?: number;
}

export function parseFraction(name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!(n > 0 && n <= 1)) throw new TpslabError('TPSLAB_E_USAGE', `${name} must be a fraction of the nodes, more than 0 and at most 1 (e.g. 0.1), got "${value}"`);
    return n;
  };
}

/** `dbPath`: results.db, where the sampled estimate is stored; `settled()` resolves once it is (before the report is written). */
export async function observabilityOutputs(o: ObservabilityOptions, seed: number, log: (line: string) => void, dbPath?: string): Promise<{ outputs: RunOutput[]; settled(): Promise<void>; close(): Promise<void> }> {
  const prom = o.metricsPort !== undefined ? new PrometheusOutput() : undefined;
  if (prom) process.stderr.write(`metrics: ${await prom.listen(o.metricsPort!)}\n`);
  const jsonl = o.jsonl ? new JsonlOutput(o.jsonl) : undefined;
  const sampled = o.sampleNodes !== undefined ? new SampledTps({ fraction: o.sampleNodes, intervalMs: o.sampleIntervalMs ?? 2000, seed, clock: preciseClock, log, ...(dbPath ? { dbPath } : {}) }) : undefined;
  return {
    outputs: [prom?.output, jsonl?.output, sampled?.output].filter((x): x is RunOutput => x !== undefined),
    settled: async () => void (await sampled?.done()),
    close: async () => {
      await sampled?.done();
      await prom?.close();
      await jsonl?.close();
    },
  };
}
