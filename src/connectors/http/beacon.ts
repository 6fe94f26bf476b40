/**
 * The beacon side of the `http` connector: one request per transaction from the
 * template, sent concurrently over keep-alive pools (undici), failing over to
 * the next endpoint when one does not answer or answers 5xx; 429 honoured with
 * its Retry-After; confirmations by polling a status URL, or the success answer.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import type { BeaconConnector, BeaconContext, BuiltTx, ConfirmSink, PendingView, PlannedTx, SubmitItem, SubmitResult } from '../contract.js';
import type { HttpBeaconConfig } from './schema.js';
import { retryAfterMs } from '../retry-after.js';
import { fill, holds } from './template.js';

interface Request {
  values: Record<string, string | number>;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

const DEFAULT_RETRY_AFTER_MS = 1000;
const POLL_BATCH = 256;
const MAX_BACKOFF_MS = 2000;

export class HttpBeacon implements BeaconConnector {
  private readonly pools: Pool[];
  private current = 0;
  private sink: ConfirmSink | undefined;
  /** Accepted and awaiting a status poll: id → its template values. */
  private readonly awaiting = new Map<string, Record<string, string | number>>();
  private pollTimer: unknown;
  private closed = false;

  constructor(
    private readonly c: HttpBeaconConfig,
    private readonly ctx: BeaconContext,
  ) {
    this.pools = c.endpoints.map((e) => new Pool(e, { connections: c.connections, headersTimeout: c.timeoutMs, bodyTimeout: c.timeoutMs }));
  }

  /** An HTTP API has no positions: always 0. */
  readonly position = 0;

  async prepare(): Promise<void> {}

  build(tx: PlannedTx): BuiltTx {
    const values: Record<string, string | number> = {
      seq: tx.index,
      account: tx.sender,
      target: tx.target,
      beacon: this.c.beacon,
      uuid: randomUUID(),
      intendedMs: Math.round(tx.intendedOffsetMs),
      amount: this.c.amount,
    };
    const id = fill(this.c.id, values);
    values.id = id;
    const r = this.c.request;
    const req: Request = {
      values,
      path: fill(r.path, values),
      headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, fill(v, values)])),
      body: r.body === undefined ? undefined : fill(r.body, values),
    };
    return { id, payload: req };
  }

  /** Sends one request per item, all at once; failures on one endpoint move this beacon to the next. */
  submit(batch: readonly SubmitItem[]): Promise<SubmitResult[]> {
    return Promise.all(batch.map((item) => this.send(item)));
  }

  private async send(item: SubmitItem): Promise<SubmitResult> {
    const req = item.tx.payload as Request;
    const at = this.current;
    try {
      const res = await this.pools[at]!.request({ method: this.c.request.method as 'POST', path: req.path, headers: req.headers, body: req.body ?? null });
      const text = await res.body.text();
      const s = res.statusCode;
      if (s === 429) return { kind: 'retry', code: 'HTTP_429', afterMs: retryAfterMs(res.headers['retry-after'], this.ctx.clock.now()) ?? DEFAULT_RETRY_AFTER_MS, message: text.slice(0, 200) };
      if (s >= 500) {
        this.rotate(at);
        return { kind: 'retry', code: `HTTP_${s}`, afterMs: backoff(item.attempt), message: text.slice(0, 200) };
      }
      if (item.attempt > 1 && this.c.success.knownStatus.includes(s)) return this.accepted(item.tx.id, req, 'known');
      if (!this.c.success.status.includes(s)) return { kind: 'rejected', code: `HTTP_${s}`, message: text.slice(0, 200) };
      if (this.c.success.json && !holds(this.c.success.json, parseJson(text))) return { kind: 'rejected', code: 'HTTP_CONDITION', message: `the answer did not satisfy success.json (${this.c.success.json.path}): ${text.slice(0, 200)}` };
      return this.accepted(item.tx.id, req);
    } catch (err) {
      this.rotate(at);
      return { kind: 'retry', code: 'HTTP_UNAVAILABLE', afterMs: backoff(item.attempt), message: `${this.c.endpoints[at]}: ${(err as Error).message}` };
    }
  }

  /** Accepted (or known from an earlier send): confirm it by polling, or count it committed now. */
  private accepted(id: string, req: Request, kind: 'accepted' | 'known' = 'accepted'): SubmitResult {
    if (this.c.confirm) this.awaiting.set(id, req.values);
    else this.sink?.committed(id, 0, this.ctx.clock.now());
    return { kind };
  }

  private rotate(from: number): void {
    if (this.current === from && this.pools.length > 1) {
      this.current = (this.current + 1) % this.pools.length;
      this.ctx.log(`${this.c.endpoints[from]} failed; moving to ${this.c.endpoints[this.current]}`);
    }
  }

  async confirm(sink: ConfirmSink, pending: PendingView): Promise<void> {
    this.sink = sink;
    if (this.c.confirm) this.schedulePoll(pending);
  }

  private schedulePoll(pending: PendingView): void {
    if (this.closed) return;
    const interval = this.c.confirm!.intervalMs;
    this.pollTimer = this.ctx.clock.setTimeout(() => void this.poll(pending).finally(() => this.schedulePoll(pending)), interval);
  }

  private async poll(pending: PendingView): Promise<void> {
    const conf = this.c.confirm!;
    const ids = pending.sentBefore(this.ctx.clock.now() - conf.intervalMs, POLL_BATCH);
    await Promise.all(
      ids.map(async (id) => {
        const values = this.awaiting.get(id);
        if (!values) return; // not accepted yet (or resolved)
        const at = this.current;
        try {
          const res = await this.pools[at]!.request({ method: 'GET', path: fill(conf.path, values) });
          const text = await res.body.text();
          if (res.statusCode >= 500) return this.rotate(at);
          if (res.statusCode >= 300) return;
          const json = parseJson(text);
          if (holds(conf.until, json)) {
            this.awaiting.delete(id);
            this.sink!.committed(id, 0, this.ctx.clock.now());
          } else if (conf.failWhen && holds(conf.failWhen, json)) {
            this.awaiting.delete(id);
            this.sink!.failed(id, 'HTTP_FAILED');
          }
        } catch {
          this.rotate(at);
        }
      }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.ctx.clock.clearTimeout(this.pollTimer);
    await Promise.all(this.pools.map((p) => p.close()));
  }
}

function backoff(attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
