/**
 * The faucet's HTTP service: `POST /v1/fund` creates and funds an account, or
 * tops one up, within limits per client address, per account and a global
 * budget per window (429 with Retry-After beyond them). A request id
 * (`requestId` in the body or an `Idempotency-Key` header) makes a request
 * idempotent: sent again, it answers the first grant and pays nothing more.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { systemClock, type Clock } from '../../clock.js';
import { TpslabError } from '../../errors.js';
import { decodeAddress, encodeAddress } from '../../protocol/address.js';
import { describeZodError } from '../../protocol/json.js';
import type { KeyPair } from '../../protocol/signing.js';
import { GrantStore, type FaucetLimits, type Grant } from './grant-store.js';
import { Payer, type Settled } from './payer.js';

export interface FaucetOptions {
  dbPath: string;
  nodeUrls: readonly string[];
  key: KeyPair;
  network: string;
  fee: bigint;
  limits: FaucetLimits;
  /** Paid when a request names no amount; also the most one request may ask for. */
  amount: bigint;
  maxAmount: bigint;
  host?: string;
  port?: number;
  /** Take the client address from X-Forwarded-For (behind the balancer). */
  trustProxy?: boolean;
  clock?: Clock;
  /** How long POST /v1/fund waits for the transfer to commit before answering 202. */
  answerWithinMs?: number;
}

export interface RunningFaucet {
  url: string;
  port: number;
  app: FastifyInstance;
  store: GrantStore;
  close(): Promise<void>;
}

const FundSchema = z.strictObject({
  address: z.string().min(1, 'must be an address like tps1...'),
  amount: z.union([z.string().regex(/^[1-9][0-9]{0,19}$/, 'must be a positive decimal integer string'), z.number().int().positive().max(Number.MAX_SAFE_INTEGER)]).optional(),
  requestId: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, ".", "_", ":" and "-" only').optional(),
});

function grantJson(g: Grant): Record<string, unknown> {
  const status = g.status === 'queued' || g.status === 'sent' ? 'pending' : g.status;
  return { requestId: g.requestId, address: g.account, amount: g.amount.toString(), status, ...(g.txId ? { txId: g.txId } : {}), ...(g.error ? { error: g.error } : {}) };
}

function sendError(reply: FastifyReply, err: TpslabError, retryAfterMs?: number): FastifyReply {
  if (retryAfterMs !== undefined) reply.header('retry-after', String(Math.ceil(retryAfterMs / 1000)));
  return reply.code(err.httpStatus).send({ error: err.toJSON() });
}

