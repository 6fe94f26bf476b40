import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GrantStore, type FaucetLimits } from '../../src/ledger/faucet/grant-store.js';
import { tempDir } from '../testkit/index.js';

const LIMITS: FaucetLimits = { windowMs: 60_000, perClient: 100, perAccount: 100, budget: 1000n };

describe('faucet grant store: limits counted from recorded grants', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (dir = await tempDir('tpslab-grants-')));
  after(() => dir.remove());

  it('refuses beyond the budget, says when enough ages out, and does not count failed grants', () => {
    const store = new GrantStore(join(dir.path, 'g.db'));
    const t0 = 1_000_000;
    assert.equal(store.admit({ requestId: 'a', client: 'c1', account: 'x', amount: 600n, atMs: t0 }, LIMITS), undefined);
    assert.equal(store.admit({ requestId: 'b', client: 'c2', account: 'y', amount: 300n, atMs: t0 + 10_000 }, LIMITS), undefined);
    const r = store.admit({ requestId: 'c', client: 'c3', account: 'z', amount: 200n, atMs: t0 + 20_000 }, LIMITS);
    assert.deepEqual(r, { limit: 'budget', retryAfterMs: 40_000 });
    assert.equal(store.get('c'), undefined, 'a refused request is not recorded');
    store.recordSent(['a'], 'tx1', 0n, Buffer.from([1]));
    store.settle('tx1', { ok: false, error: 'dry' });
    assert.equal(store.admit({ requestId: 'c', client: 'c3', account: 'z', amount: 200n, atMs: t0 + 20_000 }, LIMITS), undefined);
    // After the window the old grants no longer count.
    assert.equal(store.admit({ requestId: 'd', client: 'c4', account: 'w', amount: 700n, atMs: t0 + 10_000 + LIMITS.windowMs + 1 }, LIMITS), undefined);
    assert.equal(store.nextNonce(), 1n);
    assert.deepEqual(store.unsettled(), []);
    store.close();
  });
});
