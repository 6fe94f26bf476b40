/**
 * Outputs: what a run's samples feed (results.db, the live dashboard, the
 * progress line, the report), as k6 separates outputs from executors. Each
 * output implements the events it cares about; the overseer sends every event
 * to every output. A new output is one object (or file) implementing RunOutput.
 */
import type { NodeRow, TargetInfo } from '../connectors/contract.js';
import type { Outcome, ProgressMessage } from './messages.js';
import type { OutcomeRow, ResultsStore, RunStatus, SecondRow } from './store.js';
import type { ThresholdResult } from './thresholds.js';
import type { BeaconClock, BeaconTotals, Summary } from '../web/contract.js';

/** A beacon's latest totals, as the dashboard shows them (late and in flight always known live). */
export type BeaconTotalsRow = BeaconTotals & { late: number; inFlight: number };

/** A finished beacon's figures, with its account range and (if asked) every outcome. */
export interface BeaconFinal extends Omit<BeaconTotalsRow, 'inFlight'> {
  accounts: { start: number; end: number };
  outcomes?: Outcome[];
}

export interface RunEnd {
  status: RunStatus;
  summary: Summary;
  thresholds: ThresholdResult[];
  beacons: BeaconFinal[];
  nodes: NodeRow[];
  /** How the connector names account i (an address), for stored outcomes. */
  accountName(index: number): string;
}

export interface RunOutput {
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
  /** Called once the target is up: its network, endpoints and every process (for the explorer and node table). */
  target?(info: { network: string; endpoints: string[]; roles: TargetInfo['roles']; kind: string }): void;
  /** Called with every beacon's latest totals whenever one reports. */
  beacons?(totals: BeaconTotalsRow[]): void;
  /** Called with each beacon progress report as it arrives, before it is merged (per-beacon histograms). */
  report?(m: ProgressMessage): void;
  /** collectOutcomes: outcome rows a beacon streamed during the run (a later row for an id replaces the earlier). */
  outcomes?(beacon: number, rows: Outcome[], accountName: (index: number) => string): void;
  /** Called with the final result, before the target is closed. */
  finished?(runId: string, end: RunEnd): void;
  /** Called when the run failed (or was aborted) before it could finish. */
  failed?(runId: string, error: string, status: 'failed' | 'aborted'): void;
}

/** One output that forwards every event to each of `outputs`, in order. */
export function fanOut(outputs: readonly RunOutput[]): Required<RunOutput> {
  const each =
    <K extends keyof RunOutput>(k: K) =>
    (...args: Parameters<NonNullable<RunOutput[K]>>): void => {
      for (const o of outputs) (o[k] as ((...a: unknown[]) => void) | undefined)?.(...args);
    };
  return {
    log: each('log'),
    progress: each('progress'),
    second: each('second'),
    started: each('started'),
    finishing: each('finishing'),
    created: each('created'),
    target: each('target'),
    beacons: each('beacons'),
    report: each('report'),
    outcomes: each('outcomes'),
    finished: each('finished'),
    failed: each('failed'),
  };
}

/** results.db as an output: every second as it completes, and the run's end. */
export function storeOutput(store: ResultsStore, runId: string): RunOutput {
  return {
    second: (row) => store.addSecond(runId, row),
    outcomes: (beacon, rows, accountName) => store.addOutcomes(runId, outcomeRows(beacon, rows, accountName)),
    finished: (id, end) => {
      store.setBeacons(
        id,
        end.beacons.map((b) => ({
          beacon: b.beacon,
          accountsStart: b.accounts.start,
          accountsEnd: b.accounts.end,
          sent: b.sent,
          committed: b.committed,
          failed: b.failed,
          lost: b.lost,
          late: b.late,
          retries: b.retries,
          errors: b.errors,
          ...beaconClock(b),
        })),
      );
      store.setNodes(id, end.nodes);
      for (const b of end.beacons) {
        if (!b.outcomes) continue;
        store.addOutcomes(id, outcomeRows(b.beacon, b.outcomes, end.accountName));
      }
      store.finishRun(id, { status: end.status, summary: end.summary, thresholds: end.thresholds });
    },
    failed: (id, error, status) => store.finishRun(id, { status, summary: null, thresholds: null, error }),
  };
}

/** A beacon's name, clock offset and first send, as stored (beacons over NATS only). */
export function beaconClock(b: BeaconClock): BeaconClock {
  return {
    ...(b.name !== undefined ? { name: b.name } : {}),
    ...(b.clockOffsetMs !== undefined ? { clockOffsetMs: b.clockOffsetMs } : {}),
    ...(b.clockUncertaintyMs !== undefined ? { clockUncertaintyMs: b.clockUncertaintyMs } : {}),
    ...(b.firstSendAfterStartMs !== undefined ? { firstSendAfterStartMs: b.firstSendAfterStartMs } : {}),
  };
}

function outcomeRows(beacon: number, outcomes: readonly Outcome[], accountName: (index: number) => string): OutcomeRow[] {
  return outcomes.map((o) => ({
    txId: o.id,
    beacon,
    sender: accountName(o.sender),
    nonce: o.nonce,
    intendedMs: o.intendedMs,
    ...(o.sentMs !== null ? { sentMs: o.sentMs } : {}),
    ...(o.committedMs !== null ? { committedMs: o.committedMs } : {}),
    status: o.status,
    ...(o.errorCode !== null ? { errorCode: o.errorCode } : {}),
    ...(o.height !== null ? { height: o.height } : {}),
    attempts: o.attempts,
  }));
}
