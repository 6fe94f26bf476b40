/**
 * The tracker's HTTP and WebSocket API:
 *   POST   /v1/members/heartbeat   { id, role, url, height?, healthy? } → { joined, heartbeatIntervalMs, version }
 *   DELETE /v1/members/:id         leave on purpose
 *   GET    /v1/members             the membership view with each member's shard ranges
 *   WS     /v1/watch               the view now and after every change
 *   GET    /health, /metrics, /stats
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { TpslabError, asTpslabError } from '../errors.js';
import { describeZodError } from '../protocol/json.js';
import { Tracker, type TrackerOptions } from './tracker.js';

const HeartbeatSchema = z.strictObject({
  id: z.string().min(1).max(128),
  role: z.string().min(1).max(32),
  url: z.string().max(512),
  height: z.number().int().nonnegative().optional(),
  healthy: z.boolean().optional(),
});

export interface RunningTracker {
  url: string;
  port: number;
  tracker: Tracker;
  close(): Promise<void>;
}

export async function startTracker(opts: { host?: string; port?: number; tracker?: Partial<TrackerOptions> } = {}): Promise<RunningTracker> {
  const tracker = new Tracker(opts.tracker);
  const registry = new Registry();
  registry.setDefaultLabels({ role: 'tracker' });
  collectDefaultMetrics({ register: registry });
  const membersGauge = new Gauge({ name: 'tpslab_tracker_members', help: 'Members in the current view.', registers: [registry] });
  const removals = new Counter({ name: 'tpslab_tracker_removals_total', help: 'Members removed for missing heartbeats or leaving.', registers: [registry] });
  const joins = new Counter({ name: 'tpslab_tracker_joins_total', help: 'Members added (first heartbeat, or back after removal).', registers: [registry] });
  tracker.on('change', (view, { joined, removed }) => {
    membersGauge.set(view.members.length);
    joins.inc(joined.length);
    removals.inc(removed.length);
  });

  const app: FastifyInstance = Fastify({ logger: false });
  app.setErrorHandler((err, _req, reply) => {
    const e = err instanceof TpslabError ? err : asTpslabError(err, (err as { statusCode?: number }).statusCode === 400 ? 'TPSLAB_E_BAD_JSON' : 'TPSLAB_E_INTERNAL');
    return reply.code(e.httpStatus).send({ error: e.toJSON() });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: new TpslabError('TPSLAB_E_NOT_FOUND', `no route ${req.method} ${req.url}`).toJSON() }));

  app.post('/v1/members/heartbeat', async (req) => {
    const parsed = HeartbeatSchema.safeParse(req.body);
    if (!parsed.success) throw new TpslabError('TPSLAB_E_BAD_JSON', `invalid heartbeat: ${describeZodError(parsed.error, 'heartbeat')}`);
    return tracker.heartbeat(parsed.data);
  });
  app.delete<{ Params: { id: string } }>('/v1/members/:id', async (req) => ({ left: tracker.leave(req.params.id) }));
  app.get('/v1/members', async () => tracker.view());
  app.get('/health', async () => ({ status: 'ok', role: 'tracker', members: tracker.view().members.length }));
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/stats', async () => {
    const v = tracker.view();
    return { role: 'tracker', version: v.version, members: v.members.length, heartbeatIntervalMs: v.heartbeatIntervalMs, overlap: v.overlap };
  });

  const wss = new WebSocketServer({ noServer: true });
  app.server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/v1/watch') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify(tracker.view()));
      const push = (): void => ws.send(JSON.stringify(tracker.view()));
      tracker.on('change', push);
      ws.on('close', () => tracker.off('change', push));
      ws.on('error', () => ws.terminate());
    });
  });

  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 0 });
  tracker.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${host}:${port}`,
    port,
    tracker,
    close: async () => {
      tracker.stop();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await app.close();
    },
  };
}
