/**
 * The embedded Ethereum devnet, as a process: Hardhat's EDR (revm-based, a
 * library) behind a small JSON-RPC HTTP server on 127.0.0.1, with interval
 * mining, a large block gas limit and one funded root address in its genesis.
 *
 *   node devnet-node.js --root 0x… [--chain-id 31337] [--block-time-ms 500]
 *                       [--port 0] [--fronts 0]
 *
 * The same port takes WebSocket connections (ws://…) for eth_subscribe (newHeads).
 * It prints one JSON line, {pid, url, fronts: [{pid, url}]}, when it listens.
 * `--fronts N` also starts N front processes (devnet-front.js), each a separate
 * JSON-RPC endpoint to this node: killing one kills an endpoint, not the chain.
 * Only the root's address is given; its key never reaches this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocketServer, type WebSocket } from 'ws';
import { ContractDecoder, EdrContext, L1_CHAIN_TYPE, MineOrdering, l1GenesisState, l1HardforkLatest, l1HardforkToString, l1ProviderFactory, type Provider } from '@nomicfoundation/edr';

const ROOT_BALANCE_WEI = 10n ** 30n;
const BLOCK_GAS_LIMIT = 3_000_000_000n;
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    root: { type: 'string' },
    'chain-id': { type: 'string', default: '31337' },
    'block-time-ms': { type: 'string', default: '500' },
    port: { type: 'string', default: '0' },
    fronts: { type: 'string', default: '0' },
  },
});
if (!args.root || !/^0x[0-9a-fA-F]{40}$/.test(args.root)) {
  process.stderr.write('devnet-node: --root 0x<address> is required\n');
  process.exit(2);
}

async function startProvider(): Promise<Provider> {
  const ctx = new EdrContext();
  await ctx.registerProviderFactory(L1_CHAIN_TYPE, l1ProviderFactory());
  const hardfork = l1HardforkLatest();
  const genesis = l1GenesisState(hardfork);
  genesis.push({ address: Buffer.from(args.root!.slice(2), 'hex'), balance: ROOT_BALANCE_WEI });
  const chainId = BigInt(args['chain-id']!);
  return ctx.createProvider(
    L1_CHAIN_TYPE,
    {
      allowBlocksWithSameTimestamp: true,
      allowUnlimitedContractSize: false,
      bailOnCallFailure: false,
      bailOnTransactionFailure: false,
      chainId,
      coinbase: Buffer.alloc(20, 0xc0),
      defaultTransactionGasLimit: 30_000_000n,
      genesisState: genesis,
      hardfork: l1HardforkToString(hardfork),
      initialBaseFeePerGas: 1_000_000_000n,
      minGasPrice: 0n,
      // Interval mining: blocks every block-time-ms, out-of-order nonces wait in the pool (automine would refuse them).
      mining: { autoMine: false, interval: BigInt(args['block-time-ms']!), blockGasLimit: BLOCK_GAS_LIMIT, memPool: { order: MineOrdering.Fifo } },
      network: { genesisBlockGasLimit: BLOCK_GAS_LIMIT },
      networkId: chainId,
      observability: {},
      ownedAccounts: [],
      precompileOverrides: [],
      transactionGasCap: false,
    },
    { enable: false, decodeConsoleLogInputsCallback: () => [], printLineCallback: () => {} },
    { subscriptionCallback: (e) => notify(e.filterId, e.result) },
    new ContractDecoder(),
  );
}

/** WebSocket subscriptions: EDR's filter id → the socket that asked. */
const subscribers = new Map<bigint, WebSocket>();

function notify(filterId: bigint, result: unknown): void {
  const socket = subscribers.get(filterId);
  if (socket?.readyState === 1) socket.send(JSON.stringify({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription: `0x${filterId.toString(16)}`, result } }));
}

interface RpcRequest {
  jsonrpc?: string;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

/** One request through EDR, with `params` defaulted to [] (EDR requires it) and the request's id kept. */
async function handleOne(provider: Provider, req: RpcRequest): Promise<unknown> {
  const id = req.id ?? null;
  if (typeof req.method !== 'string') return { jsonrpc: '2.0', id, error: { code: -32600, message: 'invalid request: method is missing' } };
  const res = await provider.handleRequest(JSON.stringify({ jsonrpc: '2.0', id, method: req.method, params: req.params ?? [] }));
  const data = (typeof res.data === 'string' ? JSON.parse(res.data) : res.data) as Record<string, unknown>;
  return { ...data, jsonrpc: '2.0', id };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy(new Error('request body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function serve(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(await readBody(req));
  } catch {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } }));
    return;
  }
  // A batch is answered in order; EDR handles one request at a time anyway.
  const answer = Array.isArray(body) ? await Promise.all(body.map((r) => handleOne(provider, r as RpcRequest))) : await handleOne(provider, body as RpcRequest);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
}

/** Starts a front process and resolves with its URL. */
function startFront(upstream: string): Promise<{ pid: number; url: string }> {
  const script = fileURLToPath(new URL('./devnet-front.js', import.meta.url));
  const child = spawn(process.execPath, [script, '--upstream', upstream], { stdio: ['ignore', 'pipe', 'inherit'] });
  frontProcesses.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`a devnet front exited (${code})`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { pid: number; url: string });
    });
  });
}

const frontProcesses: ChildProcess[] = [];
process.on('exit', () => {
  for (const f of frontProcesses) f.kill('SIGKILL');
});
const provider = await startProvider();
const server = createServer((req, res) => {
  serve(provider, req, res).catch((err: unknown) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: (err as Error).message } }));
  });
});
server.keepAliveTimeout = 60_000;
new WebSocketServer({ server }).on('connection', (socket) => {
  const mine: bigint[] = [];
  socket.on('message', (data) => {
    let req: RpcRequest;
    try {
      req = JSON.parse(String(data)) as RpcRequest;
    } catch {
      return socket.send(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } }));
    }
    void handleOne(provider, req).then((answer) => {
      const result = (answer as { result?: unknown }).result;
      if (req.method === 'eth_subscribe' && typeof result === 'string') {
        subscribers.set(BigInt(result), socket);
        mine.push(BigInt(result));
      }
      socket.send(JSON.stringify(answer));
    });
  });
  socket.on('close', () => {
    for (const id of mine) {
      subscribers.delete(id);
      void provider.handleRequest(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'eth_unsubscribe', params: [`0x${id.toString(16)}`] }));
    }
  });
});
server.listen(Number(args.port), '127.0.0.1', () => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  void Promise.all(Array.from({ length: Number(args.fronts) }, () => startFront(url))).then((fronts) => {
    process.stdout.write(`${JSON.stringify({ pid: process.pid, url, fronts })}\n`);
  });
});
// Fronts die with the node: killed on exit, and they watch its pid (a SIGKILL of the node).
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
