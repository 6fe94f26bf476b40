// The ingress budget that sheds hostile batches before they are read: admission, release, resize.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IngressBudget } from '../../src/ledger/ingress-budget.js';
import { thrown } from '../testkit/index.js';

describe('ingress budget', () => {
  it('hostile batches were all decoded and verified at once; beyond the budget a request is refused 429 before any work', () => {
    const b = new IngressBudget({ maxBytes: 1000, maxTxs: 10 });
    const a = b.take(600, 6);
    const e = thrown(() => b.take(600, 1));
    assert.equal(e.code, 'TPSLAB_E_MEMPOOL_FULL');
    assert.equal(e.httpStatus, 429);
    assert.match(e.message, /6 transactions \(600 bytes\), its limit is 10 \(1000 bytes\)/);
    assert.equal(thrown(() => b.take(100, 5)).code, 'TPSLAB_E_MEMPOOL_FULL');
    const c = b.take(100, 4);
    a.release();
    a.release(); // idempotent
    assert.deepEqual([b.inFlightBytes, b.inFlightTxs], [100, 4]);
    c.resize(2); // the real count, once the batch is split
    assert.equal(b.inFlightTxs, 2);
    c.release();
    c.resize(9); // after release: no effect
    assert.deepEqual([b.inFlightBytes, b.inFlightTxs], [0, 0]);
  });

  it('admits one request larger than the whole budget when nothing else is in flight', () => {
    const b = new IngressBudget({ maxBytes: 1000, maxTxs: 10 });
    const big = b.take(5000, 50);
    assert.equal(thrown(() => b.take(1, 1)).code, 'TPSLAB_E_MEMPOOL_FULL');
    big.release();
    b.take(1, 1);
  });
});
