/**
 * The data of an experiment report (a sweep or a find-max search), as the browser app's
 * experiment page reads it and `--json` prints it. Plain JSON.
 */

export interface ExperimentFigures {
  /** Committed TPS (average over the seconds with commits). */
  tps: number;
  p99Ms: number;
  offered: number;
  sent: number;
  committed: number;
  failed: number;
  lost: number;
}

export interface ExperimentRunPoint {
  seq: number;
  runId?: string;
  params: Record<string, unknown>;
  /** `beacons.count=4, target.nodes=1`, or `rate=120` for a probe. */
  label: string;
  /** passed, breached, failed, aborted; for probes also what the search made of it. */
  status: string;
  figures?: ExperimentFigures;
  note?: string;
}

export interface FindMaxAnswer {
  /** The highest offered rate that met every service level and held in the confirmation run; null when none did. */
  ratePerSec: number | null;
  /** The lowest rate seen to fail (the knee lies between the two), null when none failed. */
  failedAtPerSec: number | null;
  confirmed: boolean;
  /** Why the search stopped. */
  reason: string;
  slo: string[];
}

export interface ExperimentData {
  kind: 'experiment';
  generatedAt: string;
  experiment: {
    id: string;
    kind: 'sweep' | 'find-max';
    name: string;
    description?: string;
    startedAt: string;
    finishedAt?: string;
    source?: string;
    /** Set when Ctrl-C (SIGINT/SIGTERM) stopped it: why, and how far it got. */
    interrupted?: string;
  };
  /** The grid's axes (a sweep) or the rate field (find-max), in order. */
  axes: { path: string; values: unknown[] }[];
  runs: ExperimentRunPoint[];
  answer?: FindMaxAnswer;
}
