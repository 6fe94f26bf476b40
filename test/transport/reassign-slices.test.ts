// Regression: reassigning a missing beacon's described share walked the whole run's plan in one go on
// the overseer's event loop (≈ 0.4 µs a transaction of the run: an 86 M-transaction run held it about
// 35 s), so no heartbeat, report or liveness check was handled meanwhile. The walk now goes in slices
// between turns of the event loop, and the parts are the ones the one-go walk gives. The fleet's slice
// size is an option (`stepsPerTurn`): small plans in small slices show the same in milliseconds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import type { TpslabError } from '../../src/errors.js';
import { assignment } from '../../src/harness/assignment.js';
import { PROTOCOL_VERSION, type Assign, type BeaconMessage } from '../../src/harness/messages.js';
import type { PlanDescriptor } from '../../src/harness/plan-stream.js';
import { SetDigest } from '../../src/harness/set-digest.js';
import { NatsFleet } from '../../src/transport/nats-fleet.js';
import type { WireMessage } from '../../src/transport/nats-messages.js';
import type { NatsOverseer } from '../../src/transport/nats-overseer.js';
import { splitUnsent, splitUnsentInSlices } from '../../src/transport/reassign.js';

const ACCOUNTS = 3000;
/** A run of about `txCount` transactions at 10,000 a second (poisson), senders zipf-distributed over 3,000 accounts. */
const described = (txCount: number): PlanDescriptor => ({
  kind: 'open',
  stages: [{ kind: 'constant', ratePerSec: 10_000, durationSec: txCount / 10_000 }],
  arrival: 'poisson',
  seed: 3,
  accounts: ACCOUNTS,
  contention: { kind: 'zipf', s: 1.1 },
  txCount,
});
/** Assignment b of three (accounts split evenly), described by `plan`. */
const share = (b: number, plan: PlanDescriptor): Assign =>
  assignment({ beacon: b, connector: { kind: 'tpslab', config: {} }, accounts: { start: b * 1000, end: (b + 1) * 1000 }, plan, maxInFlight: 10, batchDelayMs: 1, confirmation: { method: 'stream', timeoutMs: 1000, retries: 1, pollIntervalMs: 100 } });
const counts = { failed: 0, failures: 0, lost: 0, expired: 0, late: 0, retries: 0, inFlight: 0, errors: {} };
const progress = (sent: number): BeaconMessage => ({ v: PROTOCOL_VERSION, type: 'progress', beacon: 0, second: 1, sent, committed: 0, ...counts, corrected: '', uncorrected: '', lag: '', height: 1 });
const done = (sent: number): BeaconMessage => ({ v: PROTOCOL_VERSION, type: 'done', beacon: 0, sent, committed: sent, ...counts, committedDigest: SetDigest.of([]).toJson() });
const ready: BeaconMessage = { v: PROTOCOL_VERSION, type: 'ready', beacon: 0, txs: 10, prepareMs: 1 };

function fleetOf(names: string[], stepsPerTurn?: number): { fleet: NatsFleet; controls: [string, WireMessage][]; events: BeaconMessage[]; failures: TpslabError[] } {
  const controls: [string, WireMessage][] = [];
  const events: BeaconMessage[] = [];
  const failures: TpslabError[] = [];
  const session = { o: { log: () => {} }, clock: new ManualClock(), forget: () => {}, control: async (name: string, m: WireMessage) => void controls.push([name, m]) } as unknown as NatsOverseer;
  const fleet = new NatsFleet(session, names, { message: (m) => events.push(m), failure: (e) => failures.push(e) }, stepsPerTurn ? { stepsPerTurn } : {});
  return { fleet, controls, events, failures };
}

