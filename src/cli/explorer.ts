import type { Command } from 'commander';
import { NodeClient } from '../client/node-client.js';
import { TpslabError } from '../errors.js';
import { readNetworkFile } from '../ledger/net.js';
import { ExplorerBackend } from '../web/explorer-api.js';
import { assertPortFree, startWebServer } from '../web/server.js';
import { parseIntOption, untilSignal } from './common.js';

export function registerExplorer(program: Command): void {
  program
    .command('explorer')
    .description('serve the network explorer (blocks, transactions, accounts, members and shards) for a running network')
    .option('--network <file>', 'network.json written by "tpslab net up" (gives the nodes and the tracker)')
    .option('--node <url...>', 'node API base URL(s), instead of --network')
    .option('--tracker <url>', 'tracker URL, for the members panel (with --node)')
    .option('--port <n>', 'port to serve on; 0 picks a free one', parseIntOption('--port', 0, 65535), 0)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .addHelpText('after', '\nExamples:\n  tpslab explorer --network .tpslab/net/network.json\n  tpslab explorer --node http://127.0.0.1:8545')
    .action(async (o: { network?: string; node?: string[]; tracker?: string; port: number; host: string }) => {
      await assertPortFree(o.host, o.port, '--port');
      let endpoints: string[];
      let tracker = o.tracker;
      if (o.network) {
        const net = await readNetworkFile(o.network);
        endpoints = net.nodes.map((n) => n.url);
        tracker ??= net.tracker.url;
      } else if (o.node?.length) endpoints = o.node;
      else throw new TpslabError('TPSLAB_E_USAGE', 'give --network <network.json> or --node <url>');
      const head = await new NodeClient(endpoints[0]!).head();
      const web = await startWebServer({ explorer: new ExplorerBackend({ network: head.network, endpoints, ...(tracker ? { tracker } : {}) }), host: o.host, port: o.port, portOption: '--port' });
      console.log(`tpslab explorer for network ${head.network}: ${web.url}`);
      const sig = await untilSignal();
      console.log(`${sig}: stopping`);
      await web.close();
    });
}
