/**
 * The replicated ordering log and the leader's lease against a real nats-server with JetStream
 * (one server, R1): a deposed leader's append is refused once the new leader's marker is in, a retried
 * append is idempotent, a follower finds where to resume, and a lease that is not renewed passes on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { parseGenesis } from '../../src/ledger/genesis.js';
import { LeaderLease, kvLeaseStore } from '../../src/ledger/lease.js';
import { FencedError, OrderingLog, type LogEntry } from '../../src/ledger/ordering-log.js';
import { keyPairFromLabel } from '../../src/protocol/signing.js';
import { runCli, tempDir, waitFor } from '../testkit/index.js';
import { ensureDevGenesis } from '../../src/ledger/dev-genesis.js';
import { startNatsServer, type NatsServer } from '../testkit/nats.js';

let dir: { path: string; remove(): Promise<void> };
let server: NatsServer;
const conns: NatsConnection[] = [];
const genesis = parseGenesis({ network: 'ordering-log-test', accounts: [{ address: keyPairFromLabel('g').address, balance: '1' }] });

async function open(): Promise<OrderingLog> {
  const nc = await connect({ servers: server.url });
  conns.push(nc);
  return OrderingLog.open(nc, genesis, { replicas: 1, requestTimeoutMs: 2000 });
}

before(async () => {
  dir = await tempDir('tpslab-ordering-log-');
  server = await startNatsServer(dir.path, ['-js', '-sd', `${dir.path}/js`]);
});

after(async () => {
  for (const nc of conns) await nc.close().catch(() => {});
  await server.stop();
  await dir.remove();
});

describe('ordering log on JetStream', () => {
  it("refuses a deposed leader's append once the new leader's marker is in (expected last sequence)", async () => {
    const a = await open();
    const b = await open();
    const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
    assert.equal(await a.append('block', 1, bytes('A1'), 0, '1:1'), 1);
    // A retry of the same append (same id) is a duplicate, not a second entry.
    assert.equal(await a.append('block', 1, bytes('A1'), 0, '1:1'), 1);
    // B takes over: its marker expects the last entry it saw.
    assert.equal(await b.append('marker', 1, bytes('{"term":2}'), 1, '2:marker'), 2);
    await assert.rejects(a.append('block', 2, bytes('A2'), 1, '1:2'), FencedError, 'the deposed leader cannot append');
    assert.equal(await b.append('block', 2, bytes('B2'), 2, '2:2'), 3);
    assert.equal(await a.lastSeq(), 3);
    // Where a follower at each height resumes, and what it is given from there.
    assert.equal(await a.seqAfterHeight(0), 1);
    assert.equal(await a.seqAfterHeight(1), 3);
    assert.equal(await a.seqAfterHeight(2), 4);
    const seen: LogEntry[] = [];
    const f = await a.follow(1, (e) => seen.push(e));
    await waitFor('the follower to see 3 entries', () => seen.length >= 3);
    await f.stop();
    assert.deepEqual(seen.map((e) => [e.seq, e.kind, e.height, new TextDecoder().decode(e.data)]), [
      [1, 'block', 1, 'A1'],
      [2, 'marker', 1, '{"term":2}'],
      [3, 'block', 2, 'B2'],
    ]);
  });

  it('a retried append refused as "moved past" by its own stored message is a success, not a fence (stall after a NATS server kill)', async () => {
    // When a server dies, an append can be stored while its answer is lost; the retry then finds the
    // stream past the expected sequence (the duplicate check did not catch it there). A short duplicate
    // window brings the same refusal on one server: the stream is made before OrderingLog binds it.
    const g = parseGenesis({ network: 'ordering-log-retry', accounts: [{ address: keyPairFromLabel('g').address, balance: '1' }] });
    const tag = g.hash.toString('hex').slice(0, 16);
    const nc = await connect({ servers: server.url });
    conns.push(nc);
    await (await jetstreamManager(nc)).streams.add({ name: `TPSLAB_${tag}`, subjects: [`tpslab.${tag}.log`], duplicate_window: 100_000_000 });
    const log = await OrderingLog.open(nc, g, { replicas: 1, requestTimeoutMs: 2000 });
    const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
    assert.equal(await log.append('block', 1, bytes('A1'), 0, '1:1'), 1);
    assert.equal(await log.append('block', 2, bytes('A2'), 1, '1:2'), 2); // pipelined: the next block went in after it
    await new Promise((r) => setTimeout(r, 300)); // past the duplicate window
    assert.equal(await log.append('block', 1, bytes('A1'), 0, '1:1'), 1, 'the retry finds its own message at expected + 1');
    await assert.rejects(log.append('block', 2, bytes('X2'), 1, '2:2'), FencedError, 'another id at expected + 1 is a fence');
    assert.equal(await log.lastSeq(), 2);
  });

  it("two sequencers that both believe they won one term: the second one's marker is fenced, not taken for a duplicate of the first (two leaders of term 7)", async () => {
    // Message ids name the sequencer: with `<term>:marker` for both, the stream's duplicate check answered
    // the second marker with the first one's sequence, and both led (seen after a NATS server kill, when
    // the lease's compare-and-set let two contenders win one revision on nats-server 2.9.10).
    const a = await open();
    const b = await open();
    const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
    const last = await a.lastSeq();
    assert.equal(await a.append('marker', 2, bytes('{"term":7,"id":"A"}'), last, '7:A:marker'), last + 1);
    await assert.rejects(b.append('marker', 2, bytes('{"term":7,"id":"B"}'), last, '7:B:marker'), FencedError);
    assert.equal(await a.lastSeq(), last + 1);
  });

  it('passes the lease to a follower when its holder stops renewing (crash), with the next term', async () => {
    const ncA = await connect({ servers: server.url });
    conns.push(ncA);
    const logA = await OrderingLog.open(ncA, genesis, { replicas: 1, requestTimeoutMs: 500 });
    const logB = await open();
    const events: string[] = [];
    const a = new LeaderLease(kvLeaseStore(logA.kv, 'lease-test'), { id: 'A', url: 'http://a' }, 400, { elected: (t) => events.push(`A elected ${t}`), lost: () => events.push('A lost') });
    const b = new LeaderLease(kvLeaseStore(logB.kv, 'lease-test'), { id: 'B', url: 'http://b' }, 400, { elected: (t) => events.push(`B elected ${t}`), lost: () => events.push('B lost') });
    a.eligible = true;
    a.start();
    await waitFor('A to be elected', () => a.holding, 5000);
    b.eligible = true;
    b.start();
    await waitFor('B to see A lead', () => b.leader?.id === 'A', 5000);
    assert.equal(b.holding, false);
    await ncA.close(); // A can no longer renew, as if it had crashed
    await waitFor('B to take over', () => b.holding, 5000);
    await waitFor('A to know it lost the lease', () => events.includes('A lost'), 5000);
    assert.deepEqual(events.filter((e) => e.includes('elected')), ['A elected 1', 'B elected 2']);
    assert.deepEqual(b.leader, { id: 'B', url: 'http://b', term: 2 });
    await b.close();
    await a.close();
  });

  it('tpslab sequencer --nats with no NATS server there fails with TPSLAB_E_NATS and says what to check', async () => {
    const dev = await ensureDevGenesis(`${dir.path}/cli`);
    const r = await runCli(['sequencer', '--data', `${dir.path}/cli/seq`, '--genesis', dev.genesisPath, '--nats', 'nats://127.0.0.1:1'], 30_000);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /TPSLAB_E_NATS: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  });
});
