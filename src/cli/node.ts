import type { Command } from 'commander';
import type { TpslabError } from '../errors.js';
import { ensureDevGenesis } from '../ledger/dev-genesis.js';
import { loadGenesis } from '../ledger/genesis.js';
import { startNode } from '../ledger/node.js';
import { parseIntOption, untilSignal } from './common.js';

export interface NodeCommandOptions {
  data: string;
  port: number;
  host: string;
  genesis?: string;
  blockIntervalMs: number;
  blockMaxTxs: number;
  mempoolCapacity: number;
  fsync: boolean;
}

export function registerNode(program: Command): void {
  program
    .command('node')
    .description('run a ledger node: ingress, ordering and state in one process, with the HTTP API under /v1')
    .requiredOption('--data <dir>', 'data directory (block log, genesis.hash, endpoint.json); created if missing')
    .option('--port <n>', 'TCP port to listen on; 0 picks a free one (see <data>/endpoint.json)', parseIntOption('--port', 0, 65535), 0)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--genesis <file>', 'genesis JSON; without it a development genesis and faucet key are created in the data directory')
    .option('--block-interval-ms <ms>', 'cut a block at most this long after the first ready transaction', parseIntOption('--block-interval-ms', 1, 60_000), 25)
    .option('--block-max-txs <n>', 'transactions per block at most', parseIntOption('--block-max-txs', 1, 100_000), 4000)
    .option('--mempool-capacity <n>', 'pending transactions at most before answering 429', parseIntOption('--mempool-capacity', 1, 10_000_000), 100_000)
    .option('--no-fsync', 'do not fdatasync the block log (benchmarks only: commits are not durable)')
    .addHelpText('after', '\nExample:\n  tpslab node --data ./node1 --port 8545\n  curl http://127.0.0.1:8545/v1/head')
    .action(async (o: NodeCommandOptions) => runNodeCommand(o));
}

export async function runNodeCommand(o: NodeCommandOptions): Promise<void> {
  let genesisInfo = '';
  let genesis;
  if (o.genesis) {
    genesis = await loadGenesis(o.genesis);
  } else {
    const dev = await ensureDevGenesis(o.data);
    genesis = dev.genesis;
    genesisInfo = `genesis ${dev.genesisPath} (${dev.created ? 'created' : 'existing'}), faucet key ${dev.faucetKeyPath}`;
  }
  const node = await startNode({
    dataDir: o.data,
    genesis,
    host: o.host,
    port: o.port,
    sequencer: { blockIntervalMs: o.blockIntervalMs, blockMaxTxs: o.blockMaxTxs, fsync: o.fsync, mempool: { capacity: o.mempoolCapacity } },
  });
  const rec = node.sequencer.recovery;
  console.log(`tpslab node listening on ${node.url} (network ${genesis.network}, head ${node.sequencer.durableHeight})`);
  if (rec.truncatedBytes > 0) console.log(`recovered the block log: ${rec.records} blocks, cut a torn tail of ${rec.truncatedBytes} bytes`);
  if (genesisInfo) console.log(genesisInfo);
  console.log(`try: curl ${node.url}/v1/head   |   tpslab tx send --node ${node.url} --key <key file> --to <address> --amount 1`);
  node.sequencer.on('fatal', (err: TpslabError) => console.error(`error ${err.code}: ${err.message}`));
  const sig = await untilSignal();
  console.log(`${sig}: stopping`);
  await node.close();
}
