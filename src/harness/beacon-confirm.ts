/**
 * Confirmation tracking for a beacon: the node's commit stream (WebSocket,
 * resumed from the last height seen, failing over between endpoints), or
 * status polling (`method: poll`, and as a fallback while the stream is down).
 */
import WebSocket from 'ws';
import type { BeaconClient } from './beacon-client.js';
import type { Assign } from './messages.js';

export interface ConfirmerHooks {
  lookup(id: string): number | undefined;
  /** Unresolved transactions sent before `olderThanMs`, oldest first. */
  candidates(olderThanMs: number, max: number): [number, string][];
  committed(i: number, height: number, atMs: number): void;
  failed(i: number, code: string): void;
  log(line: string): void;
}

const POLL_INTERVAL_MS = 500;
const POLL_BATCH = 200;

export class Confirmer {
  /** Highest height known committed (stream or poll), for reports. */
  height = 0;
  /** Highest height received on the stream: where it resumes. Polls never move it, so no block is skipped. */
  private streamHeight = 0;
  private ws: WebSocket | undefined;
  private streamUp = false;
  private closed = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly a: Assign,
    private readonly client: BeaconClient,
    private readonly hooks: ConfirmerHooks,
  ) {}

  async open(fromHeight: number): Promise<void> {
    this.height = fromHeight;
    this.streamHeight = fromHeight;
    if (this.a.confirmation.method === 'stream') await this.connect();
    this.pollTimer = setInterval(() => void this.poll(), POLL_INTERVAL_MS);
  }

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      const url = `${this.client.endpoint.replace(/^http/, 'ws')}/v1/stream?from=${this.streamHeight + 1}`;
      const ws = new WebSocket(url, { maxPayload: 256 * 1024 * 1024 });
      this.ws = ws;
      ws.on('open', () => {
        this.streamUp = true;
        resolve();
      });
      ws.on('message', (data) => this.onEvent(data.toString()));
      ws.on('error', () => ws.terminate());
      ws.on('close', () => {
        this.streamUp = false;
        resolve();
        if (this.closed || this.ws !== ws) return;
        this.hooks.log(`commit stream from ${this.client.endpoint} closed at height ${this.streamHeight}; resuming elsewhere`);
        this.client.rotate();
        setTimeout(() => void this.connect(), 200);
      });
    });
  }

  private onEvent(text: string): void {
    const at = performance.timeOrigin + performance.now();
    const ev = JSON.parse(text) as { type: string; height?: number; txs?: { id: string }[]; id?: string; code?: string };
    if (ev.type === 'block') {
      if (ev.height! <= this.streamHeight) return;
      this.streamHeight = ev.height!;
      this.height = Math.max(this.height, ev.height!);
      for (const t of ev.txs ?? []) {
        const i = this.hooks.lookup(t.id);
        if (i !== undefined) this.hooks.committed(i, ev.height!, at);
      }
    } else if (ev.type === 'failed') {
      const i = this.hooks.lookup(ev.id!);
      if (i !== undefined) this.hooks.failed(i, ev.code ?? 'TPSLAB_E_REMOTE');
    }
  }

  /** Polls transaction status: always with method poll; with the stream, only while it is down. */
  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    if (this.a.confirmation.method === 'stream' && this.streamUp) return;
    this.polling = true;
    try {
      const now = performance.timeOrigin + performance.now();
      const list = this.hooks.candidates(now - POLL_INTERVAL_MS, POLL_BATCH);
      await Promise.all(
        list.map(async ([i, id]) => {
          try {
            const s = await this.client.getJson<{ status: string; height?: number; error?: { code: string } }>(`/v1/tx/${id}`);
            if (s.status === 'committed') {
              this.height = Math.max(this.height, s.height!);
              this.hooks.committed(i, s.height!, performance.timeOrigin + performance.now());
            } else if (s.status === 'failed') this.hooks.failed(i, s.error?.code ?? 'TPSLAB_E_REMOTE');
          } catch {
            // unreachable endpoint: the next round tries again (the client may have failed over)
          }
        }),
      );
    } finally {
      this.polling = false;
    }
  }

  close(): void {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.ws?.terminate();
  }
}
