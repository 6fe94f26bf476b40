/**
 * A JSON-RPC 2.0 client over keep-alive HTTP pools (undici), one pool per
 * endpoint: single calls and batches, failing over to the next endpoint when
 * one does not answer or answers 5xx. HTTP 429 is its own error (rate limited).
 */
import { Pool } from 'undici';

export interface RpcRequest {
  method: string;
  params: unknown[];
}

export interface RpcAnswer {
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** The node answered with a JSON-RPC error. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** No answer: the endpoint is down, timed out, answered 5xx or 429, or did not speak JSON-RPC. */
export class TransportError extends Error {
  constructor(
    readonly endpoint: string,
    message: string,
    /** HTTP 429: wait this long (from Retry-After, or a default). */
    readonly rateLimitedMs?: number,
  ) {
    super(`${endpoint}: ${message}`);
  }
}

const DEFAULT_RETRY_AFTER_MS = 1000;

export class RpcClient {
  private readonly pools: Pool[];
  private current = 0;
  private nextId = 1;

  constructor(
    readonly endpoints: readonly string[],
    private readonly timeoutMs: number,
    connections = 16,
    private readonly onFailover: (from: string, to: string) => void = () => {},
  ) {
    this.pools = endpoints.map((e) => new Pool(e, { connections, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }));
  }

  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  /** Sends `body` to endpoint `at`; throws TransportError when there is no JSON answer. */
  private async post(at: number, body: unknown): Promise<unknown> {
    const endpoint = this.endpoints[at]!;
    let res;
    try {
      res = await this.pools[at]!.request({ method: 'POST', path: new URL(endpoint).pathname + new URL(endpoint).search, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new TransportError(endpoint, (err as Error).message);
    }
    const text = await res.body.text().catch((err: unknown) => {
      throw new TransportError(endpoint, (err as Error).message);
    });
    if (res.statusCode === 429) {
      const ra = Number(res.headers['retry-after']);
      throw new TransportError(endpoint, 'HTTP 429 (rate limited)', Number.isFinite(ra) && ra >= 0 ? ra * 1000 : DEFAULT_RETRY_AFTER_MS);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new TransportError(endpoint, `HTTP ${res.statusCode}, not JSON-RPC: ${text.slice(0, 200)}`);
    }
  }

  /** Moves to the next endpoint after `from` failed (once per failure, whoever notices first). */
  rotate(from: number): void {
    if (this.current === from && this.pools.length > 1) {
      this.current = (from + 1) % this.pools.length;
      this.onFailover(this.endpoints[from]!, this.endpoints[this.current]!);
    }
  }

  /** One batch to the current endpoint, no failover: answers in request order, or a TransportError (and the client rotates). */
  async batchOnce(reqs: readonly RpcRequest[]): Promise<RpcAnswer[]> {
    const at = this.current;
    const first = this.nextId;
    this.nextId += reqs.length;
    try {
      const answer = await this.post(at, reqs.map((r, k) => ({ jsonrpc: '2.0', id: first + k, method: r.method, params: r.params })));
      if (!Array.isArray(answer)) {
        const err = (answer as RpcAnswer | null)?.error;
        // A node that refuses batches answers one error object: every request gets it.
        if (err) return reqs.map(() => ({ error: err }));
        throw new TransportError(this.endpoints[at]!, 'a batch was answered with something other than an array');
      }
      const byId = new Map((answer as (RpcAnswer & { id: number })[]).map((a) => [a.id, a]));
      return reqs.map((_, k) => byId.get(first + k) ?? { error: { code: -32603, message: 'no answer for this request in the batch' } });
    } catch (err) {
      if (err instanceof TransportError && err.rateLimitedMs === undefined) this.rotate(at);
      throw err;
    }
  }

  /** A batch, failing over through every endpoint once. */
  async batch(reqs: readonly RpcRequest[]): Promise<RpcAnswer[]> {
    let last: unknown;
    for (let tries = 0; tries < this.pools.length; tries++) {
      try {
        return await this.batchOnce(reqs);
      } catch (err) {
        last = err;
        if (!(err instanceof TransportError) || err.rateLimitedMs !== undefined) throw err;
      }
    }
    throw last;
  }

  /** One call, failing over through every endpoint once; a JSON-RPC error throws RpcError. */
  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const [a] = await this.batch([{ method, params }]);
    if (a!.error) throw new RpcError(a!.error.code, a!.error.message, a!.error.data);
    return a!.result as T;
  }

  /** Many calls in batches of `size`; a JSON-RPC error in any throws RpcError. */
  async calls<T>(reqs: readonly RpcRequest[], size = 100): Promise<T[]> {
    const out: T[] = [];
    for (let k = 0; k < reqs.length; k += size) {
      for (const a of await this.batch(reqs.slice(k, k + size))) {
        if (a.error) throw new RpcError(a.error.code, a.error.message, a.error.data);
        out.push(a.result as T);
      }
    }
    return out;
  }

  /** Asks endpoint `i` directly (node table): its head, or the failure. */
  async headOf(i: number): Promise<number> {
    const a = (await this.post(i, { jsonrpc: '2.0', id: 0, method: 'eth_blockNumber', params: [] })) as RpcAnswer;
    if (a.error) throw new RpcError(a.error.code, a.error.message);
    return Number(a.result);
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.close()));
  }
}
