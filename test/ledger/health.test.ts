import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeHealth, isLoopback } from '../../src/ledger/health.js';

const facts = { nowMs: 10_000, height: 5, headTimestampMs: 9_000, sequencerHeight: 6, draining: false };

test('health: ok within limits; off limits never fail', () => {
  assert.deepEqual(judgeHealth({ maxHeadAgeMs: 5000, maxLagBlocks: 2 }, facts), { ok: true });
  assert.deepEqual(judgeHealth({}, { ...facts, headTimestampMs: 0, sequencerHeight: 1000 }), { ok: true });
});

test('health: a stale head and a lagging node are unavailable, with the reason', () => {
  const stale = judgeHealth({ maxHeadAgeMs: 500 }, facts);
  assert.equal(stale.ok, false);
  assert.ok(!stale.ok && stale.check === 'head-age' && stale.status === 'unavailable' && /1000 ms old/.test(stale.reason));
  const lag = judgeHealth({ maxLagBlocks: 0 }, facts);
  assert.ok(!lag.ok && lag.check === 'lag' && /sequencer is at 6/.test(lag.reason));
  // No blocks yet: an idle new network is not stale.
  assert.deepEqual(judgeHealth({ maxHeadAgeMs: 1 }, { ...facts, height: 0 }), { ok: true });
});

test('health: draining is its own status, not downtime; a lagging draining node is down', () => {
  const d = judgeHealth({}, { ...facts, draining: true });
  assert.ok(!d.ok && d.status === 'draining' && d.check === 'draining');
  const both = judgeHealth({ maxLagBlocks: 0 }, { ...facts, draining: true });
  assert.ok(!both.ok && both.status === 'unavailable');
});

test('drain endpoint: only loopback callers', () => {
  assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1'));
  assert.ok(!isLoopback('10.0.0.1') && !isLoopback(undefined));
});
