/**
 * A small TCP proxy for network faults between roles: listens on 127.0.0.1 (port 0) and
 * forwards to one upstream. It can delay every chunk (one way, in both directions, with
 * jitter; order is kept) and cut the link (a partition: open connections are destroyed and
 * new ones closed at once) until healed. No netem or toxiproxy needed.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private delayMs = 0;
  private jitterMs = 0;
  private cut = false;
  /** Bytes per second each direction may carry; 0: unlimited. */
  private bytesPerSec = 0;
  /** When each direction's link is free again (bandwidth), epoch ms. */
  private readonly freeAtMs = { up: 0, down: 0 };
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly upstream: { host: string; port: number },
  ) {}

  static async start(upstream: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new TcpProxy(server, (server.address() as AddressInfo).port, upstream);
    server.on('connection', (c) => proxy.accept(c));
    return proxy;
  }

  /** The proxy's URL for an upstream URL: same scheme and path, the proxy's host and port. */
  urlFor(upstreamUrl: string): string {
    const u = new URL(upstreamUrl);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString().replace(/\/$/, upstreamUrl.endsWith('/') ? '/' : '');
  }

  setLatency(delayMs: number, jitterMs = 0): void {
    this.delayMs = delayMs;
    this.jitterMs = jitterMs;
  }

  /** Limits each direction to `bytesPerSec` (all connections together); 0 lifts the limit. */
  setBandwidth(bytesPerSec: number): void {
    this.bytesPerSec = bytesPerSec;
  }

  /** Cuts the link (true) or heals it (false). */
  setPartitioned(on: boolean): void {
    this.cut = on;
    if (on) for (const s of this.sockets) s.destroy();
  }

  get partitioned(): boolean {
    return this.cut;
  }

  private accept(client: Socket): void {
    if (this.cut) {
      client.destroy();
      return;
    }
    const server = connect(this.upstream.port, this.upstream.host);
    for (const s of [client, server]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        server.destroy();
      });
    }
    this.pipe(client, server, 'up');
    this.pipe(server, client, 'down');
  }

  /**
   * Forwards `from` → `to`, each chunk after the current delay, never earlier than the chunk
   * before it, and (with a bandwidth limit) once the direction's link has carried the chunks before it.
   * Chunks wait in one queue per direction, in arrival order, with one timer for the head: a timer per
   * chunk let chunks overtake each other (two due at the same time, their timers set within one
   * event-loop turn with delays computed a millisecond apart, fired shortest delay first), which
   * reordered a WebSocket's frames: a beacon saw block h + 1 before block h and skipped h.
   */
  private pipe(from: Socket, to: Socket, dir: 'up' | 'down'): void {
    let lastDueMs = 0;
    /** Waiting chunks from `head` on; `null` is the end of the stream. */
    let queue: { dueMs: number; chunk: Buffer | null }[] = [];
    let head = 0;
    let timer: NodeJS.Timeout | undefined;
    const drain = (): void => {
      if (timer) this.timers.delete(timer);
      timer = undefined;
      const now = Date.now();
      for (; head < queue.length && queue[head]!.dueMs <= now; head++) {
        const { chunk } = queue[head]!;
        if (chunk === null) to.end();
        else if (!to.destroyed) to.write(chunk);
      }
      if (head === queue.length) {
        queue = [];
        head = 0;
      }
      schedule();
    };
    const schedule = (): void => {
      if (timer || head === queue.length) return;
      timer = setTimeout(drain, Math.max(0, queue[head]!.dueMs - Date.now()));
      this.timers.add(timer);
    };
    from.on('data', (chunk: Buffer) => {
      const now = Date.now();
      if (this.delayMs === 0 && this.jitterMs === 0 && this.bytesPerSec === 0 && head === queue.length) {
        to.write(chunk);
        return;
      }
      let due = Math.max(lastDueMs, now + this.delayMs + Math.random() * this.jitterMs);
      if (this.bytesPerSec > 0) {
        due = Math.max(due, this.freeAtMs[dir]) + (chunk.length * 1000) / this.bytesPerSec;
        this.freeAtMs[dir] = due;
      }
      lastDueMs = due;
      queue.push({ dueMs: due, chunk });
      schedule();
    });
    from.on('end', () => {
      queue.push({ dueMs: Math.max(lastDueMs, Date.now()), chunk: null });
      schedule();
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
