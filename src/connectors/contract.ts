/**
 * The connector contract: the only door between the harness and a network.
 *
 * The harness core (schedule, pump, tracking, histograms, aggregation,
 * reconciliation logic, thresholds, reports) knows nothing of any network: no
 * transaction format, no URL path, no error code of a network. A connector
 * supplies all of that, in two halves (the shape of Hyperledger Caliper's
 * connector interface and Diablo's `core/blockchain.go`):
 *
 * - the **target** side runs in the overseer: open or start the network,
 *   provision the run's accounts, say where the chain is before the run, give
 *   each beacon its configuration, list what was committed for reconciliation,
 *   and describe the nodes for the dashboard;
 * - the **beacon** side runs in every beacon: learn nonces, build and sign the
 *   i-th transaction of the plan, submit batches, and report confirmations as
 *   they happen.
 *
 * The two halves meet only through JSON (`beaconConfig`), so a beacon on another
 * machine builds its connector from the same data. Every connector passes the
 * conformance suite in test/connectors/conformance.ts. docs/connectors.md walks
 * through writing one.
 */
import type { z } from 'zod';
import type { Clock } from '../clock.js';

/** A line of progress or a warning, for the terminal and the run's log. */
export type Log = (line: string) => void;

/** What the harness planned, as the connector sees it: no network types. */
export interface WorkloadSpec {
  /** `transfer` or `message` (the scenario's workload.kind); a connector says which it supports. */
  kind: string;
  /** Amount per transfer, in the network's smallest unit. */
  amount: number;
  fee: number;
  /** Message workloads: topics and payload size. */
  topics: number;
  payloadBytes: number;
  /** Sign every transaction before the start (`presign`) or as it is sent (`live`). */
  sign: 'presign' | 'live';
  /** Replay workloads: the prepared file (absolute path), and how to pace it (docs/replay.md). */
  replay?: { dataset: string; timing: 'max' | 'original'; speed: number };
}

/** The run as the target side needs it. */
export interface RunSpec {
  /** The scenario's seed: same seed, same accounts and transactions. */
  seed: number;
  /** Sending accounts, numbered 0..count-1; each beacon owns a contiguous range. */
  accounts: { count: number; balance: string };
  workload: WorkloadSpec;
}

/** One process or endpoint of the network, for the dashboard's node table and the explorer. */
export interface TargetRole {
  id: string;
  role: string;
  url: string;
}

/** What `open` learned about the target. */
export interface TargetInfo {
  /** The network's name or chain id, shown in reports. */
  network: string;
  /** Endpoints beacons send to (spread over beacons, failover order). */
  endpoints: string[];
  roles: TargetRole[];
  /** Started by tpslab for this run (and torn down by `close`). */
  embedded: boolean;
}

/** A row of the node table (report and dashboard). */
export interface NodeRow {
  node: string;
  url: string;
  role: string;
  head?: number;
  healthy: boolean;
  stats: unknown;
}

/** Where the chain is: an opaque, JSON-serializable position (a block height for block chains). */
export interface Cursor {
  position: number;
}

/** What the network committed from the run's accounts between two cursors. */
export interface CommittedSet {
  /** Positions covered: (from, to]. */
  fromPosition: number;
  toPosition: number;
  ids: Set<string>;
  /** Sentences for the run's summary about what the blocks showed (a replay's dependency waits and tail). */
  notes?: string[];
}

/**
 * One committed transaction of the run, for reconciliation by digest: its id, its position
 * (block height, as the beacon side's confirmations report it) and its sender, numbered as the
 * beacon side numbers it (PlannedTx.sender, SourcedTx.sender).
 */
export type VisitCommitted = (id: string, position: number, sender: number) => void;

/** What a connector can and cannot do; reports say so. */
export interface Capabilities {
  /** `committed()` lists what the network committed, so the run is reconciled. */
  reconcile: boolean;
  /** Confirmations come from the network (not only from the submit answer). */
  confirms: boolean;
  /** Sentences for the report: what this connector does not verify. */
  limits: string[];
}

