/**
 * The node HTTP API's request and response shapes, declared once (docs/api.md):
 * the server (src/ledger/node-api.ts, commit-stream.ts) answers with them, and
 * every client — NodeClient, the tpslab connector, tests and benchmarks — reads
 * them. Types only: no I/O.
 */

/** Every refusal: a stable code (src/errors.ts), a message saying what and how to fix. */
export interface ApiError {
  code: string;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}

export interface ErrorBody {
  error: ApiError;
}

/** GET /v1/head: the durable head. */
export interface HeadJson {
  network: string;
  height: number;
  hash: string;
  stateHash: string;
  timestampMs: number;
}

/** GET /v1/accounts/:address. Amounts are decimal strings (u64). `height`: the block this view reflects. */
export interface AccountJson {
  address: string;
  exists: boolean;
  balance: string;
  nonce: string;
  height: number;
}

/** GET /v1/topics/:name. */
export interface TopicJson {
  name: string;
  nextSeq: string;
  owner: string;
}

/** GET /v1/tx/:id, and POST /v1/tx?wait=commit. */
export interface TxStatusJson {
  id: string;
  status: 'pending' | 'committed' | 'failed' | 'unknown';
  height?: number;
  index?: number;
  error?: { code: string; message: string };
}

/** One transaction's answer in a batch, in order. */
export type BatchItemJson = { id: string; status: 'pending' } | { id?: string; error: ApiError };

/** POST /v1/txs (200, or 429 with Retry-After when any was refused for capacity). */
export interface BatchResultJson {
  accepted: number;
  rejected: number;
  results: BatchItemJson[];
}

/** GET /v1/blocks/:height (JSON form). Each transaction in its JSON form (docs/protocol.md). */
export interface BlockJson {
  height: number;
  hash: string;
  prevHash: string;
  timestampMs: number;
  stateHash: string;
  txCount: number;
  txs: Record<string, unknown>[];
}

/** GET /health. 503 with `reason` when the node cannot serve. */
export interface HealthJson {
  status: string;
  role: string;
  height: number;
  reason?: string;
}

/** A transaction of a block event on the commit stream. */
export interface StreamTxJson {
  id: string;
  kind: string;
  sender: string;
  nonce: string;
  topic?: string;
  seq?: string;
  payload?: string;
}

/** Events of the WebSocket commit stream (GET /v1/stream?from=H[&topic=T&fromSeq=N]). */
export type StreamEventJson =
  | { type: 'block'; height: number; hash: string; timestampMs: number; stateHash: string; txs: StreamTxJson[] }
  | { type: 'failed'; id: string; code: string; message: string };
