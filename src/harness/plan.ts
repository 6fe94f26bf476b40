/**
 * Planning a run: the schedule of intended send times, who sends what, and
 * each beacon's share. Pure and deterministic: same scenario and seed, same
 * plan. Work is split by sender account (contiguous ranges), so each sender's
 * transactions, and so its nonce order, stay in one beacon.
 */
import { readFile } from 'node:fs/promises';
import { TpslabError } from '../errors.js';
import type { Scenario } from './scenario.js';
import type { PlanDescriptor } from './plan-stream.js';
import { OpenOffsets, openSchedule, traceSchedule } from './schedule.js';
import { parseThresholds, type Threshold } from './thresholds.js';
import { WorkloadDraws, beaconOf, beaconRanges, planSenders, planTopics } from './workload.js';

export interface BeaconShare {
  beacon: number;
  accounts: { start: number; end: number };
  offsetsMs: Float64Array;
  senders: Uint32Array;
  targets: Uint32Array;
}

export interface Plan {
  /** Transactions in the plan (0 in max mode, where beacons generate them as they go). */
  txCount: number;
  /** Offset of the last intended send, ms. */
  lastOffsetMs: number;
  shares: BeaconShare[];
  /**
   * Open model: the parameters each beacon generates its share from (its arrays are then
   * empty); the overseer never holds the plan. Absent for traces (file-based: the arrays are
   * shipped, 16 bytes per transaction of the share) and max mode.
   */
  descriptor?: PlanDescriptor;
}

export async function schedule(s: Scenario): Promise<Float64Array> {
  if (s.load.mode === 'max') return new Float64Array(0);
  if (s.load.mode === 'trace') {
    const file = s.load.trace!.file;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new TpslabError('TPSLAB_E_TRACE', `cannot read trace file ${file}: ${(err as Error).message}`, { cause: err });
    }
    return traceSchedule(text, s.load.trace!.column, file);
  }
  return openSchedule(s.load.stages, { arrival: s.load.arrival, seed: s.seed });
}

/**
 * The open model's plan as a descriptor: walks the schedule once (O(1) memory) for its count
 * and last offset, and checks the workload's parameters as `planShares` would.
 */
export function describedPlan(s: Scenario): Plan {
  if (s.load.mode !== 'open') throw new Error('describedPlan: open model only');
  const accounts = s.accounts.count;
  const contention = 'contention' in s.workload ? s.workload.contention : { kind: 'uniform' as const };
  const topics = s.workload.kind === 'message' ? s.workload.topics : undefined;
  new WorkloadDraws({ accounts, contention, seed: s.seed, ...(topics !== undefined ? { topics } : {}) }); // throws on bad parameters
  const offsets = new OpenOffsets(s.load.stages, { arrival: s.load.arrival, seed: s.seed });
  let txCount = 0;
  let lastOffsetMs = 0;
  for (let t = offsets.next(); !Number.isNaN(t); t = offsets.next()) {
    txCount++;
    lastOffsetMs = t;
  }
  const empty = { offsetsMs: new Float64Array(0), senders: new Uint32Array(0), targets: new Uint32Array(0) };
  const shares = beaconRanges(accounts, s.beacons.count).map((r, b) => ({ beacon: b, accounts: r, ...empty }));
  const descriptor: PlanDescriptor = {
    kind: 'open',
    stages: s.load.stages as unknown as Record<string, unknown>[],
    arrival: s.load.arrival,
    seed: s.seed,
    accounts,
    contention: contention as unknown as Record<string, unknown>,
    ...(topics !== undefined ? { topics } : {}),
    txCount,
  };
  return { txCount, lastOffsetMs, shares, descriptor };
}

export function planShares(s: Scenario, offsets: Float64Array): Plan {
  const accounts = s.accounts.count;
  const beacons = s.beacons.count;
  const ranges = beaconRanges(accounts, beacons);
  const txCount = offsets.length;
  const { sender, recipient } = planSenders({ txCount, accounts, contention: 'contention' in s.workload ? s.workload.contention : { kind: 'uniform' }, seed: s.seed });
  const targets = s.workload.kind === 'message' ? planTopics({ txCount, topics: s.workload.topics, seed: s.seed }) : recipient;
  const counts = new Uint32Array(beacons);
  const owner = new Uint32Array(txCount);
  for (let i = 0; i < txCount; i++) counts[(owner[i] = beaconOf(sender[i]!, accounts, beacons))]!++;
  const shares: BeaconShare[] = ranges.map((r, b) => ({
    beacon: b,
    accounts: r,
    offsetsMs: new Float64Array(counts[b]!),
    senders: new Uint32Array(counts[b]!),
    targets: new Uint32Array(counts[b]!),
  }));
  const fill = new Uint32Array(beacons);
  for (let i = 0; i < txCount; i++) {
    const b = owner[i]!;
    const k = fill[b]!++;
    const share = shares[b]!;
    share.offsetsMs[k] = offsets[i]!;
    share.senders[k] = sender[i]!;
    share.targets[k] = targets[i]!;
  }
  return { txCount, lastOffsetMs: txCount ? offsets[txCount - 1]! : 0, shares };
}

/**
 * How long the load was meant to last, ms: the open model's stages end to end, a trace's last
 * intended send, max mode's duration (none for a replay). The floor of the TPS window (RunAggregator.tps).
 */
export function plannedLoadMs(s: Scenario, plan: Pick<Plan, 'lastOffsetMs'>): number {
  // A replay ends with its dataset: durationSec only bounds it, so the window is what the load took.
  if (s.workload.kind === 'replay') return 0;
  if (s.load.mode === 'max') return s.load.durationSec * 1000;
  if (s.load.mode === 'trace') return plan.lastOffsetMs;
  return s.load.stages.reduce((ms, st) => ms + st.durationSec * 1000, 0);
}

/**
 * Everything that can be checked before anything starts, so a bad input costs nothing: the
 * thresholds, the schedule (a trace file read and parsed) and the beacons' shares (the
 * connector checks its own files: TargetConnector.preflight). Throws the input's coded error; starts nothing, writes nothing.
 */
export async function preflight(s: Scenario): Promise<{ thresholds: Threshold[]; plan: Plan }> {
  const thresholds = parseThresholds(s.thresholds);
  const plan = s.load.mode === 'open' ? describedPlan(s) : planShares(s, await schedule(s));
  return { thresholds, plan };
}
