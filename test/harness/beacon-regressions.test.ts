// Regressions found in review; each is named after what broke. The races need control over
// timing that a real server cannot give, so these drive the beacon's parts directly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TpslabError } from '../../src/errors.js';
import { Beacon, TxState } from '../../src/harness/beacon.js';
import { Confirmer } from '../../src/harness/beacon-confirm.js';
import type { BeaconClient, SubmitOutcome } from '../../src/harness/beacon-client.js';
import type { Assign, BeaconMessage } from '../../src/harness/messages.js';

const assign = (over: Partial<Assign> = {}): Assign => ({
  v: 1,
  type: 'assign',
  runId: 'r',
  beacon: 0,
  network: 'net',
  endpoints: ['http://127.0.0.1:9'],
  keySeed: 'regression',
  accounts: { start: 0, end: 2 },
  freshAccounts: true,
  workload: { kind: 'transfer', amount: 1, fee: 0 },
  sign: 'presign',
  mode: 'open',
  offsetsMs: new Float64Array([0]),
  senders: new Uint32Array([0]),
  targets: new Uint32Array([1]),
  maxDurationMs: 0,
  maxInFlight: 1,
  batchMax: 10,
  batchDelayMs: 0,
  confirmation: { method: 'poll', timeoutMs: 60_000, retries: 3 },
  fromHeight: 0,
  collectOutcomes: false,
  ...over,
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('regression: a retry resolved while it waits in the send queue is not sent again', async () => {
  const messages: BeaconMessage[] = [];
  const b = new Beacon(assign(), (m) => void messages.push(m));
  const inner = b as unknown as { client: { submit(txs: Buffer[]): Promise<SubmitOutcome[]> }; requests: number; queue: number[]; onCommitted(i: number, h: number, at: number): void; inFlight: number };
  let calls = 0;
  inner.client.submit = async (txs) => {
    calls++;
    // The first answer is lost (the node accepted it anyway); any resend is a duplicate.
    return txs.map(() => ({ ok: false, error: new TpslabError(calls === 1 ? 'TPSLAB_E_UNAVAILABLE' : 'TPSLAB_E_DUPLICATE', 'x') }));
  };
  await b.prepare();
  b.start(Date.now());
  await sleep(30);
  inner.requests = 64; // every request slot busy: the retry will wait in the queue
  await sleep(400);
  assert.equal(inner.queue.length, 1, 'the retry is queued');
  inner.onCommitted(0, 5, Date.now()); // the stream confirms the first attempt meanwhile
  inner.requests = 0;
  await b.done;
  assert.equal(calls, 1, 'a committed transaction is never resent');
  assert.equal(b.txs.state[0], TxState.Committed);
  const done = messages.find((m) => m.type === 'done');
  assert.ok(done && done.type === 'done');
  assert.equal(done.committed, 1);
  assert.equal(done.lost, 0);
  assert.ok(messages.every((m) => m.type !== 'progress' || m.inFlight >= 0), 'in flight never negative');
});

test('regression: a status poll while the stream is down does not move where the stream resumes', () => {
  const committed: [number, number][] = [];
  const client = { endpoint: 'http://127.0.0.1:9', rotate() {} } as unknown as BeaconClient;
  const c = new Confirmer(assign({ confirmation: { method: 'stream', timeoutMs: 1000, retries: 1 } }), client, {
    lookup: (id) => ({ a: 0, b: 1, c: 2 })[id],
    candidates: () => [],
    committed: (i, h) => void committed.push([i, h]),
    failed: () => {},
    log: () => {},
  });
  const inner = c as unknown as { onEvent(text: string): void };
  inner.onEvent(JSON.stringify({ type: 'block', height: 5, txs: [] }));
  // A poll found transaction c committed at height 9 while the stream was down.
  (c as unknown as { hooks: { committed(i: number, h: number, at: number): void } }).hooks.committed(2, 9, Date.now());
  c.height = Math.max(c.height, 9);
  // The stream comes back and delivers 6..8: they must still count.
  inner.onEvent(JSON.stringify({ type: 'block', height: 7, txs: [{ id: 'a' }] }));
  inner.onEvent(JSON.stringify({ type: 'block', height: 8, txs: [{ id: 'b' }] }));
  assert.deepEqual(committed.map(([i]) => i).sort(), [0, 1, 2]);
  c.close();
});
