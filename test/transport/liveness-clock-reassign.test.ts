import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { assignment } from '../../src/harness/assignment.js';
import type { Assign } from '../../src/harness/messages.js';
import { bestOffset, measureOffset } from '../../src/transport/clock-sync.js';
import { Liveness } from '../../src/transport/liveness.js';
import { splitRange, splitUnsent } from '../../src/transport/reassign.js';

test('a beacon silent for more than twice the heartbeat interval is declared missing, once', () => {
  const clock = new ManualClock();
  const missing: string[] = [];
  const l = new Liveness(clock, 1000, (name) => missing.push(name));
  l.seen('a');
  l.seen('b');
  l.start();
  for (let t = 0; t < 10; t++) {
    clock.advance(500);
    l.seen('a'); // a keeps beating, b is silent
  }
  assert.deepEqual(missing, ['b']);
  assert.ok(l.watching('a') && !l.watching('b'));
  l.stop();
});

test('silence of exactly twice the interval is not yet missing', () => {
  const clock = new ManualClock();
  const missing: string[] = [];
  const l = new Liveness(clock, 1000, (name) => missing.push(name));
  l.seen('a');
  clock.advance(2000);
  l.check();
  assert.deepEqual(missing, []);
  clock.advance(1);
  l.check();
  assert.deepEqual(missing, ['a']);
});

test('clock offset keeps the sample with the smallest round trip', () => {
  // Beacon clock is 2000 ms behind the overseer; one probe was slow on the way back.
  const o = bestOffset([
    { t0: 0, t1: 2005, t3: 30 }, // rtt 30, estimate 1990
    { t0: 100, t1: 2102, t3: 104 }, // rtt 4, estimate 2000
    { t0: 200, t1: 2210, t3: 220 },
  ]);
  assert.equal(o.offsetMs, 2000);
  assert.equal(o.uncertaintyMs, 2);
  assert.equal(o.rounds, 3);
});

test('measureOffset probes sequentially with the given clock', async () => {
  let t = 1000;
  const now = (): number => t;
  const o = await measureOffset(now, async (t0) => {
    t += 3;
    const t1 = t0 + 3 + 500; // overseer 500 ms ahead, 3 ms one way
    t += 3;
    return t1;
  }, 4);
  assert.equal(o.offsetMs, 500);
  assert.equal(o.uncertaintyMs, 3);
  assert.equal(o.rounds, 4);
});

function job(): Assign {
  // 12 entries over accounts 10..16, in schedule order.
  const senders = [10, 11, 12, 13, 14, 15, 10, 11, 12, 13, 14, 15];
  return assignment({
    beacon: 1, connector: { kind: 'tpslab', config: {} }, accounts: { start: 10, end: 16 },
    offsetsMs: Float64Array.from(senders, (_, i) => i * 10), senders: Uint32Array.from(senders), targets: Uint32Array.from(senders, (s) => s + 100),
    maxInFlight: 10, batchDelayMs: 1, confirmation: { method: 'stream', timeoutMs: 1000, retries: 1, pollIntervalMs: 100 },
  });
}

test('unsent work is split by whole sender ranges, keeping each sender\'s plan from its first transaction', () => {
  const parts = splitUnsent(job(), 7, 2); // entries 0..6 sent
  assert.equal(parts.length, 2);
  assert.deepEqual(parts.map((p) => p.assign.accounts), [{ start: 10, end: 13 }, { start: 13, end: 16 }]);
  assert.deepEqual([...parts[0]!.assign.senders], [10, 11, 12, 10, 11, 12]);
  assert.equal(parts[0]!.skip, 4, 'entries 0,1,2 and 6 (sender 10 again) were sent');
  assert.deepEqual(parts.map((p) => p.entries), [6, 6]);
  assert.deepEqual([...parts[1]!.assign.senders], [13, 14, 15, 13, 14, 15]);
  assert.equal(parts[1]!.skip, 3);
  assert.deepEqual([...parts[0]!.assign.offsetsMs], [0, 10, 20, 60, 70, 80], 'intended times unchanged');
  assert.deepEqual([...parts[1]!.assign.targets], [113, 114, 115, 113, 114, 115]);
  // No sender in two parts, every unsent entry in exactly one part.
  const unsent = parts.reduce((n, p) => n + p.assign.senders.length - p.skip, 0);
  assert.equal(unsent, 12 - 7);
});

test('ranges with nothing left to send are dropped; more parts than accounts is fine', () => {
  const parts = splitUnsent(job(), 11, 2); // only entry 11 (sender 15) unsent
  assert.equal(parts.length, 1);
  assert.deepEqual(parts[0]!.assign.accounts, { start: 13, end: 16 });
  assert.equal(parts[0]!.assign.senders.length - parts[0]!.skip, 1);
  assert.equal(splitUnsent(job(), 0, 50).length, 6);
  assert.equal(splitUnsent(job(), 12, 3).length, 0);
});

test('max mode: a missing beacon\'s sender range is split into whole sub-ranges, each with its share of maxInFlight, same duration', () => {
  const max: Assign = { ...job(), mode: 'max', offsetsMs: new Float64Array(0), senders: new Uint32Array(0), targets: new Uint32Array(0), maxDurationMs: 8000, maxInFlight: 30 };
  const parts = splitRange(max, 2);
  assert.deepEqual(parts.map((p) => p.accounts), [{ start: 10, end: 13 }, { start: 13, end: 16 }], 'every sender in exactly one part');
  assert.deepEqual(parts.map((p) => [p.mode, p.maxDurationMs, p.maxInFlight, p.senders.length]), [['max', 8000, 15, 0], ['max', 8000, 15, 0]]);
  assert.equal(splitRange(max, 50).length, 6, 'at most one part per sender');
  assert.deepEqual(splitRange({ ...max, maxInFlight: 1 }, 3).map((p) => p.maxInFlight), [1, 1, 1], 'never below one in flight');
});