export async function startFaucet(o: FaucetOptions): Promise<RunningFaucet> {
  const clock = o.clock ?? systemClock;
  const store = new GrantStore(o.dbPath);
  const payer = new Payer(store, { nodeUrls: o.nodeUrls, key: o.key, network: o.network, fee: o.fee });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tpslab_process_' });
  const r = [registry];
  const grants = new Counter({ name: 'tpslab_faucet_grants_total', help: 'Faucet grants settled, by outcome (committed, failed).', labelNames: ['outcome'], registers: r });
  const refusals = new Counter({ name: 'tpslab_faucet_refusals_total', help: 'Faucet requests refused, by error code and limit.', labelNames: ['code', 'limit'], registers: r });
  const replays = new Counter({ name: 'tpslab_faucet_replays_total', help: 'Faucet requests answered from an earlier grant with the same request id.', registers: r });
  new Gauge({
    name: 'tpslab_faucet_queued_grants',
    help: 'Grants admitted and waiting to be paid.',
    registers: r,
    collect() {
      this.set(payer.queuedCount);
    },
  });
  payer.onSettled = (n, ok) => grants.inc({ outcome: ok ? 'committed' : 'failed' }, n);
  try {
    await payer.start();
  } catch (err) {
    store.close();
    throw err;
  }

  const app = Fastify({ logger: false, trustProxy: o.trustProxy ?? false, return503OnClosing: true });
  app.setErrorHandler((err, _req, reply) => sendError(reply, err instanceof TpslabError ? err : new TpslabError('TPSLAB_E_BAD_REQUEST', (err as Error).message)));
  app.setNotFoundHandler((req, reply) => sendError(reply, new TpslabError('TPSLAB_E_NOT_FOUND', `no route ${req.method} ${req.url}; the faucet serves POST /v1/fund, GET /v1/requests/:id, /health, /metrics`)));

  const answer = async (reply: FastifyReply, g: Grant, wait: Promise<Settled> | undefined): Promise<FastifyReply> => {
    if (wait) {
      const settled = await Promise.race([wait, new Promise<undefined>((res) => clock.setTimeout(() => res(undefined), o.answerWithinMs ?? 30_000))]);
      if (settled && !settled.ok) {
        return sendError(reply, new TpslabError('TPSLAB_E_FAUCET_PAYMENT', `the transfer paying request ${g.requestId} failed: ${settled.error}`, { details: { requestId: g.requestId } }));
      }
    }
    const now = store.get(g.requestId)!;
    return reply.code(now.status === 'committed' ? 200 : now.status === 'failed' ? 502 : 202).send(grantJson(now));
  };

  app.post('/v1/fund', async (req, reply) => {
    const parsed = FundSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw new TpslabError('TPSLAB_E_BAD_REQUEST', describeZodError(parsed.error, 'body'));
    const body = parsed.data;
    const account = encodeAddress(decodeAddress(body.address, 'body.address'));
    const amount = body.amount === undefined ? o.amount : BigInt(body.amount);
    if (amount > o.maxAmount) throw new TpslabError('TPSLAB_E_BAD_REQUEST', `body.amount ${amount} is more than this faucet pays per request (${o.maxAmount})`);
    const header = req.headers['idempotency-key'];
    const requestId = body.requestId ?? (typeof header === 'string' && header.length > 0 ? header : randomUUID());
    const earlier = store.get(requestId);
    if (earlier) {
      if (earlier.account !== account || earlier.amount !== amount) {
        refusals.inc({ code: 'TPSLAB_E_REQUEST_ID_REUSED', limit: '' });
        throw new TpslabError('TPSLAB_E_REQUEST_ID_REUSED', `request id "${requestId}" was used for ${earlier.amount} to ${earlier.account}; send a new id for a different request`);
      }
      replays.inc();
      reply.header('idempotent-replay', 'true');
      return answer(reply, earlier, earlier.status === 'queued' || earlier.status === 'sent' ? payer.wait(requestId) : undefined);
    }
    const grant = { requestId, client: req.ip, account, amount, atMs: clock.now() };
    const refusal = store.admit(grant, o.limits);
    if (refusal) {
      refusals.inc({ code: 'TPSLAB_E_RATE_LIMITED', limit: refusal.limit });
      const what = refusal.limit === 'client' ? `client ${req.ip} has had ${o.limits.perClient} grants` : refusal.limit === 'account' ? `account ${account} has had ${o.limits.perAccount} grants` : `the faucet has paid out its budget of ${o.limits.budget}`;
      const err = new TpslabError('TPSLAB_E_RATE_LIMITED', `${what} in the last ${o.limits.windowMs} ms; retry after ${Math.ceil(refusal.retryAfterMs / 1000)} s`, { details: { limit: refusal.limit, retryAfterMs: refusal.retryAfterMs } });
      return sendError(reply, err, refusal.retryAfterMs);
    }
    const wait = payer.wait(requestId);
    payer.enqueue({ ...grant, status: 'queued', txId: undefined, error: undefined });
    return answer(reply, store.get(requestId)!, wait);
  });

  app.get<{ Params: { id: string } }>('/v1/requests/:id', async (req) => {
    const g = store.get(req.params.id);
    if (!g) throw new TpslabError('TPSLAB_E_NOT_FOUND', `no faucet request with id "${req.params.id.slice(0, 128)}"`);
    return grantJson(g);
  });

  app.get('/health', async () => ({ status: 'ok', role: 'faucet', queued: payer.queuedCount, grants: store.counts() }));
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));

  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  const port = Number(new URL(address).port);
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    port,
    app,
    store,
    async close() {
      payer.close();
      await app.close();
      store.close();
    },
  };
}
