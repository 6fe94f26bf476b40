// Reconciliation by digest on the real embedded network: one committed transaction is hidden
// from a beacon (its connector never tells it), so the beacon's digest differs from the
// network's, and bisection by height and sender names that transaction's exact id.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ConfirmSink, Cursor, TargetConnector, VisitCommitted } from '../../src/connectors/contract.js';
import { createBeacon } from '../../src/harness/beacon-process.js';
import type { Beacon } from '../../src/harness/beacon.js';
import type { Fleet, FleetEvents } from '../../src/harness/fleet.js';
import { parseBeaconMessage, parseOverseerMessage, type Assign, type BeaconMessage, type OverseerMessage } from '../../src/harness/messages.js';
import { runScenario } from '../../src/harness/overseer.js';
import { validateScenario } from '../../src/harness/scenario.js';
import { tempDir } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-reconcile-');
});
after(async () => {
  await dir.remove();
});

/**
 * Beacons in this process, every message validated both ways as over IPC; beacon 0's
 * connector drops the commit of its sixth transaction (`hidden` gets its id).
 */
class HidingFleet implements Fleet {
  readonly beacons = new Map<number, Beacon>();
  hidden: string | undefined;
  /** Bytes of every message each beacon sent, as JSON (what would cross the wire). */
  readonly bytes = new Map<number, number>();

  constructor(private readonly events: FleetEvents) {}

  launch(assigns: readonly Assign[]): void {
    for (const a of assigns) {
      const send = (m: BeaconMessage): void => {
        this.bytes.set(a.beacon, (this.bytes.get(a.beacon) ?? 0) + Buffer.byteLength(JSON.stringify(m)));
        this.events.message(parseBeaconMessage(structuredClone(m)));
      };
      const b = createBeacon(parseOverseerMessage(a) as Assign, send);
      if (a.beacon === 0) {
        const confirm = b.connector.confirm.bind(b.connector);
        b.connector.confirm = (sink, pending) =>
          confirm(
            {
              ...sink,
              committed: (id, position, atMs) => {
                // The stream tells every beacon every commit: hide one of this beacon's own (its 6th, pre-signed).
                if (id !== b.txs.id[5]) return sink.committed(id, position, atMs);
                this.hidden = id;
              },
            } satisfies ConfirmSink,
            pending,
          );
      }
      this.beacons.set(a.beacon, b);
      b.prepare().catch((err: unknown) => this.events.failure(err as never));
    }
  }

  broadcast(m: OverseerMessage): void {
    for (const k of this.beacons.keys()) this.send(k, m);
  }

  send(beacon: number, raw: OverseerMessage): void {
    const m = parseOverseerMessage(structuredClone(raw));
    const b = this.beacons.get(beacon)!;
    if (m.type === 'start') b.start(m.atMs);
    else if (m.type === 'stop') void b.stop();
    else if (m.type === 'digest-query') setImmediate(() => this.events.message(parseBeaconMessage(b.answer(m))));
  }

  close(): void {
    for (const b of this.beacons.values()) void b.stop().then(() => b.release());
  }
}

test('one committed transaction hidden from a beacon: bisection names its exact id, and no beacon ships its ids', async (t) => {
  const s = validateScenario({
    name: 'hidden', target: { kind: 'tpslab', nodes: 1 }, accounts: { count: 200 }, beacons: { count: 2 }, startDelayMs: 300,
    load: { stages: [{ kind: 'constant', ratePerSec: 300, durationSec: 3 }] },
    confirmation: { timeoutMs: 3000 },
    results: { db: join(dir.path, 'hidden.db') },
  }, 'test');
  let fleet: HidingFleet | undefined;
  const logs: string[] = [];
  const r = await runScenario(s, { log: (l) => logs.push(l) }, { fleet: (ev) => (fleet = new HidingFleet(ev)) });
  const rec = r.summary.reconciliation!;
  assert.ok(fleet?.hidden, 'a commit was hidden');
  assert.equal(r.summary.sent, 900);
  assert.equal(r.summary.committed, 899, 'the beacon did not see the hidden commit');
  assert.equal(r.summary.lost, 1, 'so it counts it lost');
  assert.deepEqual(rec.unexpectedIds, [fleet.hidden], 'bisection names the hidden transaction');
  assert.deepEqual([rec.networkCommitted, rec.beaconCommitted, rec.matched, rec.missing, rec.unexpected], [900, 899, 899, 0, 1]);
  assert.match(logs.join('\n'), /reconciled by digest and bisection: \d+ rounds, \d+ questions to beacons, \d+ ranges asked, (\d+) ids shipped/);
  t.diagnostic(logs.find((l) => l.startsWith('reconciled by digest'))!);
  t.diagnostic(`bytes sent per beacon over the run (every message): ${[...fleet.bytes.values()].join(', ')}`);
  const shipped = Number(/(\d+) ids shipped/.exec(logs.join('\n'))![1]);
  assert.ok(shipped < 450, `only leaf ranges ship ids (${shipped} of 899)`);
  assert.equal(r.status, 'passed');
});

test('over IPC with real beacon processes: a committed id hidden from the network\'s side is named missing, asked of the beacons that hold it', async (t) => {
  const s = validateScenario({
    name: 'hidden-ipc', target: { kind: 'tpslab', nodes: 1 }, accounts: { count: 100 }, beacons: { count: 2 }, startDelayMs: 300,
    load: { stages: [{ kind: 'constant', ratePerSec: 200, durationSec: 2 }] },
    results: { db: join(dir.path, 'hidden-ipc.db') },
  }, 'test');
  let hidden: string | undefined;
  const hide = (inner: TargetConnector): TargetConnector =>
    new Proxy(inner, {
      get: (target, prop, recv) => {
        if (prop === 'visitCommitted') {
          return (from: Cursor, visit: VisitCommitted) =>
            target.visitCommitted!(from, (id, position, sender) => {
              hidden ??= id;
              if (id !== hidden) visit(id, position, sender);
            });
        }
        const v = Reflect.get(target, prop, recv) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  const logs: string[] = [];
  const r = await runScenario(s, { log: (l) => logs.push(l) }, { target: hide });
  const rec = r.summary.reconciliation!;
  t.diagnostic(logs.find((l) => l.startsWith('reconciled by digest'))!);
  assert.equal(r.summary.committed, 400);
  assert.deepEqual(rec.missingIds, [hidden]);
  assert.deepEqual([rec.networkCommitted, rec.beaconCommitted, rec.matched, rec.missing, rec.unexpected], [399, 400, 399, 1, 0]);
  assert.match(logs.join('\n'), /reconciled by digest and bisection: \d+ rounds/);
});
