/**
 * The overseer: plans a run, provisions the target, starts beacons (child
 * processes) at one instant, merges their reports, stores everything in
 * results.db, reconciles against the network, and judges the thresholds.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeClient } from '../client/node-client.js';
import { TpslabError, asTpslabError } from '../errors.js';
import { RunAggregator } from './aggregate.js';
import { collectEnvironment } from './environment.js';
import { PROTOCOL_VERSION, parseBeaconMessage, type Assign, type DoneMessage, type OverseerMessage } from './messages.js';
import { plannedLoadMs, preflight } from './plan.js';
import { accountKey, keySeedOf, openTarget, provision, topicNames, type Target } from './provision.js';
import { reconcile } from './reconcile.js';
import type { Scenario } from './scenario.js';
import { countOf } from './text.js';
import { targetRateAt } from './schedule.js';
import { ResultsStore, type RunStatus, type SecondRow } from './store.js';
import { evaluateThresholds, type ThresholdResult } from './thresholds.js';
import type { Summary } from '../web/contract.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../cli/main.js');
const READY_TIMEOUT_MS = 120_000;
/** After the plan and the confirmation timeout, how long beacons get to finish before they are stopped. */
const FINISH_GRACE_MS = 30_000;

/** A run's final figures: the shape stored in results.db and shown by reports (src/web/contract.ts). */
export type RunSummary = Summary;

export interface RunResult {
  runId: string;
  dbPath: string;
  status: RunStatus;
  summary: RunSummary;
  thresholds: ThresholdResult[];
}

