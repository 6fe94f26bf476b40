/**
 * A small typed client of the node API, used by the CLI, tests and benchmarks.
 * Errors from the node come back as TpslabError with the node's code.
 */
import { TpslabError, isErrorCode } from '../errors.js';
import { encodeBatch } from '../protocol/batch.js';
import { txToJson } from '../protocol/json.js';
import type { AccountJson, BatchResultJson, BlockJson, HeadJson, TopicJson, TxStatusJson } from '../protocol/api.js';
import type { SignedTx } from '../protocol/tx.js';

/** The API's shapes (src/protocol/api.ts), under the names this client has always used. */
export type Head = HeadJson;
export type { TxStatusJson };
export type BatchResult = BatchResultJson;

export interface AccountInfo {
  address: string;
  exists: boolean;
  balance: bigint;
  nonce: bigint;
}


export class NodeClient {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  private async request<T>(path: string, init: RequestInit = {}, okStatuses: number[] = []): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new TpslabError('TPSLAB_E_UNAVAILABLE', `cannot reach the node at ${this.baseUrl} (${cause}); is it running there? check the URL`, { cause: err });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text.length ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.ok || okStatuses.includes(res.status)) return body as T;
    const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (e && isErrorCode(e.code)) throw new TpslabError(e.code, e.message ?? `HTTP ${res.status}`, { details: { httpStatus: res.status } });
    throw new TpslabError('TPSLAB_E_REMOTE', `${init.method ?? 'GET'} ${this.baseUrl}${path} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  }

  head(): Promise<Head> {
    return this.request('/v1/head');
  }

  async account(address: string): Promise<AccountInfo> {
    const a = await this.request<AccountJson>(`/v1/accounts/${encodeURIComponent(address)}`);
    return { address: a.address, exists: a.exists, balance: BigInt(a.balance), nonce: BigInt(a.nonce) };
  }

  /** Submits one transaction as JSON. With `waitMs`, waits for commit or failure (up to that long). */
  submit(tx: SignedTx, opts: { waitMs?: number } = {}): Promise<TxStatusJson> {
    const q = opts.waitMs === undefined ? '' : `?wait=commit&timeoutMs=${opts.waitMs}`;
    return this.request(`/v1/tx${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(txToJson(tx)) });
  }

  /** Submits a binary batch; a 429 (partly full) still returns the per-transaction results. */
  async submitBatch(txs: readonly SignedTx[]): Promise<BatchResult> {
    const body = encodeBatch(txs.map((t) => t.bytes));
    const r = await this.request<BatchResult | { error?: { code?: string; message?: string } }>('/v1/txs', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body }, [429]);
    if ('results' in r) return r;
    // A 429 for the whole batch (the node's ingress budget is spent): nothing was judged.
    const e = r.error;
    throw new TpslabError(isErrorCode(e?.code) ? e.code : 'TPSLAB_E_REMOTE', e?.message ?? 'the batch was refused whole');
  }

  topic(name: string): Promise<TopicJson> {
    return this.request(`/v1/topics/${encodeURIComponent(name)}`);
  }

  status(id: string): Promise<TxStatusJson> {
    return this.request(`/v1/tx/${id}`);
  }

  block(height: number): Promise<BlockJson> {
    return this.request(`/v1/blocks/${height}`);
  }

  async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.baseUrl}/health`);
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }
}
