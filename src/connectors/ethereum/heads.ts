/**
 * New heads over WebSocket (eth_subscribe "newHeads"): each new block number is
 * passed on as it is announced, so confirmation does not wait for a poll. On a
 * dropped connection it moves to the next URL and subscribes again after 1 s;
 * the beacon's slower poll covers the gap.
 */
import WebSocket from 'ws';
import type { Clock } from '../../clock.js';

const RECONNECT_MS = 1000;

export class NewHeads {
  private socket: WebSocket | undefined;
  private current = 0;
  private closed = false;
  private timer: unknown;
  /** Subscribed and announcing. */
  live = false;

  constructor(
    private readonly urls: readonly string[],
    private readonly onHead: (block: number) => void,
    private readonly log: (line: string) => void,
    private readonly clock: Clock,
  ) {}

  start(): void {
    if (this.closed) return;
    const url = this.urls[this.current]!;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.on('open', () => socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] })));
    socket.on('message', (data) => {
      const m = parse(String(data));
      if (m?.id === 1 && m.error) this.log(`${url}: eth_subscribe newHeads refused: ${m.error.message}; polling instead`);
      if (m?.id === 1 && m.result) this.live = true;
      if (m?.method === 'eth_subscription' && m.params?.result?.number) this.onHead(Number(m.params.result.number));
    });
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', () => {
      this.live = false;
      if (this.closed) return;
      this.current = (this.current + 1) % this.urls.length;
      this.timer = this.clock.setTimeout(() => this.start(), RECONNECT_MS);
    });
  }

  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.socket?.terminate();
  }
}

interface Message {
  id?: number;
  result?: unknown;
  error?: { message: string };
  method?: string;
  params?: { result?: { number?: string } };
}

function parse(text: string): Message | undefined {
  try {
    return JSON.parse(text) as Message;
  } catch {
    return undefined;
  }
}
