/**
 * What a node asks of its sequencer(s) over HTTP: submit a verified batch, and (replicated ordering)
 * who leads. Kept apart from replica.ts and leader-forwarder.ts, which decide where to send and what to send again.
 */
import { encodeBatch } from '../protocol/batch.js';
import type { SignedTx } from '../protocol/tx.js';

export const INTERNAL_SUBMIT_PATH = '/v1/internal/submit';
export const INTERNAL_LEADER_PATH = '/v1/internal/leader';

export interface SubmitAnswer {
  results: ({ error?: { code: string; message: string; details?: { leaderUrl?: string; term?: number } } } | undefined)[];
  /** The leader's term (replicated ordering). */
  term?: number;
}

/** Posts a batch; throws on a transport error, after `timeoutMs`, when `abort` fires, or on an answer without per-transaction results. */
export async function postBatch(baseUrl: string, txs: readonly SignedTx[], timeoutMs: number, abort?: AbortSignal): Promise<SubmitAnswer> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const res = await fetch(`${baseUrl}${INTERNAL_SUBMIT_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: encodeBatch(txs.map((tx) => tx.bytes)),
    signal: abort ? AbortSignal.any([timeout, abort]) : timeout,
  });
  const body = (await res.json()) as Partial<SubmitAnswer> & { error?: { code: string; message: string } };
  if (!body.results) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
  return { results: body.results, ...(typeof body.term === 'number' ? { term: body.term } : {}) };
}

export interface LeaderAnswer {
  replicated: boolean;
  leader?: { term: number; id: string; url: string; self: boolean } | null;
  /** The sequencer's durable head. */
  height?: number;
}

export async function fetchLeader(baseUrl: string, timeoutMs: number): Promise<LeaderAnswer> {
  const res = await fetch(`${baseUrl}${INTERNAL_LEADER_PATH}`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return (await res.json()) as LeaderAnswer;
}
