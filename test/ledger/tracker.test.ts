// Tracker membership with a manual clock, and the shard allocator's evenness and stability.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { KEY_SPACE, SLOT_COUNT, allocationOf, inRanges, rebalance } from '../../src/ledger/shard-allocator.js';
import { Tracker } from '../../src/ledger/tracker.js';

const moved = (a: readonly (string | undefined)[], b: readonly (string | undefined)[]): number => a.filter((o, i) => o !== b[i]).length;
const counts = (slots: readonly (string | undefined)[]): Map<string, number> => {
  const m = new Map<string, number>();
  for (const o of slots) if (o) m.set(o, (m.get(o) ?? 0) + 1);
  return m;
};

describe('shard allocator', () => {
  it('covers the whole space evenly for 1 to 16 members', () => {
    for (let n = 1; n <= 16; n++) {
      const members = Array.from({ length: n }, (_, i) => `m${i}`);
      const slots = rebalance([], members);
      const c = [...counts(slots).values()];
      assert.equal(c.length, n);
      assert.ok(Math.max(...c) - Math.min(...c) <= 1, `n=${n}: counts ${c}`);
      assert.ok(slots.every((o) => o !== undefined));
    }
  });

  it('moves only what it must when members join and leave', () => {
    let slots = rebalance([], ['a', 'b', 'c']);
    // Join: only the newcomer's share moves (SLOT_COUNT / 4 slots).
    const joined = rebalance(slots, ['a', 'b', 'c', 'd']);
    assert.equal(moved(slots, joined), counts(joined).get('d'));
    assert.ok(Math.abs(counts(joined).get('d')! - SLOT_COUNT / 4) <= 1);
    slots = joined;
    // Leave: only the leaver's slots move.
    const left = rebalance(slots, ['a', 'c', 'd']);
    assert.equal(moved(slots, left), counts(slots).get('b'));
    // Coming back moves the same amount again, no more.
    const back = rebalance(left, ['a', 'c', 'd', 'b']);
    assert.ok(moved(left, back) <= Math.ceil(SLOT_COUNT / 4));
  });

  it('reports ranges that partition the key space, and overlap that extends each range', () => {
    const slots = rebalance([], ['a', 'b', 'c']);
    const plain = allocationOf(slots, 0);
    for (const key of [0n, 1n, KEY_SPACE / 3n, KEY_SPACE / 2n, KEY_SPACE - 1n]) {
      const owners = [...plain.ranges].filter(([, r]) => inRanges(key, r)).map(([m]) => m);
      assert.equal(owners.length, 1, `key ${key} owned by ${owners}`);
    }
    const wide = allocationOf(slots, 0.1);
    const total = [...wide.covered.values()].flat().reduce((s, r) => s + (BigInt(r.end) - BigInt(r.start)), 0n);
    const expected = (KEY_SPACE * 11n) / 10n;
    assert.ok(total >= expected - KEY_SPACE / 1000n && total <= expected + KEY_SPACE / 1000n, `covered ${total} vs ${expected}`);
  });
});

describe('tracker', () => {
  it('removes a member silent for more than twice the interval and re-adds it on its next heartbeat', () => {
    const clock = new ManualClock();
    const t = new Tracker({ heartbeatIntervalMs: 1000 }, clock);
    const changes: { joined: string[]; removed: string[] }[] = [];
    t.on('change', (_v, c) => changes.push(c));
    t.start();
    assert.equal(t.heartbeat({ id: 'n1', role: 'replica', url: 'http://a' }).joined, true);
    t.heartbeat({ id: 'n2', role: 'replica', url: 'http://b' });
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      t.heartbeat({ id: 'n1', role: 'replica', url: 'http://a' }); // n2 stays silent
      if (i === 0) assert.equal(t.view().members.length, 2, 'not removed after one interval');
    }
    assert.deepEqual(t.view().members.map((m) => m.id), ['n1']);
    const removal = changes.find((c) => c.removed.includes('n2'));
    assert.ok(removal, 'removal pushed to watchers');
    // n1 now holds the whole space.
    assert.deepEqual(t.view().members[0]!.ranges, [{ start: '0', end: KEY_SPACE.toString() }]);
    assert.equal(t.heartbeat({ id: 'n2', role: 'replica', url: 'http://b' }).joined, true);
    assert.equal(t.view().members.length, 2);
    t.stop();
  });

  it('gives shards only to node roles and bumps the version on every change', () => {
    const t = new Tracker({ heartbeatIntervalMs: 1000 }, new ManualClock());
    t.heartbeat({ id: 'seq', role: 'sequencer', url: 'http://s' });
    const v1 = t.view().version;
    t.heartbeat({ id: 'n1', role: 'replica', url: 'http://a' });
    assert.ok(t.view().version > v1);
    const seq = t.view().members.find((m) => m.id === 'seq')!;
    assert.deepEqual(seq.ranges, []);
    assert.equal(t.leave('n1'), true);
    assert.equal(t.view().members.length, 1);
  });
});
