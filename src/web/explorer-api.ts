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

const BLOCK_CACHE = 512;
const HISTORY_BLOCKS = 200;

export class ExplorerBackend {
  private readonly cache = new Map<number, Block>();

  constructor(readonly info: ExplorerInfo) {}

  private async get<T>(path: string, base = this.info.endpoints[0]!): Promise<T> {
    let lastErr: unknown;
    // Try each endpoint in turn: the explorer keeps working while one node is down.
    for (const url of base === this.info.endpoints[0] ? this.info.endpoints : [base]) {
      try {
        const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) });
        const body = (await res.json()) as T & { error?: { code: string; message: string } };
        if (!res.ok) {
          const e = body.error;
          throw new TpslabError(e && isErrorCode(e.code) ? e.code : 'TPSLAB_E_REMOTE', e?.message ?? `HTTP ${res.status} from ${url}${path}`);
        }
        return body;
      } catch (err) {
        if (err instanceof TpslabError && err.httpStatus < 500) throw err;
        lastErr = err;
      }
    }
    throw lastErr instanceof TpslabError ? lastErr : new TpslabError('TPSLAB_E_UNAVAILABLE', `no node of the network answered ${path}: ${(lastErr as Error)?.message}`);
  }

  async block(height: number): Promise<Block> {
    const hit = this.cache.get(height);
    if (hit) return hit;
    const res = await fetch(`${this.info.endpoints[0]}/v1/blocks/${height}?format=binary`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new TpslabError('TPSLAB_E_NOT_FOUND', `block ${height} is not available (HTTP ${res.status})`);
    const block = decodeBlock(Buffer.from(await res.arrayBuffer()));
    if (this.cache.size >= BLOCK_CACHE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(height, block);
    return block;
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
