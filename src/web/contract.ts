/**
 * The data the browser app renders, shared by the servers (overseer dashboard,
 * `tpslab explorer`, report writer) and the app in src/web/app. Types and a few pure
 * formatters both sides must agree on: no DOM, no Node APIs, so both sides compile it.
 *
 * Page shell (every page, served or written):
 *   <div id="app" data-page="dashboard|explorer|report|compare"></div>
 *   <script id="tpslab-data" type="application/json">…ReportData or CompareData…</script>  (report/compare only)
 *   <link rel="stylesheet" href="app.css"> <script src="app.js"></script>   (served)  — or both inlined (reports)
 *
 * Served APIs (same origin as the page):
 *   GET /api/live                 → LiveData            (dashboard; 404 when no run is attached)
 *   GET /api/live/events          → text/event-stream of LiveEvent (one JSON per `data:` line)
 *   GET /api/explorer/info        → ExplorerInfo
 *   GET /api/explorer/head        → node /v1/head
 *   GET /api/explorer/blocks?limit=N        → BlockSummary[] (newest first, N ≤ 50)
 *   GET /api/explorer/blocks/:height        → BlockDetail
 *   GET /api/explorer/tx/:id                → TxDetail
 *   GET /api/explorer/accounts/:address     → AccountDetail
 *   GET /api/explorer/members               → tracker view (MembersView), 404 when no tracker is known
 * Errors: `{ error: { code, message } }` with a 4xx/5xx status.
 */
import type { BlockJson, TxStatusJson } from '../protocol/api.js';

