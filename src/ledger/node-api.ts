/**
 * The node's public HTTP API (under /v1) plus /health, /metrics and /stats.
 * Every error answer is `{ "error": { code, message, retryable } }` with a 4xx
 * for the caller's mistakes, 429/503 for load and availability.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerFactory } from 'fastify';
import { TpslabError, asTpslabError } from '../errors.js';
import { decodeAddress, encodeAddress } from '../protocol/address.js';
import type { AccountJson, BatchItemJson, BatchResultJson, BlockJson, HeadJson, TopicJson, TxStatusJson } from '../protocol/api.js';
import type { Block } from '../protocol/block.js';
import { txToJson } from '../protocol/json.js';
import type { SignedTx } from '../protocol/tx.js';
import { splitBatch } from '../protocol/batch.js';
import { decodeTx, txIdHex } from '../protocol/signing.js';
import { INTERNAL_LEADER_PATH, INTERNAL_SUBMIT_PATH } from './replica.js';
import { DEFAULT_INGRESS_LIMITS, checkNotExisting, decodeBinary, verifyBinary, verifyJson, type IngressLimits } from './ingress.js';
import type { SignatureVerifier } from './verifier.js';
import type { NodeMetrics } from './node-metrics.js';
import type { TxStatus } from './sequencer.js';
import type { LedgerService } from './service.js';
import { DEFAULT_INGRESS_BUDGET, ESTIMATE_BYTES_PER_TX, IngressBudget, type IngressBudgetLimits, type Lease } from './ingress-budget.js';
import { RETRY_AFTER_SECONDS, clientErrorHandler, drainBody, frameworkErrors, fromFramework, sendError } from './http-errors.js';
import { isLoopback, type NodeHealth } from './health.js';

export interface NodeApiContext {
  service: LedgerService;
  metrics: NodeMetrics;
  /** Checks batch signatures (on worker threads when configured). */
  verifier: SignatureVerifier;
  limits?: IngressLimits;
  /** Bytes and transactions decoded and verified at once; beyond them submissions get 429 at once. */
  budget?: IngressBudgetLimits;
  startedAtMs: number;
  /** fastify's serverFactory: serve on an already-listening server (see early-listener.ts). */
  serverFactory?: FastifyServerFactory;
  /**
   * Resolves when the transaction commits or fails, or after timeoutMs (then reports pending); with
   * TPSLAB_E_UNAVAILABLE when the node stops serving first (the outcome is not known here).
   */
  waitFor(id: Buffer, timeoutMs: number): Promise<TxStatus | TpslabError>;
  /** Called for each accepted transaction (for commit latency). */
  onAccepted(tx: SignedTx): void;
  /** Head-age, lag and drain checks for balancers (see health.ts). */
  health?: NodeHealth;
}

/** An accepted transaction's entry in the sequencer's answer to a forwarded batch: one shared object, not one each. */
const ACCEPTED = Object.freeze({});

export function statusJson(id: Buffer, s: TxStatus): TxStatusJson {
  const base: TxStatusJson = { id: id.toString('hex'), status: s.status };
  if (s.status === 'committed') return { ...base, height: s.height, index: s.index };
  if (s.status === 'failed') return { ...base, error: { code: s.code, message: s.message } };
  return base;
}

export function blockJson(b: Block): BlockJson {
  return {
    height: b.height,
    hash: b.hash.toString('hex'),
    prevHash: b.prevHash.toString('hex'),
    timestampMs: b.timestampMs,
    stateHash: b.stateHash.toString('hex'),
    txCount: b.txs.length,
    txs: b.txs.map(txToJson),
  };
}

function parseId(text: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new TpslabError('TPSLAB_E_BAD_REQUEST', `transaction id "${text.slice(0, 80)}" must be 64 hex characters`);
  }
  return Buffer.from(text, 'hex');
}

function parseHeight(text: string): number {
  const n = Number(text);
  if (!/^[0-9]{1,15}$/.test(text) || !Number.isSafeInteger(n)) {
    throw new TpslabError('TPSLAB_E_BAD_REQUEST', `block height "${text.slice(0, 40)}" must be a non-negative integer`);
  }
  return n;
}

