/**
 * Follows the network's commit stream from the last indexed height and
 * indexes every block, in order, exactly once. The stream says which heights
 * exist; blocks are fetched in binary (`/v1/blocks/:h?format=binary`), a few
 * in parallel, and committed to the store in batches. On a dropped stream or
 * an unreachable node it reconnects to the next node URL from where it is.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { TpslabError, asTpslabError } from '../../errors.js';
import { decodeBlock, type Block } from '../../protocol/block.js';
import type { Genesis } from '../genesis.js';
import { genesisBlock, indexBlock, touched, type IndexedBlock } from './history.js';
import type { IndexStore } from './store.js';

export interface FollowerOptions {
  nodeUrls: readonly string[];
  genesis: Genesis;
  /** Blocks fetched and committed together at most. */
  batchBlocks?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Follower extends EventEmitter {
  indexedHeight = -1;
  /** Highest height the network is known to have. */
  seenHeight = 0;
  blocksIndexed = 0;
  rowsIndexed = 0;
  private nodeIndex = 0;
  private ws: WebSocket | undefined;
  private running = false;
  private closed = false;
  fatal: TpslabError | undefined;

  constructor(
    private readonly store: IndexStore,
    private readonly opts: FollowerOptions,
  ) {
    super();
  }

  private get nodeUrl(): string {
    return this.opts.nodeUrls[this.nodeIndex % this.opts.nodeUrls.length]!;
  }

  get lagBlocks(): number {
    return Math.max(0, this.seenHeight - this.indexedHeight);
  }

  async start(): Promise<void> {
    let cur = await this.store.cursor();
    if (cur === undefined) {
      const g = this.opts.genesis;
      await this.store.commit([genesisBlock(g.hash.toString('hex'), g.timestampMs, g.accounts)]);
      cur = await this.store.cursor();
    }
    this.indexedHeight = cur!.height;
    this.seenHeight = Math.max(this.seenHeight, this.indexedHeight);
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const url = `${this.nodeUrl.replace(/^http/, 'ws')}/v1/stream?from=${this.indexedHeight + 1}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.on('message', (data: Buffer) => {
      const m = /^\{"type":"block","height":(\d+)/.exec(data.subarray(0, 64).toString());
      if (m) {
        this.seenHeight = Math.max(this.seenHeight, Number(m[1]));
        void this.drain();
      }
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (this.closed || this.ws !== ws) return;
      this.nodeIndex++;
      setTimeout(() => this.connect(), 200).unref();
    });
  }

  /** Indexes up to seenHeight; one loop at a time. */
  private async drain(): Promise<void> {
    if (this.running || this.closed || this.fatal) return;
    this.running = true;
    try {
      while (this.indexedHeight < this.seenHeight && !this.closed) {
        const from = this.indexedHeight + 1;
        const to = Math.min(this.seenHeight, from + (this.opts.batchBlocks ?? 32) - 1);
        let blocks: Block[];
        try {
          blocks = await Promise.all(Array.from({ length: to - from + 1 }, (_, i) => this.fetchBlock(from + i)));
        } catch {
          this.nodeIndex++;
          await sleep(200);
          continue;
        }
        const indexed = await this.index(blocks);
        const written = await this.store.commit(indexed);
        this.blocksIndexed += written;
        this.rowsIndexed += indexed.reduce((n, b) => n + b.rows.length, 0);
        this.indexedHeight = to;
        this.emit('indexed', to);
      }
    } catch (err) {
      this.fatal = asTpslabError(err);
      this.emit('fatal', this.fatal);
    } finally {
      this.running = false;
    }
  }

  private async fetchBlock(height: number): Promise<Block> {
    const res = await fetch(`${this.nodeUrl}/v1/blocks/${height}?format=binary`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new TpslabError('TPSLAB_E_REMOTE', `block ${height} from ${this.nodeUrl}: HTTP ${res.status}`);
    return decodeBlock(Buffer.from(await res.arrayBuffer()));
  }

  /** Replays the blocks on the stored balances (and on the earlier blocks of this batch). */
  private async index(blocks: readonly Block[]): Promise<IndexedBlock[]> {
    const accounts = new Set<string>();
    const topics = new Set<string>();
    for (const b of blocks) {
      const t = touched(b);
      t.accounts.forEach((a) => accounts.add(a));
      t.topics.forEach((x) => topics.add(x));
    }
    const balances = await this.store.balances([...accounts]);
    const seqs = await this.store.topicSeqs([...topics]);
    const view = { balance: (a: string) => balances.get(a) ?? 0n, nextSeq: (t: string) => seqs.get(t) ?? 0n };
    return blocks.map((b) => {
      const ib = indexBlock(b, view);
      for (const [a, v] of ib.balances) balances.set(a, v);
      for (const [t, v] of ib.topics) seqs.set(t, v);
      return ib;
    });
  }

  close(): void {
    this.closed = true;
    this.ws?.terminate();
  }
}
