// Reconciliation by digest: the set digest, the on-disk commit store, and bisection between two stores.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import type { TargetConnector } from '../../src/connectors/contract.js';
import type { TpslabError } from '../../src/errors.js';
import { CommitStore } from '../../src/harness/commit-store.js';
import { PROTOCOL_VERSION, type DigestRange, type DoneMessage, type OverseerMessage } from '../../src/harness/messages.js';
import { DigestQueries, reconcileRun } from '../../src/harness/reconcile-run.js';
import { LEAF_IDS, reconcileByDigest, type AskedRange, type DigestBeacon } from '../../src/harness/reconcile-digest.js';
import { SetDigest } from '../../src/harness/set-digest.js';

const stores: CommitStore[] = [];
after(() => stores.forEach((s) => s.close()));
const store = (): CommitStore => {
  const s = new CommitStore('tpslab-test-commits-');
  stores.push(s);
  return s;
};
const idOf = (k: number): string => createHash('sha256').update(`tx${k}`).digest('hex');

test('the set digest is the sum of SHA-256 of the ids mod 2^256: order-independent, additive over disjoint sets', () => {
  const ids = Array.from({ length: 50 }, (_, k) => idOf(k));
  const a = SetDigest.of(ids);
  const b = SetDigest.of([...ids].reverse());
  assert.ok(a.equals(b));
  assert.equal(a.count, 50);
  const halves = SetDigest.of(ids.slice(0, 20)).merge(SetDigest.of(ids.slice(20)).toJson());
  assert.deepEqual(halves.toJson(), a.toJson());
  assert.ok(!SetDigest.of(ids.slice(1)).equals(a), 'one id fewer differs');
  // One id: its own hash, as 64 hex digits.
  assert.equal(SetDigest.of(['x']).hex, createHash('sha256').update('x').digest('hex'));
  // The sum wraps at 2^256: the hash of "x" added 2^k times shifts it left by k bits, mod 2^256.
  const x = BigInt(`0x${createHash('sha256').update('x').digest('hex')}`);
  const d = SetDigest.of(['x']);
  for (let k = 0; k < 8; k++) d.merge(d.toJson());
  assert.equal(d.hex, ((x << 8n) & ((1n << 256n) - 1n)).toString(16).padStart(64, '0'));
  assert.equal(new SetDigest().hex, '0'.repeat(64));
});

test('the commit store answers digests and ids of any sender × height range, the same as computing them from the ids', async () => {
  const s = store();
  const rows = Array.from({ length: 10_000 }, (_, k) => ({ id: idOf(k), sender: k % 97, height: 1 + Math.floor(k / 50) }));
  for (const r of rows) s.add(r.id, r.sender, r.height);
  assert.deepEqual((await s.total()).toJson(), SetDigest.of(rows.map((r) => r.id)).toJson());
  const ranges: DigestRange[] = [
    { senderFrom: 0, senderTo: 97, heightFrom: 1, heightTo: 201 },
    { senderFrom: 10, senderTo: 20, heightFrom: 50, heightTo: 60 },
    { senderFrom: 96, senderTo: 97, heightFrom: 200, heightTo: 201 },
    { senderFrom: 0, senderTo: 97, heightFrom: 500, heightTo: 600 },
  ];
  for (const r of ranges) {
    const inside = rows.filter((x) => x.sender >= r.senderFrom && x.sender < r.senderTo && x.height >= r.heightFrom && x.height < r.heightTo).map((x) => x.id);
    assert.deepEqual(s.digest(r).toJson(), SetDigest.of(inside).toJson(), JSON.stringify(r));
    assert.deepEqual(s.ids(r).sort(), inside.sort());
  }
  assert.equal(s.ids(ranges[0]!, 3).length, 3, 'ids up to a limit');
  s.close();
  assert.equal(existsSync(s.dir), false, 'closing removes the scratch directory');
});

test('the commit store hashes on another thread while ids are added: the digest at the end is exact over several ranges', async () => {
  const s = store();
  const ids = Array.from({ length: 40_000 }, (_, k) => idOf(k));
  ids.forEach((id, k) => s.add(id, k % 13, 1 + (k >> 8)));
  // 40,000 records of 80 bytes: ranges of 1 MiB went to the hashing thread before anyone asked for the total.
  assert.ok(s.hashingBytes >= 1 << 20, `handed ${s.hashingBytes} bytes to the hashing thread during the adds`);
  assert.ok(s.hashingBytes < s.sizeBytes, 'the tail is hashed when the total is asked for');
  const first = await s.total();
  assert.deepEqual(first.toJson(), SetDigest.of(ids).toJson());
  assert.equal(s.hashingBytes, s.sizeBytes);
  // More after the total: the next total adds only the new ids.
  s.add('one more', 0, 1_000);
  assert.deepEqual((await s.total()).toJson(), SetDigest.of([...ids, 'one more']).toJson());
});

