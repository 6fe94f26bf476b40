// Who sends what: contention shapes, seeded reproducibility, beacon account ranges and topics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { thrown } from '../testkit/index.js';
import { beaconOf, beaconRanges, planSenders, planTopics, rankToAccount, type Contention } from '../../src/harness/workload.js';


function counts(values: Uint32Array, size: number): Uint32Array {
  const c = new Uint32Array(size);
  for (const v of values) c[v]!++;
  return c;
}

/** Generalised harmonic number H(n, s) = Σ r^-s, summed smallest first. */
function harmonic(n: number, s: number): number {
  let h = 0;
  for (let r = n; r >= 1; r--) h += r ** -s;
  return h;
}

describe('planSenders', () => {
  it('draws zipf ranks with rank 1 at 1/H(n, s)', () => {
    const accounts = 1000;
    const txCount = 200_000;
    const { sender } = planSenders({ txCount, accounts, contention: { kind: 'zipf', s: 1 }, seed: 5 });
    const c = counts(sender, accounts);
    const top = rankToAccount(accounts, 5)(0);
    const share = c[top]! / txCount;
    assert.equal(Math.max(...c), c[top], 'rank 1 maps to the most frequent sender');
    // σ ≈ 0.00076; allow ~6σ.
    assert.ok(Math.abs(share - 1 / harmonic(accounts, 1)) < 0.005, `rank-1 share ${share}`);
  });

  it('matches the whole zipf distribution (chi-square, s = 1.5, n = 10)', () => {
    const accounts = 10;
    const txCount = 100_000;
    const s = 1.5;
    const { sender } = planSenders({ txCount, accounts, contention: { kind: 'zipf', s }, seed: 9 });
    const c = counts(sender, accounts);
    const account = rankToAccount(accounts, 9);
    const h = harmonic(accounts, s);
    let chi2 = 0;
    for (let r = 1; r <= accounts; r++) {
      const expected = (txCount * r ** -s) / h;
      chi2 += (c[account(r - 1)]! - expected) ** 2 / expected;
    }
    assert.ok(chi2 < 27.9, `chi-square ${chi2} over 9 degrees of freedom (p = 0.001 cut-off 27.9)`);
  });

  it('samples zipf over 10 M accounts without a table', () => {
    const accounts = 10_000_000;
    const txCount = 1_000_000;
    const s = 0.8;
    const { sender } = planSenders({ txCount, accounts, contention: { kind: 'zipf', s }, seed: 3 });
    const top = rankToAccount(accounts, 3)(0);
    let hits = 0;
    for (const a of sender) if (a === top) hits++;
    const expected = 1 / harmonic(accounts, s);
    assert.ok(Math.abs(hits / txCount - expected) < 6 * Math.sqrt(expected / txCount), `rank-1 share ${hits / txCount}, expected ${expected}`);
  });

  it('gives the hot set its share of the sends', () => {
    const accounts = 10_000;
    const txCount = 100_000;
    const { sender } = planSenders({ txCount, accounts, contention: { kind: 'hotset', hotAccounts: 0.01, hotShare: 0.9 }, seed: 2 });
    const account = rankToAccount(accounts, 2);
    const hot = new Set(Array.from({ length: 100 }, (_, r) => account(r)));
    assert.equal(hot.size, 100);
    let hits = 0;
    for (const a of sender) if (hot.has(a)) hits++;
    assert.ok(Math.abs(hits / txCount - 0.9) < 0.006, `hot share ${hits / txCount}`);
  });

  it('keeps at least one hot account', () => {
    const { sender } = planSenders({ txCount: 10_000, accounts: 50, contention: { kind: 'hotset', hotAccounts: 0.001, hotShare: 0.5 }, seed: 4 });
    const c = counts(sender, 50);
    const hot = rankToAccount(50, 4)(0);
    assert.ok(Math.abs(c[hot]! / 10_000 - 0.5) < 0.03, `hot account share ${c[hot]! / 10_000}`);
  });

  it('spreads uniform senders evenly', () => {
    const { sender } = planSenders({ txCount: 100_000, accounts: 20, contention: { kind: 'uniform' }, seed: 1 });
    for (const n of counts(sender, 20)) assert.ok(Math.abs(n - 5000) < 6 * 69, `count ${n}`);
  });

  const contentions: Contention[] = [{ kind: 'uniform' }, { kind: 'zipf', s: 1.2 }, { kind: 'hotset', hotAccounts: 0.1, hotShare: 0.8 }];
  for (const contention of contentions) {
    it(`never sends to the sender, within range (${contention.kind})`, () => {
      for (const accounts of [2, 3, 1000]) {
        const { sender, recipient } = planSenders({ txCount: 20_000, accounts, contention, seed: 8 });
        for (let i = 0; i < sender.length; i++) {
          if (recipient[i] === sender[i] || recipient[i]! >= accounts || sender[i]! >= accounts) {
            assert.fail(`tx ${i}: ${sender[i]} -> ${recipient[i]} over ${accounts} accounts`);
          }
        }
        if (accounts === 2) assert.ok(sender.some((a) => a === 0) && sender.some((a) => a === 1));
      }
    });

    it(`is reproducible from its seed and changes with it (${contention.kind})`, () => {
      const a = planSenders({ txCount: 5000, accounts: 500, contention, seed: 21 });
      const b = planSenders({ txCount: 5000, accounts: 500, contention, seed: 21 });
      const c = planSenders({ txCount: 5000, accounts: 500, contention, seed: 22 });
      assert.deepEqual(a, b);
      assert.notDeepEqual(a.sender, c.sender);
      assert.notDeepEqual(a.recipient, c.recipient);
    });
  }

  it('refuses impossible options, naming the field', () => {
    const base = { txCount: 10, accounts: 10, contention: { kind: 'uniform' } as Contention, seed: 1 };
    const cases: [Partial<typeof base>, RegExp][] = [
      [{ accounts: 1 }, /^accounts /],
      [{ txCount: -1 }, /^txCount /],
      [{ contention: { kind: 'zipf', s: -1 } }, /^contention\.s /],
      [{ contention: { kind: 'hotset', hotAccounts: 0, hotShare: 0.5 } }, /^contention\.hotAccounts /],
      [{ contention: { kind: 'hotset', hotAccounts: 0.1, hotShare: 1.5 } }, /^contention\.hotShare /],
      [{ contention: { kind: 'pareto' } as unknown as Contention }, /^contention\.kind /],
      [{ seed: Number.POSITIVE_INFINITY }, /^seed /],
    ];
    for (const [patch, field] of cases) {
      const err = thrown(() => planSenders({ ...base, ...patch }));
      assert.equal(err.code, 'TPSLAB_E_SCENARIO');
      assert.match(err.message, field);
    }
  });
});

