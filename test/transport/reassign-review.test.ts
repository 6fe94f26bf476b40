// Regressions in the NATS executor's reassignment (a review of the sliced walk): a split that ended after
// `stop` started jobs that ignored it; several splits at once interleaved; an exception while placing parts
// was an unhandled rejection; a closed fleet still placed parts; an assignment whose beacon left before the
// start with nothing to send never became ready. Fake session (the fleet's bookkeeping only).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import type { TpslabError } from '../../src/errors.js';
import { assignment } from '../../src/harness/assignment.js';
import { PROTOCOL_VERSION, type Assign, type BeaconMessage } from '../../src/harness/messages.js';
import type { PlanDescriptor } from '../../src/harness/plan-stream.js';
import { NatsFleet } from '../../src/transport/nats-fleet.js';
import type { WireMessage } from '../../src/transport/nats-messages.js';
import type { NatsOverseer } from '../../src/transport/nats-overseer.js';
import { splitUnsentInSlices } from '../../src/transport/reassign.js';

const STEPS = 1000;
/** About `txCount` transactions at 10,000 a second over `accounts` accounts (zipf senders). */
const described = (txCount: number, accounts: number): PlanDescriptor => ({
  kind: 'open',
  stages: [{ kind: 'constant', ratePerSec: 10_000, durationSec: txCount / 10_000 }],
  arrival: 'poisson',
  seed: 5,
  accounts,
  contention: { kind: 'zipf', s: 1.1 },
  txCount,
});
const confirmation = { method: 'stream', timeoutMs: 1000, retries: 1, pollIntervalMs: 100 } as const;
/** Assignment b of `n`, 1,000 accounts each, described by `plan`. */
const describedShare = (b: number, plan: PlanDescriptor): Assign =>
  assignment({ beacon: b, connector: { kind: 'tpslab', config: {} }, accounts: { start: b * 1000, end: (b + 1) * 1000 }, plan, maxInFlight: 10, batchDelayMs: 1, confirmation });
/** Assignment b over accounts [4b, 4b+4) with these senders shipped. */
const shippedShare = (b: number, senders: number[], mode: 'open' | 'max' = 'open'): Assign =>
  assignment({
    beacon: b, connector: { kind: 'tpslab', config: {} }, accounts: { start: 4 * b, end: 4 * b + 4 }, mode, maxDurationMs: 5000,
    offsetsMs: Float64Array.from(senders, (_, i) => i * 100), senders: Uint32Array.from(senders), targets: Uint32Array.from(senders), maxInFlight: 10, batchDelayMs: 1, confirmation,
  });
const counts = { failed: 0, failures: 0, lost: 0, expired: 0, late: 0, retries: 0, inFlight: 0, errors: {} };
const progress = (sent: number): BeaconMessage => ({ v: PROTOCOL_VERSION, type: 'progress', beacon: 0, second: 1, sent, committed: 0, ...counts, corrected: '', uncorrected: '', lag: '', height: 1 });
const ready: BeaconMessage = { v: PROTOCOL_VERSION, type: 'ready', beacon: 0, txs: 10, prepareMs: 1 };

function fleetOf(names: string[], control?: (name: string, m: WireMessage) => void) {
  const controls: [string, WireMessage][] = [];
  const events: BeaconMessage[] = [];
  const failures: TpslabError[] = [];
  const logs: string[] = [];
  const session = {
    o: { log: (l: string) => logs.push(l) },
    clock: new ManualClock(),
    forget: () => {},
    control: (name: string, m: WireMessage) => {
      control?.(name, m); // may throw: a fault while placing parts
      controls.push([name, m]);
      return Promise.resolve();
    },
  } as unknown as NatsOverseer;
  const fleet = new NatsFleet(session, names, { message: (m) => events.push(m), failure: (e) => failures.push(e) }, { stepsPerTurn: STEPS });
  return { fleet, controls, events, failures, logs };
}

/** New jobs started for `job`: [owner, id]. */
const partsOf = (controls: [string, WireMessage][], job: string) => controls.flatMap(([n, m]) => (m.type === 'control' && m.job.startsWith(`${job}.r`) ? [[n, m.job] as const] : []));

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

test('regression: a split that ended after `stop` started jobs that ignored the stop; now its work stays unsent, said so, and the assignment is done', async () => {
  const plan = described(20_000, 3000);
  const { fleet, controls, events, failures, logs } = fleetOf(['a', 'b', 'c']);
  fleet.launch([0, 1, 2].map((b) => describedShare(b, plan)));
  fleet.broadcast({ v: PROTOCOL_VERSION, type: 'start', atMs: 0 });
  fleet.onReport('a', { type: 'report', job: 'b0', msg: progress(500) });
  fleet.onMissing('a', 2100);
  await new Promise((r) => setImmediate(r)); // the walk has begun
  fleet.broadcast({ v: PROTOCOL_VERSION, type: 'stop', reason: 'deadline' });
  await until('beacon 0 done', () => events.some((m) => m.type === 'done' && m.beacon === 0), 5000);
  await splitUnsentInSlices(describedShare(0, plan), 500, 2, { stepsPerTurn: STEPS }); // as long as the walk would have taken
  assert.deepEqual(partsOf(controls, 'b0'), [], 'no job started after the stop');
  const d = events.find((m) => m.type === 'done' && m.beacon === 0);
  assert.ok(d?.type === 'done' && d.sent === 500, 'what the missing beacon reported stays counted, and nothing more');
  assert.match(logs.join('\n'), /job b0: the run was stopped before the unsent work of a was moved; it stays unsent/);

  // A beacon missing after the stop: the same, without a walk (max mode too).
  const max = fleetOf(['a', 'b']);
  max.fleet.launch([shippedShare(0, [], 'max'), shippedShare(1, [], 'max')]);
  max.fleet.broadcast({ v: PROTOCOL_VERSION, type: 'stop', reason: 'deadline' });
  max.fleet.onMissing('a', 2100);
  assert.deepEqual(partsOf(max.controls, 'b0'), []);
  assert.ok(max.events.some((m) => m.type === 'done' && m.beacon === 0));
  assert.deepEqual([...failures, ...max.failures], []);
});

