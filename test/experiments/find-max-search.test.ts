import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, type Clock } from '../../src/clock.js';
import { searchMax, type SearchOptions } from '../../src/experiments/find-max-search.js';

const fakeClock = (): ManualClock => new ManualClock(0);

const opts = (clock: Clock, o: Partial<SearchOptions> = {}): SearchOptions => ({
  startPerSec: 10, stepFactor: 2, maxPerSec: 1000, resolutionPerSec: 5, maxProbes: 20, maxTotalMs: 3_600_000, clock, ...o,
});

describe('find-max search', () => {
  it('steps, bisects and confirms against a network that holds 137 tx/s', async () => {
    const clock = fakeClock();
    const r = await searchMax(async (rate) => (clock.advance(10_000), rate <= 137), opts(clock));
    assert.deepEqual(r.probes.map((p) => `${p.phase}:${p.rate}:${p.passed ? 'ok' : 'no'}`), [
      'step:10:ok', 'step:20:ok', 'step:40:ok', 'step:80:ok', 'step:160:no',
      'bisect:120:ok', 'bisect:140:no', 'bisect:130:ok', 'bisect:135:ok', 'confirm:135:ok',
    ]);
    assert.equal(r.ratePerSec, 135);
    assert.equal(r.failedAtPerSec, 140);
    assert.equal(r.confirmed, true);
    assert.match(r.reason, /converged: the knee is between 135 and 140/);
  });

  it('falls back to a lower pass when the confirmation does not hold', async () => {
    const clock = fakeClock();
    let confirmations = 0;
    const r = await searchMax(async (rate, phase) => {
      if (phase === 'confirm') return ++confirmations > 1; // the first confirmation fails (a noisy edge)
      return rate <= 137;
    }, opts(clock));
    assert.deepEqual(r.probes.filter((p) => p.phase === 'confirm').map((p) => [p.rate, p.passed]), [[135, false], [130, true]]);
    assert.equal(r.ratePerSec, 130);
    assert.equal(r.failedAtPerSec, 135);
    assert.equal(r.confirmed, true);
  });

  it('stops at maxProbes, keeping one probe for the confirmation', async () => {
    const clock = fakeClock();
    const r = await searchMax(async (rate) => rate <= 137, opts(clock, { maxProbes: 6 }));
    assert.equal(r.probes.length, 6);
    assert.deepEqual(r.probes.map((p) => p.rate), [10, 20, 40, 80, 160, 80]);
    assert.equal(r.ratePerSec, 80);
    assert.equal(r.confirmed, true);
    assert.match(r.reason, /stopped after 5 probes/);
  });

  it('stops when the next probe would pass the time budget', async () => {
    const clock = fakeClock();
    const r = await searchMax(async (rate) => (clock.advance(10_000), rate <= 137), opts(clock, { maxTotalMs: 35_000 }));
    // 3 probes of 10 s: a 4th (and the confirmation) would end past 35 s.
    assert.deepEqual(r.probes.map((p) => p.rate), [10, 20, 40]);
    assert.equal(r.confirmed, false);
    assert.equal(r.ratePerSec, 40);
    assert.match(r.reason, /time budget/);
  });

  it('reports no answer when the start rate already fails, and a ceiling when nothing fails', async () => {
    const clock = fakeClock();
    const none = await searchMax(async () => false, opts(clock));
    assert.equal(none.ratePerSec, null);
    assert.equal(none.failedAtPerSec, 10);
    assert.match(none.reason, /start rate \(10\/s\) already misses/);
    const all = await searchMax(async () => true, opts(clock, { maxPerSec: 50 }));
    assert.deepEqual(all.probes.map((p) => p.rate), [10, 20, 40, 50, 50]);
    assert.equal(all.ratePerSec, 50);
    assert.equal(all.failedAtPerSec, null);
    assert.match(all.reason, /every rate up to maxPerSec \(50\)/);
  });
});
