// A beacon finds its transactions by id only when the network names one (src/harness/beacon-tracker.ts):
// ids wait unindexed until the first lookup, whatever order they were given in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import { assignment } from '../../src/harness/assignment.js';
import { appendEntry } from '../../src/harness/beacon-ledger.js';
import { Tracker } from '../../src/harness/beacon-tracker.js';

test('ids given before and after a lookup, in or out of ledger order, are all found; a commit by id lands on its entry', () => {
  const tr = new Tracker(assignment({ confirmation: { method: 'stream', timeoutMs: 100, retries: 0, pollIntervalMs: 500 } }), preciseClock, () => {}, () => {});
  for (let k = 0; k < 10; k++) appendEntry(tr.txs, k, 0, 0, 0);
  for (const k of [0, 1, 2, 5]) tr.index(k, `tx${k}`);
  assert.equal(tr.lookup('tx5'), 5, 'found on the first lookup');
  // Entries 3 and 4 are given ids after that lookup (below what it indexed), 6..9 after it.
  for (const k of [3, 4, 9, 6, 7, 8]) tr.index(k, `tx${k}`);
  for (let k = 0; k < 10; k++) assert.equal(tr.lookup(`tx${k}`), k, `tx${k}`);
  assert.equal(tr.lookup('tx10'), undefined);
  tr.markSent(4, 1, 0);
  tr.committedById('tx4', 7, 50);
  assert.deepEqual({ committed: tr.counts.committed, height: tr.txs.height[4] }, { committed: 1, height: 7 });
  tr.commits.close();
});