test('regression: several splits at once interleaved (k lost jobs all ended near k times one walk); now they go first in, first out', async () => {
  const plan = described(20_000, 4000);
  const { fleet, controls, failures } = fleetOf(['a', 'b', 'c', 'd']);
  fleet.launch([0, 1, 2, 3].map((b) => describedShare(b, plan)));
  // Turns of the event loop, and the turn at which each lost job's parts appeared.
  let turns = 0;
  const seen: Record<string, number> = {};
  const tick = (): void => {
    turns++;
    for (const job of ['b0', 'b1']) if (seen[job] === undefined && partsOf(controls, job).length > 0) seen[job] = turns;
    if (Object.keys(seen).length < 2 && turns < 100_000) setImmediate(tick);
  };
  setImmediate(tick);
  fleet.onMissing('a', 2100);
  fleet.onMissing('b', 2100);
  await until('both lost jobs placed', () => Object.keys(seen).length === 2, 10_000);
  let oneWalk = 0; // turns of one walk alone (what the second split took after the first)
  await splitUnsentInSlices(describedShare(1, plan), 0, 2, { stepsPerTurn: STEPS, cancelled: () => (oneWalk++, false) });
  assert.ok(oneWalk >= 10, `one walk takes ${oneWalk} turns`);
  assert.ok(seen.b0! < seen.b1!, 'the first lost job is placed first');
  assert.ok(seen.b1! - seen.b0! >= oneWalk / 2, `the second split walked after the first was placed (${seen.b0} then ${seen.b1}; one walk ${oneWalk} turns)`);
  assert.deepEqual(failures, []);
});

test('regression: an exception while placing a split\'s parts was an unhandled rejection; now it fails the run with a coded error', async () => {
  const { fleet, failures } = fleetOf(['a', 'b'], (_, m) => {
    if (m.type === 'control' && m.job.includes('.r')) throw new Error('cannot encode the part');
  });
  fleet.launch([shippedShare(0, [0, 1, 2, 3]), shippedShare(1, [4])]);
  fleet.onMissing('a', 2100);
  await until('the failure', () => failures.length > 0, 5000);
  assert.equal(failures[0]!.code, 'TPSLAB_E_INTERNAL');
  assert.match(failures[0]!.message, /cannot encode the part/);
});

test('regression: a closed fleet still reassigned and placed parts; now nothing starts once the run is over', async () => {
  for (const mode of ['open', 'max'] as const) {
    const { fleet, controls, failures } = fleetOf(['a', 'b']);
    fleet.launch([shippedShare(0, [0, 1, 2, 3], mode), shippedShare(1, [4], mode)]);
    fleet.close();
    fleet.onMissing('a', 2100);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(partsOf(controls, 'b0'), [], mode);
    assert.deepEqual(failures, []);
  }
});

test('regression: an assignment whose beacon left before the start with an empty share never became ready; now it is, with 0 transactions', async () => {
  const { fleet, controls, events, failures } = fleetOf(['a', 'b']);
  fleet.onMissing('a', 2100); // before its work was sent
  fleet.launch([shippedShare(0, []), shippedShare(1, [4])]);
  fleet.onReport('b', { type: 'report', job: 'b1', msg: { ...ready, beacon: 1 } });
  await until('beacon 0 ready', () => events.some((m) => m.type === 'ready' && m.beacon === 0), 5000);
  assert.deepEqual(events.find((m) => m.type === 'ready' && m.beacon === 0), { v: PROTOCOL_VERSION, type: 'ready', beacon: 0, txs: 0, prepareMs: 0 });
  assert.deepEqual(partsOf(controls, 'b0'), []);
  assert.deepEqual(failures, []);
});

test('an assignment with a part ready and another part being split again is not ready until the new parts are', async () => {
  const plan = described(20_000, 3000);
  const { fleet, controls, events, failures } = fleetOf(['a', 'b', 'c']);
  fleet.launch([0, 1, 2].map((b) => describedShare(b, plan)));
  fleet.onMissing('a', 2100); // before the start: b0 goes to b and c
  await until('b0 split', () => partsOf(controls, 'b0').length === 2, 5000);
  const [[, onB], [, onC]] = partsOf(controls, 'b0') as [readonly [string, string], readonly [string, string]];
  assert.ok(onB.length && onC.length);
  fleet.onMissing('c', 2100); // its part of b0 is split again (to b), walked over several turns
  fleet.onReport('b', { type: 'report', job: onB, msg: ready }); // during the walk: the other part of b0 is ready
  assert.ok(!events.some((m) => m.type === 'ready' && m.beacon === 0), 'not ready while a part of it is being split');
  await until('the second split', () => partsOf(controls, onC).length > 0, 5000);
  assert.ok(!events.some((m) => m.type === 'ready' && m.beacon === 0), 'nor before its new parts are');
  for (const [, job] of partsOf(controls, onC)) fleet.onReport('b', { type: 'report', job, msg: ready });
  assert.ok(events.some((m) => m.type === 'ready' && m.beacon === 0), 'ready once they are');
  assert.deepEqual(failures, []);
});
