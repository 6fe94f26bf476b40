/**
 * Small helpers shared by the end-to-end tests: raw HTTP against a node (so
 * status codes and headers can be asserted, not just client results), signed
 * transfers, and a WebSocket commit-stream collector. No tests live here.
 */
import assert from 'node:assert/strict';
import type { AccountJson, ApiError, BatchResultJson, BlockJson, ErrorBody, HeadJson, StreamTxJson, TxStatusJson } from '../../src/protocol/api.js';
import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import type { KeyPair } from '../../src/protocol/signing.js';
import { signTx } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { txToJson } from '../../src/protocol/json.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoint } from '../../src/ledger/node.js';
import { spawnCli, waitFor, type CliChild } from '../testkit/index.js';

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  body: unknown;
}

/** The node API's shapes are declared once (src/protocol/api.ts); these are the names the tests use. */
export type { ErrorBody };
export type StatusBody = TxStatusJson;
export type AccountBody = AccountJson;
export type HeadBody = HeadJson;
/** A block in JSON form, its transactions read as the tests read them. */
export type BlockBody = Omit<BlockJson, 'txs'> & {
  txs: { id: string; kind: string; nonce: string; inputs?: { account: string; amount: string }[]; outputs?: { account: string; amount: string }[] }[];
};
/** A batch answer, each result read loosely (either form). */
export type BatchBody = Omit<BatchResultJson, 'results'> & { results: { id?: string; status?: string; error?: ApiError }[] };

export interface RequestOptions {
  method?: string;
  /** Sent as application/json (already-serialised strings are sent as they are). */
  json?: unknown;
  /** Sent as application/octet-stream. */
  binary?: Uint8Array;
  /** Overrides the content type. */
  contentType?: string;
}

/** One HTTP request; never throws on an HTTP error status. */
export async function http(base: string, path: string, o: RequestOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  let body: string | Uint8Array | undefined;
  if (o.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = typeof o.json === 'string' ? o.json : JSON.stringify(o.json);
  } else if (o.binary !== undefined) {
    headers['content-type'] = 'application/octet-stream';
    body = o.binary;
  }
  if (o.contentType) headers['content-type'] = o.contentType;
  const res = await fetch(`${base}${path}`, { method: o.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

export async function getJson<T>(base: string, path: string): Promise<T> {
  const r = await http(base, path);
  assert.equal(r.status, 200, `GET ${path} answered ${r.status}: ${r.text}`);
  return r.body as T;
}

/** Asserts an error answer: HTTP status, stable code, and a message matching `message`. */
export function assertError(r: HttpResult, status: number, code: string, message?: RegExp): ErrorBody['error'] {
  assert.equal(r.status, status, `expected HTTP ${status} ${code}, got ${r.status}: ${r.text}`);
  const e = (r.body as ErrorBody | undefined)?.error;
  assert.ok(e, `expected an error body, got: ${r.text}`);
  assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0, 'error message is empty');
  assert.equal(typeof e.retryable, 'boolean');
  if (message) assert.match(e.message, message);
  return e;
}

export function transfer(from: KeyPair, to: KeyPair | Buffer, amount: bigint, nonce: bigint, network: string, extra: { fee?: bigint; deps?: Buffer[] } = {}): SignedTx {
  const toAccount = Buffer.isBuffer(to) ? to : to.publicKey;
  return signTx(
    { kind: 'transfer', nonce, fee: extra.fee ?? 0n, deps: extra.deps ?? [], inputs: [{ account: from.publicKey, amount }], outputs: [{ account: toAccount, amount }] },
    [from],
    network,
  );
}

export function message(from: KeyPair, topic: string, payload: Buffer, nonce: bigint, network: string): SignedTx {
  return signTx({ kind: 'message', nonce, fee: 0n, deps: [], from: from.publicKey, topic, payload }, [from], network);
}

export function createTopic(from: KeyPair, topic: string, nonce: bigint, network: string): SignedTx {
  return signTx({ kind: 'create-topic', nonce, fee: 0n, deps: [], from: from.publicKey, topic }, [from], network);
}

export const hex = (tx: SignedTx): string => tx.id.toString('hex');

/** POST /v1/tx as JSON; `wait` adds ?wait=commit. */
export function postJsonTx(base: string, tx: SignedTx | Record<string, unknown>, wait = false): Promise<HttpResult> {
  const json = 'bytes' in tx && Buffer.isBuffer(tx.bytes) ? txToJson(tx as SignedTx) : tx;
  return http(base, `/v1/tx${wait ? '?wait=commit&timeoutMs=20000' : ''}`, { json });
}

/** POST /v1/tx as binary; `wait` adds ?wait=commit. */
export function postBinaryTx(base: string, bytes: Uint8Array, wait = false): Promise<HttpResult> {
  return http(base, `/v1/tx${wait ? '?wait=commit&timeoutMs=20000' : ''}`, { binary: bytes });
}

export async function account(base: string, address: string): Promise<{ exists: boolean; balance: bigint; nonce: bigint }> {
  const a = await getJson<AccountBody>(base, `/v1/accounts/${address}`);
  return { exists: a.exists, balance: BigInt(a.balance), nonce: BigInt(a.nonce) };
}

export function status(base: string, id: string): Promise<StatusBody> {
  return getJson<StatusBody>(base, `/v1/tx/${id}`);
}

/** Polls until every id is committed (or failed: that fails the wait); returns the statuses in order. */
export async function waitCommitted(base: string, ids: readonly string[], timeoutMs = 20_000): Promise<StatusBody[]> {
  const out = new Map<string, StatusBody>();
  await waitFor(
    `${ids.length} transactions to commit`,
    async () => {
      const todo = ids.filter((id) => !out.has(id));
      await mapLimit(todo, 16, async (id) => {
        const s = await status(base, id);
        if (s.status === 'failed') throw new Error(`transaction ${id} failed: ${JSON.stringify(s.error)}`);
        if (s.status === 'committed') out.set(id, s);
      });
      return out.size === ids.length;
    },
    timeoutMs,
    50,
  );
  return ids.map((id) => out.get(id)!);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** (height, index) as one comparable number. */
export const position = (s: { height?: number; index?: number }): number => s.height! * 1_000_000 + s.index!;

/**
 * Sends headers announcing a body of `contentLength` bytes without sending the
 * body, and returns the early answer (fetch cannot: the server answers and
 * closes while the body is still being written).
 */
export function postDeclaredLength(base: string, path: string, contentLength: number, contentType = 'application/octet-stream'): Promise<HttpResult> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': contentType, 'content-length': String(contentLength) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        req.destroy();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers, text, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer to POST ${path} within 15 s`)));
    req.flushHeaders();
  });
}

