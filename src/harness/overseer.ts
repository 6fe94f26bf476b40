/**
 * The overseer: plans a run, opens and provisions the target through its
 * connector, starts the beacons (the executor, fleet.ts) at one instant,
 * merges their reports (the aggregator), feeds every sample to the outputs
 * (results.db, dashboard, progress line), reconciles, and judges thresholds.
 * It knows no network: everything network-specific is the connector's.
 */
import { resolve } from 'node:path';
import { preciseClock, type Clock } from '../clock.js';
import type { TargetConnector } from '../connectors/contract.js';
import { connectorFor } from '../connectors/index.js';
import { TpslabError, asTpslabError } from '../errors.js';
import type { BeaconClock, Summary } from '../web/contract.js';
import { RunAggregator } from './aggregate.js';
import { collectEnvironment } from './environment.js';
import { LocalFleet, type Fleet, type FleetEvents } from './fleet.js';
import { PROTOCOL_VERSION, type Assign, type BeaconMessage, type DoneMessage } from './messages.js';
import { fanOut, storeOutput, type BeaconFinal, type BeaconTotalsRow, type RunOutput } from './outputs.js';
import { plannedLoadMs, preflight } from './plan.js';
import { countOf } from './text.js';
import { DigestQueries, reconcileRun } from './reconcile-run.js';
import type { Scenario } from './scenario.js';
import { targetRateAt } from './schedule.js';
import { ResultsStore, type RunStatus } from './store.js';
import { evaluateThresholds, type ThresholdResult } from './thresholds.js';

const READY_TIMEOUT_MS = 120_000;
/** After the plan and the confirmation timeout, how long beacons get to finish before they are stopped. */
const FINISH_GRACE_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const PROGRESS_EVERY_MS = 1000;

/** A run's final figures: the shape stored in results.db and shown by reports (src/web/contract.ts). */
export type RunSummary = Summary;

export interface RunResult {
  runId: string;
  dbPath: string;
  status: RunStatus;
  summary: RunSummary;
  thresholds: ThresholdResult[];
  /** Beacons over NATS: each one's name, clock offset to the overseer and first send after the start. */
  clocks?: (BeaconClock & { beacon: number })[];
}

/** What `tpslab run` and tests observe of a run: one output (see outputs.ts). */
export type RunHooks = RunOutput;

export interface RunOptions {
  /** More outputs besides results.db (dashboard, progress line…). */
  outputs?: RunOutput[];
  clock?: Clock;
  /** The executor: local child processes unless given. */
  fleet?: (events: FleetEvents) => Fleet;
  /**
   * Aborting stops the run: beacons are asked to stop and report, the target is torn down, and
   * the run is stored as `aborted` with what was measured (a result with status `aborted`), or,
   * before the load started, TPSLAB_E_ABORTED is thrown after recording it. `signal.reason`
   * names the cause in messages (e.g. "SIGINT").
   */
  signal?: AbortSignal;
  /** Wraps the connector's target (fault injection, src/faults). */
  target?: (t: TargetConnector) => TargetConnector;
}

/** The figures thresholds are judged on (latency in ms). */
export function thresholdMetrics(s: RunSummary): Record<string, number> {
  const m: Record<string, number> = {
    'tps.avg': s.tps.avg,
    'tps.peak': s.tps.peak,
    sent: s.sent,
    committed: s.committed,
    failed: s.failed,
    lost: s.lost,
    late: s.late ?? 0,
    pending: s.pending,
    'schedule_lag.p99': s.scheduleLag.p99Ms,
  };
  for (const [prefix, l] of [['latency', s.latency], ['latency_uncorrected', s.latencyUncorrected]] as const) {
    Object.assign(m, { [`${prefix}.p50`]: l.p50Ms, [`${prefix}.p90`]: l.p90Ms, [`${prefix}.p99`]: l.p99Ms, [`${prefix}.p999`]: l.p999Ms, [`${prefix}.max`]: l.maxMs, [`${prefix}.mean`]: l.meanMs });
  }
  if (s.reconciliation) {
    m['reconciliation.missing'] = s.reconciliation.missing;
    m['reconciliation.unexpected'] = s.reconciliation.unexpected;
  }
  return m;
}

