/**
 * The transaction index's merge thread (tx-index.ts): merges sorted runs into one, off the event loop.
 * Message in: `{ inputs, output, fsync }`; out: `{ info }` or `{ error }`.
 */
import { parentPort } from 'node:worker_threads';
import { mergeRuns, type RunInfo } from './tx-runs.js';

export interface MergeJob { inputs: string[]; output: string; fsync: boolean }
export type MergeResult = { info: RunInfo } | { error: string };

parentPort!.on('message', (job: MergeJob) => {
  let out: MergeResult;
  try {
    out = { info: mergeRuns(job.inputs, job.output, job.fsync) };
  } catch (err) {
    out = { error: (err as Error).message };
  }
  parentPort!.postMessage(out);
});
