/**
 * The connector conformance suite: the same tests, run against every connector
 * over a real network it reaches (as undici runs one cache-store suite against
 * every store). A connector's test file starts its network and calls
 * `connectorConformance` with a fixture; see docs/connectors.md.
 *
 * Each test opens a fresh pair (target side + beacon side) with its own seed,
 * so tests do not share accounts. The destructive ones (stall, endpoint death)
 * run last.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import type { BeaconConnector, Cursor, RunSpec, SubmitResult, TargetConnector } from '../../src/connectors/contract.js';
import { connectorFor } from '../../src/connectors/index.js';
import { assignment } from '../../src/harness/assignment.js';
import { Beacon } from '../../src/harness/beacon.js';
import { LatencyHistogram } from '../../src/harness/histogram.js';
import type { BeaconMessage, DoneMessage } from '../../src/harness/messages.js';
import { waitFor } from '../testkit/index.js';

export interface ConformanceFixture {
  /** The scenario's `target` block for this network. */
  options: unknown;
  /** Accounts the network can send from (0..accounts-1); `accounts` itself is refused. */
  accounts: number;
  /** Freezes the whole network (not its endpoints' sockets) for `ms`, then resumes it. */
  stall(ms: number): Promise<void>;
  /** Kills the process behind endpoint `i` for good. */
  killEndpoint(i: number): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  target: TargetConnector;
  beacon: BeaconConnector;
  start: Cursor;
  committed: Map<string, number>;
  failed: Map<string, string>;
  sent: Map<string, number>;
}

const CONFIRM_TIMEOUT_MS = 20_000;

