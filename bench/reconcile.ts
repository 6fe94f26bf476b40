/**
 * reconcile: what each beacon ships to reconcile a run of N committed transactions,
 * by digest and bisection (docs/harness.md "Reconciliation") next to shipping every
 * id as `done` used to; and what a commit costs on a beacon's hot path (append to the
 * scratch file) next to keeping the id in an in-memory array, and the digest at the end.
 *
 * Two beacons over 1,000 senders, 200 ids per block, both sides real commit stores on
 * disk; d committed ids hidden from the beacons (d = 0, 1, 10, 100), spread over the run.
 */
import { createHash } from 'node:crypto';
import { CommitStore } from '../src/harness/commit-store.js';
import { reconcileByDigest, type AskedRange, type DigestBeacon } from '../src/harness/reconcile-digest.js';
import type { BenchContext, BenchResult, BenchRow, Benchmark } from './contract.js';

const N = 100_000;
const SENDERS = 1_000;
const PER_BLOCK = 200;
const DIFFERING = [0, 1, 10, 100];

const idOf = (k: number): string => createHash('sha256').update(`bench-tx-${k}`).digest('hex');
const senderOf = (k: number): number => (k * 7919) % SENDERS;
const heightOf = (k: number): number => 1 + Math.floor(k / PER_BLOCK);

async function once(ids: readonly string[], d: number): Promise<{ rows: BenchRow[]; bytesBefore: number; bytesAfter: number }> {
  const network = new CommitStore('tpslab-bench-network-');
  const stores = [new CommitStore('tpslab-bench-beacon-'), new CommitStore('tpslab-bench-beacon-')];
  try {
    const hidden = new Set(Array.from({ length: d }, (_, j) => Math.floor(((j + 0.5) * N) / d)));
    const before = [0, 0];
    for (let k = 0; k < N; k++) {
      const s = senderOf(k);
      network.add(ids[k]!, s, heightOf(k));
      if (hidden.has(k)) continue;
      const b = s < SENDERS / 2 ? 0 : 1;
      stores[b]!.add(ids[k]!, s, heightOf(k));
      before[b]! += Buffer.byteLength(JSON.stringify(ids[k])) + 1; // an element of done's committedIds array
    }
    const totals = await Promise.all(stores.map(async (s) => (await s.total()).toJson()));
    const after = totals.map((t) => Buffer.byteLength(JSON.stringify({ committedDigest: t })));
    const beacons: DigestBeacon[] = stores.map((s, b) => ({
      beacon: b,
      total: totals[b]!,
      ask: async (ranges: AskedRange[]) => {
        const cells = ranges.map((r) => ({ ...s.digest(r).toJson(), ...(r.ids ? { ids: s.ids(r) } : {}) }));
        after[b]! += Buffer.byteLength(JSON.stringify({ v: 2, type: 'digest-answer', beacon: b, query: 0, cells }));
        return cells;
      },
    }));
    const { reconciliation: r, stats } = await reconcileByDigest(network, beacons, { senderFrom: 0, senderTo: SENDERS, heightFrom: 1, heightTo: heightOf(N - 1) + 1 });
    if (r.unexpected !== d || r.missing !== 0 || r.matched !== N - d) throw new Error(`d=${d}: reconciliation found ${r.unexpected} unexpected, ${r.missing} missing, ${r.matched} matched`);
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const rows: BenchRow[] = [
      { metric: `d=${d}: rounds`, value: stats.rounds, unit: 'rounds' },
      { metric: `d=${d}: questions to beacons`, value: stats.messages, unit: 'messages' },
      { metric: `d=${d}: ranges asked`, value: stats.rangesAsked, unit: 'ranges' },
      { metric: `d=${d}: ids shipped (both beacons)`, value: stats.idsShipped, unit: 'ids' },
      { metric: `d=${d}: bytes per beacon, every id in done (before)`, value: Math.round(avg(before)), unit: 'B' },
      { metric: `d=${d}: bytes per beacon, digest + answers`, value: Math.round(avg(after)), unit: 'B' },
    ];
    return { rows, bytesBefore: avg(before), bytesAfter: avg(after) };
  } finally {
    for (const s of [network, ...stores]) s.close();
  }
}

/**
 * µs per commit on the hot path: the commit store's add (ranges of the file go to the hashing
 * thread as it grows), next to pushing the id to an array; then the wait for the digest.
 */
async function hotPath(ids: readonly string[]): Promise<{ storeUs: number; digestMs: number; arrayUs: number; bytesPerId: number }> {
  const s = new CommitStore('tpslab-bench-hot-');
  try {
    let t = process.hrtime.bigint();
    for (let k = 0; k < N; k++) s.add(ids[k]!, senderOf(k), heightOf(k));
    const storeUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
    t = process.hrtime.bigint();
    await s.total();
    const digestMs = Number(process.hrtime.bigint() - t) / 1e6;
    const kept: string[] = [];
    t = process.hrtime.bigint();
    for (let k = 0; k < N; k++) kept.push(ids[k]!);
    const arrayUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
    return { storeUs, digestMs, arrayUs, bytesPerId: s.sizeBytes / N };
  } finally {
    s.close();
  }
}

export const reconcile: Benchmark = {
  name: 'reconcile',
  description: 'bytes a beacon ships to reconcile 100,000 commits by digest and bisection, next to shipping every id; hot-path cost per commit',
  timeoutMs: 300_000,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const ids = Array.from({ length: N }, (_, k) => idOf(k));
    const rows: BenchRow[] = [];
    const ratios = [];
    for (const d of DIFFERING) {
      if (ctx.signal.aborted) break;
      ctx.log(`${N.toLocaleString('en-US')} commits, ${d} hidden from the beacons`);
      const r = await once(ids, d);
      rows.push(...r.rows);
      ratios.push({ label: `d=${d}: bytes per beacon, digest + answers ÷ every id`, value: r.bytesAfter / r.bytesBefore });
    }
    const hot = await hotPath(ids);
    rows.push(
      { metric: 'commit store add (append a record)', value: hot.storeUs, unit: 'µs/commit' },
      { metric: 'array push of the id (before)', value: hot.arrayUs, unit: 'µs/commit' },
      { metric: 'wait for the digest after the last add (the hashing thread finishing)', value: hot.digestMs, unit: 'ms' },
      { metric: 'scratch file', value: hot.bytesPerId, unit: 'B/id' },
    );
    return { rows, ratios, notes: ['the "before" bytes are the committedIds array done used to carry (JSON); the array push does not count the final message'] };
  },
};
