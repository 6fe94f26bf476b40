/**
 * A small, bounded load loop for tests: each account has at most one
 * transaction outstanding; commits are learned from a node's commit stream;
 * a transaction not committed after `retryAfterMs` is sent again with the same
 * bytes (same id), as a beacon would. Stops at `maxTxs` or `durationMs`.
 */
import WebSocket from 'ws';
import type { BatchResultJson, ErrorBody, HeadJson, StreamEventJson } from '../../src/protocol/api.js';
import { encodeBatch } from '../../src/protocol/batch.js';
import { signTx, type KeyPair } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';

export interface Committed {
  id: string;
  height: number;
}

export interface LoadResult {
  sent: number;
  committed: Map<string, number>;
  /** Heights of block events in arrival order (to check none is skipped or repeated). */
  heights: number[];
  errors: Map<string, number>;
}

export class LoadLoop {
  readonly committed = new Map<string, number>();
  readonly heights: number[] = [];
  readonly errors = new Map<string, number>();
  private ws: WebSocket | undefined;
  private nextNonce: bigint[];
  private outstanding = new Map<number, { tx: SignedTx; sentAt: number }>();
  private stopped = false;
  sent = 0;

  constructor(
    private readonly opts: {
      network: string;
      accounts: KeyPair[];
      submitUrls: () => string[];
      streamUrl: string;
      maxTxs: number;
      durationMs: number;
      retryAfterMs?: number;
    },
  ) {
    this.nextNonce = opts.accounts.map(() => 0n);
  }

  /** Connects the stream at the node's next height, so every later commit is seen. */
  async open(): Promise<void> {
    const head = (await (await fetch(`${this.opts.streamUrl}/v1/head`)).json()) as HeadJson;
    await this.subscribe(head.height + 1);
  }

  private subscribe(from: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${this.opts.streamUrl.replace(/^http/, 'ws')}/v1/stream?from=${from}`);
      this.ws = ws;
      ws.on('open', () => resolve());
      ws.on('error', reject);
      ws.on('message', (data) => {
        const ev = JSON.parse(data.toString()) as StreamEventJson;
        if (ev.type !== 'block') return;
        this.heights.push(ev.height);
        for (const t of ev.txs ?? []) {
          this.committed.set(t.id, ev.height);
          for (const [i, o] of this.outstanding) if (o.tx.id.toString('hex') === t.id) this.outstanding.delete(i);
        }
      });
    });
  }

  /** Runs until maxTxs have been sent and committed, or durationMs passes. */
  async run(): Promise<void> {
    const deadline = Date.now() + this.opts.durationMs;
    const retryAfterMs = this.opts.retryAfterMs ?? 2000;
    let round = 0;
    while (!this.stopped && Date.now() < deadline) {
      const now = Date.now();
      const batch: SignedTx[] = [];
      this.opts.accounts.forEach((acct, i) => {
        const o = this.outstanding.get(i);
        if (o) {
          if (now - o.sentAt > retryAfterMs) {
            o.sentAt = now;
            batch.push(o.tx);
          }
          return;
        }
        if (this.sent >= this.opts.maxTxs) return;
        const to = this.opts.accounts[(i + 1) % this.opts.accounts.length]!;
        const tx = signTx(
          { kind: 'transfer', nonce: this.nextNonce[i]!, fee: 0n, deps: [], inputs: [{ account: acct.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] },
          [acct],
          this.opts.network,
        );
        this.nextNonce[i]! += 1n;
        this.outstanding.set(i, { tx, sentAt: now });
        this.sent++;
        batch.push(tx);
      });
      if (this.sent >= this.opts.maxTxs && this.outstanding.size === 0) break;
      if (batch.length > 0) {
        const urls = this.opts.submitUrls();
        const url = urls[round++ % urls.length]!;
        try {
          const res = await fetch(`${url}/v1/txs`, {
            method: 'POST',
            headers: { 'content-type': 'application/octet-stream' },
            body: encodeBatch(batch.map((t) => t.bytes)),
            signal: AbortSignal.timeout(10_000),
          });
          const body = (await res.json()) as Partial<BatchResultJson> & Partial<ErrorBody>;
          if (body.error) this.count(body.error.code);
          for (const r of body.results ?? []) if ('error' in r) this.count(r.error.code);
        } catch (err) {
          this.count(`request failed: ${(err as Error).name}`);
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private count(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  close(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}
