/**
 * A node's block feed: the WebSocket to a sequencer's `BLOCK_FEED_PATH` from the node's next height,
 * reconnecting by itself. With several sequencers (replicated ordering) any of them serves the feed:
 * a lost connection moves on to the next at once; with one, it backs off up to 2 s. On connecting it
 * learns the sequencer's head, the height the node must reach to count as caught up.
 */
import WebSocket from 'ws';
import type { Clock } from '../clock.js';
import { TpslabError } from '../errors.js';
import type { HeadJson } from '../protocol/api.js';
import { BLOCK_FEED_PATH } from './commit-stream.js';

export interface BlockFeedHandlers {
  /** The first height to ask for (the node's height + 1). */
  from(): number;
  /** A binary frame: one encoded block. */
  block(encoded: Buffer): void;
  /** A text frame (a `failed` event). */
  text(text: string): void;
  /** The sequencer serves another network: the feed stops. */
  wrongNetwork(err: TpslabError): void;
}

export class BlockFeed {
  /** True while a feed connection is open. */
  connected = false;
  /** When the feed was lost (undefined while connected). */
  unreachableSinceMs: number | undefined;
  /** The sequencer's head when the feed (re)connected: caught up once applied. */
  catchUpTarget: number | undefined;
  /** When the feed last delivered anything (or was replaced). */
  lastFeedMs = 0;
  private ws: WebSocket | undefined;
  private idx = 0;
  private reconnectTimer: unknown;
  private backoffMs = 100;
  private stopped = false;

  constructor(
    private readonly urls: readonly string[],
    private readonly network: string,
    private readonly requestTimeoutMs: number,
    private readonly clock: Clock,
    private readonly on: BlockFeedHandlers,
  ) {}

  connect(): void {
    if (this.stopped) return;
    const feedUrl = this.urls[this.idx]!;
    const wsUrl = `${feedUrl.replace(/^http/, 'ws')}${BLOCK_FEED_PATH}?from=${this.on.from()}`;
    const ws = new WebSocket(wsUrl, { handshakeTimeout: this.requestTimeoutMs, maxPayload: 256 * 1024 * 1024 });
    this.ws = ws;
    ws.on('open', () => {
      this.connected = true;
      this.unreachableSinceMs = undefined;
      this.backoffMs = 100;
      void this.fetchTarget(feedUrl);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.lastFeedMs = this.clock.now();
      if (isBinary) this.on.block(data);
      else this.on.text(data.toString());
    });
    const retry = (): void => {
      this.connected = false;
      this.unreachableSinceMs ??= this.clock.now();
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.stopped) return;
      this.idx = (this.idx + 1) % this.urls.length; // any sequencer serves the feed
      this.reconnectTimer = this.clock.setTimeout(() => this.connect(), this.urls.length > 1 ? 50 : this.backoffMs);
      this.backoffMs = Math.min(2000, this.backoffMs * 2);
    };
    ws.on('close', retry);
    ws.on('error', () => ws.terminate());
  }

  /** Drops the connection: it reconnects from `from()`, to the next sequencer when there are several. */
  reconnect(): void {
    this.ws?.terminate();
  }

  /** Stops for good (closing, or the node stopped serving). */
  close(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.reconnectTimer);
    this.ws?.terminate();
  }

  private async fetchTarget(feedUrl: string): Promise<void> {
    try {
      const res = await fetch(`${feedUrl}/v1/head`, { signal: AbortSignal.timeout(this.requestTimeoutMs) });
      const head = (await res.json()) as HeadJson;
      if (head.network !== this.network) {
        this.on.wrongNetwork(new TpslabError('TPSLAB_E_WRONG_NETWORK', `the sequencer serves network "${head.network}", this node's genesis is "${this.network}"`));
        return;
      }
      this.catchUpTarget = Math.max(this.catchUpTarget ?? 0, head.height);
    } catch {
      // The feed itself still delivers; health reports catching up until a target is known.
    }
  }
}
