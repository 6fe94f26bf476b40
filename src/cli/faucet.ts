import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { readKeyFile } from '../client/key-file.js';
import { loadGenesis } from '../ledger/genesis.js';
import { startFaucet } from '../ledger/faucet/faucet-server.js';
import { readNetworkFile } from '../ledger/net.js';
import { writeEndpoint } from '../ledger/node.js';
import { parseAmountOption, parseIntOption, untilSignal } from './common.js';

interface FaucetCliOptions {
  network: string;
  key?: string;
  data?: string;
  port: number;
  host: string;
  windowMs: number;
  perClient: number;
  perAccount: number;
  budget: bigint;
  amount: bigint;
  maxAmount?: bigint;
  fee?: bigint;
  trustProxy?: boolean;
}

export function registerFaucet(program: Command): void {
  program
    .command('faucet')
    .description('run the faucet: an HTTP service that creates and funds accounts within limits per client, per account and a budget per window')
    .requiredOption('--network <file>', 'network.json of the network to pay on (written by "tpslab net up"), or its directory')
    .option('--key <file>', "key file of the paying account (default: the network's faucet key)")
    .option('--data <dir>', 'directory for faucet.db (grants, so limits survive a restart) and endpoint.json (default: <network dir>/faucet)')
    .option('--port <n>', 'TCP port; 0 picks a free one', parseIntOption('--port', 0, 65535), 0)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--window-ms <ms>', 'length of the window the limits count in', parseIntOption('--window-ms', 1000, 31 * 24 * 3_600_000), 3_600_000)
    .option('--per-client <n>', 'grants per client address per window', parseIntOption('--per-client', 1, 10_000_000), 10)
    .option('--per-account <n>', 'grants per account per window', parseIntOption('--per-account', 1, 10_000_000), 2)
    .option('--budget <amount>', 'total amount paid out per window', parseAmountOption('--budget'), 10n ** 12n)
    .option('--amount <amount>', 'amount paid when a request names none', parseAmountOption('--amount'), 1_000_000n)
    .option('--max-amount <amount>', 'most one request may ask for (default: --amount)', parseAmountOption('--max-amount'))
    .option('--fee <amount>', "fee of each paying transfer (default: the network's minimum fee)", parseAmountOption('--fee'))
    .option('--trust-proxy', 'take the client address from X-Forwarded-For (when behind "tpslab lb")')
    .addHelpText('after', '\nExamples:\n  tpslab faucet --network .tpslab/net/network.json --port 8600\n  curl -X POST localhost:8600/v1/fund -H content-type:application/json -d \'{"address":"tps1...","requestId":"r1"}\'')
    .action(async (o: FaucetCliOptions) => {
      const net = await readNetworkFile(o.network);
      const genesis = await loadGenesis(net.genesis);
      const key = await readKeyFile(o.key ?? net.faucetKey);
      const data = o.data ?? join(net.dir, 'faucet');
      await mkdir(data, { recursive: true });
      const f = await startFaucet({
        dbPath: join(data, 'faucet.db'),
        nodeUrls: net.nodes.map((n) => n.url),
        key,
        network: genesis.network,
        fee: o.fee ?? genesis.minFee,
        limits: { windowMs: o.windowMs, perClient: o.perClient, perAccount: o.perAccount, budget: o.budget },
        amount: o.amount,
        maxAmount: o.maxAmount ?? o.amount,
        host: o.host,
        port: o.port,
        trustProxy: o.trustProxy ?? false,
      });
      await writeEndpoint(data, { url: f.url, port: f.port, pid: process.pid, network: genesis.network, role: 'faucet' });
      console.log(`tpslab faucet listening on ${f.url} (paying from ${key.address}; ${o.perClient}/client, ${o.perAccount}/account, budget ${o.budget} per ${o.windowMs} ms)`);
      const sig = await untilSignal();
      console.log(`${sig}: stopping`);
      await f.close();
    });
}
