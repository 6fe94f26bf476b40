/**
 * A single-process node: ingress, ordering (an in-process sequencer), state
 * and the public API. Writes `<data>/endpoint.json` once it listens, so
 * scripts and tests can find a node started on port 0.
 */
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeHealth, type HealthOptions } from './health.js';
import { TpslabError } from '../errors.js';
import type { SignedTx } from '../protocol/tx.js';
import { BLOCK_FEED_PATH, CommitStream, STREAM_PATH } from './commit-stream.js';
import type { Genesis } from './genesis.js';
import type { IngressLimits } from './ingress.js';
import { buildNodeApi } from './node-api.js';
import { txIdHex } from '../protocol/signing.js';
import type { StageSink } from './chain-service.js';
import { createNodeMetrics } from './node-metrics.js';
import { registerOrderingMetrics, type OrderingStats } from './ordering-metrics.js';
import { Sequencer, type SequencerConfig, type TxStatus } from './sequencer.js';
import { createVerifier, defaultVerifyThreads } from './verifier.js';
import type { LedgerService } from './service.js';
import type { EarlyListener } from './early-listener.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ServeOptions {
  dataDir: string;
  host?: string;
  port?: number;
  limits?: IngressLimits;
  /** Worker threads for batch signature checks; 0 checks on the event loop. Default: one per core, at most 4. */
  verifyThreads?: number;
  /** Already listening (answering 503 while the log was replayed): serve on it instead of listening anew. */
  early?: EarlyListener;
  /** Head-age and lag limits of /health; `sequencerUrl` lets a replica poll the sequencer's head for the lag. */
  health?: HealthOptions & { sequencerUrl?: string };
}

export interface RunningLedger {
  url: string;
  port: number;
  service: LedgerService;
  close(): Promise<void>;
}

export interface Endpoint {
  url: string;
  port: number;
  pid: number;
  network: string;
  role: string;
}

/** A standalone node: an in-process sequencer behind the public API. */
export async function startNode(opts: ServeOptions & { genesis: Genesis; sequencer?: SequencerConfig }): Promise<RunningLedger> {
  const service = await Sequencer.open(opts.dataDir, opts.genesis, opts.sequencer);
  return serveLedger(service, opts);
}

/** Acceptance times are forgotten after this long (any pending transaction has committed or failed by then). */
const ACCEPTED_MEMORY_MS = 10 * 60_000;

