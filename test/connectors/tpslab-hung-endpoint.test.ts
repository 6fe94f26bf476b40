// The tpslab beacon client against an endpoint that takes connections and reads requests but
// never answers a batch (a paused node, as far as a client can tell), on loopback, port 0.
// Regression: the request timeout ran only for the batch at the head of a connection; when it
// fired, undici closed the connection and sent the pipelined rest again to the same endpoint, each
// waiting a timeout of its own (1 x 4 at 1 s: failures at 1.5/3.0/4.5/6.0 s, 10 POSTs to it).
// And status GETs, which shared the batches' connections, waited behind a hung batch (a poll then
// counted committed transactions lost).
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { BeaconClient, type SubmitOutcome } from '../../src/connectors/tpslab/client.js';
import { waitFor } from '../testkit/index.js';
import { eachRequest, listenLoopback } from './raw-http.js';

/**
 * Speaks just enough HTTP/1.1: a GET is answered `{"status":"committed","height":1}` at once; after a
 * POST, nothing more is answered on that connection (answers go out in request order).
 */
let server: Server;
let url: string;
let connections = 0;
let posts = 0;
const sockets = new Set<Socket>();

before(async () => {
  server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    let hung = false;
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    eachRequest(socket, (head) => {
      if (head.startsWith('POST')) {
        posts++;
        hung = true;
      } else if (!hung) {
        const body = '{"status":"committed","height":1}';
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    });
  });
  url = await listenLoopback(server);
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const tx = (k: number): Buffer => Buffer.alloc(120, k);

test('regression: pipelined batches on an endpoint that never answers all fail at their deadline, none sent to it twice', async () => {
  connections = 0;
  posts = 0;
  const clock = new ManualClock();
  // The second endpoint is where the client fails over to; nothing is sent there in this test.
  const client = new BeaconClient([url, 'http://127.0.0.1:9'], { requestTimeoutMs: 1_000, connections: 1, pipelining: 4, clock });
  try {
    const settled: (readonly SubmitOutcome[] | undefined)[] = [undefined, undefined, undefined, undefined];
    const all = Promise.all([0, 1, 2, 3].map((k) => client.submit([tx(k)]).then((o) => (settled[k] = o))));
    await waitFor('the four batches on the wire', () => posts === 4, 5_000, 5);
    assert.deepEqual(settled, [undefined, undefined, undefined, undefined], 'none answered yet');
    clock.advance(1_000); // every batch's deadline, counted from when it was handed to the client
    const out = await all;
    for (const o of out) {
      assert.equal(o.length, 1);
      assert.equal(o[0]!.ok, false);
      assert.equal(!o[0]!.ok && o[0]!.error.code, 'TPSLAB_E_UNAVAILABLE');
    }
    assert.equal(posts, 4, 'each batch reached the silent endpoint once');
    assert.equal(connections, 1);
    assert.equal(client.endpoint, 'http://127.0.0.1:9', 'failed over');
  } finally {
    await client.close();
  }
});

test('regression: a status GET is answered while the endpoint sits on a batch (GETs have connections of their own)', async () => {
  posts = 0;
  const clock = new ManualClock();
  // One connection for batches, no pipelining: a GET sharing it would wait for the batch's answer.
  const client = new BeaconClient([url], { requestTimeoutMs: 10_000, connections: 1, clock });
  try {
    const batch = client.submit([tx(1)]);
    await waitFor('the batch on the wire', () => posts === 1, 5_000, 5);
    const first = await Promise.race([client.getJson<{ status: string }>('/v1/tx/ab').then((s) => `get ${s.status}`), batch.then(() => 'batch settled')]);
    assert.equal(first, 'get committed');
    clock.advance(10_000);
    const out = await batch;
    assert.equal(!out[0]!.ok && out[0]!.error.code, 'TPSLAB_E_UNAVAILABLE');
  } finally {
    await client.close();
  }
});
