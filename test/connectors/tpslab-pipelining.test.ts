// The tpslab beacon client's `pipelining` option: with pipelining 4 on one connection, four
// batches are on the wire before the first answer (undici pipelines a POST only when it is
// marked idempotent and not blocking); with the default, one at a time. And the connector's
// reading of a first send answered DUPLICATE when batches may have been sent twice. And the
// beacon's configuration bounds connections and pipelining as the scenario does.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { BeaconClient, allOk } from '../../src/connectors/tpslab/client.js';
import { toResult } from '../../src/connectors/tpslab/beacon.js';
import { TpslabBeaconSchema, TpslabTargetSchema } from '../../src/connectors/tpslab/schema.js';
import { TpslabError } from '../../src/errors.js';
import { eachRequest, listenLoopback } from './raw-http.js';

/**
 * A plain TCP server speaking just enough HTTP/1.1: it counts the requests received on each
 * connection and answers them all at once, once `holdFor` have arrived (or at once when the
 * connection has been quiet for 300 ms, so a client that waits for an answer is not stuck).
 */
let server: Server;
let url: string;
const holdFor = 4;
/** Requests seen on a connection before its first answer went out. */
const beforeFirstAnswer: number[] = [];

function answer(socket: Socket, n: number, counts: number[]): void {
  let out = '';
  for (const c of counts.splice(0, n)) {
    const body = `{"accepted":${c},"rejected":0,"results":[]}`;
    out += `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  }
  socket.write(out);
}

before(async () => {
  server = createServer((socket) => {
    const counts: number[] = [];
    let answered = false;
    let quiet: NodeJS.Timeout | undefined;
    eachRequest(socket, (_head, body) => {
      // The body is a batch: its first 4 bytes are its count, big-endian (src/protocol/batch.ts).
      counts.push(body.readUInt32BE(0));
      clearTimeout(quiet);
      if (!answered && counts.length >= holdFor) {
        answered = true;
        beforeFirstAnswer.push(counts.length);
        answer(socket, counts.length, counts);
      } else if (answered) answer(socket, counts.length, counts);
      else
        quiet = setTimeout(() => {
          answered = true;
          beforeFirstAnswer.push(counts.length);
          answer(socket, counts.length, counts);
        }, 300);
    });
    socket.on('close', () => clearTimeout(quiet));
  });
  url = await listenLoopback(server);
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const tx = (k: number): Buffer => Buffer.alloc(120, k);

async function fourBatches(client: BeaconClient): Promise<void> {
  const out = await Promise.all([1, 2, 3, 4].map((n) => client.submit(Array.from({ length: n }, (_, k) => tx(k)))));
  out.forEach((o, k) => assert.equal(o, allOk(k + 1)));
}

test('pipelining 4 puts four batches on one connection before the first answer', async () => {
  beforeFirstAnswer.length = 0;
  const client = new BeaconClient([url], { connections: 1, pipelining: 4 });
  try {
    assert.equal(client.pipelined, true);
    await fourBatches(client);
  } finally {
    await client.close();
  }
  assert.deepEqual(beforeFirstAnswer, [4]);
});

test('by default (pipelining 1) a connection carries one batch at a time', async () => {
  beforeFirstAnswer.length = 0;
  const client = new BeaconClient([url], { connections: 1 });
  try {
    assert.equal(client.pipelined, false);
    await fourBatches(client);
  } finally {
    await client.close();
  }
  assert.equal(beforeFirstAnswer[0], 1);
});

test('a first send answered DUPLICATE is known only when batches may have been sent twice (pipelining)', () => {
  const dup = { ok: false as const, error: new TpslabError('TPSLAB_E_DUPLICATE', 'already pending') };
  assert.deepEqual(toResult(dup, 1, true), { kind: 'known' });
  assert.equal(toResult(dup, 1, false).kind, 'rejected');
  assert.deepEqual(toResult(dup, 2, false), { kind: 'known' });
  const low = { ok: false as const, error: new TpslabError('TPSLAB_E_NONCE_TOO_LOW', 'nonce 0 is used') };
  assert.equal(toResult(low, 1, true).kind, 'rejected');
});

test('regression: a beacon configuration takes connections and pipelining within the scenario bounds only', () => {
  const beacon = { network: 'n', endpoints: ['http://127.0.0.1:1'], keySeed: 's', accounts: { start: 0, end: 1 }, freshAccounts: true, workload: { kind: 'transfer', amount: 1, fee: 0 }, fromHeight: 0 };
  const target = { endpoints: ['http://127.0.0.1:1'], faucetKey: 'k.json' };
  for (const [connections, pipelining, ok] of [
    [1, 1, true],
    [1024, 16, true],
    [1025, 1, false],
    [1, 17, false],
    [0, 1, false],
    [1, 0, false],
  ] as const) {
    const what = `connections ${connections}, pipelining ${pipelining}`;
    assert.equal(TpslabTargetSchema.safeParse({ ...target, connections, pipelining }).success, ok, `scenario: ${what}`);
    assert.equal(TpslabBeaconSchema.safeParse({ ...beacon, connections, pipelining }).success, ok, `beacon: ${what}`);
  }
});