/** Thresholds on reconciliation need a connector that reconciles: refuse before anything starts. */
function checkCapabilities(s: Scenario, target: TargetConnector): void {
  if (target.capabilities.reconcile) return;
  const bad = s.thresholds.filter((t) => t.trim().startsWith('reconciliation.'));
  if (bad.length) throw new TpslabError('TPSLAB_E_CONNECTOR', `the ${target.kind} connector does not reconcile, so thresholds ${bad.map((t) => `"${t}"`).join(', ')} cannot be judged; remove them (docs/connectors.md says what each connector verifies)`);
}

export async function runScenario(s: Scenario, hooks: RunHooks = {}, opts: RunOptions = {}): Promise<RunResult> {
  const clock = opts.clock ?? preciseClock;
  const aborted = (): boolean => opts.signal?.aborted === true;
  const abortError = (): TpslabError => new TpslabError('TPSLAB_E_ABORTED', `run interrupted by ${String(opts.signal?.reason ?? 'an abort')} before the load started; recorded as aborted`);
  const def = connectorFor(s.target.kind);
  const w = s.workload;
  // A replay brings signed transactions: nothing to sign, no fee or amount of the harness's.
  const sign = w.kind === 'replay' ? 'presign' : w.sign;
  const created = def.createTarget(s.target as never, {
    seed: s.seed,
    accounts: s.accounts,
    workload: {
      kind: w.kind,
      amount: w.kind === 'transfer' ? w.amount : 0,
      fee: w.kind === 'replay' ? 0 : w.fee,
      topics: w.kind === 'message' ? w.topics : 0,
      payloadBytes: w.kind === 'message' ? w.payloadBytes : 0,
      sign,
      ...(w.kind === 'replay' ? { replay: { dataset: w.dataset, timing: w.timing, speed: w.speed } } : {}),
    },
  }, clock);
  const target = opts.target ? opts.target(created) : created;
  checkCapabilities(s, target);
  // Everything that can be checked is, before anything starts: a bad input costs nothing.
  await target.preflight?.();
  const { thresholds, plan } = await preflight(s);

  const store = ResultsStore.open(resolve(s.results.db));
  const runId = store.createRun({ name: s.name, scenario: s, environment: await collectEnvironment() });
  const out = fanOut([storeOutput(store, runId), hooks, ...(opts.outputs ?? [])]);
  const log = out.log;
  log(`run ${runId} (${s.name}), results in ${store.path}`);
  out.created(runId);
  let fleet: Fleet | undefined;
  try {
    const info = await target.open(log);
    if (aborted()) throw abortError();
    out.target({ network: info.network, endpoints: info.endpoints, roles: info.roles, kind: target.kind });
    let lastProvisionLogMs = 0;
    await target.provision((p) => {
      const now = clock.now();
      if (now - lastProvisionLogMs < PROGRESS_EVERY_MS && p.done < p.total) return;
      lastProvisionLogMs = now;
      out.progress(`${p.step}: ${p.done} of ${p.total}`);
    }, log);
    if (aborted()) throw abortError();
    const start = await target.cursor();
    log(`planned ${s.load.mode === 'max' ? `max load for ${s.load.durationSec} s` : `${countOf(plan.txCount, 'transaction')} over ${(plan.lastOffsetMs / 1000).toFixed(1)} s`} across ${countOf(s.beacons.count, 'beacon')}`);

    // Only the open model has a target rate; the others report NaN ("-" in the progress line, no target in charts).
    const agg = new RunAggregator(s.beacons.count, (ms) => (s.load.mode === 'open' ? targetRateAt(s.load.stages, ms) : Number.NaN));
    const done = new Map<number, DoneMessage>();
    const latest = new Map<number, BeaconTotalsRow>();
    const ready = new Set<number>();
    let queries: DigestQueries | undefined;
    let failure: TpslabError | undefined;
    let wake: () => void = () => {};
    opts.signal?.addEventListener('abort', () => wake(), { once: true });

    const onMessage = (m: BeaconMessage): void => {
      if (m.type === 'ready') ready.add(m.beacon);
      else if (m.type === 'progress') {
        const range = plan.shares[m.beacon]?.accounts;
        latest.set(m.beacon, { beacon: m.beacon, ...(range ? { accountsStart: range.start, accountsEnd: range.end } : {}), sent: m.sent, committed: m.committed, failed: m.failed, lost: m.lost, late: m.late, retries: m.retries, inFlight: m.inFlight, errors: m.errors });
        out.beacons([...latest.values()].sort((a, b) => a.beacon - b.beacon));
        out.report(m);
        for (const row of agg.add(m)) out.second(row);
      } else if (m.type === 'done') {
        done.set(m.beacon, m);
        for (const row of agg.finished(m.beacon)) out.second(row);
      } else if (m.type === 'digest-answer') queries?.onAnswer(m);
      else if (m.type === 'outcomes') out.outcomes(m.beacon, m.outcomes, (i) => target.accountName?.(i) ?? String(i));
      else if (m.type === 'error') {
        failure ??= new TpslabError('TPSLAB_E_BEACON', `beacon ${m.beacon}: ${m.code} ${m.message}`);
        queries?.fail(failure);
      }
      else log(`beacon ${m.beacon}: ${m.line}`);
      wake();
    };
    const events: FleetEvents = {
      message: onMessage,
      failure: (e) => {
        failure ??= e;
        queries?.fail(e);
        wake();
      },
    };
    fleet = (opts.fleet ?? ((ev) => new LocalFleet(ev)))(events);

    const assigns: Assign[] = plan.shares.map((share) => ({
      v: PROTOCOL_VERSION,
      type: 'assign',
      runId,
      beacon: share.beacon,
      connector: { kind: target.kind, config: target.beaconConfig({ beacon: share.beacon, accounts: share.accounts, endpointOffset: share.beacon, start, beacons: s.beacons.count }) },
      accounts: share.accounts,
      sign,
      mode: s.load.mode === 'max' ? 'max' : 'open',
      offsetsMs: share.offsetsMs,
      senders: share.senders,
      targets: share.targets,
      ...(plan.descriptor ? { plan: plan.descriptor } : {}),
      maxDurationMs: s.load.durationSec * 1000,
      maxInFlight: Math.max(1, Math.floor(s.load.maxInFlight / s.beacons.count)),
      batchMax: s.beacons.batchMax,
      batchDelayMs: s.beacons.batchDelayMs,
      confirmation: s.confirmation,
      collectOutcomes: s.results.outcomes,
    }));
    fleet.launch(assigns);

    let startMs = 0;
    let lastProgressSec = -1;
    const until = async (what: string, cond: () => boolean, deadlineMs: number): Promise<boolean> => {
      while (!cond()) {
        if (failure) throw failure;
        if (clock.now() > deadlineMs || (aborted() && what !== 'stop')) return false;
        await new Promise<void>((r) => {
          wake = r;
          clock.setTimeout(r, PROGRESS_EVERY_MS);
        });
        // The progress line costs ~1 ms (it decodes the last second's histogram): once per whole second
        // of the run (t=0s, 1s, 2s, …), not per message, and no second skipped by timer drift.
        const now = clock.now();
        const elapsedSec = Math.floor((now - startMs) / 1000);
        if (what === 'run' && now >= startMs && elapsedSec > lastProgressSec) {
          lastProgressSec = elapsedSec;
          out.progress(agg.progressLine(elapsedSec));
        }
      }
      if (failure) throw failure;
      return true;
    };

    if (!(await until('ready', () => ready.size === s.beacons.count, clock.now() + READY_TIMEOUT_MS))) {
      if (aborted()) throw abortError();
      throw new TpslabError('TPSLAB_E_BEACON', `only ${ready.size} of ${s.beacons.count} beacons were ready within ${READY_TIMEOUT_MS / 1000} s`);
    }
    startMs = clock.now() + s.startDelayMs;
    fleet.broadcast({ v: PROTOCOL_VERSION, type: 'start', atMs: startMs });
    log(`${s.beacons.count === 1 ? 'the beacon is' : `all ${s.beacons.count} beacons are`} ready; starting at ${new Date(startMs).toISOString()}`);
    out.started({ runId, startMs, endpoints: info.endpoints });
    const planEndMs = startMs + (s.load.mode === 'max' ? s.load.durationSec * 1000 : plan.lastOffsetMs);
    const finishedInTime = await until('run', () => done.size === s.beacons.count, planEndMs + s.confirmation.timeoutMs + FINISH_GRACE_MS);
    if (!finishedInTime) {
      log(aborted() ? `interrupted by ${String(opts.signal?.reason)}: stopping the beacons` : `beacons did not finish in time; stopping them`);
      fleet.broadcast({ v: PROTOCOL_VERSION, type: 'stop', reason: aborted() ? 'aborted' : 'deadline' });
      if (!(await until('stop', () => done.size === s.beacons.count, clock.now() + STOP_TIMEOUT_MS))) {
        const missing = plan.shares.map((x) => x.beacon).filter((b) => !done.has(b));
        throw new TpslabError('TPSLAB_E_BEACON', `beacons ${missing.join(', ')} did not stop within ${STOP_TIMEOUT_MS / 1000} s of being asked; their results are incomplete`);
      }
    }
    for (const row of agg.flushAll()) out.second(row);
    out.finishing();

    let reconciliation: Summary['reconciliation'];
    let notes: string[] | undefined;
    // An interrupted run skips reconciliation: whoever pressed Ctrl-C wants out soon.
    if (aborted()) log('interrupted: not reconciled');
    else if (target.capabilities.reconcile) {
      queries = new DigestQueries(fleet, clock);
      const r = await reconcileRun({ target, start, done: [...done.values()], queries, senderSpace: w.kind === 'replay' ? 2 ** 32 : s.accounts.count, log });
      reconciliation = r.reconciliation;
      log(`reconciled positions ${reconciliation.fromHeight + 1}..${reconciliation.toHeight}`);
      for (const note of r.notes ?? []) log(note);
      notes = r.notes;
    } else {
      log(`not reconciled: the ${target.kind} connector cannot list what the network committed`);
    }

    const summary: RunSummary = agg.summary(runId, plannedLoadMs(s, plan), {
      reconciliation,
      connector: { kind: target.kind, reconciled: target.capabilities.reconcile, limits: target.capabilities.limits },
      notes,
    });
    const verdicts = evaluateThresholds(thresholds, thresholdMetrics(summary));
    const status: RunStatus = aborted() ? 'aborted' : verdicts.every((v) => v.passed) ? 'passed' : 'breached';
    const clocks = fleet.clocks?.();
    const beacons: BeaconFinal[] = [...done.values()].map((d) => ({
      beacon: d.beacon,
      accounts: plan.shares[d.beacon]!.accounts,
      sent: d.sent,
      committed: d.committed,
      failed: d.failed,
      lost: d.lost,
      late: d.late,
      retries: d.retries,
      errors: d.errors,
      ...clocks?.get(d.beacon),
      ...(d.outcomes ? { outcomes: d.outcomes } : {}),
    }));
    out.finished(runId, { status, summary, thresholds: verdicts, beacons, nodes: await target.nodes(), accountName: (i) => target.accountName?.(i) ?? String(i) });
    return { runId, dbPath: store.path, status, summary, thresholds: verdicts, ...(clocks?.size ? { clocks: [...clocks].sort((a, b) => a[0] - b[0]).map(([beacon, c]) => ({ beacon, ...c })) } : {}) };
  } catch (err) {
    const e = asTpslabError(err);
    // Interrupted, the failure is most likely the interruption's (Ctrl-C reaches the network's processes too).
    out.failed(runId, `${e.code}: ${e.message}`, aborted() ? 'aborted' : 'failed');
    throw aborted() && e.code !== 'TPSLAB_E_ABORTED' ? abortError() : e;
  } finally {
    fleet?.close();
    try {
      await target.close();
    } finally {
      store.close();
    }
  }
}
