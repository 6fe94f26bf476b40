/**
 * The transaction index's merge thread (tx-index.ts): merges sorted runs into one, off the event loop.
 * Message in: `{ inputs, output, fsync }`; out: `{ info }` or `{ error, damaged }`.
 */
import { parentPort } from 'node:worker_threads';
import { mergeRuns, RunDamagedError, type MergeInput, type RunInfo } from './tx-runs.js';

export interface MergeJob { inputs: MergeInput[]; output: string; fsync: boolean }
/** `damaged`: an input's entries do not match their checksum (the index must be rebuilt, not the merge retried). */
export type MergeResult = { info: RunInfo } | { error: string; damaged?: boolean };

parentPort!.on('message', (job: MergeJob) => {
  let out: MergeResult;
  try {
    out = { info: mergeRuns(job.inputs, job.output, job.fsync) };
  } catch (err) {
    out = { error: (err as Error).message, damaged: err instanceof RunDamagedError };
  }
  parentPort!.postMessage(out);
});
