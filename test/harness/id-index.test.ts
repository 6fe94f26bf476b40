// The beacon's id → index table (src/harness/id-index.ts): Map semantics for live values, and
// everything below the floor gone without a delete per id.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { IdIndex, hashOf } from '../../src/harness/id-index.js';

const hexId = (k: number): string => createHash('sha256').update(String(k)).digest('hex');

test('ids map to their values; a later set of the same id replaces its value; delete forgets one', () => {
  const x = new IdIndex();
  for (let k = 0; k < 5000; k++) x.set(hexId(k), k);
  assert.equal(x.size, 5000);
  for (let k = 0; k < 5000; k++) assert.equal(x.get(hexId(k)), k);
  assert.equal(x.get(hexId(5000)), undefined);
  x.set(hexId(7), 9000);
  assert.equal(x.get(hexId(7)), 9000);
  assert.equal(x.size, 5000, 'replaced, not added');
  x.delete(hexId(8));
  assert.equal(x.has(hexId(8)), false);
  assert.equal(x.get(hexId(9)), 9);
});

test('values below the floor are gone; their slots are reused without hiding an id inserted past them', () => {
  const x = new IdIndex();
  // Short ids that differ only in their first characters hash alike often enough to share probe runs.
  for (let k = 0; k < 3000; k++) x.set(`tx-${k}`, k);
  x.floor = 1500;
  for (let k = 0; k < 1500; k++) assert.equal(x.get(`tx-${k}`), undefined, `tx-${k} is below the floor`);
  for (let k = 1500; k < 3000; k++) assert.equal(x.get(`tx-${k}`), k);
  // New ids fill the freed slots; every live one is still found (probe runs cross freed slots).
  for (let k = 3000; k < 200_000; k++) {
    x.set(`tx-${k}`, k);
    if (k % 1000 === 999) x.floor = k - 1500;
  }
  assert.equal(x.size, 1501);
  for (let k = 198_499; k < 200_000; k++) assert.equal(x.get(`tx-${k}`), k);
  assert.equal(x.get('tx-198498'), undefined);
  // An id set again above the floor is live again.
  x.set('tx-5', 200_000);
  assert.equal(x.get('tx-5'), 200_000);
});

test('ids that differ only before a constant suffix hash apart (regression: only the last 12 characters were hashed, so an HTTP template like "{{uuid}}@example.com" put every id in one probe run)', () => {
  const ids = Array.from({ length: 2000 }, (_, k) => `${createHash('sha256').update(String(k)).digest('hex').slice(0, 32)}@ledger.example.com`);
  assert.ok(new Set(ids.map(hashOf)).size >= 1990, 'distinct hashes for distinct ids');
  const x = new IdIndex();
  ids.forEach((id, k) => x.set(id, k));
  ids.forEach((id, k) => assert.equal(x.get(id), k));
});
