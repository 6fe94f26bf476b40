/** The preparation state's in-memory layer: fresh outputs and nonces, written at the commit or at their bound, dropped on rollback. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { PrepareState, type Utxo } from '../../src/dataset/state.js';
import { tempDir } from '../testkit/index.js';

const op = (i: number): Buffer => Buffer.alloc(36, i);
const utxo = (i: number): Utxo => ({ seed: Buffer.alloc(32, i), account: i % 2 ? Buffer.alloc(32, 100 + i) : null, amount: 1000 + i, parentSeq: i % 3 ? i : null, parentId: i % 3 ? Buffer.alloc(32, 200 + i) : null, depth: i });

test('fresh outputs and nonces past the bound go to SQLite, a commit keeps them, a close without commit rolls all back; every output comes back exactly once', async () => {
  const dir = await tempDir('tpslab-state-');
  try {
    const path = join(dir.path, 's.state');
    const a = new PrepareState(path, 3);
    for (let i = 1; i <= 7; i++) a.put(op(i), utxo(i));
    assert.equal(a.utxoCount, 7);
    assert.deepEqual(a.take(op(7)), utxo(7), 'an output still in memory');
    assert.deepEqual(a.take(op(1)), utxo(1), 'an output written at the bound');
    assert.equal(a.take(op(1)), undefined, 'taken once only');
    assert.equal(a.freshSpent, 1);
    const key = Buffer.alloc(32, 9);
    assert.deepEqual([a.nextNonce(key), a.nextNonce(key), a.nextNonce(key)], [0, 1, 2]);
    for (let i = 0; i < 4; i++) a.nextNonce(Buffer.alloc(32, 50 + i)); // past the bound: written
    a.commit();
    a.put(op(8), utxo(8));
    a.nextNonce(key);
    a.close(); // not committed: output 8 and nonce 3 are gone

    const b = new PrepareState(path, 3);
    for (const i of [2, 3, 4, 5, 6]) assert.deepEqual(b.take(op(i)), utxo(i), `output ${i} survived the commit`);
    assert.equal(b.take(op(8)), undefined, 'the uncommitted output rolled back');
    assert.equal(b.nextNonce(key), 3, 'the nonce as committed');
    b.close();
  } finally {
    await dir.remove();
  }
});
