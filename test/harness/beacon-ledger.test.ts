// A beacon's ledger columns (src/harness/beacon-ledger.ts): dropping a prefix moves what stays down
// and leaves every column past `size` as appendEntry expects it (0, Unsent, undefined).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TxState, appendEntry, dropPrefix, emptyLedger } from '../../src/harness/beacon-ledger.js';

test('dropPrefix keeps sent and never-sent entries whole, and leaves the columns past size empty', () => {
  const t = emptyLedger();
  for (let i = 0; i < 100; i++) appendEntry(t, i, i + 1, i * 2, i % 7);
  const built = { id: 'b', payload: 0 };
  // 0..59 resolved; 60..79 sent (one failed, one waiting for a retry); 80..99 never sent, some built.
  for (let i = 0; i < 80; i++) {
    t.state[i] = i < 60 ? TxState.Lost : TxState.InFlight;
    t.attempts[i] = 1;
    t.firstSentMs[i] = 1000 + i;
    t.id[i] = `tx${i}`;
    t.built[i] = built;
  }
  t.state[70] = TxState.Failed;
  t.error[70] = 'E';
  t.committedMs[71] = 5;
  t.height[71] = 3;
  t.state[75] = TxState.Waiting;
  t.attempts[75] = 2;
  for (let i = 80; i < 90; i++) {
    t.id[i] = `tx${i}`;
    t.built[i] = built;
  }
  dropPrefix(t, 60);
  assert.equal(t.size, 40);
  for (let j = 0; j < 40; j++) {
    const i = j + 60;
    assert.deepEqual(
      [t.intended[j], t.sender[j], t.target[j], t.ordinal[j], t.id[j], t.built[j]],
      [i * 2, i, i + 1, i % 7, i < 90 ? `tx${i}` : undefined, i < 90 ? built : undefined],
      `entry ${i}`,
    );
    const sent = i < 80;
    assert.deepEqual([t.state[j], t.attempts[j], t.firstSentMs[j]], sent ? [i === 70 ? TxState.Failed : i === 75 ? TxState.Waiting : TxState.InFlight, i === 75 ? 2 : 1, 1000 + i] : [TxState.Unsent, 0, 0], `entry ${i}`);
  }
  assert.deepEqual([t.error[10], t.committedMs[11], t.height[11]], ['E', 5, 3]);
  for (let j = 40; j < t.state.length; j++) {
    if (t.state[j] || t.attempts[j] || t.firstSentMs[j] || t.committedMs[j] || t.height[j] || t.intended[j] || t.sender[j] || t.id[j] !== undefined || t.built[j] !== undefined || t.error[j] !== undefined) {
      assert.fail(`column entry ${j} past size is not empty`);
    }
  }
});
