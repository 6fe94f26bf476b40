/**
 * An assignment (the overseer's `assign` message) for a beacon driven without an overseer: a
 * sourced run, a test or a benchmark. Every field the overseer would fill has a neutral default
 * (beacon 0 of run `r`, one account, no planned transactions, one in flight, stream confirmation
 * with a 60 s timeout); the caller overrides what its case is about.
 */
import { PROTOCOL_VERSION, type Assign } from './messages.js';

export function assignment(over: Partial<Assign> = {}): Assign {
  return {
    v: PROTOCOL_VERSION,
    type: 'assign',
    runId: 'r',
    beacon: 0,
    connector: { kind: 'fake', config: {} },
    accounts: { start: 0, end: 1 },
    sign: 'presign',
    mode: 'open',
    offsetsMs: new Float64Array(0),
    senders: new Uint32Array(0),
    targets: new Uint32Array(0),
    maxDurationMs: 0,
    maxInFlight: 1,
    batchMax: 10,
    batchDelayMs: 0,
    confirmation: { method: 'stream', timeoutMs: 60_000, retries: 3, pollIntervalMs: 500 },
    collectOutcomes: false,
    ...over,
  };
}
