/**
 * `tpslab find-max`: the highest offered rate that still meets service levels. A find-max file
 * names a base scenario (open model), the rate field and the search bounds, and the service
 * levels (threshold expressions, plus committed ≥ a ratio of offered). Every probe is an
 * ordinary stored run tagged with the search's id (docs/experiments.md).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { preciseClock, type Clock } from '../clock.js';
import { TpslabError } from '../errors.js';
import { thresholdMetrics } from '../harness/overseer.js';
import type { Scenario } from '../harness/scenario.js';
import { evaluateThresholds, parseThreshold } from '../harness/thresholds.js';
import type { FindMaxAnswer } from '../web/experiment-contract.js';
import { experimentError, loadBase, parseWith, readYamlFile, scenarioWith, type BaseScenario } from './experiment-file.js';
import { ExperimentStore, type RunFigures } from './experiment-store.js';
import { getField, parseFieldPath, type PathSegment } from './field-path.js';
import { searchMax, type SearchResult } from './find-max-search.js';
import { runTagged, type ExperimentRunOptions } from './run-cell.js';

export const FindMaxFileSchema = z.strictObject({
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  base: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
  rate: z
    .strictObject({
      field: z.string().default('load.stages[0].ratePerSec'),
      startPerSec: z.number().gt(0),
      stepFactor: z.number().gt(1).default(2),
      maxPerSec: z.number().gt(0),
      resolutionPerSec: z.number().gt(0).optional(),
    })
    .refine((r) => r.maxPerSec >= r.startPerSec, { message: 'maxPerSec must be >= startPerSec', path: ['maxPerSec'] }),
  slo: z.array(z.string()).default(['latency.p99 < 500ms', 'lost == 0']),
  minCommittedRatio: z.number().gt(0).max(1).default(0.99),
  maxProbes: z.int().min(2).max(100).default(12),
  maxTotalSec: z.number().gt(0).default(1800),
});
export type FindMaxFile = z.output<typeof FindMaxFileSchema>;

export interface FindMaxPlan {
  name: string;
  description?: string;
  source: string;
  field: string;
  path: PathSegment[];
  base: BaseScenario;
  spec: FindMaxFile;
  results?: string;
}

export interface FindMaxOverrides {
  results?: string;
  maxProbes?: number;
  maxTotalSec?: number;
}

/** Reads and checks a find-max file: the scenario at the start and the maximum rate must both be valid. */
export async function loadFindMax(file: string, o: FindMaxOverrides = {}): Promise<FindMaxPlan> {
  const spec = parseWith(FindMaxFileSchema, await readYamlFile(file, 'find-max file'), file);
  if (o.maxProbes !== undefined) spec.maxProbes = o.maxProbes;
  if (o.maxTotalSec !== undefined) spec.maxTotalSec = o.maxTotalSec;
  const path = parseFieldPath(spec.rate.field);
  if (!path) throw experimentError(`${file}: rate.field "${spec.rate.field}": not a field path, e.g. "load.stages[0].ratePerSec"`);
  spec.slo.forEach((expr, i) => {
    try {
      parseThreshold(expr, i);
    } catch (err) {
      throw experimentError(`${file}: slo[${i}]: ${(err as Error).message.replace(/^thresholds\[\d+\]: /, '')}`);
    }
  });
  const base = await loadBase(spec.base, file);
  if (typeof getField(base.input, path) !== 'number') throw experimentError(`${file}: rate.field "${spec.rate.field}" is not a number in the base scenario; point it at a rate, e.g. the ratePerSec of a constant stage`);
  const plan: FindMaxPlan = { name: spec.name ?? 'find-max', ...(spec.description ? { description: spec.description } : {}), source: file, field: spec.rate.field, path, base, spec, ...(o.results ? { results: o.results } : {}) };
  const problems: string[] = [];
  for (const rate of [spec.rate.startPerSec, spec.rate.maxPerSec]) {
    const s = probeScenario(plan, rate);
    if ('problem' in s) problems.push(s.problem);
    else if (s.load.mode !== 'open') problems.push(`the base scenario's load.mode is "${s.load.mode}"; find-max needs the open model, where the rate is offered whatever the network does`);
  }
  if (problems.length) throw experimentError(`${file}: nothing was run:\n  ${[...new Set(problems)].join('\n  ')}`);
  return plan;
}

/** The base at `rate`, judged on the service levels (they replace its thresholds). */
export function probeScenario(plan: FindMaxPlan, rate: number): Scenario | { problem: string } {
  const values = [
    { path: plan.path, value: rate },
    { path: ['thresholds'], value: plan.spec.slo },
    ...(plan.results ? [{ path: ['results', 'db'], value: plan.results }] : []),
  ];
  return scenarioWith(plan.base, values, `probe at ${rate} tx/s (${plan.field}=${rate})`);
}

/** Which service levels a run missed; empty when it met them all. */
export function missedLevels(slo: readonly string[], minRatio: number, f: RunFigures, metrics: Record<string, number>): string[] {
  const missed = evaluateThresholds(slo.map((e, i) => parseThreshold(e, i)), metrics).filter((v) => !v.passed).map((v) => `${v.threshold} (was ${v.actual === undefined ? 'n/a' : +v.actual.toFixed(2)})`);
  const ratio = f.offered > 0 ? f.committed / f.offered : 0;
  if (ratio < minRatio) missed.push(`committed >= ${+(minRatio * 100).toFixed(2)}% of offered (was ${+(ratio * 100).toFixed(2)}%: ${f.committed} of ${f.offered})`);
  return missed;
}