export function connectorConformance(kind: string, startFixture: () => Promise<ConformanceFixture>): void {
  const def = connectorFor(kind);
  let fx: ConformanceFixture;
  let seed = 100;
  const open: Pair[] = [];

  const run = (): RunSpec => ({
    seed: seed++,
    accounts: { count: fx.accounts, balance: '1000000' },
    workload: { kind: 'transfer', amount: 1, fee: 0, topics: 0, payloadBytes: 0, sign: 'live' },
  });

  const openPair = async (): Promise<Pair> => {
    const options = def.targetSchema.parse(fx.options);
    const target = def.createTarget(options, run(), preciseClock);
    await target.open(() => {});
    await target.provision(() => {}, () => {});
    const start = await target.cursor();
    const config = def.beaconSchema.parse(JSON.parse(JSON.stringify(target.beaconConfig({ beacon: 0, accounts: { start: 0, end: fx.accounts }, endpointOffset: 0, start }))));
    const beacon = def.createBeacon(config, { beacon: 0, clock: preciseClock, confirmation: { method: 'stream', pollIntervalMs: 100 }, log: () => {} });
    const pair: Pair = { target, beacon, start, committed: new Map(), failed: new Map(), sent: new Map() };
    await beacon.prepare();
    await beacon.confirm(
      {
        committed: (id, position) => {
          if (pair.sent.has(id) && !pair.committed.has(id)) pair.committed.set(id, position);
        },
        failed: (id, code) => void pair.failed.set(id, code),
        log: () => {},
      },
      { sentBefore: (ms, max) => [...pair.sent].filter(([id, at]) => at < ms && !pair.committed.has(id) && !pair.failed.has(id)).slice(0, max).map(([id]) => id) },
    );
    open.push(pair);
    return pair;
  };

  const submitted = async (p: Pair, txs: { id: string; payload: unknown }[], attempt = 1): Promise<readonly SubmitResult[]> => {
    for (const tx of txs) if (!p.sent.has(tx.id)) p.sent.set(tx.id, preciseClock.now());
    return p.beacon.submit(txs.map((tx) => ({ tx, attempt })));
  };

  const closePair = async (p: Pair): Promise<void> => {
    open.splice(open.indexOf(p), 1);
    await p.beacon.close();
    await p.target.close();
  };

  describe(`connector conformance: ${kind}`, { concurrency: false }, () => {
    before(async () => {
      fx = await startFixture();
    });
    after(async () => {
      for (const p of [...open]) await closePair(p);
      await fx?.close();
    });

    test('submit and confirm: every accepted transaction is confirmed once, with a position', async () => {
      const p = await openPair();
      const txs = Array.from({ length: 20 }, (_, i) => p.beacon.build({ index: i, sender: i % fx.accounts, target: (i + 1) % fx.accounts, intendedOffsetMs: 0 }));
      assert.equal(new Set(txs.map((t) => t.id)).size, 20, 'ids are distinct');
      const results = await submitted(p, txs);
      assert.deepEqual(results.map((r) => r.kind), txs.map(() => 'accepted'));
      await waitFor('every transaction confirmed', () => p.committed.size === 20, CONFIRM_TIMEOUT_MS);
      assert.equal(p.failed.size, 0);
      for (const pos of p.committed.values()) assert.ok(Number.isInteger(pos) && pos >= 0, `position ${pos}`);
      await closePair(p);
    });

    test('duplicates: the same transaction sent again after it committed is known, not a second commit', async () => {
      const p = await openPair();
      const tx = p.beacon.build({ index: 0, sender: 0, target: 1, intendedOffsetMs: 0 });
      assert.equal((await submitted(p, [tx]))[0]!.kind, 'accepted');
      await waitFor('the transaction confirmed', () => p.committed.has(tx.id), CONFIRM_TIMEOUT_MS);
      const again = await submitted(p, [tx], 2);
      assert.equal(again[0]!.kind, 'known', `a resend of a committed transaction: ${JSON.stringify(again[0])}`);
      if (p.target.capabilities.reconcile) {
        const set = await p.target.committed(p.start);
        assert.equal([...set.ids].filter((id) => id === tx.id).length, 1);
        assert.equal(set.ids.size, 1, 'exactly one transaction from this run committed');
      }
      await closePair(p);
    });

    test('a refused transaction gets a stable code and is never confirmed', async () => {
      const p = await openPair();
      // Account `accounts` was never provisioned: the network must refuse to let it send.
      const tx = p.beacon.build({ index: 0, sender: fx.accounts, target: 0, intendedOffsetMs: 0 });
      const [r] = await submitted(p, [tx]);
      assert.equal(r!.kind, 'rejected', JSON.stringify(r));
      assert.ok(r!.kind === 'rejected' && /^[A-Z][A-Z0-9_]+$/.test(r!.code), `a stable code, got ${JSON.stringify(r)}`);
      const ok = p.beacon.build({ index: 1, sender: 0, target: 1, intendedOffsetMs: 0 });
      await submitted(p, [ok]);
      await waitFor('a later transaction confirmed', () => p.committed.has(ok.id), CONFIRM_TIMEOUT_MS);
      assert.equal(p.committed.has(tx.id), false);
      await closePair(p);
    });

    test('a retry with the same id after a lost answer is accepted or known, and commits once', async () => {
      const p = await openPair();
      const tx = p.beacon.build({ index: 0, sender: 2 % fx.accounts, target: 0, intendedOffsetMs: 0 });
      await submitted(p, [tx]); // the answer is "lost": the harness resends the same transaction
      const [r] = await submitted(p, [tx], 2);
      assert.ok(r!.kind === 'known' || r!.kind === 'accepted', `resend answered ${JSON.stringify(r)}`);
      await waitFor('the transaction confirmed', () => p.committed.has(tx.id), CONFIRM_TIMEOUT_MS);
      if (p.target.capabilities.reconcile) assert.deepEqual([...(await p.target.committed(p.start)).ids], [tx.id]);
      await closePair(p);
    });

    test('exact reconciliation, or a connector that says it cannot reconcile', async () => {
      const p = await openPair();
      const txs = Array.from({ length: 30 }, (_, i) => p.beacon.build({ index: i, sender: i % fx.accounts, target: (i + 3) % fx.accounts, intendedOffsetMs: 0 }));
      await submitted(p, txs);
      await waitFor('every transaction confirmed', () => p.committed.size === 30, CONFIRM_TIMEOUT_MS);
      if (p.target.capabilities.reconcile) {
        const set = await p.target.committed(p.start);
        assert.deepEqual([...set.ids].sort(), txs.map((t) => t.id).sort());
        assert.ok(set.toPosition >= Math.max(...p.committed.values()));
        if (p.target.visitCommitted) {
          // Reconciliation by digest: the same set streamed, each with the position the beacon side confirmed and its sender's number.
          const seen = new Map<string, [number, number]>();
          const range = await p.target.visitCommitted(p.start, (id, position, sender) => void seen.set(id, [position, sender]));
          assert.deepEqual([range.fromPosition, range.toPosition], [set.fromPosition, set.toPosition]);
          assert.deepEqual(new Map(txs.map((t, i) => [t.id, [p.committed.get(t.id), i % fx.accounts]])), seen);
        }
      } else {
        assert.ok(p.target.capabilities.limits.some((l) => /reconcil/i.test(l)), 'the limits say it is not reconciled');
        await assert.rejects(p.target.committed(p.start));
      }
      assert.ok((await p.target.nodes()).length >= 1, 'node rows for the dashboard');
      await closePair(p);
    });

    test('a stalled target is charged to corrected latency', async () => {
      const { done, progress } = await runBeacon(fx, { txs: 60, spanMs: 3000, during: (startMs) => sleepUntil(startMs + 1000).then(() => fx.stall(1000)) });
      assert.equal(done.committed, 60, `all committed (lost ${done.lost}, failed ${done.failed})`);
      const corrected = new LatencyHistogram();
      for (const m of progress) corrected.add(LatencyHistogram.decode(m.corrected));
      assert.ok(corrected.summary().maxMs >= 800, `corrected max ${corrected.summary().maxMs} ms covers the 1 s stall`);
    });

    test('failover: when one endpoint dies, transactions go to another and are confirmed', async () => {
      await fx.killEndpoint(0);
      const { done } = await runBeacon(fx, { txs: 30, spanMs: 1000 });
      assert.equal(done.committed, 30, `all committed after failover (lost ${done.lost}, failed ${done.failed}, errors ${JSON.stringify(done.errors)})`);
    });
  });

  /** Drives a real Beacon (the harness core) over this connector through a short open-model schedule. */
  async function runBeacon(f: ConformanceFixture, o: { txs: number; spanMs: number; during?: (startMs: number) => Promise<void> }): Promise<{ done: DoneMessage; progress: Extract<BeaconMessage, { type: 'progress' }>[] }> {
    const options = def.targetSchema.parse(f.options);
    const target = def.createTarget(options, run(), preciseClock);
    await target.open(() => {});
    await target.provision(() => {}, () => {});
    const start = await target.cursor();
    const config = JSON.parse(JSON.stringify(target.beaconConfig({ beacon: 0, accounts: { start: 0, end: f.accounts }, endpointOffset: 0, start })));
    const assign = assignment({
      runId: 'conformance',
      connector: { kind, config },
      accounts: { start: 0, end: f.accounts },
      offsetsMs: Float64Array.from({ length: o.txs }, (_, i) => (i * o.spanMs) / o.txs),
      senders: Uint32Array.from({ length: o.txs }, (_, i) => i % f.accounts),
      targets: Uint32Array.from({ length: o.txs }, (_, i) => (i + 1) % f.accounts),
      maxInFlight: o.txs,
      batchDelayMs: 5,
      confirmation: { method: 'stream', timeoutMs: CONFIRM_TIMEOUT_MS, retries: 10, pollIntervalMs: 100 },
    });
    const progress: Extract<BeaconMessage, { type: 'progress' }>[] = [];
    let done: DoneMessage | undefined;
    const connector = def.createBeacon(def.beaconSchema.parse(config), { beacon: 0, clock: preciseClock, confirmation: { method: 'stream', pollIntervalMs: 100 }, log: () => {} });
    const beacon = new Beacon(assign, (m) => {
      if (m.type === 'progress') progress.push(m);
      if (m.type === 'done') done = m;
    }, connector);
    try {
      await beacon.prepare();
      const startMs = preciseClock.now() + 200;
      beacon.start(startMs);
      await Promise.all([o.during?.(startMs), beacon.done]);
    } finally {
      await beacon.stop();
      await target.close();
    }
    return { done: done!, progress };
  }
}

function sleepUntil(atMs: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, atMs - preciseClock.now())));
}
