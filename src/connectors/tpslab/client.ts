/**
 * How a beacon talks to the network: binary batches over keep-alive
 * connections (undici), with failover to the next endpoint when one does not
 * answer or answers 5xx. Every failure becomes a coded, per-transaction outcome.
 */
import { Pool } from 'undici';
import { systemClock, type Clock } from '../../clock.js';
import { TpslabError, isErrorCode } from '../../errors.js';
import type { AccountJson, BatchResultJson, ErrorBody } from '../../protocol/api.js';
import { batchSize, encodeBatch } from '../../protocol/batch.js';
import { retryAfterMs } from '../retry-after.js';

/** `retryAfterMs`: the node refused the batch for load (429) and said when to come back (Retry-After, bounded). */
export type SubmitOutcome = { ok: true } | { ok: false; error: TpslabError; retryAfterMs?: number };

/** A node's Retry-After is followed up to this long (a longer one would outlast a transaction's loss timeout). */
export const MAX_RETRY_AFTER_MS = 10_000;

/** A request unanswered this long fails (UNAVAILABLE, retried on the next endpoint), at most. */
export const MAX_REQUEST_TIMEOUT_MS = 10_000;
/** At least (a busy node may take this long to answer a batch). */
export const MIN_REQUEST_TIMEOUT_MS = 1_000;

/**
 * The request timeout for a run whose transactions are lost `lossTimeoutMs` after their intended send:
 * 60% of it, within [MIN, MAX]. Below the loss timeout, a request nobody answers (a paused node) fails
 * and its transaction is sent again on the next endpoint while it can still commit in time; with equal
 * timeouts the request failed only as the transaction was counted lost, so it was never retried within
 * its window (it was resent after, as a lost-repair, and committed late). Above the node's own forward
 * timeout (5 s) when the loss timeout is 10 s or more, so a node's answer comes first.
 */
export function requestTimeoutFor(lossTimeoutMs: number | undefined): number {
  if (lossTimeoutMs === undefined) return MAX_REQUEST_TIMEOUT_MS;
  return Math.min(MAX_REQUEST_TIMEOUT_MS, Math.max(MIN_REQUEST_TIMEOUT_MS, Math.floor(lossTimeoutMs * 0.6)));
}
/** Request bodies kept for reuse at most (about the requests a beacon has in flight). */
const MAX_FREE_BODIES = 64;
const MIN_BODY_BYTES = 64 * 1024;
const OK: SubmitOutcome = Object.freeze({ ok: true });
const allOkBySize = new Map<number, readonly SubmitOutcome[]>();

/** A whole batch of `n` taken: one shared, frozen answer per size (the hot path allocates nothing per transaction). */
export function allOk(n: number): readonly SubmitOutcome[] {
  let a = allOkBySize.get(n);
  if (!a) {
    a = Object.freeze(new Array<SubmitOutcome>(n).fill(OK));
    if (allOkBySize.size < 1024) allOkBySize.set(n, a);
  }
  return a;
}

/**
 * The node's answer to a batch it took whole starts `{"accepted":n,"rejected":0,` (src/protocol/api.ts,
 * BatchResultJson, serialized in that order): read from the text, the per-transaction results (an
 * object and a 64-character id each) need not be parsed. Any other answer is parsed in full.
 */