test('a total is of the ids added before it was asked for: ids added while it is awaited wait for the next', async () => {
  const s = store();
  const ids = Array.from({ length: 20_000 }, (_, k) => idOf(k));
  ids.forEach((id, k) => s.add(id, k % 7, 1 + (k >> 8)));
  const asked = s.total();
  s.add('late', 0, 999);
  assert.deepEqual((await asked).toJson(), SetDigest.of(ids).toJson(), 'the late id is not in the total asked before it');
  assert.deepEqual((await s.total()).toJson(), SetDigest.of([...ids, 'late']).toJson());
  // Closed while a total is awaited: it rejects instead of waiting forever.
  s.add('after', 0, 1_000);
  const pending = s.total();
  s.close();
  await assert.rejects(pending, /closed/);
  await assert.rejects(s.total(), /closed/);
});

/** A beacon over a store, counting what it is asked and what it ships. */
async function beaconOver(beacon: number, s: CommitStore, shipped: { ids: number }): Promise<DigestBeacon> {
  return {
    beacon,
    total: (await s.total()).toJson(),
    ask: async (ranges: AskedRange[]) =>
      ranges.map((r) => {
        const ids = r.ids ? s.ids(r) : undefined;
        shipped.ids += ids?.length ?? 0;
        return { ...s.digest(r).toJson(), ...(ids ? { ids } : {}) };
      }),
  };
}

/** 20,000 committed transactions over 200 senders and 400 heights, split between two beacons by sender range. */
function scenario(): { network: CommitStore; beacons: CommitStore[]; rows: { id: string; sender: number; height: number }[] } {
  const network = store();
  const beacons = [store(), store()];
  const rows = Array.from({ length: 20_000 }, (_, k) => ({ id: idOf(k), sender: (k * 7) % 200, height: 1 + Math.floor(k / 50) }));
  for (const r of rows) network.add(r.id, r.sender, r.height);
  return { network, beacons, rows };
}
const space: DigestRange = { senderFrom: 0, senderTo: 200, heightFrom: 1, heightTo: 401 };

test('equal sets: equal digests, no question asked, every id matched', async () => {
  const { network, beacons, rows } = scenario();
  for (const r of rows) beacons[r.sender < 100 ? 0 : 1]!.add(r.id, r.sender, r.height);
  const shipped = { ids: 0 };
  const { reconciliation, stats } = await reconcileByDigest(network, await Promise.all(beacons.map((s, b) => beaconOver(b, s, shipped))), space);
  assert.deepEqual([reconciliation.matched, reconciliation.missing, reconciliation.unexpected, reconciliation.networkCommitted, reconciliation.beaconCommitted], [20_000, 0, 0, 20_000, 20_000]);
  assert.deepEqual(stats, { rounds: 0, messages: 0, rangesAsked: 0, idsShipped: 0 });
});

test('one committed transaction hidden from a beacon, one it claims the network lacks: bisection names both, shipping few ids', async () => {
  const { network, beacons, rows } = scenario();
  const hidden = rows[12_345]!;
  for (const r of rows) if (r !== hidden) beacons[r.sender < 100 ? 0 : 1]!.add(r.id, r.sender, r.height);
  const phantom = idOf(999_999);
  beacons[0]!.add(phantom, 42, 77);
  const shipped = { ids: 0 };
  const { reconciliation, stats } = await reconcileByDigest(network, await Promise.all(beacons.map((s, b) => beaconOver(b, s, shipped))), space);
  assert.deepEqual(reconciliation.unexpectedIds, [hidden.id]);
  assert.deepEqual(reconciliation.missingIds, [phantom]);
  assert.deepEqual([reconciliation.matched, reconciliation.missing, reconciliation.unexpected], [19_999, 1, 1]);
  assert.equal(reconciliation.beaconCommitted, 20_000);
  assert.ok(stats.idsShipped <= 2 * LEAF_IDS, `at most two leaves of ids shipped (${stats.idsShipped})`);
  assert.equal(stats.idsShipped, shipped.ids);
  assert.ok(stats.rounds >= 2, `bisected (${stats.rounds} rounds)`);
});