export interface RunHooks {
  log?(line: string): void;
  /** Called about once a second with the live progress line. */
  progress?(line: string): void;
  /** Called for every second as soon as all beacons reported it (dashboard). */
  second?(row: SecondRow): void;
  /** Called once the run is started, with its id and start instant. */
  started?(info: { runId: string; startMs: number; endpoints: string[] }): void;
  /** Called when every beacon is done: reconciliation, storing and teardown follow. */
  finishing?(): void;
  /** Called when the run is recorded, before anything starts. */
  created?(runId: string): void;
  /** Called once the target is up: its network, node endpoints and every process (for the explorer and node table). */
  target?(info: { network: string; endpoints: string[]; roles: { id: string; role: string; url: string }[] }): void;
  /** Called with every beacon's latest totals whenever one reports. */
  beacons?(totals: { beacon: number; accountsStart?: number; accountsEnd?: number; sent: number; committed: number; failed: number; lost: number; late: number; retries: number; inFlight: number; errors: Record<string, number> }[]): void;
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

export interface RunOptions {
  /**
   * Aborting stops the run: beacons are asked to stop and report, the target is torn down, and
   * the run is stored as `aborted` with what was measured (a result with status `aborted`), or,
   * before the load started, TPSLAB_E_ABORTED is thrown after recording it. `signal.reason`
   * names the cause in messages (e.g. "SIGINT").
   */
  signal?: AbortSignal;
}

export async function runScenario(s: Scenario, hooks: RunHooks = {}, opts: RunOptions = {}): Promise<RunResult> {
  const log = hooks.log ?? (() => {});
  const aborted = (): boolean => opts.signal?.aborted === true;
  const abortError = (): TpslabError => new TpslabError('TPSLAB_E_ABORTED', `run interrupted by ${String(opts.signal?.reason ?? 'an abort')} before the load started; recorded as aborted`);
  const { thresholds, plan } = await preflight(s);
  const store = ResultsStore.open(resolve(s.results.db));
  const runId = store.createRun({ name: s.name, scenario: s, environment: await collectEnvironment() });
  log(`run ${runId} (${s.name}), results in ${store.path}`);
  hooks.created?.(runId);
  let target: Target | undefined;
  const children: ChildProcess[] = [];
  try {
    target = await openTarget(s, log);
    if (aborted()) throw abortError();
    hooks.target?.({ network: target.network, endpoints: target.endpoints, roles: target.roles });
    const keySeed = keySeedOf(target.network, s.seed);
    await provision(s, target, keySeed, log);
    if (aborted()) throw abortError();
    const client = new NodeClient(target.endpoints[0]!);
    const fromHeight = (await client.head()).height;
    log(`planned ${s.load.mode === 'max' ? `max load for ${s.load.durationSec} s` : `${countOf(plan.txCount, 'transaction')} over ${(plan.lastOffsetMs / 1000).toFixed(1)} s`} across ${countOf(s.beacons.count, 'beacon')}`);

    // Only the open model has a target rate; the others report NaN ("-" in the progress line, no target in charts).
    const agg = new RunAggregator(s.beacons.count, (ms) => (s.load.mode === 'open' ? targetRateAt(s.load.stages, ms) : Number.NaN));
    const done = new Map<number, DoneMessage>();
    const latest = new Map<number, Parameters<NonNullable<RunHooks['beacons']>>[0][number]>();
    const ready = new Set<number>();
    let failure: TpslabError | undefined;
    let wake: () => void = () => {};
    const changed = (): void => wake();
    opts.signal?.addEventListener('abort', changed, { once: true });

    const onMessage = (raw: unknown): void => {
      let m;
      try {
        m = parseBeaconMessage(raw);
      } catch (err) {
        failure ??= asTpslabError(err, 'TPSLAB_E_BEACON');
        return changed();
      }
      if (m.type === 'ready') ready.add(m.beacon);
      else if (m.type === 'progress') {
        const range = plan.shares[m.beacon]?.accounts;
        latest.set(m.beacon, { beacon: m.beacon, ...(range ? { accountsStart: range.start, accountsEnd: range.end } : {}), sent: m.sent, committed: m.committed, failed: m.failed, lost: m.lost, late: m.late, retries: m.retries, inFlight: m.inFlight, errors: m.errors });
        hooks.beacons?.([...latest.values()].sort((a, b) => a.beacon - b.beacon));
        for (const row of agg.add(m)) {
          store.addSecond(runId, row);
          hooks.second?.(row);
        }
      } else if (m.type === 'done') {
        done.set(m.beacon, m);
        for (const row of agg.finished(m.beacon)) {
          store.addSecond(runId, row);
          hooks.second?.(row);
        }
      }
      else if (m.type === 'error') failure ??= new TpslabError('TPSLAB_E_BEACON', `beacon ${m.beacon}: ${m.code} ${m.message}`);
      else log(`beacon ${m.beacon}: ${m.line}`);
      changed();
    };

    for (const share of plan.shares) {
      const child = fork(CLI, ['beacon', '--ipc'], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      child.on('message', onMessage);
      child.on('exit', (code, sig) => {
        if (!done.has(share.beacon)) failure ??= new TpslabError('TPSLAB_E_BEACON', `beacon ${share.beacon} exited (${sig ?? code}) before finishing`);
        changed();
      });
      const w = s.workload;
      const assign: Assign = {
        v: PROTOCOL_VERSION,
        type: 'assign',
        runId,
        beacon: share.beacon,
        network: target.network,
        endpoints: rotate(target.endpoints, share.beacon),
        keySeed,
        accounts: share.accounts,
        freshAccounts: target.fresh,
        workload: w.kind === 'transfer' ? { kind: 'transfer', amount: w.amount, fee: w.fee } : { kind: 'message', topics: topicNames(s), payloadBytes: w.payloadBytes, fee: w.fee },
        sign: w.sign,
        mode: s.load.mode === 'max' ? 'max' : 'open',
        offsetsMs: share.offsetsMs,
        senders: share.senders,
        targets: share.targets,
        maxDurationMs: s.load.durationSec * 1000,
        maxInFlight: Math.max(1, Math.floor(s.load.maxInFlight / s.beacons.count)),
        batchMax: s.beacons.batchMax,
        batchDelayMs: s.beacons.batchDelayMs,
        confirmation: s.confirmation,
        fromHeight,
        collectOutcomes: s.results.outcomes,
      };
      send(child, assign);
    }

    const until = async (what: string, cond: () => boolean, deadlineMs: number): Promise<boolean> => {
      while (!cond()) {
        if (failure) throw failure;
        if (Date.now() > deadlineMs || (aborted() && what !== 'stop')) return false;
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 1000);
        });
        // The progress line costs ~1 ms (it decodes the last second's histogram): once per whole second
        // of the run (t=0s, 1s, 2s, …), not per message, and no second skipped by timer drift.
        const elapsedSec = Math.floor((Date.now() - startMs) / 1000);
        if (what === 'run' && Date.now() >= startMs && elapsedSec > lastProgressSec) {
          lastProgressSec = elapsedSec;
          hooks.progress?.(agg.progressLine(elapsedSec));
        }
      }
      if (failure) throw failure;
      return true;
    };