describe('rankToAccount', () => {
  it('is a bijection for every size', () => {
    for (const accounts of [1, 2, 3, 4, 10, 64, 97, 100, 360, 1024, 1001]) {
      const map = rankToAccount(accounts, 17);
      const seen = new Set<number>();
      for (let r = 0; r < accounts; r++) seen.add(map(r));
      assert.equal(seen.size, accounts, `${accounts} accounts`);
      assert.ok([...seen].every((a) => a >= 0 && a < accounts));
    }
  });

  it('stays exact near 2^32 accounts', () => {
    const accounts = 2 ** 32;
    const map = rankToAccount(accounts, 1);
    const a = map(accounts - 1);
    assert.ok(Number.isInteger(a) && a >= 0 && a < accounts);
  });
});

describe('beaconRanges and beaconOf', () => {
  it('cover every account exactly once, sizes within 1, and invert', () => {
    for (let accounts = 1; accounts <= 40; accounts++) {
      for (let beacons = 1; beacons <= accounts; beacons++) {
        const ranges = beaconRanges(accounts, beacons);
        assert.equal(ranges.length, beacons);
        assert.equal(ranges[0]!.start, 0);
        assert.equal(ranges[beacons - 1]!.end, accounts);
        const sizes = ranges.map((r) => r.end - r.start);
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1 && Math.min(...sizes) >= 1, `${accounts}/${beacons}: ${sizes.join(',')}`);
        ranges.forEach((r, b) => {
          if (b > 0) assert.equal(r.start, ranges[b - 1]!.end);
          for (let a = r.start; a < r.end; a++) assert.equal(beaconOf(a, accounts, beacons), b, `account ${a} of ${accounts}/${beacons}`);
        });
      }
    }
  });

  it('handles large account counts', () => {
    const ranges = beaconRanges(10_000_003, 7);
    assert.equal(ranges.at(-1)!.end, 10_000_003);
    for (const [b, r] of ranges.entries()) {
      assert.equal(beaconOf(r.start, 10_000_003, 7), b);
      assert.equal(beaconOf(r.end - 1, 10_000_003, 7), b);
    }
  });

  it('refuses more beacons than accounts and out-of-range accounts', () => {
    assert.match(thrown(() => beaconRanges(3, 5)).message, /^accounts /);
    assert.match(thrown(() => beaconRanges(3, 0)).message, /^beacons /);
    assert.match(thrown(() => beaconOf(3, 3, 2)).message, /^account /);
  });
});

describe('planTopics', () => {
  it('spreads topics uniformly, reproducibly', () => {
    const a = planTopics({ txCount: 50_000, topics: 10, seed: 1 });
    assert.deepEqual(a, planTopics({ txCount: 50_000, topics: 10, seed: 1 }));
    assert.notDeepEqual(a, planTopics({ txCount: 50_000, topics: 10, seed: 2 }));
    const c = new Array<number>(10).fill(0);
    for (const t of a) c[t]!++;
    for (const n of c) assert.ok(Math.abs(n - 5000) < 6 * 67, `count ${n}`);
  });

  it('uses the full Uint16 range and refuses more topics', () => {
    const t = planTopics({ txCount: 100_000, topics: 65_536, seed: 1 });
    assert.ok(Math.max(...t) > 65_000);
    assert.equal(thrown(() => planTopics({ txCount: 1, topics: 65_537, seed: 1 })).code, 'TPSLAB_E_SCENARIO');
    assert.equal(thrown(() => planTopics({ txCount: 1, topics: 0, seed: 1 })).code, 'TPSLAB_E_SCENARIO');
  });
});
