/**
 * The web server of a run (dashboard + explorer) and of `tpslab explorer`
 * (explorer only). Serves the bundled app and its APIs on 127.0.0.1 by default.
 */
import { createServer } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { TpslabError, asTpslabError } from '../errors.js';
import { pageShell, webAssets } from './assets.js';
import { registerExplorerRoutes, type ExplorerBackend } from './explorer-api.js';
import type { LiveRun } from './live.js';

export interface WebServer {
  url: string;
  /** Attaches the explorer once the network is known (a run learns it after starting). */
  setExplorer(backend: ExplorerBackend): void;
  close(): Promise<void>;
}

export async function startWebServer(opts: { live?: LiveRun; explorer?: ExplorerBackend; host?: string; port?: number; /** The CLI option that chose the port, for the busy-port message. */ portOption?: string }): Promise<WebServer> {
  const assets = await webAssets();
  const app: FastifyInstance = Fastify({ logger: false });
  /** Open event streams: ended on close, so a connected browser never keeps the process alive. */
  const streams = new Set<{ end(): void }>();
  let explorer = opts.explorer;
  app.setErrorHandler((err, _req, reply) => {
    const e = asTpslabError(err);
    return reply.code(e.httpStatus).send({ error: { code: e.code, message: e.message } });
  });
  const page = (name: 'dashboard' | 'explorer', title: string): string => pageShell({ page: name, title });
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(opts.live ? page('dashboard', `tpslab — ${opts.live.snapshot().name}`) : page('explorer', 'tpslab explorer')));
  app.get('/explorer', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page('explorer', 'tpslab explorer')));
  app.get('/app.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(assets.js));
  app.get('/app.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(assets.css));

  app.get('/api/live', async () => {
    if (!opts.live) throw new TpslabError('TPSLAB_E_NOT_FOUND', 'no run is attached to this server');
    return opts.live.snapshot();
  });
  app.get('/api/live/events', (req, reply) => {
    const live = opts.live;
    if (!live) return reply.code(404).send({ error: { code: 'TPSLAB_E_NOT_FOUND', message: 'no run is attached to this server' } });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': connected\n\n');
    const off = live.subscribe((e) => res.write(`data: ${JSON.stringify(e)}\n\n`));
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    ping.unref();
    let ended = false;
    const stream = {
      end: () => {
        if (ended) return;
        ended = true;
        off();
        clearInterval(ping);
        streams.delete(stream);
        res.end();
      },
    };
    streams.add(stream);
    req.raw.on('close', () => stream.end());
  });

  // Explorer routes are registered once; they answer 404 until a network is attached.
  const proxy = {
    get info() {
      return needExplorer().info;
    },
  } as unknown as ExplorerBackend;
  const needExplorer = (): ExplorerBackend => {
    if (!explorer) throw new TpslabError('TPSLAB_E_UNAVAILABLE', 'the network is not up yet; the explorer appears once the run has started it');
    return explorer;
  };
  registerExplorerRoutes(
    app,
    new Proxy(proxy, {
      get: (_t, prop) => {
        const target = needExplorer() as unknown as Record<string | symbol, unknown>;
        const v = target[prop];
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }),
  );

  try {
    await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  } catch (err) {
    await app.close().catch(() => {});
    throw portError(err, opts.host ?? '127.0.0.1', opts.port ?? 0, opts.portOption ?? '--port');
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    setExplorer: (b) => {
      explorer = b;
    },
    close: async () => {
      opts.live?.close();
      for (const st of [...streams]) st.end();
      await app.close();
    },
  };
}

/** A busy or forbidden port is the caller's to fix (TPSLAB_E_USAGE, exit 2); anything else passes through. */
export function portError(err: unknown, host: string, port: number, option: string): unknown {
  const code = (err as { code?: unknown }).code;
  if (code === 'EADDRINUSE') {
    return new TpslabError('TPSLAB_E_USAGE', `port ${port} on ${host} is already in use by another process; choose another with ${option} <n>, or ${option} 0 to pick a free one`, { cause: err });
  }
  if (code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return new TpslabError('TPSLAB_E_USAGE', `cannot listen on ${host}:${port} (${String(code)}); choose another port with ${option} <n> (0 picks a free one)${code === 'EADDRNOTAVAIL' ? ' or an address of this machine' : ''}`, { cause: err });
  }
  return err;
}

/** Fails fast with the busy-port usage error before anything else starts (the port may still be taken later). */
export async function assertPortFree(host: string, port: number, option: string): Promise<void> {
  if (port === 0) return;
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (err) => reject(portError(err, host, port, option)));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve()));
  });
}
