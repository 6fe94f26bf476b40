// Regression: the tpslab beacon waited a fixed 1 s after a node's 429 (TPSLAB_E_MEMPOOL_FULL),
// whatever Retry-After the node sent. Now it waits what the node said, up to MAX_RETRY_AFTER_MS,
// and 1 s when the node said nothing readable. A loopback HTTP server on port 0 answers every
// batch 429 with the Retry-After a test sets.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { toResult } from '../../src/connectors/tpslab/beacon.js';
import { BeaconClient, MAX_RETRY_AFTER_MS } from '../../src/connectors/tpslab/client.js';
import { listenLoopback } from './raw-http.js';

let server: Server;
let url: string;
let retryAfter: string | undefined;

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ error: { code: 'TPSLAB_E_MEMPOOL_FULL', message: 'mempool full (test)' } });
      res.writeHead(429, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(retryAfter === undefined ? {} : { 'retry-after': retryAfter }) });
      res.end(body);
    });
  });
  url = await listenLoopback(server);
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

/** The wait the beacon schedules for a one-transaction batch refused with Retry-After `header`. */
async function waitAfter(header: string | undefined): Promise<number | undefined> {
  retryAfter = header;
  const client = new BeaconClient([url], { connections: 1 });
  try {
    const [o] = await client.submit([Buffer.alloc(120, 1)]);
    assert.ok(o && !o.ok);
    assert.equal(o.error.code, 'TPSLAB_E_MEMPOOL_FULL');
    const r = toResult(o, 1);
    assert.equal(r.kind, 'retry');
    return r.kind === 'retry' ? r.afterMs : undefined;
  } finally {
    await client.close();
  }
}

test('regression: a 429 with Retry-After 3 is retried after 3 s, not a fixed 1 s', async () => {
  assert.equal(await waitAfter('3'), 3_000);
});

test('a 429 Retry-After as an HTTP date is read too (a minute ahead: the bound)', async () => {
  assert.equal(await waitAfter(new Date(Date.now() + 60_000).toUTCString()), MAX_RETRY_AFTER_MS);
});

test('a 429 Retry-After is bounded, and without one (or unreadable) the wait is 1 s', async () => {
  assert.equal(await waitAfter('3600'), MAX_RETRY_AFTER_MS);
  assert.equal(await waitAfter(undefined), 1_000);
  assert.equal(await waitAfter('soon'), 1_000);
});
