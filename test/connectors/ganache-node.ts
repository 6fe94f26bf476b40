/**
 * ganache 7.9.2 (an independent EVM implementation, archived upstream) as a JSON-RPC server
 * process for tests, started from code (its CLI refuses port 0), with one funded root address:
 *   node ganache-node.js --root 0x… [--chain-id 1337] [--fronts 2]
 * Prints {pid, url, fronts: [{pid, url}]} on one line; fronts are devnet-front processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ganache from 'ganache';

const { values: args } = parseArgs({ options: { root: { type: 'string' }, 'chain-id': { type: 'string', default: '1337' }, fronts: { type: 'string', default: '0' } } });
const FRONT = fileURLToPath(new URL('../../src/connectors/ethereum/devnet-front.js', import.meta.url));

const server = ganache.server({
  logging: { quiet: true },
  chain: { chainId: Number(args['chain-id']) },
  wallet: { accounts: [{ secretKey: `0x${'11'.repeat(32)}`, balance: `0x${(10n ** 30n).toString(16)}` }] },
  miner: { blockGasLimit: '0x3b9aca00' },
});
await server.listen(0, '127.0.0.1');
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
// Fund the root address from ganache's own account (the root's key stays with the caller).
const provider = server.provider;
const [own] = (await provider.request({ method: 'eth_accounts', params: [] })) as string[];
await provider.request({ method: 'eth_sendTransaction', params: [{ from: own!, to: args.root!, value: `0x${(10n ** 29n).toString(16)}` }] });

const fronts: ChildProcess[] = [];
process.on('exit', () => fronts.forEach((f) => f.kill('SIGKILL')));
const started = await Promise.all(
  Array.from({ length: Number(args.fronts) }, () => {
    const child = spawn(process.execPath, [FRONT, '--upstream', url], { stdio: ['ignore', 'pipe', 'inherit'] });
    fronts.push(child);
    return new Promise<{ pid: number; url: string }>((resolve) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { pid: number; url: string });
      });
    });
  }),
);
process.stdout.write(`${JSON.stringify({ pid: process.pid, url, fronts: started })}\n`);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
