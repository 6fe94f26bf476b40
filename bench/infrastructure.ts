/**
 * infrastructure: the cost of the public-endpoint pieces, as ratios.
 *
 *  1. HAProxy: requests/s of GET /v1/head through `tpslab lb` (HAProxy 2.6,
 *     2 nodes behind it) next to straight to one node, autocannon with the
 *     same connections and duration for both, in the same run.
 *  2. Indexer: the network commits BLOCKS small blocks (one round of transfers
 *     each, waited for); its blocks/s is the commit rate. Then a fresh indexer
 *     (SQLite) catches up from height 0; its blocks/s next to the commit rate
 *     says how far ahead of the network it can keep up.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeClient } from '../src/client/node-client.js';
import { readKeyFile } from '../src/client/key-file.js';
import { loadGenesis } from '../src/ledger/genesis.js';
import { startIndexer } from '../src/ledger/indexer/indexer-server.js';
import { startBalancer } from '../src/ledger/lb/balancer.js';
import { netDown, netUp } from '../src/ledger/net.js';
import { keyPairFromLabel, signTx } from '../src/protocol/signing.js';
import type { BenchContext, BenchResult, Benchmark } from './contract.js';
import { sleep } from './lib/common.js';

const CONNECTIONS = 16;
const DURATION_S = 3;
const SENDERS = 20;
const BLOCKS = 150;

type Autocannon = (opts: Record<string, unknown>) => Promise<{ requests: { average: number }; non2xx: number; errors: number }>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

async function reqPerSec(url: string, signal: AbortSignal): Promise<number> {
  await autocannon({ url: `${url}/v1/head`, connections: CONNECTIONS, duration: 1 });
  if (signal.aborted) throw new Error('aborted');
  const r = await autocannon({ url: `${url}/v1/head`, connections: CONNECTIONS, duration: DURATION_S });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return r.requests.average;
}

export const infrastructure: Benchmark = {
  name: 'infrastructure',
  description: 'req/s through HAProxy (tpslab lb) ÷ straight to a node; indexer catch-up blocks/s ÷ network commit blocks/s',
  timeoutMs: 180_000,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const dir = await mkdtemp(join(tmpdir(), 'tpslab-bench-infra-'));
    try {
      const net = await netUp({ dir, nodes: 2, blockIntervalMs: 5 });
      await mkdir(join(dir, 'lb'), { recursive: true });
      const lb = await startBalancer({ dataDir: join(dir, 'lb'), trackerUrl: net.tracker.url });
      let direct: number;
      let through: number;
      try {
        await sleep(1500, ctx.signal); // first health checks
        ctx.log('GET /v1/head straight to node1');
        direct = await reqPerSec(net.nodes[0]!.url, ctx.signal);
        ctx.log('GET /v1/head through HAProxy');
        through = await reqPerSec(lb.url, ctx.signal);
      } finally {
        await lb.close();
      }

      ctx.log(`committing ${BLOCKS} blocks`);
      const client = new NodeClient(net.nodes[0]!.url);
      const faucet = await readKeyFile(net.faucetKey);
      const senders = Array.from({ length: SENDERS }, (_, i) => keyPairFromLabel(`bench-infra-${i}`));
      const funding = signTx({ kind: 'transfer', nonce: (await client.account(faucet.address)).nonce, fee: 0n, deps: [], inputs: [{ account: faucet.publicKey, amount: 10n ** 9n * BigInt(SENDERS) }], outputs: senders.map((k) => ({ account: k.publicKey, amount: 10n ** 9n })) }, [faucet], net.network);
      await client.submit(funding, { waitMs: 30_000 });
      const startHeight = (await client.head()).height;
      const t0 = performance.now();
      for (let b = 0; b < BLOCKS && !ctx.signal.aborted; b++) {
        const txs = senders.map((k, i) => signTx({ kind: 'transfer', nonce: BigInt(b), fee: 0n, deps: [], inputs: [{ account: k.publicKey, amount: 1n }], outputs: [{ account: senders[(i + 1) % SENDERS]!.publicKey, amount: 1n }] }, [k], net.network));
        await client.submitBatch(txs);
        const last = txs[txs.length - 1]!.id.toString('hex');
        while ((await client.status(last)).status !== 'committed') await sleep(2, ctx.signal);
      }
      const head = (await client.head()).height;
      const netBlocksPerSec = ((head - startHeight) / (performance.now() - t0)) * 1000;

      ctx.log(`indexing ${head} blocks from height 0 (SQLite)`);
      const t1 = performance.now();
      const ix = await startIndexer({ db: `sqlite:${join(dir, 'index.db')}`, nodeUrls: [net.nodes[1]!.url], genesis: await loadGenesis(net.genesis) });
      try {
        while (ix.follower.indexedHeight < head && !ctx.signal.aborted) await sleep(10, ctx.signal);
      } finally {
        await ix.close();
      }
      const ixBlocksPerSec = (head / (performance.now() - t1)) * 1000;
      await netDown(dir);
      return {
        rows: [
          { metric: 'GET /v1/head straight to a node', value: Math.round(direct), unit: 'req/s' },
          { metric: 'GET /v1/head through HAProxy', value: Math.round(through), unit: 'req/s' },
          { metric: 'network commit rate (one round per block)', value: Math.round(netBlocksPerSec), unit: 'blocks/s' },
          { metric: 'indexer catch-up (SQLite)', value: Math.round(ixBlocksPerSec), unit: 'blocks/s' },
        ],
        ratios: [
          { label: 'req/s through HAProxy ÷ straight to a node', value: through / direct, note: '2 nodes behind HAProxy; HAProxy shares the 2 cores with them' },
          { label: 'indexer blocks/s ÷ network commit blocks/s', value: ixBlocksPerSec / netBlocksPerSec, note: '> 1: the indexer keeps up with this network' },
        ],
        notes: [`${SENDERS} transfers per block`],
      };
    } finally {
      await netDown(dir).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  },
};
