/**
 * Per-second samples as JSON lines, for other tools (as k6's JSON output): one object per
 * completed second, written as soon as every beacon reported it.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { LatencyHistogram } from '../harness/histogram.js';
import type { RunOutput } from '../harness/outputs.js';
import type { SecondRow } from '../harness/store.js';

export interface JsonlSample {
  type: 'second';
  runId: string;
  second: number;
  targetRate: number | null;
  sent: number;
  committed: number;
  failed: number;
  /** Expired in this second (past confirmation.timeoutMs, not committed then). */
  expired: number;
  /** Committed in this second after their timeout had run out. */
  late: number;
  inFlight: number;
  errors: Record<string, number>;
  /** Corrected latency of the second's commits, ms; absent when nothing committed. */
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  maxMs?: number;
}

export function sampleOf(runId: string, row: SecondRow): JsonlSample {
  const s: JsonlSample = {
    type: 'second', runId, second: row.second, targetRate: row.targetRate !== null && Number.isFinite(row.targetRate) ? row.targetRate : null,
    sent: row.sent, committed: row.committed, failed: row.failed, expired: row.expired, late: row.late, inFlight: row.inFlight, errors: row.errors,
  };
  if (row.latCorrected) {
    const l = LatencyHistogram.decode(row.latCorrected).summary();
    if (l.count > 0) Object.assign(s, { p50Ms: l.p50Ms, p90Ms: l.p90Ms, p99Ms: l.p99Ms, maxMs: l.maxMs });
  }
  return s;
}

export class JsonlOutput {
  private readonly stream: WriteStream;
  private runId = '';

  constructor(readonly file: string) {
    this.stream = createWriteStream(file, { flags: 'a' });
  }

  get output(): RunOutput {
    return {
      created: (id) => void (this.runId = id),
      second: (row) => void this.stream.write(`${JSON.stringify(sampleOf(this.runId, row))}\n`),
    };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}