const ALL_ACCEPTED = /^\{"accepted":(\d+),"rejected":0,/;

const POST_HEADERS = { 'content-type': 'application/octet-stream' };
/** Keep-alive connections per endpoint for status and account GETs (apart from the batches'). */
const GET_CONNECTIONS = 8;
/** Bytes of an answer read to tell a whole batch taken (`{"accepted":<n>,"rejected":0,` and some). */
const HEAD_BYTES = 48;

/** A node's answer to a batch: its status and body, decoded only as far as asked. */
class BatchAnswer {
  constructor(
    readonly statusCode: number,
    private readonly chunks: Buffer[],
    /** A 429's Retry-After, in ms, within [0, MAX_RETRY_AFTER_MS]; undefined when absent or unreadable. */
    readonly retryAfterMs?: number,
  ) {}

  /** The answer's first bytes, as text. */
  head(): string {
    const first = this.chunks[0];
    if (first && first.length >= HEAD_BYTES) return first.toString('latin1', 0, HEAD_BYTES);
    return Buffer.concat(this.chunks).toString('latin1', 0, HEAD_BYTES);
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** How a beacon's batches share the connections to one endpoint. */
export interface ClientOptions {
  /**
   * A batch not answered this long after it was handed to the client fails (default
   * MAX_REQUEST_TIMEOUT_MS), wherever it waits: queued, in a pipeline behind others, or on the wire.
   * The first such failure also drops every connection to that endpoint, so the batches queued or
   * in flight there fail at once (and are retried elsewhere) instead of each waiting its own timeout.
   */
  requestTimeoutMs?: number;
  /** Keep-alive connections per endpoint (default 16). */
  connections?: number;
  /**
   * Batches outstanding on one connection (default 1). Above 1 a POST is sent while earlier ones on
   * its connection still wait for their answers (undici pipelines only requests marked `idempotent`
   * and not `blocking`). If such a connection closes (not on a request timeout: see
   * `requestTimeoutMs`), undici fails the request at the head of its pipeline and sends the ones
   * behind it again on a new connection to the same endpoint: a node that had taken them answers
   * DUPLICATE, which the beacon then reads as "already in" (see `pipelined`).
   */
  pipelining?: number;
  /** Runs the request timeouts (default systemClock). */
  clock?: Clock;
}

export class BeaconClient {
  private readonly pools: Pool[];
  /**
   * GETs (status polls, nonces) have connections of their own: on the batches' they waited behind
   * hung batches, so a confirmation poll could not see transactions committed in time.
   */
  private readonly getPools: Pool[];
  private current = 0;
  failovers = 0;
  /**
   * Request bodies free for reuse. A fresh 30-100 KB buffer per batch was garbage the size of
   * everything sent (external memory that drives V8's collections) and cold in the cache.
   * A body is reused only after a 200 answer: an early refusal (429 before the body is read)
   * may leave some of its bytes still queued on the socket.
   */
  private readonly freeBodies: Buffer[] = [];

  readonly requestTimeoutMs: number;
  /** Batches may be sent again by undici itself (pipelining above 1), with no new attempt counted. */
  readonly pipelined: boolean;
  private readonly connections: number;
  private readonly pipelining: number;
  private readonly clock: Clock;
  private closed = false;

  constructor(
    readonly endpoints: readonly string[],
    opts: ClientOptions = {},
  ) {
    this.requestTimeoutMs = opts.requestTimeoutMs ?? MAX_REQUEST_TIMEOUT_MS;
    this.pipelining = opts.pipelining ?? 1;
    this.connections = opts.connections ?? 16;
    this.pipelined = this.pipelining > 1;
    this.clock = opts.clock ?? systemClock;
    this.pools = endpoints.map((e) => this.newPool(e));
    const t = this.requestTimeoutMs;
    this.getPools = endpoints.map((e) => new Pool(e, { connections: GET_CONNECTIONS, headersTimeout: t, bodyTimeout: t }));
  }

  private newPool(endpoint: string): Pool {
    // undici's own timeouts are a backstop: they count from when a request reaches the head of its
    // connection, so behind a pipeline they come late (see `post`).
    const t = this.requestTimeoutMs;
    return new Pool(endpoint, { connections: this.connections, pipelining: this.pipelining, headersTimeout: t, bodyTimeout: t });
  }

  /**
   * Drops every connection to endpoint `at` (when `pool` is still its pool): whatever is queued or in
   * flight there fails now with `err`, and is not sent to it again; later batches get new connections.
   */
  private resetPool(at: number, pool: Pool, err: Error): void {
    if (this.pools[at] !== pool) return;
    if (!this.closed) this.pools[at] = this.newPool(this.endpoints[at]!);
    pool.destroy(err).catch(() => {});
  }

  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  /** Moves to the next endpoint (round robin). */
  rotate(): void {
    if (this.endpoints.length > 1) {
      this.current = (this.current + 1) % this.endpoints.length;
      this.failovers++;
    }
  }

  /** Posts `txs` as one batch (`size`: its framed size, batchSize(txs), when the caller has it). */
  async submit(txs: readonly Buffer[], size?: number): Promise<readonly SubmitOutcome[]> {
    const at = this.current;
    const need = size ?? batchSize(txs);
    let buf = this.freeBodies.pop();
    if (!buf || buf.length < need) buf = Buffer.allocUnsafeSlow(Math.max(need, MIN_BODY_BYTES));
    let reusable = false;
    try {
      const res = await this.post(at, encodeBatch(txs, buf, need));
      // A 200 answers the whole batch: the node read every byte, so none is still queued on the socket.
      reusable = res.statusCode === 200;
      if (res.statusCode === 200 && Number(ALL_ACCEPTED.exec(res.head())?.[1]) === txs.length) return allOk(txs.length);
      const text = res.text();
      if (res.statusCode >= 500) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
      const body = JSON.parse(text) as Partial<BatchResultJson> & Partial<ErrorBody>;
      if (!body.results) {
        const e = toError(body.error, `HTTP ${res.statusCode}`);
        const o: SubmitOutcome = res.retryAfterMs === undefined ? { ok: false, error: e } : { ok: false, error: e, retryAfterMs: res.retryAfterMs };
        return txs.map(() => o);
      }
      return body.results.map((r) => ('error' in r ? { ok: false, error: toError(r.error, 'refused') } : OK));
    } catch (err) {
      if (this.current === at) this.rotate();
      const e = new TpslabError('TPSLAB_E_UNAVAILABLE', `${this.endpoints[at]} did not take the batch: ${(err as Error).message}`, { cause: err });
      return txs.map(() => ({ ok: false, error: e }));
    } finally {
      if (reusable && this.freeBodies.length < MAX_FREE_BODIES) this.freeBodies.push(buf);
    }
  }

  /**
   * POSTs a batch body to endpoint `at`; resolves once the whole answer is in. Through undici's
   * `dispatch` with a handler, not `request`: no response stream, no body consumer and no string
   * of the whole answer per batch (`head()` decodes only its first bytes: a whole batch taken is
   * known from them).
   */
  private post(at: number, body: Buffer): Promise<BatchAnswer> {
    const pool = this.pools[at]!;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let statusCode = 0;
      let retryAfter: number | undefined;
      let settled = false;
      // The deadline counts from here, not from when undici writes the request or it reaches the head
      // of a pipeline: behind a hung batch, each one after it would otherwise wait a timeout of its own
      // (and be sent again to the same endpoint after each one).
      const timer = this.clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        const err = new Error(`no answer within the request timeout (${this.requestTimeoutMs} ms); every connection to this endpoint dropped`);
        reject(err);
        this.resetPool(at, pool, err);
      }, this.requestTimeoutMs);
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        this.clock.clearTimeout(timer);
        return true;
      };
      pool.dispatch(
        // Pipelined only when asked (ClientOptions.pipelining): undici never pipelines a request it may not send twice.
        { method: 'POST', path: '/v1/txs', headers: POST_HEADERS, body, idempotent: this.pipelined, blocking: !this.pipelined },
        {
          onRequestStart: () => {}, // (undici takes a handler without it for its older interface)
          onResponseStart: (_c, status, headers) => {
            statusCode = status;
            if (status === 429) {
              const ms = retryAfterMs(headers['retry-after'], Date.now());
              if (ms !== undefined) retryAfter = Math.min(MAX_RETRY_AFTER_MS, ms);
            }
          },
          onResponseData: (_c, chunk) => void chunks.push(chunk),
          onResponseEnd: () => void (settle() && resolve(new BatchAnswer(statusCode, chunks, retryAfter))),
          onResponseError: (_c, err) => void (settle() && reject(err)),
        },
      );
    });
  }

  /** GET from the current endpoint, moving to the next one when it cannot be reached (each tried once). */
  async getJson<T>(path: string): Promise<T> {
    for (let tried = 1; ; tried++) {
      const at = this.current;
      try {
        return await this.getJsonFrom<T>(at, path);
      } catch (err) {
        if (err instanceof TpslabError || tried >= this.endpoints.length) throw err;
        if (this.current === at) this.rotate();
      }
    }
  }

  private async getJsonFrom<T>(at: number, path: string): Promise<T> {
    const res = await this.getPools[at]!.request({ method: 'GET', path });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw toError((JSON.parse(text) as Partial<ErrorBody>).error, `HTTP ${res.statusCode}`);
    return JSON.parse(text) as T;
  }

  /** Next nonces of accounts, 32 requests at a time. */
  async nonces(addresses: readonly string[]): Promise<bigint[]> {
    const out: bigint[] = new Array(addresses.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < addresses.length) {
        const k = next++;
        const a = await this.getJson<AccountJson>(`/v1/accounts/${addresses[k]}`);
        out[k] = BigInt(a.nonce);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools, ...this.getPools].map((p) => p.close()));
  }
}

function toError(e: { code: string; message: string } | undefined, fallback: string): TpslabError {
  if (e && isErrorCode(e.code)) return new TpslabError(e.code, e.message);
  return new TpslabError('TPSLAB_E_REMOTE', e?.message ?? fallback);
}
