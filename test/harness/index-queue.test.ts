// The beacon's send queue: FIFO order across compactions (it replaced Array#splice(0, n), which
// made a beacon behind its schedule spend most of its CPU moving its queue).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IndexQueue } from '../../src/harness/index-queue.js';

test('regression: taking batches off a long due queue keeps FIFO order across compactions', () => {
  const q = new IndexQueue();
  const n = 300_000;
  for (let i = 0; i < n; i++) q.push(i);
  const taken: number[] = [];
  let pushed = n;
  while (q.length > 0) {
    assert.equal(q.peek(), taken.length);
    taken.push(...q.take(200));
    // Retries join the back while the front is taken.
    if (pushed < n + 1000) q.push(pushed++);
  }
  assert.equal(taken.length, n + 1000);
  for (let i = 0; i < taken.length; i++) assert.equal(taken[i], i);
  assert.equal(q.peek(), undefined);
  assert.deepEqual(q.take(5), []);
});
