// A beacon's sent entries in first-send order (src/harness/sent-order.ts), kept in a typed array.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SentOrder } from '../../src/harness/sent-order.js';

const all = (o: SentOrder): number[] => {
  const out: number[] = [];
  o.scan((i) => out.push(i) > 0);
  return out;
};

test('entries leave the front as they settle, move down with the ledger, and grow past the first capacity', () => {
  const o = new SentOrder();
  for (let i = 0; i < 5000; i++) o.push(i);
  o.advance((i) => i < 3000);
  assert.deepEqual(all(o).slice(0, 3), [3000, 3001, 3002]);
  assert.equal(all(o).length, 2000);
  o.rebase(3500); // the ledger dropped its first 3500 entries
  assert.deepEqual(all(o).slice(0, 2), [0, 1]);
  assert.equal(all(o).length, 1500);
  for (let i = 1500; i < 100_000; i++) o.push(i);
  o.advance((i) => i % 2 === 0 || i < 50_000); // stops at the first it keeps
  const left = all(o);
  assert.equal(left[0], 50_001);
  assert.equal(left.length, 100_000 - 50_001);
  let seen = 0;
  o.scan((i) => ++seen < 10 && i >= 0);
  assert.equal(seen, 10, 'scan stops when told');
});