export type StreamTx = StreamTxJson;

export interface StreamEvent {
  type: 'block' | 'failed';
  height?: number;
  hash?: string;
  stateHash?: string;
  txs?: StreamTx[];
  id?: string;
  code?: string;
}

/** A WebSocket subscriber of /v1/stream that keeps every event it receives. */
export class StreamCollector {
  readonly events: StreamEvent[] = [];
  closed = false;
  closeCode: number | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => this.events.push(JSON.parse(data.toString()) as StreamEvent));
    ws.on('close', (code: number) => {
      this.closed = true;
      this.closeCode = code;
    });
    ws.on('error', () => undefined);
  }

  static open(base: string, query = ''): Promise<StreamCollector> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/stream${query}`);
    const c = new StreamCollector(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`WebSocket /v1/stream${query} did not open within 10 s`));
      }, 10_000);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(c);
      });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`WebSocket /v1/stream${query} refused with HTTP ${res.statusCode}`));
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get blocks(): StreamEvent[] {
    return this.events.filter((e) => e.type === 'block');
  }

  /** tx id → { height, index } for every block event received (index = position in the block). */
  committed(): Map<string, { height: number; index: number }> {
    const m = new Map<string, { height: number; index: number }>();
    for (const b of this.blocks) b.txs!.forEach((t, index) => m.set(t.id, { height: b.height!, index }));
    return m;
  }

  until(what: string, pred: (c: StreamCollector) => boolean, timeoutMs = 20_000): Promise<true> {
    return waitFor(`stream: ${what}`, () => pred(this) || undefined, timeoutMs, 20);
  }

  close(): void {
    this.ws.terminate();
  }
}

/**
 * A `tpslab sequencer` child process on port 0 (network nodes follow it: `NodeProcess.start(dir, ['--sequencer',
 * url, '--genesis', genesis])`), once it serves; `args` adds options (e.g. `--mempool-capacity`). The caller kills it.
 */
export async function startSequencer(dataDir: string, genesis: string, args: string[] = []): Promise<{ url: string; cli: CliChild }> {
  const cli = spawnCli(['sequencer', '--data', dataDir, '--genesis', genesis, '--port', '0', ...args]);
  try {
    const endpoint = await waitFor(`the sequencer in ${dataDir} to write endpoint.json`, async () => {
      if (cli.child.exitCode !== null) throw new Error(`the sequencer exited during start:\n${cli.stdout}${cli.stderr}`);
      const e = JSON.parse(await readFile(join(dataDir, 'endpoint.json'), 'utf8')) as Endpoint;
      return e.pid === cli.child.pid ? e : undefined;
    }, 60_000);
    await waitFor(`the sequencer ${endpoint.url} to be healthy`, async () => {
      const res = await fetch(`${endpoint.url}/health`);
      await res.arrayBuffer();
      return res.ok;
    }, 60_000);
    return { url: endpoint.url, cli };
  } catch (err) {
    cli.child.kill('SIGKILL');
    throw err;
  }
}
