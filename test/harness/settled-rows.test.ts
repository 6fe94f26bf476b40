// A beacon's dropped failed or lost transactions kept by id (src/harness/settled-rows.ts): rows are
// added in runs, as compaction drops them; the ring lets the oldest go past its bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TxState, appendEntry, emptyLedger, type Ledger } from '../../src/harness/beacon-ledger.js';
import { SettledRows } from '../../src/harness/settled-rows.js';

/** A ledger of n failed or lost entries with ids `tx<k>`, each column telling k apart. */
function ledgerOf(n: number): Ledger {
  const t = emptyLedger();
  for (let k = 0; k < n; k++) {
    const i = appendEntry(t, 100 + k, 0, k / 4, k % 13);
    t.id[i] = `tx${k}`;
    t.state[i] = k % 3 === 0 ? TxState.Failed : TxState.Lost;
    t.error[i] = k % 3 === 0 ? `E${k}` : 'LOST';
    t.firstSentMs[i] = 5000 + k;
    t.attempts[i] = 1 + (k % 4);
  }
  return t;
}

test('rows added in runs of any length, across the ring\'s end, read back whole; the oldest past max are let go and counted', () => {
  const n = 3000;
  const max = 1100; // grows 1024 -> 1100, then wraps (not a power of two)
  const t = ledgerOf(n);
  const rows = new SettledRows(max);
  let letGo = 0;
  // Runs of 1, 7, 250, 1, 1023, … (what compaction passes between committed entries).
  const runs = [1, 7, 250, 1, 1023, 64, 300, 1, 999];
  for (let from = 0, r = 0; from < n; r++) {
    const to = Math.min(n, from + runs[r % runs.length]!);
    letGo += rows.addRun(t, from, to, 1_000_000);
    from = to;
  }
  assert.equal(letGo, n - max);
  assert.equal(rows.evicted, n - max);
  assert.equal(rows.size, max);
  assert.equal(rows.isLost(`tx${n - max - 1}`), false, 'let go');
  assert.equal(rows.take(`tx${n - max - 2}`), undefined, 'let go');
  for (const k of [n - max, n - max + 1, 2047, 2048, n - 1]) {
    const o = rows.take(`tx${k}`);
    assert.deepEqual(o, {
      id: `tx${k}`,
      sender: 100 + k,
      nonce: k % 13,
      intendedMs: 1_000_000 + k / 4,
      sentMs: 5000 + k,
      committedMs: null,
      status: k % 3 === 0 ? 'failed' : 'lost',
      errorCode: k % 3 === 0 ? `E${k}` : 'LOST',
      height: null,
      attempts: 1 + (k % 4),
    }, `row ${k}`);
    assert.equal(rows.take(`tx${k}`), undefined, 'taken once');
  }
  assert.equal(rows.size, max - 5);
  // A row taken back is not counted as let go when the ring passes over it.
  const more = ledgerOf(n + max);
  const before = rows.evicted;
  rows.addRun(more, n, n + max, 1_000_000);
  assert.equal(rows.evicted - before, max - 5);
});

test('with no room (max 0) every row is let go at once', () => {
  const rows = new SettledRows(0);
  assert.equal(rows.addRun(ledgerOf(10), 0, 10, 0), 10);
  assert.equal(rows.evicted, 10);
  assert.equal(rows.isLost('tx3'), false);
});