    let startMs = 0;
    let lastProgressSec = -1;
    if (!(await until('ready', () => ready.size === s.beacons.count, Date.now() + READY_TIMEOUT_MS))) {
      if (aborted()) throw abortError();
      throw new TpslabError('TPSLAB_E_BEACON', `only ${ready.size} of ${s.beacons.count} beacons were ready within ${READY_TIMEOUT_MS / 1000} s`);
    }
    startMs = Date.now() + s.startDelayMs;
    for (const c of children) send(c, { v: PROTOCOL_VERSION, type: 'start', atMs: startMs });
    log(`${s.beacons.count === 1 ? 'the beacon is' : `all ${s.beacons.count} beacons are`} ready; starting at ${new Date(startMs).toISOString()}`);
    hooks.started?.({ runId, startMs, endpoints: target.endpoints });
    const planEndMs = startMs + (s.load.mode === 'max' ? s.load.durationSec * 1000 : plan.lastOffsetMs);
    const finishedInTime = await until('run', () => done.size === s.beacons.count, planEndMs + s.confirmation.timeoutMs + FINISH_GRACE_MS);
    if (!finishedInTime) {
      log(aborted() ? `interrupted by ${String(opts.signal?.reason)}: stopping the beacons` : `beacons did not finish in time; stopping them`);
      for (const c of children) send(c, { v: PROTOCOL_VERSION, type: 'stop', reason: aborted() ? 'aborted' : 'deadline' });
      if (!(await until('stop', () => done.size === s.beacons.count, Date.now() + 10_000))) {
        const missing = plan.shares.map((x) => x.beacon).filter((b) => !done.has(b));
        throw new TpslabError('TPSLAB_E_BEACON', `beacons ${missing.join(', ')} did not stop within 10 s of being asked; their results are incomplete`);
      }
    }
    for (const row of agg.flushAll()) {
      store.addSecond(runId, row);
      hooks.second?.(row);
    }
    hooks.finishing?.();

    // Reconcile against the network's blocks since the run began, read from the endpoint furthest
    // ahead (beacons follow different endpoints; one may be a block behind another).
    const heads = await Promise.all(target.endpoints.map((e) => new NodeClient(e).head().then((h) => ({ e, height: h.height }), () => ({ e, height: -1 }))));
    const ahead = heads.reduce((a, b) => (b.height > a.height ? b : a));
    const toHeight = Math.max(ahead.height, 0);
    const senders = new Set<string>();
    for (let i = 0; i < s.accounts.count; i++) senders.add(accountKey(keySeed, i).publicKey.toString('hex'));
    const beaconIds = new Set<string>();
    for (const d of done.values()) for (let k = 0; k < d.committedIds.length; k += 32) beaconIds.add(Buffer.from(d.committedIds.subarray(k, k + 32)).toString('hex'));
    // An interrupted run skips reconciliation: whoever pressed Ctrl-C wants out soon.
    if (!aborted()) log(`reconciling blocks ${fromHeight + 1}..${toHeight}`);
    const reconciliation = aborted() ? undefined : await reconcile({ endpoint: ahead.e, fromHeight, toHeight, senders, beaconIds });