export interface LatencyPoint {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface DistributionPoint {
  valueMs: number;
  /** 0..100 */
  percentile: number;
  count: number;
}

/** One second of a run, merged over beacons. */
export interface SecondPoint {
  second: number;
  /** What the schedule asked for; null outside the open model (max and trace runs have no target rate). */
  targetRate: number | null;
  sent: number;
  committed: number;
  failed: number;
  /** Transactions whose confirmation timeout ran out in this second. Event counts, never negative. */
  expired: number;
  /** Transactions that committed in this second after their timeout had run out (also counted in committed). */
  late: number;
  inFlight: number;
  errors: Record<string, number>;
  /** Latency from the intended send (coordinated omission corrected); absent when nothing committed. */
  corrected?: LatencyPoint;
  /** Latency from the actual send. */
  uncorrected?: LatencyPoint;
  /** Actual send − intended send. */
  lag?: LatencyPoint;
}

export interface ThresholdVerdict {
  threshold: string;
  metric: string;
  actual: number | undefined;
  /** The actual value in the expression's unit (`3.03s`); absent in runs stored before it was added. */
  actualText?: string;
  passed: boolean;
}

export interface Reconciliation {
  /** The head before the run: the blocks checked are fromHeight + 1 .. toHeight. */
  fromHeight: number;
  toHeight: number;
  networkCommitted: number;
  beaconCommitted: number;
  matched: number;
  missing: number;
  unexpected: number;
  missingIds: string[];
  unexpectedIds: string[];
}

/**
 * The blocks a reconciliation checked, as every output prints them ("blocks 2..382"): the
 * first block after the run's starting head through the last one read. Pure, for both sides.
 */
export function blockRange(r: Pick<Reconciliation, 'fromHeight' | 'toHeight'>): string {
  const first = r.fromHeight + 1;
  return r.toHeight < first ? `no blocks (head ${r.toHeight.toLocaleString('en-US')})` : `${first.toLocaleString('en-US')}..${r.toHeight.toLocaleString('en-US')}`;
}

export interface Summary {
  runId: string;
  durationSec: number;
  sent: number;
  committed: number;
  failed: number;
  /** Expired (past confirmation.timeoutMs) and never committed by the end of the run: expired − late. */
  lost: number;
  /** Committed after its confirmation timeout had run out; also counted in committed. Absent in runs stored before it was added. */
  late?: number;
  pending: number;
  retries: number;
  /** avg = committed ÷ windowSec; windowSec = max(planned load duration, start of the last second with a commit) — docs/harness.md. Absent in runs stored before it was added. */
  tps: { avg: number; peak: number; windowSec?: number };
  latency: LatencyPoint;
  latencyUncorrected: LatencyPoint;
  scheduleLag: LatencyPoint;
  errors: Record<string, number>;
  reconciliation: Reconciliation | undefined;
  /** The connector that reached the network, and what it cannot verify (absent in runs stored before connectors). */
  connector?: { kind: string; reconciled: boolean; limits: string[] };
  /** What the connector read from the blocks besides reconciliation (a replay's dependency waits and tail). Absent when it had nothing to say. */
  notes?: string[];
}

export interface BeaconTotals {
  beacon: number;
  accountsStart?: number;
  accountsEnd?: number;
  sent: number;
  committed: number;
  failed: number;
  lost: number;
  late?: number;
  retries: number;
  inFlight?: number;
  errors: Record<string, number>;
  /** Beacons over NATS only: the beacon's name, its clock offset to the overseer ± uncertainty (ms), and its first send after the start instant (ms, overseer clock). */
  name?: string;
  clockOffsetMs?: number;
  clockUncertaintyMs?: number;
  firstSendAfterStartMs?: number;
}

/** What a transport across machines knows of a beacon (BeaconTotals' name and clock fields). */
export type BeaconClock = Pick<BeaconTotals, 'name' | 'clockOffsetMs' | 'clockUncertaintyMs' | 'firstSendAfterStartMs'>;

export interface NodeInfo {
  node: string;
  url: string;
  role: string;
  head?: number;
  /** Blocks behind the highest head among the nodes. */
  lag?: number;
  healthy: boolean;
  stats?: unknown;
}

export interface RunInfo {
  id: string;
  name: string;
  status: string;
  startedAt: string;
  finishedAt?: string;
  error?: string;
  scenario: unknown;
  environment: unknown;
}

export interface ReportData {
  kind: 'report';
  generatedAt: string;
  run: RunInfo;
  summary?: Summary;
  thresholds: ThresholdVerdict[];
  seconds: SecondPoint[];
  /** Whole-run latency distributions, for the percentile chart. */
  distribution: { corrected: DistributionPoint[]; uncorrected: DistributionPoint[] };
  beacons: BeaconTotals[];
  nodes: NodeInfo[];
  /** The scenario's faults as injected, with their recovery times (docs/experiments.md); absent without faults. */
  faults?: FaultInfo[];
  /** The sampled global TPS estimate against every node's count (`tpslab run --sample-nodes`); absent when not asked for. */
  sampledTps?: SampledTpsInfo;
}

/**
 * Sampled global TPS (docs/experiments.md): each interval, a sample of the nodes' ingress counts
 * extrapolated to every node, judged against every node's count over the same intervals.
 */
export interface SampledTpsInfo {
  nodes: number;
  sampledPerInterval: number;
  intervalMs: number;
  intervals: number;
  /** Accepted transactions over the sampled intervals: the extrapolated estimate and every node's count. */
  estimatedTotal: number;
  fullTotal: number;
  /** (estimate − full) / full; null when the full count is 0. */
  error: number | null;
}

/** One injected fault: times in seconds since the run's start; null when it never began or ended, or never recovered. */
export interface FaultInfo {
  index: number;
  kind: string;
  label: string;
  plannedAtSec: number;
  startSec: number | null;
  endSec: number | null;
  beforeTps: number | null;
  recoverySec: number | null;
  error?: string;
}

export interface CompareData {
  kind: 'compare';
  generatedAt: string;
  a: ReportData;
  b: ReportData;
}

export type LiveStatus = 'preparing' | 'running' | 'finishing' | 'finished' | 'failed';

export interface LiveData {
  kind: 'live';
  runId: string;
  name: string;
  status: LiveStatus;
  /** Epoch ms of the start instant, once known. */
  startMs?: number;
  scenario: unknown;
  seconds: SecondPoint[];
  beacons: BeaconTotals[];
  nodes: NodeInfo[];
  summary?: Summary;
  thresholds?: ThresholdVerdict[];
  /** Where the report was written, once it was. */
  reportPath?: string;
  error?: string;
  /** The scenario's faults so far: each as it begins, ends and (at the end) gets its recovery time. */
  faults?: FaultInfo[];
}

export type LiveEvent =
  | { type: 'status'; status: LiveStatus; startMs?: number; error?: string }
  | { type: 'second'; point: SecondPoint }
  | { type: 'beacons'; beacons: BeaconTotals[] }
  | { type: 'nodes'; nodes: NodeInfo[] }
  | { type: 'faults'; faults: FaultInfo[] }
  | { type: 'summary'; summary: Summary; thresholds: ThresholdVerdict[]; reportPath?: string };

export interface ExplorerInfo {
  network: string;
  endpoints: string[];
  tracker?: string;
}

export interface BlockSummary {
  height: number;
  hash: string;
  timestampMs: number;
  txCount: number;
}

/** A block as GET /api/explorer/blocks/:height (and a node's /v1/blocks/:height) answers it. */
export type BlockDetail = BlockJson;

export type TxDetail = TxStatusJson & {
  /** The transaction's JSON form, when committed. */
  tx?: Record<string, unknown>;
};

export interface AccountDetail {
  address: string;
  exists: boolean;
  balance: string;
  nonce: string;
  /** Transactions touching the account found in the most recent blocks scanned (newest first). */
  recent: { id: string; height: number; kind: string; direction: 'in' | 'out' | 'both'; amount?: string }[];
  /** How many recent blocks were scanned. */
  scannedBlocks: number;
}

export interface MembersView {
  version: number;
  heartbeatIntervalMs: number;
  overlap: number;
  members: { id: string; role: string; url: string; height?: number; healthy?: boolean; lastSeenMs: number; ranges: { start: string; end: string }[] }[];
}