export interface ProvisionProgress {
  /** What is being done ("funding accounts", "creating topics"). */
  step: string;
  done: number;
  total: number;
}

/** The overseer side of a connector, one per run. */
export interface TargetConnector {
  readonly kind: string;
  readonly capabilities: Capabilities;
  /** Checks what can be checked before anything starts (key files readable, …); starts nothing. */
  preflight?(): Promise<void>;
  /** Starts an embedded network or attaches to endpoints. Called once, after preflight. */
  open(log: Log): Promise<TargetInfo>;
  /** Creates and funds the run's accounts (and whatever the workload needs); reports progress. */
  provision(progress: (p: ProvisionProgress) => void, log: Log): Promise<void>;
  /** Where the chain is now (before the run, and at its end). */
  cursor(): Promise<Cursor>;
  /** JSON for beacon `beacon`'s connector; the beacon side validates it with `beaconSchema`. */
  beaconConfig(share: BeaconShareSpec): unknown;
  /** What the network committed from the run's accounts after `from` (to the furthest head). Only with capabilities.reconcile. */
  committed(from: Cursor): Promise<CommittedSet>;
  /**
   * The same transactions as `committed`, streamed one by one with their position and sender, so the
   * overseer reconciles by digest and bisection (docs/harness.md) and beacons never ship their ids.
   * Optional: without it, a reconciling connector's runs have every beacon ship its ids at the end.
   */
  visitCommitted?(from: Cursor, visit: VisitCommitted): Promise<Omit<CommittedSet, 'ids'>>;
  /** Rows for the node table. */
  nodes(): Promise<NodeRow[]>;
  /** How the network names sending account `index` (an address), for stored outcomes; default its number. */
  accountName?(index: number): string;
  /** Releases everything; tears down an embedded network. Safe to call twice, and after a failed open. */
  close(): Promise<void>;
}

/** A beacon's part of the run, as the connector needs it. */
export interface BeaconShareSpec {
  beacon: number;
  /** Sending accounts [start, end). */
  accounts: { start: number; end: number };
  /** The endpoint this beacon should prefer (its failover order follows). */
  endpointOffset: number;
  /** Where the chain was before the run: the beacon confirms what commits after it. */
  start: Cursor;
  /** How many beacons share the run (a connector that splits its own data, such as a replay, needs it). */
  beacons?: number;
}

// ---------------------------------------------------------------- beacon side

/** The i-th transaction of a beacon's plan. */
export interface PlannedTx {
  /** Index in the beacon's plan: stable for the run. */
  index: number;
  /** Sending account (global index). */
  sender: number;
  /** Recipient account index or topic index, from the workload's contention plan. */
  target: number;
  /** Intended send time, ms since the start instant. */
  intendedOffsetMs: number;
}

/** A built (signed) transaction: an id the network will report, and what to send. */
export interface BuiltTx {
  id: string;
  /** Connector-private payload (bytes, a request). The harness only passes it back to `submit`. */
  payload: unknown;
}

/** The answer for one transaction of a submitted batch. */
export type SubmitResult =
  | { kind: 'accepted' }
  /** The network already has it (a resend after a lost answer): wait for its confirmation. */
  | { kind: 'known' }
  /** Transient refusal: resend the same transaction after `afterMs`. `code` is counted. */
  | { kind: 'retry'; code: string; afterMs: number; message?: string }
  /** Final refusal with a stable code. */
  | { kind: 'rejected'; code: string; message?: string };

export interface SubmitItem {
  tx: BuiltTx;
  /** 1 for the first send, 2 for the first resend, … */
  attempt: number;
}