test('a beacon that saw nothing: everything in its range is unexpected, counted without shipping ids', async () => {
  const { network, beacons, rows } = scenario();
  for (const r of rows) if (r.sender < 100) beacons[0]!.add(r.id, r.sender, r.height);
  const shipped = { ids: 0 };
  const { reconciliation } = await reconcileByDigest(network, await Promise.all(beacons.map((s, b) => beaconOver(b, s, shipped))), space);
  assert.deepEqual([reconciliation.matched, reconciliation.missing, reconciliation.unexpected], [10_000, 0, 10_000]);
  assert.equal(reconciliation.unexpectedIds.length, 10);
  assert.ok(shipped.ids <= 4 * LEAF_IDS, `few ids shipped (${shipped.ids})`);
});

test('ids a beacon holds outside the positions read from the network count as missing', async () => {
  const { network, beacons, rows } = scenario();
  for (const r of rows) beacons[0]!.add(r.id, r.sender, r.height);
  beacons[0]!.add(idOf(-1), 3, 900);
  const { reconciliation } = await reconcileByDigest(network, [await beaconOver(0, beacons[0]!, { ids: 0 })], space);
  assert.deepEqual([reconciliation.matched, reconciliation.missing, reconciliation.unexpected], [20_000, 1, 0]);
});

test('reconciliation questions: answered by query number, a silent beacon times out on the clock, a failed one rejects at once', async () => {
  const sent: OverseerMessage[] = [];
  const clock = new ManualClock();
  const q = new DigestQueries({ send: (_b, m) => void sent.push(m) }, clock);
  const range = { senderFrom: 0, senderTo: 10, heightFrom: 1, heightTo: 5, ids: false };
  const first = q.ask(3, [range]);
  const second = q.ask(4, [range, range]);
  assert.deepEqual(sent.map((m) => (m.type === 'digest-query' ? [m.query, m.ranges.length] : m.type)), [[0, 1], [1, 2]]);
  const cell = SetDigest.of(['a']).toJson();
  q.onAnswer({ v: PROTOCOL_VERSION, type: 'digest-answer', beacon: 4, query: 1, cells: [cell] });
  await assert.rejects(second, /beacon 4 answered 1 digests for 2 ranges/);
  q.onAnswer({ v: PROTOCOL_VERSION, type: 'digest-answer', beacon: 3, query: 0, cells: [cell] });
  assert.deepEqual(await first, [cell]);
  const silent = q.ask(5, [range]);
  clock.advance(60_000);
  await assert.rejects(silent, (e: TpslabError) => e.code === 'TPSLAB_E_BEACON' && /beacon 5 did not answer a reconciliation question within 60 s/.test(e.message));
  const failed = q.ask(6, [range]);
  q.fail(new Error('beacon 6 exited'));
  await assert.rejects(failed, /beacon 6 exited/);
  assert.equal(clock.pendingTimers, 0, 'no timer left behind');
});

test('a reconciling connector without visitCommitted: each beacon answers one question with all its ids, and the counts are exact', async () => {
  const beaconStore = store();
  for (const id of ['a', 'b', 'c']) beaconStore.add(id, 1, 3);
  const asked: OverseerMessage[] = [];
  const queries: DigestQueries = new DigestQueries({
    send: (beacon, m) => {
      asked.push(m);
      if (m.type !== 'digest-query') return;
      const cells = m.ranges.map((r) => ({ ...beaconStore.digest(r).toJson(), ...(r.ids ? { ids: beaconStore.ids(r) } : {}) }));
      setImmediate(() => queries.onAnswer({ v: PROTOCOL_VERSION, type: 'digest-answer', beacon, query: m.query, cells }));
    },
  }, new ManualClock());
  const target = { committed: async () => ({ fromPosition: 1, toPosition: 4, ids: new Set(['b', 'c', 'd']) }) } as unknown as TargetConnector;
  const done = { beacon: 0, committedDigest: (await beaconStore.total()).toJson() } as DoneMessage;
  const { reconciliation } = await reconcileRun({ target, start: { position: 1 }, done: [done], queries, senderSpace: 10, log: () => {} });
  assert.equal(asked.length, 1);
  assert.deepEqual([reconciliation.matched, reconciliation.missing, reconciliation.unexpected, reconciliation.missingIds, reconciliation.unexpectedIds], [2, 1, 1, ['a'], ['d']]);
});
