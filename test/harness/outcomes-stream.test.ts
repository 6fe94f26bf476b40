// Outcome rows a beacon streams during the run go straight into results.db; a later row for
// the same transaction (a late commit of one first stored as lost) replaces the earlier one.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Outcome } from '../../src/harness/messages.js';
import { fanOut, storeOutput } from '../../src/harness/outputs.js';
import { ResultsStore } from '../../src/harness/store.js';
import { tempDir } from '../testkit/index.js';

const row = (id: string, status: Outcome['status'], committedMs: number | null): Outcome => ({
  id, sender: 3, nonce: 0, intendedMs: 1000, sentMs: 1001, committedMs, status, errorCode: status === 'lost' ? 'LOST' : null, height: committedMs ? 7 : null, attempts: 1,
});

test('streamed outcome rows are stored as they come, and a late commit replaces the lost row', async (t) => {
  const dir = await tempDir('tpslab-outcomes-');
  t.after(() => dir.remove());
  const store = ResultsStore.open(join(dir.path, 'results.db'));
  t.after(() => store.close());
  store.createRun({ id: 'r1', name: 'stream', scenario: {}, environment: {} });
  const out = fanOut([storeOutput(store, 'r1')]);
  out.outcomes(1, [row('a', 'committed', 1500), row('b', 'lost', null)], (i) => `acct${i}`);
  assert.deepEqual(store.outcomes('r1').map((o) => [o.txId, o.status, o.sender, o.beacon]), [['a', 'committed', 'acct3', 1], ['b', 'lost', 'acct3', 1]]);
  out.outcomes(1, [row('b', 'committed', 9000)], (i) => `acct${i}`);
  const b = store.outcomes('r1').find((o) => o.txId === 'b');
  assert.equal(b?.status, 'committed');
  assert.equal(b?.committedMs, 9000);
  assert.equal(store.outcomes('r1').length, 2);
});
