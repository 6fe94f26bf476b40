// Regressions found in review; each is named after what broke. The races need control over
// timing that a real server cannot give, so these drive the beacon's parts directly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock, preciseClock } from '../../src/clock.js';
import type { BeaconConnector, SubmitItem, SubmitResult } from '../../src/connectors/contract.js';
import type { BeaconClient } from '../../src/connectors/tpslab/client.js';
import { Confirmer } from '../../src/connectors/tpslab/confirm.js';
import { assignment } from '../../src/harness/assignment.js';
import { Beacon, TxState } from '../../src/harness/beacon.js';
import type { Assign, BeaconMessage } from '../../src/harness/messages.js';

const assign = (over: Partial<Assign> = {}): Assign => assignment({
  accounts: { start: 0, end: 2 },
  offsetsMs: new Float64Array([0]),
  senders: new Uint32Array([0]),
  targets: new Uint32Array([1]),
  confirmation: { method: 'poll', timeoutMs: 60_000, retries: 3, pollIntervalMs: 500 },
  ...over,
});

/** A connector that builds `tx<index>` and answers submits with `submit`; nothing confirms. */
const submitting = (submit: (items: readonly SubmitItem[]) => Promise<SubmitResult[]>): BeaconConnector => ({
  position: 0,
  prepare: async () => {},
  build: (tx) => ({ id: `tx${tx.index}`, payload: tx.index }),
  submit,
  confirm: async () => {},
  close: async () => {},
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('regression: a retry resolved while it waits in the send queue is not sent again', async () => {
  const messages: BeaconMessage[] = [];
  let calls = 0;
  // A connector whose first answer is lost (the network took it anyway); any resend is known.
  const connector = submitting(async (items) => {
    calls++;
    return items.map(() => (calls === 1 ? { kind: 'retry', code: 'UNAVAILABLE', afterMs: 200 } : { kind: 'known' }));
  });
  const b = new Beacon(assign(), (m) => void messages.push(m), connector, preciseClock);
  // Per-transaction transitions live in the beacon's tracker (src/harness/beacon-tracker.ts).
  const inner = b as unknown as { requests: number; queue: number[]; t: { onCommitted(i: number, h: number, at: number): void } };
  await b.prepare();
  b.start(Date.now());
  await sleep(30);
  inner.requests = 64; // every request slot busy: the retry will wait in the queue
  await sleep(400);
  assert.equal(inner.queue.length, 1, 'the retry is queued');
  inner.t.onCommitted(0, 5, Date.now()); // the stream confirms the first attempt meanwhile
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
  const committed: [string, number][] = [];
  const client = { endpoint: 'http://127.0.0.1:9', rotate() {} } as unknown as BeaconClient;
  const sink = { committed: (id: string, h: number) => void committed.push([id, h]), failed: () => {}, log: () => {} };
  const c = new Confirmer({ method: 'stream', pollIntervalMs: 500, clock: preciseClock }, client, sink, { sentBefore: () => [] });
  c.onEvent(JSON.stringify({ type: 'block', height: 5, txs: [] }));
  // A poll found transaction c committed at height 9 while the stream was down.
  sink.committed('c', 9);
  c.height = Math.max(c.height, 9);
  // The stream comes back and delivers 6..8: they must still count.
  c.onEvent(JSON.stringify({ type: 'block', height: 7, txs: [{ id: 'a' }] }));
  c.onEvent(JSON.stringify({ type: 'block', height: 8, txs: [{ id: 'b' }] }));
  assert.deepEqual(committed.map(([id]) => id).sort(), ['a', 'b', 'c']);
  c.close();
});

test('regression: with every request slot busy, a queued batch waited for the next tick when a request came back (connections idle most of each millisecond)', async () => {
  const clock = new ManualClock();
  const BATCHES = 70; // more than the 64 requests a beacon keeps out
  const n = BATCHES * 10;
  const answers: (() => void)[] = [];
  let calls = 0;
  const connector = submitting(async (items) => {
    calls++;
    await new Promise<void>((r) => answers.push(r));
    return items.map(() => ({ kind: 'accepted' }));
  });
  const a = assign({ offsetsMs: new Float64Array(n), senders: new Uint32Array(n), targets: new Uint32Array(n).fill(1), batchMax: 10, maxInFlight: n });
  const b = new Beacon(a, () => {}, connector, clock);
  await b.prepare();
  b.start(clock.now());
  clock.advance(0); // the first tick: every transaction is due
  assert.equal(calls, 64, 'the first tick fills every request slot');
  answers.shift()!();
  await sleep(10); // the clock does not move: no tick runs
  assert.equal(calls, 65, 'the answer freed a slot and the next whole batch went out at once');
  for (let k = 0; k < 4; k++) answers.shift()!();
  await sleep(10);
  assert.equal(calls, BATCHES - 1, 'as many as slots were freed, while whole batches are queued');
  await b.stop();
  for (const r of answers) r();
});
