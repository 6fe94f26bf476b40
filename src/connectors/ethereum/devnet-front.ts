/**
 * A JSON-RPC front of the embedded devnet: a separate process that passes every
 * POST to the devnet node and its answer back. Two fronts are two endpoints of
 * one chain, so an endpoint can die while the chain goes on (the way a load
 * balancer or an RPC proxy in front of one node would).
 *
 *   node devnet-front.js --upstream http://127.0.0.1:PORT [--port 0]
 *
 * Prints {pid, url} as one JSON line when it listens; exits when its parent does.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values: args } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!args.upstream) {
  process.stderr.write('devnet-front: --upstream URL is required\n');
  process.exit(2);
}
const upstream = new Pool(args.upstream, { connections: 16, headersTimeout: 120_000, bodyTimeout: 120_000 });
const parent = process.ppid;

const server = createServer((req, res) => {
  upstream
    .request({ method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body: req })
    .then(async (r) => {
      res.writeHead(r.statusCode, { 'content-type': 'application/json' });
      for await (const chunk of r.body) res.write(chunk);
      res.end();
    })
    .catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`devnet front: the node did not answer: ${(err as Error).message}`);
    });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(args.port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    process.exit(0);
  }
}, 1000).unref();
