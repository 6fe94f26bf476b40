// The beacon's send queue: fresh transactions queued as a run, retries one by one, taken in
// exactly the order of a plain FIFO (it replaced a plain array whose push per due transaction
// and splice(0, n) per batch were most of a beacon's CPU when behind its schedule).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SendQueue } from '../../src/harness/send-queue.js';
import { createRng } from '../../src/harness/rng.js';

test('regression: the send queue takes fresh runs and retries in the order of one FIFO, across compactions', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const rng = createRng(seed, 'send-queue');
    const rnd = (): number => rng.nextFloat();
    const q = new SendQueue();
    const start = seed * 10;
    q.startAt(start);
    const fifo: number[] = [];
    let fresh = start;
    const taken: number[] = [];
    for (let step = 0; step < 20_000; step++) {
      const r = rnd();
      if (r < 0.4) {
        // A tick: a run of fresh entries becomes due.
        const to = fresh + Math.floor(rnd() * 40);
        for (let i = fresh; i < to; i++) fifo.push(i);
        fresh = to;
        q.queueFreshTo(to);
      } else if (r < 0.6 && taken.length > 0) {
        // A retry of something taken earlier.
        const i = taken[Math.floor(rnd() * taken.length)]!;
        fifo.push(i);
        q.pushRetry(i);
      } else {
        const n = 1 + Math.floor(rnd() * 50);
        assert.equal(q.peek(), fifo[0]);
        const got = q.take(n);
        assert.deepEqual(got, fifo.splice(0, n));
        taken.push(...got);
      }
      assert.equal(q.length, fifo.length);
    }
    assert.deepEqual(q.take(Number.MAX_SAFE_INTEGER), fifo);
    assert.equal(q.length, 0);
    assert.equal(q.peek(), undefined);
  }
});

test('a long run of retries alone is taken in order (retries compacted)', () => {
  const q = new SendQueue();
  for (let i = 0; i < 200_000; i++) q.pushRetry(i);
  const out: number[] = [];
  while (q.length > 0) out.push(...q.take(333));
  assert.equal(out.length, 200_000);
  out.forEach((v, i) => assert.equal(v, i));
});

test('rebase: after the ledger drops its first k entries, the same order k lower, retries of dropped entries gone', () => {
  for (const seed of [1, 2, 3]) {
    const rng = createRng(seed, 'send-queue-rebase');
    const rnd = (): number => rng.nextFloat();
    const q = new SendQueue();
    q.startAt(0);
    // The model: one FIFO of [index, fresh?]; fresh entries are never dropped (unresolved).
    let fifo: [number, boolean][] = [];
    let fresh = 0;
    const taken: number[] = [];
    for (let step = 0; step < 5_000; step++) {
      const r = rnd();
      if (r < 0.35) {
        const to = fresh + Math.floor(rnd() * 40);
        for (let i = fresh; i < to; i++) fifo.push([i, true]);
        fresh = to;
        q.queueFreshTo(to);
      } else if (r < 0.55 && taken.length > 0) {
        const i = taken[Math.floor(rnd() * taken.length)]!;
        fifo.push([i, false]);
        q.pushRetry(i);
      } else if (r < 0.6) {
        // Compaction: k at most the lowest fresh index still queued (or the fresh boundary).
        const lowestFresh = fifo.find(([, f]) => f)?.[0] ?? fresh;
        const k = Math.floor(rnd() * (lowestFresh + 1));
        q.rebase(k);
        fifo = fifo.filter(([i]) => i >= k).map(([i, f]) => [i - k, f]);
        fresh -= k;
        taken.splice(0, taken.length, ...taken.filter((i) => i >= k).map((i) => i - k));
      } else {
        const n = 1 + Math.floor(rnd() * 50);
        assert.equal(q.peek(), fifo[0]?.[0]);
        const got = q.take(n);
        assert.deepEqual(got, fifo.splice(0, n).map(([i]) => i));
        taken.push(...got);
      }
      assert.equal(q.length, fifo.length);
    }
    assert.deepEqual(q.take(Number.MAX_SAFE_INTEGER), fifo.map(([i]) => i));
  }
});
