/**
 * One beacon alone over TXS planned transactions (a connector that commits everything at once),
 * in its own process; prints {"txs", "maxRssBytes", "liveHeapMaxBytes", "samples", "ms"} as JSON, where
 * samples are [ms, live heap after a full GC, RSS] once a second. Run by the soak bench:
 *   node dist/bench/lib/beacon-memory-child.js <txs> <ratePerSec>
 * With ARRAYS=1 (or where the plan descriptor does not exist), the share is shipped as arrays,
 * as the overseer did before the beacon generated its share lazily. TPSLAB_MEM_BATCH_MAX (default 500)
 * is the beacon's batch size, with one batch in flight every 5 ms: raise it to pass rates above 100,000/s.
 */
import { preciseClock } from '../../src/clock.js';
import type { BeaconConnector, ConfirmSink, SubmitItem, SubmitResult } from '../../src/connectors/contract.js';
import { Beacon } from '../../src/harness/beacon.js';
import type { Assign } from '../../src/harness/messages.js';
import * as planModule from '../../src/harness/plan.js';
import { defaultScenario } from '../../src/harness/scenario.js';
import { envNumber } from './common.js';

const txs = Number(process.argv[2] ?? 1_000_000);
const ratePerSec = Number(process.argv[3] ?? 50_000);

const base = defaultScenario();
const s = { ...base, beacons: { ...base.beacons, count: 1 }, load: { ...base.load, mode: 'open' as const, arrival: 'uniform' as const, stages: [{ kind: 'constant' as const, ratePerSec, durationSec: txs / ratePerSec }] } };
const described = 'describedPlan' in planModule && !process.env.ARRAYS;
const plan = described
  ? (planModule as unknown as { describedPlan(x: typeof s): planModule.Plan & { descriptor?: unknown } }).describedPlan(s)
  : planModule.planShares(s, await planModule.schedule(s));
const share = plan.shares[0]!;
const assign = {
  v: 2, type: 'assign', runId: 'mem', beacon: 0, connector: { kind: 'fake', config: {} },
  accounts: share.accounts, sign: 'presign', mode: 'open',
  offsetsMs: share.offsetsMs, senders: share.senders, targets: share.targets,
  ...(described ? { plan: (plan as { descriptor?: unknown }).descriptor } : {}),
  maxDurationMs: 0, maxInFlight: 1, batchMax: envNumber('TPSLAB_MEM_BATCH_MAX', 500) || 500, batchDelayMs: 5,
  confirmation: { method: 'stream', timeoutMs: 30_000, retries: 0, pollIntervalMs: 500 }, collectOutcomes: false,
} as unknown as Assign;

let sink: ConfirmSink | undefined;
const connector: BeaconConnector = {
  position: 0,
  prepare: async () => {},
  // About what the tpslab connector keeps per transaction: a 64-hex id (a flat string, as from a hash) and ~200 bytes of signed body.
  build: (tx) => {
    const body = Buffer.alloc(200, tx.index % 251);
    body.writeUInt32BE(tx.index, 0);
    return { id: body.subarray(0, 32).toString('hex'), payload: body };
  },
  submit: async (items: readonly SubmitItem[]): Promise<SubmitResult[]> => {
    queueMicrotask(() => {
      for (const { tx } of items) sink!.committed(tx.id, 1, Date.now());
    });
    return items.map(() => ({ kind: 'accepted' }));
  },
  confirm: async (s2) => {
    sink = s2;
  },
  close: async () => {},
};
const began = performance.now();
let sent = 0;
let committedIds = 0;
/** Heap after a full collection (with --expose-gc), sampled every second during the run: live memory, not V8's slack. */
let liveHeapMaxBytes = 0;
const samples: [number, number, number][] = [];
const gc = (globalThis as { gc?: () => void }).gc;
const sampler = setInterval(() => {
  if (!gc) return;
  gc();
  const m = process.memoryUsage();
  liveHeapMaxBytes = Math.max(liveHeapMaxBytes, m.heapUsed);
  samples.push([Math.round(performance.now() - began), m.heapUsed, m.rss]);
}, 1000);
const b = new Beacon(assign, (m) => {
  if (m.type === 'done') {
    sent = m.sent;
    committedIds = m.committedDigest.count;
  }
}, connector, preciseClock);
await b.prepare();
b.start(Date.now());
await b.done;
clearInterval(sampler);
console.log(JSON.stringify({ txs: sent, committedIds, described, liveHeapMaxBytes, maxRssBytes: process.resourceUsage().maxRSS * 1024, samples, ms: Math.round(performance.now() - began) }));
