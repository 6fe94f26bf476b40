// A beacon keeps the failed and lost transactions it dropped from its ledger by id, so a later
// commit still counts as late; at most SETTLED_MAX of them (beacon-compaction.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import { assignment } from '../../src/harness/assignment.js';
import { COMPACT_MIN } from '../../src/harness/beacon-compaction.js';
import { appendEntry } from '../../src/harness/beacon-ledger.js';
import { Tracker } from '../../src/harness/beacon-tracker.js';

test('regression: a network that committed nothing grew the beacon with the run (every lost transaction kept by id); the oldest go past the bound, the newest still count late', () => {
  const n = COMPACT_MIN + 10;
  const max = 1000;
  const lines: string[] = [];
  const tr = new Tracker(assignment({ confirmation: { method: 'stream', timeoutMs: 100, retries: 0, pollIntervalMs: 500 } }), preciseClock, (l) => void lines.push(l), () => {}, max);
  for (let k = 0; k < n; k++) {
    const i = appendEntry(tr.txs, 0, 0, 0, k);
    tr.index(i, `tx${k}`);
    tr.markSent(i, 1, 0);
  }
  tr.expire(1000);
  assert.equal(tr.counts.lost, n);
  assert.equal(tr.compactor.compact(), n, 'the whole resolved ledger is dropped');
  assert.equal(tr.compactor.evicted, n - max);
  assert.equal(lines.filter((l) => /more than 1000 failed or lost transactions kept/.test(l)).length, 1, 'said once');
  // The oldest was let go: its commit is not counted. One of the newest still counts late.
  tr.committedById('tx0', 1, 2000);
  assert.deepEqual({ committed: tr.counts.committed, late: tr.counts.late, lost: tr.counts.lost }, { committed: 0, late: 0, lost: n });
  tr.committedById(`tx${n - 1}`, 1, 2000);
  assert.deepEqual({ committed: tr.counts.committed, late: tr.counts.late, lost: tr.counts.lost }, { committed: 1, late: 1, lost: n - 1 });
  tr.commits.close();
});