/** Where a connector reports confirmations as they happen. */
export interface ConfirmSink {
  /** `position`: block height or sequence number; `atMs`: when it was learned, on the beacon's clock. */
  committed(id: string, position: number, atMs: number): void;
  /**
   * The network dropped a transaction it had accepted. With `retryAfterMs` the drop is transient (the
   * network refused it for now, e.g. an earlier nonce was refused for capacity): the beacon sends the same
   * transaction again after that long, within `confirmation.retries`; without, the failure is final.
   */
  failed(id: string, code: string, retryAfterMs?: number): void;
  log(line: string): void;
}

/** The beacon's view of what awaits confirmation, for connectors that poll. */
export interface PendingView {
  /** Ids sent (and not yet resolved) before `sentBeforeMs`, oldest first, at most `max`. */
  sentBefore(sentBeforeMs: number, max: number): string[];
}

/** A transaction the connector brings itself (a replayed dataset) rather than building it from the plan. */
export interface SourcedTx {
  tx: BuiltTx;
  /** A number naming the sender in stored outcomes (the connector's choice; a sender's transactions come in its nonce order). */
  sender: number;
  /** When to send it, ms after the start; absent: as fast as `maxInFlight` allows. Ascending along the source. */
  intendedOffsetMs?: number;
}

/** The beacon side of a connector, one per beacon. */
export interface BeaconConnector {
  /** Learns what it needs before the start (nonces of existing accounts). */
  prepare(): Promise<void>;
  /**
   * Builds and signs transaction `tx`; called once per transaction, in plan order per sender. `tx` is
   * the beacon's, refilled for the next call: read what is needed from it, do not keep it.
   */
  build(tx: Readonly<PlannedTx>): BuiltTx;
  /**
   * The connector's own transactions, if it brings them (a replay): called once after `prepare`;
   * undefined means "build from the plan". The beacon pulls lazily, never more than `maxInFlight`
   * ahead of the confirmations, stops at the end of the iterator (or of the load's duration), and
   * sends each one at its `intendedOffsetMs` when given.
   */
  source?(): AsyncIterator<SourcedTx> | undefined;
  /** Sends a batch; one result per item, in order. Never throws for a network failure: it answers `retry`. */
  submit(batch: readonly SubmitItem[]): Promise<readonly SubmitResult[]>;
  /** Starts confirming: calls the sink as commits happen until `close`. */
  confirm(sink: ConfirmSink, pending: PendingView): Promise<void>;
  /** Highest position confirmed so far (for progress reports). */
  readonly position: number;
  close(): Promise<void>;
}

/** The options the harness passes to a beacon connector besides its own config. */
export interface BeaconContext {
  beacon: number;
  clock: Clock;
  /**
   * `timeoutMs`: the run's `confirmation.timeoutMs` (a transaction unconfirmed this long after its intended
   * send is lost). A connector keeps its request timeout below it, so that a request nobody answers is
   * retried elsewhere while its transaction can still commit in time.
   */
  confirmation: { method: 'stream' | 'poll'; pollIntervalMs: number; timeoutMs?: number };
  log: Log;
  /**
   * Max-mode work taken over from a missing beacon: its senders sent in this run already, so
   * `prepare` learns their next nonces from the network even if the accounts were fresh at the start.
   */
  takeover?: boolean;
}

/** A connector kind: its option schema (the scenario's `target`) and both halves. */
export interface ConnectorDefinition<TOptions = unknown, TBeaconConfig = unknown> {
  kind: string;
  /** Workload kinds it can send. */
  workloads: readonly string[];
  /** Validates the scenario's `target` block (kind included). */
  targetSchema: z.ZodType<TOptions>;
  /** Validates what `beaconConfig` produced, on the beacon. */
  beaconSchema: z.ZodType<TBeaconConfig>;
  /** Resolves relative file paths in the options against the scenario file's directory. */
  resolvePaths?(options: TOptions, baseDir: string): TOptions;
  createTarget(options: TOptions, run: RunSpec, clock: Clock): TargetConnector;
  createBeacon(config: TBeaconConfig, ctx: BeaconContext): BeaconConnector;
}
