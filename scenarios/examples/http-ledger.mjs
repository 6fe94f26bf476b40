#!/usr/bin/env node
/**
 * A small ledger behind a REST API, for trying the `http` connector (and for its
 * conformance tests): one ledger process and N gateway processes in front of it,
 * as a public test drove its ledger through REST API containers.
 *
 *   node scenarios/examples/http-ledger.mjs [--gateways 2] [--accounts 1000]
 *        [--block-ms 50] [--capacity 20000] [--port 0] [--ports-file FILE]
 *
 * Prints one JSON line once every gateway listens:
 *   {"pid":…,"core":PORT,"gateways":[{"pid":…,"port":PORT},…]}
 * (also written to --ports-file). --port fixes the first gateway's port (the
 * others follow it), 0 picks free ones. Plain Node.js, no dependencies.
 *
 * API (on every gateway):
 *   POST /v1/transfers {"id","from","to","amount"}  202 {"status":"pending"}
 *        409 same id already taken · 400 bad body or unknown account · 429 + Retry-After when full
 *   GET  /v1/transfers/:id   {"id","status":"pending"|"committed"|"failed","block"?}   404 unknown
 *   GET  /health             200 {"ok":true}
 * Every --block-ms the ledger commits what is pending, in arrival order; a
 * transfer its sender cannot pay for fails. Accounts 0..accounts-1 start with 10^9.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const MAX_BODY_BYTES = 64 * 1024;

if (opt('gateway-of', null)) runGateway(Number(opt('gateway-of')), Number(opt('port', 0)));
else runLedger();

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => (size > MAX_BODY_BYTES ? reject(new Error('too large')) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function runLedger() {
  const gateways = Number(opt('gateways', 2));
  const accounts = Number(opt('accounts', 1000));
  const blockMs = Number(opt('block-ms', 50));
  const capacity = Number(opt('capacity', 20000));
  const firstPort = Number(opt('port', 0));
  const portsFile = opt('ports-file', null);
  const balances = new Map();
  for (let a = 0; a < accounts; a++) balances.set(a, 1_000_000_000);
  const txs = new Map(); // id -> { status, from, to, amount, block }
  let pending = [];
  let height = 0;

  setInterval(() => {
    if (pending.length === 0) return;
    height++;
    for (const id of pending) {
      const t = txs.get(id);
      const have = balances.get(t.from) ?? 0;
      if (have < t.amount) t.status = 'failed';
      else {
        balances.set(t.from, have - t.amount);
        balances.set(t.to, (balances.get(t.to) ?? 0) + t.amount);
        t.status = 'committed';
        t.block = height;
      }
    }
    pending = [];
  }, blockMs);

  const server = createServer(async (req, res) => {
    try {
      if (req.method === 'GET' && req.url === '/health') return json(res, 200, { ok: true, height });
      if (req.method === 'POST' && req.url === '/v1/transfers') {
        let body;
        try {
          body = JSON.parse(await readBody(req));
        } catch {
          return json(res, 400, { error: { code: 'BAD_BODY', message: 'the body must be JSON {"id","from","to","amount"} of at most 64 KiB' } });
        }
        const { id, from, to, amount } = body ?? {};
        if (typeof id !== 'string' || id.length === 0 || id.length > 128) return json(res, 400, { error: { code: 'BAD_ID', message: 'id must be a string of 1..128 characters' } });
        if (![from, to, amount].every((n) => Number.isSafeInteger(n) && n >= 0) || amount === 0) return json(res, 400, { error: { code: 'BAD_BODY', message: 'from, to and amount must be whole numbers, amount > 0' } });
        if (!balances.has(from) || !balances.has(to)) return json(res, 400, { error: { code: 'UNKNOWN_ACCOUNT', message: `accounts are 0..${accounts - 1}` } });
        if (txs.has(id)) return json(res, 409, { error: { code: 'DUPLICATE', message: `transfer ${id} exists` }, status: txs.get(id).status });
        if (pending.length >= capacity) return json(res, 429, { error: { code: 'FULL', message: 'too many pending transfers' } }, { 'retry-after': '1' });
        txs.set(id, { status: 'pending', from, to, amount });
        pending.push(id);
        return json(res, 202, { id, status: 'pending' });
      }
      const m = req.method === 'GET' && /^\/v1\/transfers\/([^/?]{1,128})$/.exec(req.url ?? '');
      if (m) {
        const id = decodeURIComponent(m[1]);
        const t = txs.get(id);
        if (!t) return json(res, 404, { error: { code: 'NOT_FOUND', message: `no transfer ${id}` } });
        return json(res, 200, { id, status: t.status, ...(t.block ? { block: t.block } : {}) });
      }
      return json(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } });
    } catch (err) {
      return json(res, 500, { error: { code: 'INTERNAL', message: String(err) } });
    }
  });
  server.listen(0, '127.0.0.1', async () => {
    const core = server.address().port;
    const children = [];
    const self = fileURLToPath(import.meta.url);
    for (let g = 0; g < gateways; g++) {
      const port = firstPort ? firstPort + g : 0;
      const child = fork(self, ['--gateway-of', String(core), '--port', String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const listening = await new Promise((resolve, reject) => {
        child.once('message', (msg) => resolve(msg.port));
        child.once('exit', (code) => reject(new Error(`gateway ${g} exited (${code})`)));
      });
      children.push({ pid: child.pid, port: listening });
    }
    const info = JSON.stringify({ pid: process.pid, core, gateways: children });
    if (portsFile) writeFileSync(portsFile, info);
    process.stdout.write(`${info}\n`);
  });
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** A gateway: forwards every request to the ledger and its answer back. */
function runGateway(corePort, port) {
  const server = createServer(async (req, res) => {
    try {
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
      const r = await fetch(`http://127.0.0.1:${corePort}${req.url}`, { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? 'application/json' }, body });
      const text = await r.text();
      const headers = { 'content-type': r.headers.get('content-type') ?? 'application/json' };
      const retry = r.headers.get('retry-after');
      if (retry) headers['retry-after'] = retry;
      res.writeHead(r.status, headers);
      res.end(text);
    } catch (err) {
      json(res, 502, { error: { code: 'BAD_GATEWAY', message: `the ledger did not answer: ${err.message}` } });
    }
  });
  server.listen(port, '127.0.0.1', () => process.send({ port: server.address().port }));
  // The ledger went away: so does its gateway.
  process.on('disconnect', () => process.exit(0));
}
