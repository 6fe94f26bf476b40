/**
 * Confirmation tracking for a tpslab beacon: the node's commit stream
 * (WebSocket, resumed from the last height seen, failing over between
 * endpoints), or status polling (`method: poll`, and as a fallback while the
 * stream is down).
 */
import WebSocket from 'ws';
import type { Clock } from '../../clock.js';
import type { StreamEventJson, TxStatusJson } from '../../protocol/api.js';
import { ERROR_SPECS, isErrorCode } from '../../errors.js';
import type { ConfirmSink, PendingView } from '../contract.js';
import type { BeaconClient } from './client.js';

const POLL_BATCH = 500;
const RECONNECT_MS = 200;
/** A transaction the network dropped for now (a retryable code) is sent again after this long: a refused predecessor goes first. */
export const DROPPED_RETRY_MS = 1000;

/** Reports a failure to the sink: retryable codes (dropped for now, e.g. TPSLAB_E_PREDECESSOR_REFUSED) as a resend. */
function reportFailed(sink: ConfirmSink, id: string, code: string | undefined): void {
  if (isErrorCode(code) && ERROR_SPECS[code].retryable) sink.failed(id, code, DROPPED_RETRY_MS);
  else sink.failed(id, code ?? 'TPSLAB_E_REMOTE');
}

export interface ConfirmerOptions {
  method: 'stream' | 'poll';
  pollIntervalMs: number;
  clock: Clock;
}

export class Confirmer {
  /** Highest height known committed (stream or poll), for reports. */
  height = 0;
  /** Highest height received on the stream: where it resumes. Polls never move it, so no block is skipped. */
  private streamHeight = 0;
  private ws: WebSocket | undefined;
  private streamUp = false;
  private closed = false;
  private pollTimer: unknown;
  private polling = false;

  constructor(
    private readonly o: ConfirmerOptions,
    private readonly client: BeaconClient,
    private readonly sink: ConfirmSink,
    private readonly pending: PendingView,
  ) {}

  async open(fromHeight: number): Promise<void> {
    this.height = fromHeight;
    this.streamHeight = fromHeight;
    if (this.o.method === 'stream') await this.connect();
    this.schedulePoll();
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.pollTimer = this.o.clock.setTimeout(() => {
      void this.poll().finally(() => this.schedulePoll());
    }, this.o.pollIntervalMs);
  }

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      const at = this.client.endpoint;
      const url = `${at.replace(/^http/, 'ws')}/v1/stream?from=${this.streamHeight + 1}`;
      const ws = new WebSocket(url, { maxPayload: 256 * 1024 * 1024 });
      this.ws = ws;
      ws.on('open', () => {
        this.streamUp = true;
        resolve();
      });
      ws.on('message', (data) => {
        if (ws.readyState === ws.OPEN) this.onEvent(data.toString()); // none after a terminate
      });
      ws.on('error', () => ws.terminate());
      ws.on('close', () => {
        this.streamUp = false;
        resolve();
        if (this.closed || this.ws !== ws) return;
        this.sink.log(`commit stream from ${at} closed at height ${this.streamHeight}; resuming elsewhere`);
        // A failed submit may have moved the client off this endpoint already: moving again would go back to it.
        if (this.client.endpoint === at) this.client.rotate();
        this.o.clock.setTimeout(() => void this.connect(), RECONNECT_MS);
      });
    });
  }

  /** One event of the commit stream (JSON text). */
  onEvent(text: string): void {
    const at = this.o.clock.now();
    const ev = JSON.parse(text) as StreamEventJson;
    if (ev.type === 'block') {
      if (ev.height <= this.streamHeight) return;
      if (ev.height > this.streamHeight + 1 && this.ws) {
        // A node sends a connection's blocks in height order from `from`: a skipped height is a fault somewhere.
        // Taking the block would move where the stream resumes past one never seen (its transactions lost to
        // this beacon though committed); the stream is dropped and resumes after the last height seen instead.
        this.sink.log(`commit stream jumped from height ${this.streamHeight} to ${ev.height}; resuming from ${this.streamHeight + 1}`);
        this.ws.terminate();
        return;
      }
      this.streamHeight = ev.height;
      this.height = Math.max(this.height, ev.height);
      for (const t of ev.txs ?? []) this.sink.committed(t.id, ev.height, at);
    } else if (ev.type === 'failed') {
      reportFailed(this.sink, ev.id, ev.code);
    }
  }

  /** Polls transaction status: always with method poll; with the stream, only while it is down. */
  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    if (this.o.method === 'stream' && this.streamUp) return;
    this.polling = true;
    try {
      const ids = this.pending.sentBefore(this.o.clock.now() - this.o.pollIntervalMs, POLL_BATCH);
      await Promise.all(
        ids.map(async (id) => {
          try {
            const s = await this.client.getJson<TxStatusJson>(`/v1/tx/${id}`);
            if (s.status === 'committed') {
              this.height = Math.max(this.height, s.height!);
              this.sink.committed(id, s.height!, this.o.clock.now());
            } else if (s.status === 'failed') reportFailed(this.sink, id, s.error?.code);
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
    this.o.clock.clearTimeout(this.pollTimer);
    this.ws?.terminate();
  }
}
