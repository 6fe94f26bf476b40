import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { TpslabError } from '../errors.js';
import { loadGenesis } from '../ledger/genesis.js';
import { startIndexer } from '../ledger/indexer/indexer-server.js';
import { readNetworkFile } from '../ledger/net.js';
import { writeEndpoint } from '../ledger/node.js';
import { parseIntOption, untilSignal } from './common.js';

interface IndexerCliOptions {
  network: string;
  db?: string;
  data?: string;
  node?: string[];
  port: number;
  host: string;
}

export function registerIndexer(program: Command): void {
  program
    .command('indexer')
    .description('run the account-history indexer: follows the commit stream from its last indexed height, serves history queries and CSV export')
    .requiredOption('--network <file>', 'network.json of the network to index (written by "tpslab net up"), or its directory')
    .option('--db <spec>', 'sqlite:PATH or postgres://user@host:port/db (default: sqlite:<data>/index.db)')
    .option('--data <dir>', 'directory for endpoint.json (and the default SQLite file) (default: <network dir>/indexer)')
    .option('--node <url...>', "node URL(s) to follow, e.g. the balancer's (default: the network's nodes)")
    .option('--port <n>', 'TCP port; 0 picks a free one', parseIntOption('--port', 0, 65535), 0)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .addHelpText('after', '\nExamples:\n  tpslab indexer --network .tpslab/net/network.json --port 8700\n  tpslab indexer --network .tpslab/net --db postgres://tpslab@127.0.0.1:5432/tpslab\n  curl localhost:8700/v1/accounts/tps1.../history.csv')
    .action(async (o: IndexerCliOptions) => {
      const net = await readNetworkFile(o.network);
      const genesis = await loadGenesis(net.genesis);
      const data = resolve(o.data ?? join(net.dir, 'indexer'));
      await mkdir(data, { recursive: true });
      const ix = await startIndexer({ db: o.db ?? `sqlite:${join(data, 'index.db')}`, nodeUrls: o.node ?? net.nodes.map((n) => n.url), genesis, host: o.host, port: o.port });
      await writeEndpoint(data, { url: ix.url, port: ix.port, pid: process.pid, network: genesis.network, role: 'indexer' });
      console.log(`tpslab indexer listening on ${ix.url} (${ix.store.kind}, indexed to height ${ix.follower.indexedHeight})`);
      const stopped = new Promise<string>((res) => ix.follower.once('fatal', (e: TpslabError) => res(`error ${e.code}: ${e.message}`)));
      const why = await Promise.race([untilSignal(), stopped]);
      console.log(`${why}: stopping`);
      await ix.close();
      if (why.startsWith('error')) process.exitCode = 1;
    });
}
