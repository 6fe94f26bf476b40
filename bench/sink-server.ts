/**
 * A sink that looks like a node to a load generator and does nothing: run as
 * a child process by beacon-vs-autocannon (`fork(this file, [network])`), it
 * sends `{ url }` over IPC once listening on 127.0.0.1, and exits when the
 * parent disconnects.
 *
 * - POST /v1/txs reads the whole body and answers every transaction of the
 *   batch "pending" (the count comes from the batch's u32 header; nothing is
 *   decoded or verified). Answers are built once per count and reused.
 * - GET /v1/head, /v1/accounts/:a, /v1/tx/:id, /health: fixed answers (a
 *   fresh account, nothing committed).
 * - WebSocket /v1/stream: accepted, and silent (nothing ever commits).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const network = process.argv[2] ?? 'tpslab-dev-sink0000';
const ZERO_HASH = '0'.repeat(64);
const PENDING_ID = 'f'.repeat(64);
const answers = new Map<number, Buffer>();

function batchAnswer(n: number): Buffer {
  let a = answers.get(n);
  if (!a) {
    const one = `{"id":"${PENDING_ID}","status":"pending"}`;
    a = Buffer.from(`{"accepted":${n},"rejected":0,"results":[${new Array<string>(n).fill(one).join(',')}]}`);
    if (answers.size < 10_000) answers.set(n, a);
  }
  return a;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function submit(req: IncomingMessage, res: ServerResponse): void {
  let head: Buffer | undefined;
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    if (!head || head.length < 4) head = head ? Buffer.concat([head, chunk]) : chunk;
    size += chunk.length;
  });
  req.on('end', () => {
    if (!head || size < 4) return json(res, 400, { error: { code: 'TPSLAB_E_DECODE', message: 'a batch starts with a u32 count', retryable: false } });
    json(res, 200, batchAnswer(head.readUInt32BE(0)));
  });
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'POST' && url === '/v1/txs') return submit(req, res);
  req.resume();
  if (req.method !== 'GET') return json(res, 404, { error: { code: 'TPSLAB_E_NOT_FOUND', message: `no route ${req.method} ${url}`, retryable: false } });
  if (url === '/v1/head') return json(res, 200, { network, height: 0, hash: ZERO_HASH, stateHash: ZERO_HASH, timestampMs: 0 });
  if (url === '/health') return json(res, 200, { status: 'ok', role: 'sink', height: 0 });
  if (url.startsWith('/v1/accounts/')) return json(res, 200, { address: url.slice('/v1/accounts/'.length), exists: true, balance: '0', nonce: '0' });
  if (url.startsWith('/v1/tx/')) return json(res, 200, { id: url.slice('/v1/tx/'.length), status: 'pending' });
  return json(res, 404, { error: { code: 'TPSLAB_E_NOT_FOUND', message: `no route GET ${url}`, retryable: false } });
});
server.keepAliveTimeout = 60_000;

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  if (!(req.url ?? '').startsWith('/v1/stream')) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => ws.on('error', () => ws.terminate()));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ url: `http://127.0.0.1:${port}` });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
