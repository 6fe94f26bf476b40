/**
 * The leader's lease on a virtual clock: how long a dead leader goes unreplaced, and that a follower never
 * takes the lease while the old holder may still count itself leader. The store is an in-memory key with a
 * revision and JetStream's compare-and-set answers (the real key-value bucket is exercised by the
 * replicated-ordering e2e); a dead holder's calls never answer, as a killed process's never arrive.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { DEFAULT_LEASE_MS, followerPollMs, LeaderLease, renewPeriodMs, type LeaseStore, type LeaseValue } from '../../src/ledger/lease.js';

/** One key with a revision: create fails when it exists, update when the revision moved (JetStream's code 10071). */
class MemoryKey {
  value: LeaseValue | undefined;
  revision = 0;

  /** The store as one process sees it; after `kill()` its calls never settle. */
  view(): LeaseStore & { kill(): void } {
    let dead = false;
    const never = new Promise<never>(() => {});
    const wrong = (): Error => Object.assign(new Error('wrong last sequence'), { code: 10071 });
    return {
      kill: () => {
        dead = true;
      },
      get: async () => (dead ? never : this.value && { value: this.value, revision: this.revision }),
      create: async (v) => {
        if (dead) return never;
        if (this.value) throw wrong();
        this.value = v;
        return ++this.revision;
      },
      update: async (v, revision) => {
        if (dead) return never;
        if (revision !== this.revision) throw wrong();
        this.value = v;
        return ++this.revision;
      },
    };
  }
}

/** Lets the store's promise chains and the lease's awaits run after a timer fired. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Outcome {
  /** When the follower was elected, after the leader's death. */
  replacedAfterMs: number;
  /** The dead leader's own validity end, as it counted it, before its death. */
  leaderValidUntilMs: number;
  followerElectedAtMs: number;
}

/** A leader elected first, a follower that polls; the leader dies `deathAtMs` after the follower starts. */
async function deathAt(leaseMs: number, deathAtMs: number): Promise<Outcome> {
  const clock = new ManualClock(0);
  const key = new MemoryKey();
  const leaderStore = key.view();
  let leaderValidUntilMs = 0;
  let followerElectedAtMs: number | undefined;
  const leader: LeaderLease = new LeaderLease(leaderStore, { id: 'a', url: 'http://a' }, leaseMs, {
    elected: () => {},
    lost: () => {},
  }, clock);
  leader.eligible = true;
  leader.start();
  for (let t = 0; t < 5 && !leader.holding; t++) {
    clock.advance(1);
    await settle();
  }
  assert.ok(leader.holding, 'the first contender takes a free lease');
  const follower = new LeaderLease(key.view(), { id: 'b', url: 'http://b' }, leaseMs, {
    elected: () => {
      followerElectedAtMs ??= clock.now();
    },
    lost: () => {},
  }, clock);
  follower.eligible = true;
  follower.start();
  const killAt = clock.now() + deathAtMs;
  while (clock.now() < killAt) {
    clock.advance(1);
    await settle();
    leaderValidUntilMs = leader.holdsUntilMs ?? leaderValidUntilMs;
  }
  leaderStore.kill();
  for (let t = 0; t < 4 * leaseMs && followerElectedAtMs === undefined; t++) {
    clock.advance(1);
    await settle();
  }
  assert.ok(followerElectedAtMs !== undefined, `the follower took over within ${4 * leaseMs} ms of the leader's death`);
  // The dead leader's resign never answers (its store is dead); the follower's answers at once.
  void leader.close();
  await follower.close();
  return { replacedAfterMs: followerElectedAtMs - killAt, leaderValidUntilMs, followerElectedAtMs };
}

describe('leader lease on a virtual clock', () => {
  it(`a dead leader is replaced between ${DEFAULT_LEASE_MS} - renewal and ${DEFAULT_LEASE_MS} + 2 polls after its death, whenever in a renewal period it dies`, async () => {
    const leaseMs = DEFAULT_LEASE_MS;
    const renewMs = renewPeriodMs(leaseMs);
    const pollMs = followerPollMs(leaseMs);
    const seen: number[] = [];
    // Deaths spread over two renewal periods, after the follower has seen a few renewals.
    for (let offsetMs = 0; offsetMs < 2 * renewMs; offsetMs += 23) {
      const o = await deathAt(leaseMs, 3 * leaseMs + offsetMs);
      seen.push(o.replacedAfterMs);
      assert.ok(o.replacedAfterMs <= leaseMs + 2 * pollMs + 2, `death at +${offsetMs} ms in the cycle: replaced after ${o.replacedAfterMs} ms, above ${leaseMs} + 2 × ${pollMs}`);
      assert.ok(o.replacedAfterMs >= leaseMs - renewMs - 2, `death at +${offsetMs} ms: replaced after ${o.replacedAfterMs} ms, before the lease could have lapsed`);
      // Safety: the follower is elected only after the dead holder's own count of its lease ended.
      assert.ok(o.followerElectedAtMs >= o.leaderValidUntilMs, `elected at ${o.followerElectedAtMs} while the old holder counted itself leader until ${o.leaderValidUntilMs}`);
    }
    // The spread covers the window: some deaths just after a renewal, some just before one.
    assert.ok(Math.max(...seen) - Math.min(...seen) >= renewMs / 2, `replacement times ${Math.min(...seen)}–${Math.max(...seen)} ms should spread over the renewal period`);
    assert.ok(Math.max(...seen) <= 1400, `the default lease replaces a dead leader within 1,400 ms (saw ${Math.max(...seen)} ms), leaving room for the marker and the first block inside 2 s`);
  });
});
