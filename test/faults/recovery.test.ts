import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recoveryOf } from '../../src/faults/recovery.js';

describe('fault recovery time', () => {
  it('is the time from the fault end to the first second back within 10% of the level before', () => {
    // 100 tx/s, a fault from 5 to 8 s, a catch-up burst, then 95 (within 10%) from second 11.
    const committed = [100, 100, 100, 100, 100, 20, 0, 0, 150, 130, 111, 95, 100, 100];
    const r = recoveryOf({ committed, startSec: 5, endSec: 8 });
    assert.equal(r.beforeTps, 100);
    assert.equal(r.recoveredAtSec, 11); // 150, 130 and 111 are more than 10% above
    assert.equal(r.recoverySec, 3);
  });

  it('takes the baseline from the five whole seconds before the start, and counts from a fractional end', () => {
    const committed = [0, 0, 50, 50, 50, 50, 50, 10, 10, 46, 50];
    const r = recoveryOf({ committed, startSec: 7.4, endSec: 8.5 });
    assert.equal(r.beforeTps, 50); // seconds 2..6
    assert.equal(r.recoveredAtSec, 9); // 46 is within 10% of 50; second 9 is the first starting after 8.5
    assert.equal(r.recoverySec, 0.5);
  });

  it('judges against the median of the five seconds before, so an earlier fault\'s catch-up burst in them does not inflate the level', () => {
    // A burst of 400 (an earlier fault catching up) at second 3: the mean of seconds 1..5 would be
    // 160, and 100 tx/s (more than 10% below it) would never count as recovered.
    const committed = [100, 100, 100, 400, 100, 100, 0, 0, 100, 100];
    const r = recoveryOf({ committed, startSec: 6, endSec: 8 });
    assert.equal(r.beforeTps, 100);
    assert.equal(r.recoveredAtSec, 8);
    assert.equal(r.recoverySec, 0);
    // With an even number of seconds before, the mean of the middle two.
    assert.equal(recoveryOf({ committed: [10, 40, 20, 30, 0, 30], startSec: 4, endSec: 5 }).beforeTps, 25);
  });

  it('is 0 when the first second after the end is already back', () => {
    assert.equal(recoveryOf({ committed: [10, 10, 10, 10, 10, 10], startSec: 2, endSec: 3 }).recoverySec, 0);
  });

  it('is null when the rate never comes back, or when there is no level before', () => {
    assert.deepEqual(recoveryOf({ committed: [100, 100, 0, 50, 80], startSec: 2, endSec: 3 }), { beforeTps: 100, recoverySec: null, recoveredAtSec: null });
    assert.equal(recoveryOf({ committed: [0, 0, 100], startSec: 0, endSec: 1 }).beforeTps, null);
    assert.equal(recoveryOf({ committed: [0, 0, 100], startSec: 2, endSec: 2 }).recoverySec, null);
  });
});