/** Serves a ledger service over HTTP and WebSocket, and writes `<data>/endpoint.json`. */
export async function serveLedger(service: LedgerService, opts: ServeOptions): Promise<RunningLedger> {
  const startedAtMs = Date.now();
  const metrics = createNodeMetrics(service.role);
  if ('orderingStats' in service) registerOrderingMetrics(metrics.registry, () => (service as { orderingStats: OrderingStats }).orderingStats);
  metrics.blockHeight.set(service.durableHeight);
  const stageSink: StageSink = (stage, seconds) => metrics.stageSeconds.observe({ stage }, seconds);
  service.stageSink = stageSink;

  // Waiters for ?wait=commit, and acceptance times for commit latency.
  const waiters = new Map<string, Set<(s: TxStatus | TpslabError) => void>>();
  const acceptedAt = new Map<string, number>();
  const settle = (idKey: string, s: TxStatus | TpslabError): void => {
    const ws = waiters.get(idKey);
    if (!ws) return;
    waiters.delete(idKey);
    for (const w of ws) w(s);
  };

  service.on('commit', ({ block }) => {
    const now = Date.now();
    metrics.blocksCommitted.inc();
    metrics.txCommitted.inc(block.txs.length);
    metrics.blockHeight.set(block.height);
    metrics.blockTransactions.observe(block.txs.length);
    block.txs.forEach((tx, index) => {
      const k = tx.idKey;
      const t = acceptedAt.get(k);
      if (t !== undefined) {
        metrics.commitLatency.observe((now - t) / 1000);
        acceptedAt.delete(k);
      }
      if (waiters.has(k)) settle(k, { status: 'committed', height: block.height, index }); // no status object per transaction otherwise
    });
    // A commit seen before its acceptance was recorded (a replica may apply the block before the
    // sequencer's answer arrives), or a transaction dropped without a failure event, would stay forever.
    for (const [k, t] of acceptedAt) {
      if (t > now - ACCEPTED_MEMORY_MS) break;
      acceptedAt.delete(k);
    }
  });
  service.on('failed', (f) => {
    const k = f.id.toString('latin1');
    if (acceptedAt.delete(k)) metrics.txFailed.inc({ code: f.code });
    settle(k, { status: 'failed', code: f.code, message: f.message });
  });
  /** The fatal error the service stopped with: a waiter that comes after it (its submit was still under way) is answered at once. */
  let fatal: { code: string; message: string } | undefined;
  const unavailable = (k: string, err: { code: string; message: string }): TpslabError => {
    const id = txIdHex(k);
    return new TpslabError(
      'TPSLAB_E_UNAVAILABLE',
      `this ${service.role === 'replica' ? 'node' : service.role} stopped serving (${err.code}: ${err.message}) before transaction ${id} committed or failed, so its outcome is not known here: it may still commit. Ask another node (GET /v1/tx/${id}) or send the same transaction again`,
    );
  };
  service.on('fatal', (err) => {
    fatal = err;
    console.error(`error ${err.code}: ${service.role} stopped serving: ${err.message}`);
    // Not "failed": a waiter's transaction may be in a block already sealed (it commits when the log is
    // recovered), or held by the sequencer (a node), and commit elsewhere. Its outcome is unknown here.
    for (const k of [...waiters.keys()]) settle(k, unavailable(k, err));
  });

  const waitFor = (id: Buffer, timeoutMs: number): Promise<TxStatus | TpslabError> => {
    if (fatal) return Promise.resolve(unavailable(id.toString('latin1'), fatal));
    const now = service.status(id);
    if (now.status !== 'pending') return Promise.resolve(now);
    const k = id.toString('latin1');
    return new Promise((resolve) => {
      const done = (s: TxStatus | TpslabError): void => {
        clearTimeout(timer);
        resolve(s);
      };
      const timer = setTimeout(() => {
        const set = waiters.get(k);
        set?.delete(done);
        if (set?.size === 0) waiters.delete(k);
        resolve(service.status(id));
      }, timeoutMs);
      let set = waiters.get(k);
      if (!set) waiters.set(k, (set = new Set()));
      set.add(done);
    });
  };

  const verifier = createVerifier(opts.verifyThreads ?? defaultVerifyThreads());
  const health = new NodeHealth(opts.health ?? {}, opts.health?.sequencerUrl);
  const early = opts.early;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const app = buildNodeApi({
    health,
    ...(early
      ? {
          serverFactory: (h: (req: IncomingMessage, res: ServerResponse) => void) => {
            handler = h;
            // fastify adds its own clientError listener to the server it is given.
            early.server.removeAllListeners('clientError');
            return early.server;
          },
        }
      : {}),
    service,
    metrics,
    verifier,
    ...(opts.limits ? { limits: opts.limits } : {}),
    startedAtMs,
    waitFor,
    onAccepted: (tx: SignedTx) => acceptedAt.set(tx.idKey, Date.now()),
  });
  const stream = new CommitStream(service, (n) => metrics.streamSubscribers.set(n));
  if (early) {
    await app.ready();
    early.attach(handler!);
  }
  app.server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === STREAM_PATH || (path === BLOCK_FEED_PATH && service.role === 'sequencer')) stream.handleUpgrade(req, socket, head);
    else socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{"error":{"code":"TPSLAB_E_NOT_FOUND","message":"the WebSocket endpoint is /v1/stream"}}');
  });

  const host = opts.host ?? '127.0.0.1';
  if (!early) {
    try {
      await app.listen({ host, port: opts.port ?? 0 });
    } catch (err) {
      await service.close();
      await verifier.close();
      throw new TpslabError('TPSLAB_E_USAGE', `cannot listen on ${host}:${opts.port ?? 0}: ${(err as Error).message}; pick another --port`, { cause: err });
    }
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const url = early?.url ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  await writeEndpoint(opts.dataDir, { url, port, pid: process.pid, network: service.genesis.network, role: service.role });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    service,
    close: () =>
      (closing ??= (async () => {
        stream.close();
        health.close();
        await app.close();
        await early?.close(); // fastify closes only servers it listened on itself
        await service.close();
        await verifier.close();
      })()),
  };
}

export async function writeEndpoint(dataDir: string, endpoint: Endpoint): Promise<void> {
  const file = join(dataDir, 'endpoint.json');
  await writeFile(`${file}.tmp`, `${JSON.stringify(endpoint, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}