    const t = agg.totals;
    const summary: RunSummary = {
      runId,
      durationSec: agg.rows.length,
      sent: t.sent,
      committed: t.committed,
      failed: t.failed,
      lost: t.lost,
      late: t.late,
      pending: Math.max(0, t.sent - t.committed - t.failed - t.lost),
      retries: t.retries,
      tps: agg.tps(aborted() ? Math.min(plannedLoadMs(s, plan), Date.now() - startMs) : plannedLoadMs(s, plan)),
      latency: agg.corrected.summary(),
      latencyUncorrected: agg.uncorrected.summary(),
      scheduleLag: agg.lag.summary(),
      errors: t.errors,
      reconciliation,
    };
    const verdicts = evaluateThresholds(thresholds, thresholdMetrics(summary));
    const status: RunStatus = aborted() ? 'aborted' : verdicts.every((v) => v.passed) ? 'passed' : 'breached';
    store.setBeacons(
      runId,
      [...done.values()].map((d) => ({
        beacon: d.beacon,
        accountsStart: plan.shares[d.beacon]!.accounts.start,
        accountsEnd: plan.shares[d.beacon]!.accounts.end,
        sent: d.sent,
        committed: d.committed,
        failed: d.failed,
        lost: d.lost,
        late: d.late,
        retries: d.retries,
        errors: d.errors,
      })),
    );
    store.setNodes(runId, await nodeRows(target));
    if (s.results.outcomes) {
      for (const d of done.values()) {
        store.addOutcomes(
          runId,
          (d.outcomes ?? []).map((o) => ({
            txId: o.id,
            beacon: d.beacon,
            sender: accountKey(keySeed, o.sender).address,
            nonce: o.nonce,
            intendedMs: o.intendedMs,
            ...(o.sentMs !== null ? { sentMs: o.sentMs } : {}),
            ...(o.committedMs !== null ? { committedMs: o.committedMs } : {}),
            status: o.status,
            ...(o.errorCode !== null ? { errorCode: o.errorCode } : {}),
            ...(o.height !== null ? { height: o.height } : {}),
            attempts: o.attempts,
          })),
        );
      }
    }
    store.finishRun(runId, { status, summary, thresholds: verdicts });
    return { runId, dbPath: store.path, status, summary, thresholds: verdicts };
  } catch (err) {
    const e = asTpslabError(err);
    // Interrupted, the failure is most likely the interruption's (Ctrl-C reaches the network's processes too).
    const status: RunStatus = aborted() ? 'aborted' : 'failed';
    store.finishRun(runId, { status, summary: null, thresholds: null, error: `${e.code}: ${e.message}` });
    throw aborted() && e.code !== 'TPSLAB_E_ABORTED' ? abortError() : e;
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await target?.close();
    store.close();
  }
}

function send(child: ChildProcess, m: OverseerMessage): void {
  if (child.connected) child.send(m);
}

/** Each beacon starts on a different endpoint, spreading load; the rest are its failover order. */
function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

async function nodeRows(target: Target): Promise<{ node: string; url: string; role: string; head?: number; healthy: boolean; stats: unknown }[]> {
  return Promise.all(
    target.roles.map(async (r) => {
      const health = await fetch(`${r.url}/health`, { signal: AbortSignal.timeout(2000) }).then(
        async (res) => ({ ok: res.ok, body: (await res.json()) as { height?: number } }),
        () => ({ ok: false, body: {} as { height?: number } }),
      );
      const stats = await fetch(`${r.url}/stats`, { signal: AbortSignal.timeout(2000) }).then((res) => res.json() as Promise<unknown>, () => null);
      return { node: r.id, url: r.url, role: r.role, ...(health.body.height !== undefined ? { head: health.body.height } : {}), healthy: health.ok, stats };
    }),
  );
}
