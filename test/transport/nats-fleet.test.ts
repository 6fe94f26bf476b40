// The NATS executor's bookkeeping, with a fake session: jobs per beacon, merged reports,
// reassignment of a missing beacon's unsent work, and its late reports ignored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import type { TpslabError } from '../../src/errors.js';
import { assignment } from '../../src/harness/assignment.js';
import { PROTOCOL_VERSION, type Assign, type BeaconMessage } from '../../src/harness/messages.js';
import { SetDigest } from '../../src/harness/set-digest.js';
import type { WireMessage } from '../../src/transport/nats-messages.js';
import { NatsFleet } from '../../src/transport/nats-fleet.js';
import type { NatsOverseer } from '../../src/transport/nats-overseer.js';

const counts = { retries: 0, inFlight: 0, errors: {} };
function share(beacon: number, start: number, senders: number[]): Assign {
  return assignment({
    beacon, connector: { kind: 'tpslab', config: {} }, accounts: { start, end: start + 4 },
    offsetsMs: Float64Array.from(senders, (_, i) => i * 100), senders: Uint32Array.from(senders), targets: Uint32Array.from(senders),
    maxInFlight: 10, batchDelayMs: 1, confirmation: { method: 'stream', timeoutMs: 1000, retries: 1, pollIntervalMs: 100 },
  });
}
const progress = (sent: number, committed: number, second: number): BeaconMessage => ({ v: PROTOCOL_VERSION, type: 'progress', beacon: 0, second, sent, committed, failed: 0, failures: 0, lost: 0, expired: 0, late: 0, ...counts, corrected: '', uncorrected: '', lag: '', height: 1 });
const done = (sent: number, committed: number, ids: string[]): BeaconMessage => ({ v: PROTOCOL_VERSION, type: 'done', beacon: 0, sent, committed, failed: 0, failures: 0, lost: 0, expired: 0, late: 0, ...counts, committedDigest: SetDigest.of(ids).toJson() });

test('a missing beacon\'s unsent work moves to the others by sender range; its reports stay counted, later ones are ignored', async () => {
  const controls: [string, WireMessage][] = [];
  const logs: string[] = [];
  const session = { o: { log: (l: string) => logs.push(l) }, clock: new ManualClock(), forget: () => {}, control: async (name: string, m: WireMessage) => void controls.push([name, m]) } as unknown as NatsOverseer;
  const events: BeaconMessage[] = [];
  const failures: TpslabError[] = [];
  const fleet = new NatsFleet(session, ['a', 'b', 'c'], { message: (m) => events.push(m), failure: (e) => failures.push(e) });
  fleet.launch([share(0, 0, [0, 1, 2, 3, 0, 1, 2, 3]), share(1, 4, [4, 5]), share(2, 8, [8, 9])]);
  assert.deepEqual(controls.map(([n, m]) => [n, m.type === 'control' ? m.job : m.type]), [['a', 'b0'], ['b', 'b1'], ['c', 'b2']]);
  controls.length = 0;

  fleet.onReport('a', { type: 'report', job: 'b0', msg: progress(3, 2, 0) });
  assert.equal(events.at(-1)!.type, 'progress');
  fleet.onMissing('a', 2100);
  await new Promise((r) => setImmediate(r));
  // Entries 0..2 were reported sent; the rest goes by sender range to b and c, with `skip`.
  const moved = controls.filter(([, m]) => m.type === 'control') as [string, Extract<WireMessage, { type: 'control' }>][];
  assert.deepEqual(moved.map(([n, m]) => [n, m.job, (m.msg as Assign).accounts, m.skip]), [
    ['b', 'b0.r1', { start: 0, end: 2 }, 2],
    ['c', 'b0.r2', { start: 2, end: 4 }, 1],
  ]);
  assert.deepEqual([...(moved[0]![1].msg as Assign).senders], [0, 1, 0, 1]);
  assert.ok(controls.some(([n, m]) => n === 'a' && m.type === 'release'), 'the missing beacon is told to stop');
  assert.match(logs.join('\n'), /beacon a is missing \(silent 2100 ms\); reassigning 1 unfinished job/);
  assert.match(logs.join('\n'), /job b0: 5 unsent transactions of a moved to b, c by sender range/);
  assert.equal(fleet.reassigned[0]!.entries, 5);

  fleet.onReport('a', { type: 'report', job: 'b0', msg: progress(6, 6, 1) }); // late: ignored
  fleet.onReport('b', { type: 'report', job: 'b0.r1', msg: progress(2, 1, 1) });
  const merged = events.at(-1)!;
  assert.ok(merged.type === 'progress' && merged.beacon === 0);
  assert.deepEqual([merged.sent, merged.committed], [3 + 2, 2 + 1], 'the missing beacon\'s last report stays counted');

  fleet.onReport('b', { type: 'report', job: 'b0.r1', msg: done(2, 2, ['x', 'y']) });
  assert.ok(!events.some((m) => m.type === 'done'), 'beacon 0 is done only when every live job of it is');
  fleet.onReport('c', { type: 'report', job: 'b0.r2', msg: done(1, 1, ['z']) });
  const d = events.find((m) => m.type === 'done');
  assert.ok(d && d.type === 'done');
  assert.deepEqual([d.beacon, d.sent, d.committed, d.committedDigest], [0, 6, 5, SetDigest.of(['z', 'y', 'x']).toJson()], 'the jobs\' digests add up to the digest of the union');
  fleet.onReport('b', { type: 'report', job: 'b2', msg: done(0, 0, []) });
  assert.match(logs.join('\n'), /ignored a report from beacon b for job b2, which is not its/);
  assert.deepEqual(failures, []);
});

