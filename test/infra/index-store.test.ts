import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { genesisBlock, type IndexedBlock } from '../../src/ledger/indexer/history.js';
import { openIndexStore, type IndexStore } from '../../src/ledger/indexer/store.js';
import { keyPairFromLabel } from '../../src/protocol/signing.js';
import { tempDir, thrown } from '../testkit/index.js';
import { startPostgres, type TestPostgres } from './postgres.js';

const faucet = keyPairFromLabel('store-faucet');
const block = (height: number, prevHash: string): IndexedBlock => ({ height, hash: `h${height}`, prevHash, timestampMs: 1, rows: [], balances: new Map(), topics: new Map() });

/** One conformance suite for every IndexStore. */
function storeSuite(name: string, open: () => Promise<{ spec: string; done(): Promise<void> }>): void {
  describe(`index store conformance: ${name}`, () => {
    let store: IndexStore;
    let env: { spec: string; done(): Promise<void> };
    before(async () => {
      env = await open();
      store = await openIndexStore(env.spec);
    });
    after(async () => {
      await store.close();
      await env.done();
    });

    it('writes a block once, skips a replay, refuses a gap or a fork without writing anything', async () => {
      assert.equal(await store.cursor(), undefined);
      assert.equal(await store.commit([genesisBlock('g', 1, [{ account: faucet.publicKey, balance: 500n }])]), 1);
      assert.equal(await store.balance(faucet.address), 500n);
      assert.equal(await store.commit([block(1, 'g'), block(2, 'h1')]), 2);
      assert.equal(await store.commit([block(1, 'g'), block(2, 'h1'), block(3, 'h2')]), 1, 'replayed blocks are skipped');
      const gap = await store.commit([block(5, 'h4')]).then(() => undefined, (e: unknown) => e);
      assert.equal(thrown(() => { throw gap; }).code, 'TPSLAB_E_INDEX_CONTINUITY');
      const fork = await store.commit([block(4, 'not-h3')]).then(() => undefined, (e: unknown) => e);
      assert.match(thrown(() => { throw fork; }).message, /previous hash/);
      assert.deepEqual(await store.cursor(), { height: 3, hash: 'h3' });
      const rows = await store.history(faucet.address, undefined, 10);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.kind, 'genesis');
      assert.deepEqual(await store.history(faucet.address, rows[0]!.cursor, 10), []);
    });
  });
}

storeSuite('sqlite', async () => {
  const dir = await tempDir('tpslab-store-');
  return { spec: `sqlite:${join(dir.path, 'i.db')}`, done: () => dir.remove() };
});
storeSuite('postgres', async () => {
  const pg: TestPostgres = await startPostgres();
  return { spec: pg.url, done: () => pg.stop() };
});

describe('index store spec', () => {
  it('an unknown --db is a usage error naming both forms', async () => {
    const e = await openIndexStore('mysql://x').then(() => undefined, (err: unknown) => err);
    assert.match(thrown(() => { throw e; }).message, /sqlite:PATH.*postgres:\/\//);
  });
});
