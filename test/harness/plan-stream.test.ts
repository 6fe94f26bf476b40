// A beacon generating its share from the plan descriptor gets the same transactions, in the
// same order, as the whole plan the overseer used to compute and ship (planShares).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignment } from '../../src/harness/assignment.js';
import { describedPlan, planShares } from '../../src/harness/plan.js';
import type { Assign } from '../../src/harness/messages.js';
import { materialize } from '../../src/harness/plan-stream.js';
import { defaultScenario } from '../../src/harness/scenario.js';
import type { Scenario } from '../../src/harness/scenario.js';
import { openSchedule } from '../../src/harness/schedule.js';
import { splitUnsent } from '../../src/transport/reassign.js';

function scenario(over: { arrival: 'uniform' | 'poisson'; workload: Scenario['workload']; beacons: number; accounts: number }): Scenario {
  const s = defaultScenario();
  return {
    ...s,
    seed: 7,
    accounts: { ...s.accounts, count: over.accounts },
    beacons: { ...s.beacons, count: over.beacons },
    workload: over.workload,
    load: {
      ...s.load,
      mode: 'open',
      arrival: over.arrival,
      stages: [
        { kind: 'ramp', fromPerSec: 0, toPerSec: 300, durationSec: 3 },
        { kind: 'burst', basePerSec: 50, burstPerSec: 900, burstSec: 0.5, everySec: 2, durationSec: 5 },
        { kind: 'steps', fromPerSec: 100, toPerSec: 400, steps: 4, durationSec: 4 },
      ],
    },
  };
}

const transfer = (contention: object): Scenario['workload'] => ({ ...(defaultScenario().workload as object), contention } as Scenario['workload']);

const cases: [string, Scenario][] = [
  ['uniform arrival, uniform senders, 3 beacons', scenario({ arrival: 'uniform', workload: transfer({ kind: 'uniform' }), beacons: 3, accounts: 101 })],
  ['poisson arrival, zipf senders, 4 beacons', scenario({ arrival: 'poisson', workload: transfer({ kind: 'zipf', s: 1.1 }), beacons: 4, accounts: 500 })],
  ['poisson arrival, hotset senders, 2 beacons', scenario({ arrival: 'poisson', workload: transfer({ kind: 'hotset', hotAccounts: 0.05, hotShare: 0.8 }), beacons: 2, accounts: 40 })],
  ['uniform arrival, messages over topics', scenario({ arrival: 'uniform', workload: { kind: 'message', topics: 7, payloadBytes: 32, contention: { kind: 'uniform' } } as unknown as Scenario['workload'], beacons: 3, accounts: 30 })],
];

for (const [name, s] of cases) {
  test(`a described share walks to the same transactions as the shipped plan: ${name}`, () => {
    const whole = planShares(s, openSchedule(s.load.stages, { arrival: s.load.arrival, seed: s.seed }));
    const described = describedPlan(s);
    assert.ok(whole.txCount > 1000, `a plan worth comparing (${whole.txCount} transactions)`);
    assert.equal(described.txCount, whole.txCount);
    assert.equal(described.lastOffsetMs, whole.lastOffsetMs);
    assert.equal(described.shares.length, whole.shares.length);
    let total = 0;
    for (const share of whole.shares) {
      const d = described.shares[share.beacon]!;
      assert.deepEqual(d.accounts, share.accounts);
      assert.equal(d.offsetsMs.length, 0, 'nothing shipped but the descriptor');
      const walked = materialize(described.descriptor!, d.accounts);
      assert.deepEqual([...walked.offsetsMs], [...share.offsetsMs], `beacon ${share.beacon} offsets`);
      assert.deepEqual([...walked.senders], [...share.senders], `beacon ${share.beacon} senders`);
      assert.deepEqual([...walked.targets], [...share.targets], `beacon ${share.beacon} targets`);
      total += walked.senders.length;
    }
    assert.equal(total, whole.txCount, 'the shares partition the plan');
  });
}

test('a described plan checks its workload parameters before anything starts', () => {
  const s = scenario({ arrival: 'uniform', workload: transfer({ kind: 'zipf', s: -1 }), beacons: 1, accounts: 10 });
  assert.throws(() => describedPlan(s), (e: Error & { code?: string }) => e.code === 'TPSLAB_E_SCENARIO' && /contention\.s/.test(e.message));
});

test('a missing beacon\'s described share splits for reassignment exactly as its shipped arrays would', () => {
  const s = scenario({ arrival: 'poisson', workload: transfer({ kind: 'uniform' }), beacons: 2, accounts: 60 });
  const described = describedPlan(s);
  const share = described.shares[1]!;
  const job = assignment({
    beacon: 1, accounts: share.accounts, offsetsMs: share.offsetsMs, senders: share.senders, targets: share.targets, plan: described.descriptor!,
    confirmation: { method: 'stream', timeoutMs: 1000, retries: 0, pollIntervalMs: 500 },
  });
  const { plan, ...rest } = job;
  const shipped: Assign = { ...rest, ...materialize(plan!, share.accounts) };
  const a = splitUnsent(job, 700, 3);
  const b = splitUnsent(shipped, 700, 3);
  assert.equal(a.length, 3);
  // The described parts stay described (the plan over a sub-range, no arrays): walked, they are the shipped parts.
  assert.ok(a.every((p) => p.assign.plan !== undefined && p.assign.senders.length === 0));
  const walked = a.map((p) => ({ ...p, assign: { ...p.assign, ...materialize(p.assign.plan!, p.assign.accounts) } }));
  const view = (p: (typeof a)[number]) => [p.skip, p.entries, p.assign.accounts, [...p.assign.senders], [...p.assign.offsetsMs], [...p.assign.targets]];
  assert.deepEqual(walked.map(view), b.map(view));
  assert.deepEqual(b.map((p) => p.entries), b.map((p) => p.assign.senders.length));
});