function parseWait(query: { wait?: string; timeoutMs?: string }): number | undefined {
  if (query.wait === undefined || query.wait === 'false') return undefined;
  if (query.wait !== 'commit' && query.wait !== 'true') {
    throw new TpslabError('TPSLAB_E_BAD_REQUEST', `wait="${query.wait}" is not understood; use wait=commit`);
  }
  const t = query.timeoutMs === undefined ? 30_000 : Number(query.timeoutMs);
  if (!Number.isInteger(t) || t < 1 || t > 300_000) throw new TpslabError('TPSLAB_E_BAD_REQUEST', 'timeoutMs must be an integer from 1 to 300000');
  return t;
}

export function buildNodeApi(ctx: NodeApiContext): FastifyInstance {
  const { service: seq, metrics } = ctx;
  const limits = ctx.limits ?? DEFAULT_INGRESS_LIMITS;
  const genesis = seq.genesis;
  const app = Fastify({
    bodyLimit: limits.maxBodyBytes,
    logger: false,
    return503OnClosing: true,
    frameworkErrors,
    clientErrorHandler,
    ...(ctx.serverFactory ? { serverFactory: ctx.serverFactory } : {}),
  });

  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler(async (err, req, reply) => {
    const { error: e, status } = fromFramework(err as { statusCode?: number; code?: string; message: string });
    // A body refused as too large is read to its end first (bounded), so the client sees the answer, not EPIPE.
    if (e.code === 'TPSLAB_E_TOO_LARGE') await drainBody(req);
    if (req.method === 'POST' && (req.url.startsWith('/v1/tx') || req.url.startsWith('/v1/txs'))) {
      // Refused before a handler ran (unparseable body, too large): still one received, one rejected.
      metrics.txReceived.inc({ encoding: req.headers['content-type']?.includes('json') ? 'json' : 'binary' });
      metrics.txRejected.inc({ code: e.code });
    }
    return sendError(reply, e, status);
  });
  const rejected = (err: unknown): TpslabError => {
    const e = asTpslabError(err);
    metrics.txRejected.inc({ code: e.code });
    return e;
  };

  // Admission before work: a submission takes its share of the budget when it arrives, before its body is read.
  const budget = new IngressBudget(ctx.budget ?? DEFAULT_INGRESS_BUDGET);
  const leases = new WeakMap<object, Lease>();
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST') return;
    const path = req.url.split('?', 1)[0];
    if (path !== '/v1/tx' && path !== '/v1/txs') return;
    const declared = Number(req.headers['content-length']);
    const bytes = Number.isFinite(declared) && declared >= 0 ? declared : limits.maxBodyBytes;
    if (bytes > limits.maxBodyBytes) return; // the body parser refuses it as too large
    // At arrival the count is unknown: estimated from the length, set to the real count once split.
    const txs = path === '/v1/tx' ? 1 : Math.max(1, Math.min(limits.maxBatchTxs, Math.ceil(bytes / ESTIMATE_BYTES_PER_TX)));
    let lease: Lease;
    try {
      lease = budget.take(bytes, txs);
    } catch (err) {
      metrics.txReceived.inc({ encoding: req.headers['content-type']?.includes('json') ? 'json' : 'binary' });
      return sendError(reply, rejected(err));
    }
    leases.set(req.raw, lease);
    reply.raw.once('close', lease.release);
  });
  const releaseLease = (req: { raw: object }): void => leases.get(req.raw)?.release();

  app.setNotFoundHandler((req, reply) => sendError(reply, new TpslabError('TPSLAB_E_NOT_FOUND', `no route ${req.method} ${req.url}; see docs/api.md`)));

  /** Hands verified transactions to the service; returns the refusal per transaction (undefined = accepted). */
  const accept = async (txs: SignedTx[]): Promise<(TpslabError | undefined)[]> => {
    const out: (TpslabError | undefined)[] = new Array(txs.length);
    const admissible: SignedTx[] = [];
    const at: number[] = [];
    txs.forEach((tx, i) => {
      try {
        checkNotExisting(tx, seq.state);
        admissible.push(tx);
        at.push(i);
      } catch (err) {
        out[i] = asTpslabError(err);
      }
    });
    const submitted = admissible.length ? await seq.submitMany(admissible) : [];
    submitted.forEach((err, j) => (out[at[j]!] = err));
    let accepted = 0;
    out.forEach((err, i) => {
      if (err) metrics.txRejected.inc({ code: err.code });
      else {
        accepted++;
        ctx.onAccepted(txs[i]!);
      }
    });
    if (accepted > 0) metrics.txAccepted.inc(accepted); // once a batch, not once a transaction
    return out;
  };

  /** One transaction: JSON form or binary. `?wait=commit` holds the answer until it commits or fails. */
  app.post<{ Querystring: { wait?: string; timeoutMs?: string } }>('/v1/tx', async (req, reply) => {
    const waitMs = parseWait(req.query);
    const binary = Buffer.isBuffer(req.body);
    metrics.txReceived.inc({ encoding: binary ? 'binary' : 'json' });
    let tx: SignedTx;
    try {
      tx = binary ? verifyBinary(req.body as Buffer, genesis, limits) : verifyJson(req.body, genesis, limits);
    } catch (err) {
      return sendError(reply, rejected(err));
    }
    const [refused] = await accept([tx]);
    releaseLease(req);
    if (refused) return sendError(reply, refused);
    if (waitMs === undefined) return reply.code(202).send({ id: tx.id.toString('hex'), status: 'pending' });
    const s = await ctx.waitFor(tx.id, waitMs);
    if (s instanceof TpslabError) return sendError(reply, s);
    return reply.code(s.status === 'committed' ? 200 : s.status === 'failed' ? 409 : 202).send(statusJson(tx.id, s));
  });

  /**
   * A binary batch. Each transaction is judged on its own: the answer lists a
   * result per transaction in order. If any was refused because the node is
   * full, the status is 429 with Retry-After (the accepted ones stay accepted).
   */
  app.post('/v1/txs', async (req, reply) => {
    if (!Buffer.isBuffer(req.body)) {
      return sendError(reply, new TpslabError('TPSLAB_E_BAD_REQUEST', 'a batch must be sent as application/octet-stream (u32 count, then u32 length + bytes per transaction)'));
    }
    let parts: Buffer[];
    try {
      parts = splitBatch(req.body, limits.maxBatchTxs, limits.maxTxBytes);
    } catch (err) {
      // A batch refused whole counts as one received, one rejected.
      metrics.txReceived.inc({ encoding: 'binary' });
      return sendError(reply, rejected(err));
    }
    metrics.txReceived.inc({ encoding: 'binary' }, parts.length);
    leases.get(req.raw)?.resize(parts.length);
    const results: BatchItemJson[] = new Array(parts.length);
    const decoded: SignedTx[] = [];
    const slots: number[] = [];
    parts.forEach((bytes, i) => {
      try {
        decoded.push(decodeBinary(bytes, genesis, limits));
        slots.push(i);
      } catch (err) {
        results[i] = { error: rejected(err).toJSON() };
      }
    });
    // Signatures are the heavy part: checked in chunks, possibly on worker threads. Each chunk is
    // handed on as soon as it and those before it are checked, in order (a sender's nonces stay in order).
    const verifyStartMs = performance.now();
    const verified: SignedTx[] = [];
    const verifiedSlots: number[] = [];
    const accepting: Promise<(TpslabError | undefined)[]>[] = [];
    const acceptingCounts: number[] = [];
    for (const chunk of ctx.verifier.verify(decoded, genesis.network)) {
      let checks: (TpslabError | undefined)[];
      try {
        checks = await chunk.results;
      } catch (err) {
        // The verify threads failed (not the signatures): this chunk's transactions are refused, retryable.
        const e = new TpslabError('TPSLAB_E_UNAVAILABLE', `this node could not check signatures (${(err as Error).message}); retry the same transaction`, { cause: err });
        checks = new Array<TpslabError>(chunk.count).fill(e);
      }
      seq.stageSink?.('verify', (performance.now() - verifyStartMs) / 1000);
      const ready: SignedTx[] = [];
      checks.forEach((err, k) => {
        const j = chunk.start + k;
        if (err) results[slots[j]!] = { id: txIdHex(decoded[j]!.idKey), error: rejected(err).toJSON() };
        else {
          ready.push(decoded[j]!);
          verified.push(decoded[j]!);
          verifiedSlots.push(slots[j]!);
        }
      });
      if (ready.length) {
        const p = accept(ready);
        p.catch(() => {}); // awaited below, after the later chunks: not an unhandled rejection meanwhile
        accepting.push(p);
        acceptingCounts.push(ready.length);
      }
    }
    let accepted = 0;
    let full = false;
    // Settled one by one: a chunk whose hand-on failed must not hide the answers of those accepted before it.
    const outcomes = (await Promise.allSettled(accepting)).flatMap((o, c) => {
      if (o.status === 'fulfilled') return o.value;
      const e = new TpslabError('TPSLAB_E_UNAVAILABLE', `this node could not hand these transactions on (${(o.reason as Error).message}); retry the same transaction`, { cause: o.reason });
      return new Array<TpslabError>(acceptingCounts[c]!).fill(e);
    });
    releaseLease(req);
    outcomes.forEach((err, j) => {
      const id = txIdHex(verified[j]!.idKey); // no id Buffer per transaction
      if (err) {
        if (err.code === 'TPSLAB_E_MEMPOOL_FULL') full = true;
        results[verifiedSlots[j]!] = { id, error: err.toJSON() };
      } else {
        accepted++;
        results[verifiedSlots[j]!] = { id, status: 'pending' };
      }
    });
    if (full) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return reply.code(full ? 429 : 200).send({ accepted, rejected: parts.length - accepted, results } satisfies BatchResultJson);
  });

  if (seq.role === 'sequencer') {
    /**
     * Nodes forward transactions they have verified. Crash-fault model: the
     * sequencer trusts its nodes and does not check signatures again; never
     * expose this route beyond the network's own hosts.
     */
    app.post(INTERNAL_SUBMIT_PATH, async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) return sendError(reply, new TpslabError('TPSLAB_E_BAD_REQUEST', 'send a binary batch (application/octet-stream)'));
      let txs: SignedTx[];
      try {
        txs = splitBatch(req.body, limits.maxBatchTxs, limits.maxTxBytes).map((b) => decodeTx(b));
      } catch (err) {
        return sendError(reply, rejected(err));
      }
      metrics.txReceived.inc({ encoding: 'binary' }, txs.length);
      const outcomes = await accept(txs);
      // Replicated ordering: the leader's term, so a node knows under which leader its transactions wait.
      const term = seq.leaderTerm;
      return { results: outcomes.map((e) => (e ? { error: e.toJSON() } : ACCEPTED)), ...(term !== undefined ? { term } : {}) };
    });
    /** Who leads (replicated ordering); a single sequencer answers `{ replicated: false }`. */
    app.get(INTERNAL_LEADER_PATH, async () => {
      if (!('leader' in seq)) return { replicated: false, height: seq.durableHeight };
      return { replicated: true, leader: seq.leader ?? null, height: seq.durableHeight };
    });
  }

  app.get<{ Params: { id: string } }>('/v1/tx/:id', async (req) => {
    const id = parseId(req.params.id);
    return statusJson(id, seq.status(id));
  });

  app.get<{ Params: { address: string } }>('/v1/accounts/:address', async (req) => {
    const account = decodeAddress(req.params.address, 'address');
    const a = seq.state.getAccount(account);
    // `height`: the block this view reflects (it may be ahead of the durable head by the blocks being written).
    return { address: encodeAddress(account), exists: a !== undefined, balance: (a?.balance ?? 0n).toString(), nonce: (a?.nonce ?? 0n).toString(), height: seq.state.height } satisfies AccountJson;
  });

  app.get<{ Params: { name: string } }>('/v1/topics/:name', async (req) => {
    const t = seq.state.getTopic(req.params.name);
    if (!t) throw new TpslabError('TPSLAB_E_UNKNOWN_TOPIC', `topic "${req.params.name.slice(0, 64)}" does not exist`);
    return { name: req.params.name, nextSeq: t.nextSeq.toString(), owner: encodeAddress(t.owner) } satisfies TopicJson;
  });

  app.get<{ Params: { height: string }; Querystring: { format?: string } }>('/v1/blocks/:height', async (req, reply) => {
    const height = parseHeight(req.params.height);
    if (req.query.format === 'binary') return reply.type('application/octet-stream').send(await seq.readEncodedBlock(height));
    return blockJson(await seq.readBlock(height));
  });

  app.get('/v1/head', async () => headJson(seq));

  app.get<{ Querystring: { draining?: string } }>('/health', async (req, reply) => {
    // unavailable: not serving; degraded: serving reads but not taking work (its sequencer is unreachable);
    // otherwise the balancer's checks (head age, lag, draining: health.ts) may answer.
    const unavailable = seq.unavailableReason;
    const degraded = unavailable ? undefined : seq.degradedReason;
    if (!unavailable && !degraded) {
      const extra = ctx.health?.answer(seq.role, seq.durableHeight, seq.durableHead.timestampMs, req.query.draining === '404');
      if (extra) return reply.code(extra.httpStatus).send(extra.body);
    }
    const reason = unavailable ?? degraded;
    const status = unavailable ? 'unavailable' : reason ? 'degraded' : 'ok';
    return reply.code(reason ? 503 : 200).send({ status, role: seq.role, height: seq.durableHeight, ...(reason ? { reason } : {}) });
  });

  /** Drain: leave balancers' pools gracefully before maintenance (still serving). Loopback callers only. */
  const drain = (on: boolean) => async (req: { socket: { remoteAddress?: string } }, reply: FastifyReply) => {
    if (!ctx.health || !isLoopback(req.socket.remoteAddress)) {
      return sendError(reply, new TpslabError('TPSLAB_E_FORBIDDEN', `the drain endpoint answers callers on 127.0.0.1 only (this one is ${req.socket.remoteAddress}); run "tpslab node drain" on the node's host`));
    }
    ctx.health.draining = on;
    return { draining: on };
  };
  app.post('/admin/drain', drain(true));
  app.delete('/admin/drain', drain(false));

  app.get('/metrics', async (_req, reply) => {
    metrics.mempoolTransactions.set(seq.mempoolSize);
    metrics.blockLogBytes.set(seq.logSizeBytes);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/stats', async () => {
    const counter = async (c: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }) => (await c.get()).values;
    const sum = async (c: Parameters<typeof counter>[0]) => (await counter(c)).reduce((a, v) => a + v.value, 0);
    const byCode = async (c: Parameters<typeof counter>[0]) =>
      Object.fromEntries((await counter(c)).filter((v) => v.value > 0).map((v) => [String(v.labels.code), v.value]));
    return {
      network: genesis.network,
      role: seq.role,
      uptimeMs: Date.now() - ctx.startedAtMs,
      head: headJson(seq),
      mempool: seq.mempoolSize,
      accounts: seq.state.accountCount,
      logSizeBytes: seq.logSizeBytes,
      tx: {
        received: await sum(metrics.txReceived),
        accepted: await sum(metrics.txAccepted),
        rejected: await sum(metrics.txRejected),
        rejectedByCode: await byCode(metrics.txRejected),
        committed: await sum(metrics.txCommitted),
        failed: await sum(metrics.txFailed),
        failedByCode: await byCode(metrics.txFailed),
      },
      ingress: { inFlightBytes: budget.inFlightBytes, inFlightTxs: budget.inFlightTxs, maxBytes: budget.limits.maxBytes, maxTxs: budget.limits.maxTxs },
      memory: { rssBytes: process.memoryUsage.rss() },
      blocks: await sum(metrics.blocksCommitted),
      feesBurned: seq.state.feesBurned.toString(),
    };
  });

  return app;
}

export function headJson(seq: LedgerService): HeadJson {
  return {
    network: seq.genesis.network,
    height: seq.durableHeight,
    // hash and stateHash of the durable head; blocks in flight are not reported.
    ...seq.durableHead,
  };
}