test('when the last beacon goes missing with work left, the run fails naming it', () => {
  const session = { o: { log: () => {} }, clock: new ManualClock(), forget: () => {}, control: async () => {} } as unknown as NatsOverseer;
  const failures: TpslabError[] = [];
  const fleet = new NatsFleet(session, ['a'], { message: () => {}, failure: (e) => failures.push(e) });
  fleet.launch([share(0, 0, [0, 1])]);
  fleet.onMissing('a', 3000);
  assert.equal(failures.length, 1);
  assert.match(failures[0]!.message, /beacon a is missing and no beacon is left to take over its work/);
});

test('a reconciliation question to a reassigned share goes to each live job; answers add up, and a job whose beacon goes missing stops being waited for', async () => {
  const controls: [string, WireMessage][] = [];
  const session = { o: { log: () => {} }, clock: new ManualClock(), forget: () => {}, control: async (name: string, m: WireMessage) => void controls.push([name, m]) } as unknown as NatsOverseer;
  const events: BeaconMessage[] = [];
  const fleet = new NatsFleet(session, ['a', 'b', 'c'], { message: (m) => events.push(m), failure: () => {} });
  fleet.launch([share(0, 0, [0, 1, 2, 3, 0, 1, 2, 3]), share(1, 4, [4, 5]), share(2, 8, [8, 9])]);
  fleet.onReport('a', { type: 'report', job: 'b0', msg: progress(3, 2, 0) });
  fleet.onMissing('a', 2100);
  await new Promise((r) => setImmediate(r));
  fleet.onReport('b', { type: 'report', job: 'b0.r1', msg: done(2, 2, ['x', 'y']) });
  fleet.onReport('c', { type: 'report', job: 'b0.r2', msg: done(1, 1, ['z']) });
  controls.length = 0;

  const range = { senderFrom: 0, senderTo: 4, heightFrom: 1, heightTo: 9, ids: true };
  fleet.send(0, { v: PROTOCOL_VERSION, type: 'digest-query', query: 7, ranges: [range] });
  assert.deepEqual(controls.map(([n, m]) => [n, m.type === 'control' ? m.job : m.type]), [['b', 'b0.r1'], ['c', 'b0.r2']], 'the live jobs are asked, not the dead one');
  const answer = (ids: string[], query = 7): BeaconMessage => ({ v: PROTOCOL_VERSION, type: 'digest-answer', beacon: 0, query, cells: [{ ...SetDigest.of(ids).toJson(), ids }] });
  fleet.onReport('b', { type: 'report', job: 'b0.r1', msg: answer(['x', 'y']) });
  assert.ok(!events.some((m) => m.type === 'digest-answer'), 'one job answered of two');
  fleet.onReport('c', { type: 'report', job: 'b0.r2', msg: answer(['z']) });
  const a = events.find((m) => m.type === 'digest-answer');
  assert.ok(a && a.type === 'digest-answer');
  assert.deepEqual([a.beacon, a.query, a.cells.length], [0, 7, 1]);
  assert.deepEqual({ count: a.cells[0]!.count, digest: a.cells[0]!.digest }, SetDigest.of(['x', 'y', 'z']).toJson());
  assert.deepEqual(a.cells[0]!.ids!.sort(), ['x', 'y', 'z']);

  fleet.send(0, { v: PROTOCOL_VERSION, type: 'digest-query', query: 8, ranges: [range] });
  fleet.onReport('b', { type: 'report', job: 'b0.r1', msg: answer(['x'], 8) });
  fleet.onMissing('c', 2100);
  const b = events.filter((m) => m.type === 'digest-answer').at(-1)!;
  assert.ok(b.type === 'digest-answer' && b.query === 8, 'answered once c went missing');
  assert.deepEqual(b.cells[0]!.ids, ['x']);
});
