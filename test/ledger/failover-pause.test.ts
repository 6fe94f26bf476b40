/**
 * The failover pause as the sequencer-failover bench and e2e compute it (test/testkit/failover-pause.ts), on
 * known block cut times: the longest gap from 1 s before the kill through the first block cut after it, and
 * how long after the kill that block came.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pauseAround, resumedAfter } from '../testkit/failover-pause.js';

test('pause around a kill: the gap through the new leader\'s first block, to the exact value', () => {
  // Blocks every 20 ms until 10,000; killed at 10,005; the dead leader's last block (cut at 10,000) still
  // arrives; the new leader cuts at 11,205, then every 20 ms.
  const times = [9000, 9020, 9980, 10000, 11205, 11225, 11245];
  assert.deepEqual(pauseAround(times, 10_005), { gapMs: 1205, resumedAfterMs: 1200 });
  assert.equal(resumedAfter(times, 10_005), true);
});

test('before the new leader cuts a block, commits have not resumed (the old measure read the dead leader\'s last blocks as a short pause)', () => {
  const times = [9960, 9980, 10000];
  const p = pauseAround(times, 10_005);
  assert.equal(resumedAfter(times, 10_005), false);
  assert.ok(Number.isNaN(p.resumedAfterMs));
  assert.equal(p.gapMs, 20);
});

test('a gap before the kill within the 1 s window counts; one before the window is cut at its start', () => {
  // 600 ms without blocks from 9,300 to 9,900 (a late renewal, say), then a 300 ms failover.
  assert.deepEqual(pauseAround([8000, 9300, 9900, 10000, 10300], 10_000), { gapMs: 600, resumedAfterMs: 300 });
  // The window starts at 9,000: 8,000 → 9,500 counts as 500 ms (from the window's start), not 1,500; the
  // failover's 600 ms is the longest.
  assert.deepEqual(pauseAround([8000, 9500, 10100], 10_000), { gapMs: 600, resumedAfterMs: 100 });
});
