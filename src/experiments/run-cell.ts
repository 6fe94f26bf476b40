/**
 * One run of an experiment (a sweep cell, a find-max probe): the overseer's runScenario, its
 * figures of merit, and the row that tags it in results.db. A run that fails is recorded
 * as failed and the experiment goes on; an interrupted one (options.signal) as aborted.
 */
import { resolve } from 'node:path';
import { preciseClock, type Clock } from '../clock.js';
import { faultRunOptions } from '../faults/injector.js';
import { asTpslabError } from '../errors.js';
import { runScenario, type RunResult } from '../harness/overseer.js';
import { fanOut, type RunOutput } from '../harness/outputs.js';
import { schedule } from '../harness/plan.js';
import type { Scenario } from '../harness/scenario.js';
import type { ExperimentRun, ExperimentStore, RunFigures } from './experiment-store.js';

export interface ExperimentRunOptions {
  log?: (line: string) => void;
  clock?: Clock;
  /** More outputs for every run (a progress line, Prometheus…). */
  outputs?: RunOutput[];
  /** Runs one scenario; the overseer unless given. */
  run?: (s: Scenario, hooks: RunOutput, clock?: Clock) => Promise<RunResult>;
  /**
   * Aborting (Ctrl-C) stops the run under way, which is stored as `aborted`, and starts no
   * other; `signal.reason` names the cause ("SIGINT").
   */
  signal?: AbortSignal;
}

/** How many transactions the scenario offers: its schedule's length (open and trace), or undefined (max mode). */
export async function offeredCount(s: Scenario): Promise<number | undefined> {
  if (s.load.mode === 'max') return undefined;
  return (await schedule(s)).length;
}

export function figuresOf(r: RunResult, offered: number | undefined): RunFigures {
  const s = r.summary;
  return { tps: s.tps.avg, p99Ms: s.latency.p99Ms, offered: offered ?? s.sent, sent: s.sent, committed: s.committed, failed: s.failed, lost: s.lost };
}

export interface CellOutcome {
  row: ExperimentRun;
  result?: RunResult;
}

/** Runs `s`, stores its tag row as `seq` of experiment `experimentId`, and returns both. */
export async function runTagged(store: ExperimentStore, experimentId: string, seq: number, params: Record<string, unknown>, s: Scenario, o: ExperimentRunOptions): Promise<CellOutcome> {
  const log = o.log ?? (() => {});
  const run = o.run ?? ((sc, hooks, clock) => runScenario(sc, hooks, { ...faultRunOptions(sc, resolve(sc.results.db), clock ?? preciseClock), ...(clock ? { clock } : {}), ...(o.signal ? { signal: o.signal } : {}) }));
  let runId: string | undefined;
  const hooks = fanOut([{ log, created: (id) => void (runId = id) }, ...(o.outputs ?? [])]);
  const offered = await offeredCount(s);
  try {
    const result = await run(s, hooks, o.clock);
    const row: ExperimentRun = { seq, runId: result.runId, params, status: result.status, figures: figuresOf(result, offered) };
    store.addRun(experimentId, row);
    return { row, result };
  } catch (err) {
    const e = asTpslabError(err);
    log(`run failed: ${e.code}: ${e.message}`);
    const row: ExperimentRun = { seq, ...(runId ? { runId } : {}), params, status: e.code === 'TPSLAB_E_ABORTED' ? 'aborted' : 'failed', note: `${e.code}: ${e.message}` };
    store.addRun(experimentId, row);
    return { row };
  }
}