/** The new jobs of `job` sent so far: [owner, id, accounts, skip]. */
const partsOf = (controls: [string, WireMessage][], job: string) =>
  controls.flatMap(([n, m]) => (m.type === 'control' && m.job.startsWith(`${job}.r`) ? [[n, m.job, (m.msg as Assign).accounts, m.skip ?? 0] as const] : []));

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('regression: reassigning a long described share held the overseer\'s event loop for the whole walk; now timers and reports run during it, and the parts are the same', async () => {
  // About 100 turns of 1,000 steps (the default slice is 50,000: about 7-20 ms of walk a turn).
  const plan = described(100_000);
  const { fleet, controls, events, failures } = fleetOf(['a', 'b', 'c'], 1000);
  fleet.launch([0, 1, 2].map((b) => share(b, plan)));
  fleet.onReport('a', { type: 'report', job: 'b0', msg: progress(1000) });

  // Turns of the event loop during the walk: counted by an immediate that queues itself again.
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    turns++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  // A report from another beacon arriving during the walk is handled then, not after it.
  let reportSeenBeforeParts: boolean | undefined;
  setImmediate(() =>
    setImmediate(() => {
      fleet.onReport('b', { type: 'report', job: 'b1', msg: progress(7) });
      reportSeenBeforeParts = partsOf(controls, 'b0').length === 0 && events.some((m) => m.type === 'progress' && m.beacon === 1);
    }),
  );
  fleet.onMissing('a', 2100);
  assert.ok(!events.some((m) => m.type === 'done' && m.beacon === 0), 'beacon 0 is not done while its parts are being made');
  try {
    await until('the missing beacon\'s parts', () => partsOf(controls, 'b0').length > 0, 30_000);
  } finally {
    counting = false;
  }
  assert.ok(!events.some((m) => m.type === 'done' && m.beacon === 0), 'nor when they are sent');
  assert.ok(turns >= 50, `the walk of ${plan.txCount} transactions in slices of 1,000 let the event loop turn ${turns} times`);
  assert.equal(reportSeenBeforeParts, true, 'a report arriving during the walk was handled during it');

  const expected = splitUnsent(share(0, plan), 1000, 2);
  assert.deepEqual(partsOf(controls, 'b0'), expected.map((p, k) => [['b', 'c'][k], `b0.r${k + 1}`, p.assign.accounts, p.skip]));
  assert.ok(expected.every((p) => p.skip > 0 && p.entries > p.skip), 'both parts had sent and unsent entries');
  await until('the reassignment acknowledged', () => fleet.reassigned.length === 1, 5000);
  assert.equal(fleet.reassigned[0]!.entries, expected.reduce((n, p) => n + p.entries - p.skip, 0));

  fleet.onReport('b', { type: 'report', job: 'b0.r1', msg: done(10) });
  assert.ok(!events.some((m) => m.type === 'done' && m.beacon === 0));
  fleet.onReport('c', { type: 'report', job: 'b0.r2', msg: done(20) });
  const d = events.find((m) => m.type === 'done' && m.beacon === 0);
  assert.ok(d && d.type === 'done' && d.sent === 1000 + 10 + 20, 'done once both parts are, with their counts and the missing beacon\'s');
  assert.deepEqual(failures, []);
});

test('a beacon that goes missing while another\'s share is walked gets none of its parts; the assignment is ready only once its parts are', async () => {
  const plan = described(20_000); // several slices
  const { fleet, controls, events, failures } = fleetOf(['a', 'b', 'c'], 1000);
  fleet.launch([0, 1, 2].map((b) => share(b, plan)));
  fleet.onReport('b', { type: 'report', job: 'b1', msg: { ...ready, beacon: 1 } });
  fleet.onReport('c', { type: 'report', job: 'b2', msg: { ...ready, beacon: 2 } });
  fleet.onMissing('a', 2100); // before the start: its whole share moves
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(partsOf(controls, 'b0'), [], 'still walking');
  fleet.onMissing('b', 2100);
  await until('the parts of both missing beacons', () => partsOf(controls, 'b0').length > 0 && partsOf(controls, 'b1').length > 0, 60_000);
  const owners = [...partsOf(controls, 'b0'), ...partsOf(controls, 'b1')].map(([n]) => n);
  assert.deepEqual([...new Set(owners)], ['c'], 'every part went to the beacon left');
  assert.deepEqual(partsOf(controls, 'b0').map(([, , accounts]) => accounts), splitUnsent(share(0, plan), 0, 2).map((p) => p.assign.accounts));
  assert.ok(!events.some((m) => m.type === 'ready' && m.beacon === 0), 'not ready: its parts are not');
  for (const [, job] of partsOf(controls, 'b0')) fleet.onReport('c', { type: 'report', job, msg: ready });
  assert.ok(events.some((m) => m.type === 'ready' && m.beacon === 0), 'ready once its parts are');
  assert.deepEqual(failures, []);
});

test('the walk in slices gives the parts of the walk in one go, and stops when the run is closed', async () => {
  const plan = described(30_000);
  for (const sent of [0, 1, 4321, 9999]) {
    const job = share(1, plan);
    const sliced = await splitUnsentInSlices(job, sent, 3, { stepsPerTurn: 7 });
    assert.deepEqual(sliced, splitUnsent(job, sent, 3), `sent ${sent}`);
  }
  const { fleet, controls } = fleetOf(['a', 'b', 'c'], 1000);
  const long = described(20_000); // several slices
  fleet.launch([0, 1, 2].map((b) => share(b, long)));
  fleet.onMissing('a', 2100);
  fleet.close();
  await splitUnsentInSlices(share(0, long), 0, 2, { stepsPerTurn: 1000 }); // as long as the fleet's walk would have taken
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(partsOf(controls, 'b0'), [], 'nothing started once the run was over');
});
