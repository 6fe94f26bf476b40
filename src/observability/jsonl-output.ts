/**
 * Per-second samples as JSON lines, for other tools (as k6's JSON output): one object per
 * completed second, written as soon as every beacon reported it.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { LatencyHistogram } from '../harness/histogram.js';
import type { RunOutput } from '../harness/outputs.js';
import type { SecondRow } from '../harness/store.js';
import type { LatencyPoint, SecondPoint } from '../web/contract.js';

/**
 * One line: a second's counts as reports show them (SecondPoint: `expired` are timeouts that ran
 * out in this second, `late` commits after theirs), and the corrected latency of the second's
 * commits in ms, absent when nothing committed.
 */
export type JsonlSample = { type: 'second'; runId: string } & Omit<SecondPoint, 'corrected' | 'uncorrected' | 'lag'> & Partial<Pick<LatencyPoint, 'p50Ms' | 'p90Ms' | 'p99Ms' | 'maxMs'>>;

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