export interface FindMaxResult {
  searchId: string;
  dbPath: string;
  answer: FindMaxAnswer;
  /** Absent when the search was interrupted (answer.reason says how far it got). */
  search?: SearchResult;
}

/** Thrown out of the search when it is interrupted (options.signal). */
class Interrupted extends Error {}

export async function runFindMax(plan: FindMaxPlan, o: ExperimentRunOptions = {}): Promise<FindMaxResult> {
  const log = o.log ?? (() => {});
  const clock: Clock = o.clock ?? preciseClock;
  const first = probeScenario(plan, plan.spec.rate.startPerSec) as Scenario;
  const dbPath = resolve(first.results.db);
  const store = ExperimentStore.open(dbPath, { clock });
  try {
    const r = plan.spec.rate;
    const searchId = store.create('find-max', plan.name, { source: plan.source, axes: [{ path: 'rate', values: [] }], field: plan.field, rate: r, slo: plan.spec.slo, minCommittedRatio: plan.spec.minCommittedRatio, ...(plan.description ? { description: plan.description } : {}) });
    log(`find-max ${searchId} (${plan.name}): ${plan.field} from ${r.startPerSec} up to ${r.maxPerSec} tx/s; service levels: ${plan.spec.slo.join(', ')}, committed >= ${plan.spec.minCommittedRatio * 100}% of offered; results in ${dbPath}`);
    let seq = 0;
    const seen: { rate: number; passed: boolean }[] = [];
    const searching = searchMax(
      async (rate, phase) => {
        if (o.signal?.aborted) throw new Interrupted();
        const s = probeScenario(plan, rate);
        if ('problem' in s) throw new TpslabError('TPSLAB_E_EXPERIMENT', s.problem);
        log(`probe ${seq + 1} (${phase}): ${rate} tx/s`);
        const { row, result } = await runTagged(store, searchId, seq, { rate }, s, o);
        if (row.status === 'aborted') {
          store.addRun(searchId, { ...row, status: `aborted (${phase})` });
          log(`probe ${seq + 1}: ${rate} tx/s aborted`);
          seq++;
          throw new Interrupted();
        }
        const missed = result && row.figures ? missedLevels(plan.spec.slo, plan.spec.minCommittedRatio, row.figures, thresholdMetrics(result.summary)) : [row.note ?? 'the run failed'];
        const passed = missed.length === 0;
        store.addRun(searchId, { ...row, status: `${row.status === 'failed' ? 'failed' : passed ? 'met' : 'missed'} (${phase})`, ...(missed.length ? { note: missed.join('; ') } : {}) });
        log(`probe ${seq + 1}: ${rate} tx/s ${passed ? 'met the service levels' : `missed: ${missed.join('; ')}`}${row.figures ? ` (committed ${row.figures.tps.toFixed(1)} tx/s, p99 ${row.figures.p99Ms.toFixed(1)} ms, lost ${row.figures.lost})` : ''}`);
        seq++;
        if (phase !== 'confirm') seen.push({ rate, passed });
        return passed;
      },
      {
        startPerSec: r.startPerSec,
        stepFactor: r.stepFactor,
        maxPerSec: r.maxPerSec,
        resolutionPerSec: r.resolutionPerSec ?? Math.max(1, r.startPerSec / 10),
        maxProbes: plan.spec.maxProbes,
        maxTotalMs: plan.spec.maxTotalSec * 1000,
        clock,
      },
    );
    const slo = [...plan.spec.slo, `committed >= ${plan.spec.minCommittedRatio * 100}% of offered`];
    let search: SearchResult;
    try {
      search = await searching;
    } catch (err) {
      if (!(err instanceof Interrupted)) throw err;
      // What the probes so far showed, unconfirmed: the highest pass below the lowest miss.
      const missedAt = seen.filter((p) => !p.passed).map((p) => p.rate);
      const failedAtPerSec = missedAt.length ? Math.min(...missedAt) : null;
      const passes = seen.filter((p) => p.passed && (failedAtPerSec === null || p.rate < failedAtPerSec)).map((p) => p.rate);
      const ratePerSec = passes.length ? Math.max(...passes) : null;
      const reason = `interrupted by ${String(o.signal?.reason)} after ${seq} probe${seq === 1 ? '' : 's'}${ratePerSec === null ? '' : `; ${ratePerSec} tx/s met the service levels but was not confirmed`}`;
      log(reason);
      const answer: FindMaxAnswer = { ratePerSec, failedAtPerSec, confirmed: false, reason, slo };
      store.finish(searchId, { answer, interrupted: reason });
      return { searchId, dbPath, answer };
    }
    const answer: FindMaxAnswer = { ratePerSec: search.ratePerSec, failedAtPerSec: search.failedAtPerSec, confirmed: search.confirmed, reason: search.reason, slo };
    store.finish(searchId, { answer });
    return { searchId, dbPath, answer, search };
  } finally {
    store.close();
  }
}
