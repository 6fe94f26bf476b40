/**
 * Listening before the ledger is ready: a process binds its port first and,
 * while it recovers and replays its block log, answers /health with
 * `503 { status: "recovering", height, of }` and every other request with
 * `503 TPSLAB_E_UNAVAILABLE` (Retry-After: 1). Once the service is open, the
 * node API takes over the same server (fastify's serverFactory), with no
 * moment where the port is closed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { TpslabError } from '../errors.js';
import { clientErrorHandler, RETRY_AFTER_SECONDS } from './http-errors.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** How long an idle keep-alive connection stays open: fastify's default. */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

export interface EarlyListener {
  server: Server;
  url: string;
  port: number;
  /** Replay progress for /health. */
  progress(height: number, of: number): void;
  /** Hands requests (and upgrades: add their listener next) to the real API from now on. */
  attach(handler: Handler): void;
  close(): Promise<void>;
}

export async function listenEarly(opts: { host: string; port: number; role: string }): Promise<EarlyListener> {
  let height = 0;
  let of = 0;
  let handler: Handler | undefined;
  const recovering = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const body =
      path === '/health'
        ? { status: 'recovering', role: opts.role, height, of, reason: `replaying the block log: block ${height} of ${of}` }
        : { error: new TpslabError('TPSLAB_E_UNAVAILABLE', `the ${opts.role} is replaying its block log (block ${height} of ${of}); retry shortly`).toJSON() };
    const text = JSON.stringify(body);
    res.writeHead(503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'retry-after': String(RETRY_AFTER_SECONDS) });
    res.end(text);
    req.resume();
  };
  const server = createServer((req, res) => (handler ?? recovering)(req, res));
  // fastify's own keep-alive timeout (it sets none on a server it is given): Node's 5 s closed idle
  // connections that clients were about to reuse (UND_ERR_SOCKET "other side closed" on a loaded machine).
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  const early = (_req: IncomingMessage, socket: Duplex): void => {
    socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"error":{"code":"TPSLAB_E_UNAVAILABLE","message":"replaying the block log; retry shortly","retryable":true}}');
  };
  server.on('upgrade', early);
  server.on('clientError', clientErrorHandler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw new TpslabError('TPSLAB_E_USAGE', `cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}; pick another --port`, { cause: err });
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  return {
    server,
    url,
    port,
    progress: (h, total) => {
      height = h;
      of = total;
    },
    attach: (h) => {
      handler = h;
      server.off('upgrade', early);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
