/**
 * The explorer's server side: reads a network through its nodes' public API
 * (and the tracker for members), for the browser app. Blocks never change
 * once written, so decoded blocks are cached.
 */
import type { FastifyInstance } from 'fastify';
import { TpslabError, isErrorCode } from '../errors.js';
import { decodeAddress, encodeAddress } from '../protocol/address.js';
import { decodeBlock, type Block } from '../protocol/block.js';
import { txToJson } from '../protocol/json.js';
import { blockJson } from '../ledger/node-api.js';
import type { AccountDetail, BlockSummary, ExplorerInfo, TxDetail } from './contract.js';

/** Decoded blocks kept, by their encoded size (blocks never change once written). */
const BLOCK_CACHE_BYTES = 64 * 1024 * 1024;
const HISTORY_BLOCKS = 200;
const REQUEST_TIMEOUT_MS = 5000;

export class ExplorerBackend {
  private readonly cache = new Map<number, { block: Block; sizeBytes: number }>();
  private cacheBytes = 0;
  /** Fetches under way, shared by concurrent requests for the same block. */
  private readonly loading = new Map<number, Promise<Block>>();
  /** The endpoint that answered last: tried first, so a dead or hung node costs one timeout, not one per request. */
  private current = 0;

  constructor(readonly info: ExplorerInfo) {}

  /** GET from the nodes, starting with the last that answered; the next on a network failure or a 5xx. */
  private async fetchNode(path: string): Promise<Response> {
    const n = this.info.endpoints.length;
    let lastErr: unknown;
    for (let k = 0; k < n; k++) {
      const i = (this.current + k) % n;
      const url = this.info.endpoints[i]!;
      try {
        const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        if (res.status >= 500) {
          lastErr = new Error(`HTTP ${res.status} from ${url}`);
          await res.arrayBuffer();
          continue;
        }
        this.current = i;
        return res;
      } catch (err) {
        lastErr = err;
      }
    }
    throw new TpslabError('TPSLAB_E_UNAVAILABLE', `no node of the network answered ${path} (${(lastErr as Error)?.message}); is the network up?`, { cause: lastErr });
  }

  private async get<T>(path: string, base?: string): Promise<T> {
    let res: Response;
    if (base) {
      try {
        res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      } catch (err) {
        throw new TpslabError('TPSLAB_E_UNAVAILABLE', `${base} did not answer ${path}: ${(err as Error).message}`, { cause: err });
      }
    } else res = await this.fetchNode(path);
    const body = (await res.json()) as T & { error?: { code: string; message: string } };
    if (!res.ok) {
      const e = body.error;
      throw new TpslabError(e && isErrorCode(e.code) ? e.code : 'TPSLAB_E_REMOTE', e?.message ?? `HTTP ${res.status} for ${path}`);
    }
    return body;
  }

  async block(height: number): Promise<Block> {
    const hit = this.cache.get(height);
    if (hit) return hit.block;
    let p = this.loading.get(height);
    if (!p) {
      p = (async () => {
        const res = await this.fetchNode(`/v1/blocks/${height}?format=binary`);
        const bytes = Buffer.from(await res.arrayBuffer());
        if (!res.ok) {
          const e = (JSON.parse(bytes.toString() || '{}') as { error?: { code: string; message: string } }).error;
          throw new TpslabError(e && isErrorCode(e.code) ? e.code : 'TPSLAB_E_NOT_FOUND', e?.message ?? `block ${height} is not available (HTTP ${res.status})`);
        }
        const block = decodeBlock(bytes);
        this.cache.set(height, { block, sizeBytes: bytes.length });
        this.cacheBytes += bytes.length;
        for (const [h, e] of this.cache) {
          if (this.cacheBytes <= BLOCK_CACHE_BYTES) break;
          this.cache.delete(h);
          this.cacheBytes -= e.sizeBytes;
        }
        return block;
      })().finally(() => this.loading.delete(height));
      this.loading.set(height, p);
    }
    return p;
  }

