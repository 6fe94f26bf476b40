// NonceSlots holds a sender's first pending transaction in fields and any others in a Map: it must
// answer exactly as the Map of nonces it replaced, whatever the order of sets and deletes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PendingTx } from '../../src/ledger/mempool.js';
import { NonceSlots } from '../../src/ledger/nonce-slots.js';

const pending = (label: string): PendingTx => ({ idKey: label }) as unknown as PendingTx;

function sameAs(slots: NonceSlots, model: Map<bigint, PendingTx>, step: number): void {
  assert.equal(slots.size, model.size, `size after step ${step}`);
  for (let n = 0n; n < 8n; n++) {
    assert.equal(slots.get(n), model.get(n), `get(${n}) after step ${step}`);
    assert.equal(slots.has(n), model.has(n), `has(${n}) after step ${step}`);
  }
  const sorted = (e: [bigint, PendingTx][]): [bigint, PendingTx][] => e.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  assert.deepEqual(sorted(slots.entries()), sorted([...model]), `entries after step ${step}`);
}

test('answers as a Map of nonces over 5,000 random sets and deletes (replacing, refilling the first slot, emptying)', () => {
  const slots = new NonceSlots();
  const model = new Map<bigint, PendingTx>();
  let seed = 12345;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let step = 0; step < 5000; step++) {
    const nonce = BigInt(rand(8));
    if (rand(3) === 0) assert.equal(slots.delete(nonce), model.delete(nonce), `delete(${nonce}) at step ${step}`);
    else {
      const p = pending(`${step}`);
      slots.set(nonce, p);
      model.set(nonce, p);
    }
    sameAs(slots, model, step);
  }
});

test('the usual life of a sender: one pending, included, the next admitted', () => {
  const slots = new NonceSlots();
  for (let n = 0n; n < 5n; n++) {
    const p = pending(`n${n}`);
    slots.set(n, p);
    assert.equal(slots.get(n), p);
    assert.equal(slots.size, 1);
    assert.equal(slots.delete(n), true);
    assert.equal(slots.size, 0);
    assert.equal(slots.has(n), false);
  }
});
