// The tracker client's heartbeats run on the injected clock: a test drives time instead of sleeping.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { joinTracker } from '../../src/ledger/tracker-client.js';
import { startTracker } from '../../src/ledger/tracker-server.js';
import { waitFor } from '../testkit/index.js';

test('heartbeats follow the injected clock at the interval the tracker hands out, and leave on stop', async () => {
  const t = await startTracker({ port: 0, tracker: { heartbeatIntervalMs: 60_000 } });
  const beats: number[] = [];
  const clock = new ManualClock();
  const m = joinTracker({ trackerUrl: t.url, id: 'n1', role: 'node', url: 'http://127.0.0.1:1', clock, info: () => (beats.push(clock.now()), { height: beats.length }) });
  try {
    await waitFor('the first heartbeat registered', () => t.tracker.view().members.some((x) => x.id === 'n1'));
    // The answer set the interval to 60 s: nothing more until the clock moves that far.
    await waitFor('the next heartbeat scheduled', () => clock.pendingTimers === 1);
    clock.advance(59_000);
    assert.equal(beats.length, 1, 'no heartbeat before the interval');
    clock.advance(1_000);
    await waitFor('the second heartbeat', () => t.tracker.view().members.find((x) => x.id === 'n1')?.height === 2);
    assert.equal(beats.length, 2);
  } finally {
    await m.stop();
    assert.equal(t.tracker.view().members.length, 0, 'stop leaves the view');
    await t.close();
  }
});
