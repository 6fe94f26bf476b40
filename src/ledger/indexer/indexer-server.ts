/**
 * The indexer's HTTP service: account history with cursor pagination, CSV
 * export, the indexed balance, /health with the lag, and /metrics.
 */
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { Gauge, Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { TpslabError } from '../../errors.js';
import { decodeAddress, encodeAddress } from '../../protocol/address.js';
import type { Genesis } from '../genesis.js';
import { Follower } from './follower.js';
import { CSV_COLUMNS, csvLine, rowJson } from './history.js';
import { openIndexStore, type IndexStore } from './store.js';

export interface IndexerOptions {
  db: string;
  nodeUrls: readonly string[];
  genesis: Genesis;
  host?: string;
  port?: number;
}

export interface RunningIndexer {
  url: string;
  port: number;
  app: FastifyInstance;
  store: IndexStore;
  follower: Follower;
  close(): Promise<void>;
}

const MAX_PAGE = 1000;

function sendError(reply: FastifyReply, err: TpslabError): FastifyReply {
  return reply.code(err.httpStatus).send({ error: err.toJSON() });
}

export async function startIndexer(o: IndexerOptions): Promise<RunningIndexer> {
  const store = await openIndexStore(o.db);
  const follower = new Follower(store, { nodeUrls: o.nodeUrls, genesis: o.genesis });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tpslab_process_' });
  const r = [registry];
  new Gauge({ name: 'tpslab_indexer_height', help: 'Height of the last indexed block.', registers: r, collect() { this.set(follower.indexedHeight); } });
  new Gauge({ name: 'tpslab_indexer_lag_blocks', help: 'Blocks the network has that are not indexed yet.', registers: r, collect() { this.set(follower.lagBlocks); } });
  new Counter({ name: 'tpslab_indexer_blocks_total', help: 'Blocks indexed by this process.', registers: r, collect() { this.reset(); this.inc(follower.blocksIndexed); } });
  new Counter({ name: 'tpslab_indexer_rows_total', help: 'History rows written by this process.', registers: r, collect() { this.reset(); this.inc(follower.rowsIndexed); } });
  try {
    await follower.start();
  } catch (err) {
    await store.close();
    throw err;
  }

  const app = Fastify({ logger: false, return503OnClosing: true });
  app.setErrorHandler((err, _req, reply) => sendError(reply, err instanceof TpslabError ? err : new TpslabError('TPSLAB_E_INTERNAL', (err as Error).message)));
  app.setNotFoundHandler((req, reply) => sendError(reply, new TpslabError('TPSLAB_E_NOT_FOUND', `no route ${req.method} ${req.url}; the indexer serves /v1/accounts/:address, /v1/accounts/:address/history, /v1/accounts/:address/history.csv`)));

  const page = (q: { after?: string; limit?: string }): { after: string | undefined; limit: number } => {
    if (q.after !== undefined && !/^[0-9]{1,19}$/.test(q.after)) throw new TpslabError('TPSLAB_E_BAD_REQUEST', `after="${q.after.slice(0, 40)}" must be a cursor from an earlier page (a whole number)`);
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new TpslabError('TPSLAB_E_BAD_REQUEST', `limit must be an integer from 1 to ${MAX_PAGE}`);
    return { after: q.after, limit };
  };

  app.get<{ Params: { address: string } }>('/v1/accounts/:address', async (req) => {
    const account = encodeAddress(decodeAddress(req.params.address, 'address'));
    const balance = await store.balance(account);
    return { address: account, exists: balance !== undefined, balance: (balance ?? 0n).toString(), height: follower.indexedHeight };
  });

  app.get<{ Params: { address: string }; Querystring: { after?: string; limit?: string } }>('/v1/accounts/:address/history', async (req) => {
    const account = encodeAddress(decodeAddress(req.params.address, 'address'));
    const { after, limit } = page(req.query);
    const rows = await store.history(account, after, limit);
    return { address: account, height: follower.indexedHeight, items: rows.map(rowJson), next: rows.length === limit ? rows[rows.length - 1]!.cursor : null };
  });

  app.get<{ Params: { address: string } }>('/v1/accounts/:address/history.csv', async (req, reply) => {
    const account = encodeAddress(decodeAddress(req.params.address, 'address'));
    async function* lines(): AsyncGenerator<string> {
      yield `${CSV_COLUMNS.join(',')}\n`;
      let after: string | undefined;
      for (;;) {
        const rows = await store.history(account, after, MAX_PAGE);
        for (const row of rows) yield csvLine(row);
        if (rows.length < MAX_PAGE) return;
        after = rows[rows.length - 1]!.cursor;
      }
    }
    reply.header('content-disposition', `attachment; filename="${account}.csv"`);
    return reply.type('text/csv; charset=utf-8').send(Readable.from(lines()));
  });

  app.get('/health', async (_req, reply) => {
    const body = { status: follower.fatal ? 'unavailable' : 'ok', role: 'indexer', store: store.kind, height: follower.indexedHeight, lagBlocks: follower.lagBlocks, ...(follower.fatal ? { reason: follower.fatal.message } : {}) };
    return reply.code(follower.fatal ? 503 : 200).send(body);
  });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));

  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  const port = Number(new URL(address).port);
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    port,
    app,
    store,
    follower,
    async close() {
      follower.close();
      await app.close();
      await store.close();
    },
  };
}