  head(): Promise<{ network: string; height: number; hash: string; stateHash: string; timestampMs: number }> {
    return this.get('/v1/head');
  }

  async blocks(limit: number): Promise<BlockSummary[]> {
    const { height } = await this.head();
    const heights = Array.from({ length: Math.min(limit, height) }, (_, k) => height - k);
    const blocks = await Promise.all(heights.map((h) => this.block(h)));
    return blocks.map((b) => ({ height: b.height, hash: b.hash.toString('hex'), timestampMs: b.timestampMs, txCount: b.txs.length }));
  }

  async tx(id: string): Promise<TxDetail> {
    const s = await this.get<TxDetail>(`/v1/tx/${id}`);
    if (s.status !== 'committed' || s.height === undefined) return s;
    const block = await this.block(s.height);
    const tx = block.txs[s.index!];
    return { ...s, ...(tx ? { tx: txToJson(tx) } : {}) };
  }

  async account(address: string): Promise<AccountDetail> {
    const key = decodeAddress(address, 'address');
    const a = await this.get<{ address: string; exists: boolean; balance: string; nonce: string }>(`/v1/accounts/${address}`);
    const { height } = await this.head();
    const from = Math.max(1, height - HISTORY_BLOCKS + 1);
    const recent: AccountDetail['recent'] = [];
    for (let h = height; h >= from && recent.length < 50; h--) {
      const b = await this.block(h);
      for (const tx of b.txs) {
        const body = tx.body;
        let out: boolean;
        let inn: boolean;
        let amount: bigint | undefined;
        if (body.kind === 'transfer') {
          const i = body.inputs.find((e) => e.account.equals(key));
          const o = body.outputs.filter((e) => e.account.equals(key));
          out = i !== undefined;
          inn = o.length > 0;
          amount = out ? i!.amount : o.reduce((t, e) => t + e.amount, 0n);
        } else {
          out = body.from.equals(key);
          inn = body.kind === 'create-account' && body.account.equals(key);
        }
        if (out || inn) {
          recent.push({ id: tx.id.toString('hex'), height: h, kind: body.kind, direction: out && inn ? 'both' : out ? 'out' : 'in', ...(amount !== undefined ? { amount: amount.toString() } : {}) });
        }
      }
    }
    return { address: encodeAddress(key), exists: a.exists, balance: a.balance, nonce: a.nonce, recent, scannedBlocks: height - from + 1 };
  }

  async members(): Promise<unknown> {
    if (!this.info.tracker) throw new TpslabError('TPSLAB_E_NOT_FOUND', 'no tracker is known for this network (start the explorer with --network network.json)');
    return this.get('/v1/members', this.info.tracker);
  }
}

export function registerExplorerRoutes(app: FastifyInstance, backend: ExplorerBackend): void {
  app.get('/api/explorer/info', async () => backend.info);
  app.get('/api/explorer/head', async () => backend.head());
  app.get<{ Querystring: { limit?: string } }>('/api/explorer/blocks', async (req) => {
    const limit = Math.min(50, Math.max(1, Number(req.query.limit ?? 20) || 20));
    return backend.blocks(limit);
  });
  app.get<{ Params: { height: string } }>('/api/explorer/blocks/:height', async (req) => {
    if (!/^[0-9]{1,15}$/.test(req.params.height)) throw new TpslabError('TPSLAB_E_BAD_REQUEST', 'block height must be a whole number');
    return blockJson(await backend.block(Number(req.params.height)));
  });
  app.get<{ Params: { id: string } }>('/api/explorer/tx/:id', async (req) => {
    if (!/^[0-9a-fA-F]{64}$/.test(req.params.id)) throw new TpslabError('TPSLAB_E_BAD_REQUEST', 'a transaction id is 64 hex characters');
    return backend.tx(req.params.id.toLowerCase());
  });
  app.get<{ Params: { address: string } }>('/api/explorer/accounts/:address', async (req) => backend.account(req.params.address));
  app.get('/api/explorer/members', async () => backend.members());
}
