/**
 * Reconciliation by digest (docs/harness.md): beacons keep what they saw
 * committed on disk and send only a count and an order-independent digest;
 * the overseer keeps the network's side the same way (commit-store.ts). Equal
 * digests prove equal sets. Unequal ones are bisected: each round asks the
 * beacons, in one message each, for the digests of the ranges still differing,
 * split in two by height and in two by sender; only ranges small enough (at most
 * LEAF_IDS ids on both sides together) ship their ids.
 */
import type { Reconciliation } from '../web/contract.js';
import type { CommitStore } from './commit-store.js';
import type { DigestAnswer, DigestRange } from './messages.js';
import { SetDigest, type DigestJson } from './set-digest.js';

/** A range ships its ids once both sides hold at most this many ids in it. */
export const LEAF_IDS = 256;
const SAMPLE_IDS = 10;

export type AskedRange = DigestRange & { ids: boolean };
export type Cell = DigestAnswer['cells'][number];

export interface DigestBeacon {
  beacon: number;
  total: DigestJson;
  /** One cell per range, in order. */
  ask(ranges: AskedRange[]): Promise<Cell[]>;
}

/** What a reconciliation cost: rounds of questions, messages to beacons, ranges asked, ids shipped. */
export interface BisectionStats {
  rounds: number;
  messages: number;
  rangesAsked: number;
  idsShipped: number;
}

interface Pending {
  r: DigestRange;
  /** Per beacon, how many ids it holds in the parent range (who to ask; 0 never asked again). */
  counts: Map<number, number>;
  ids: boolean;
  /** The network's digest of `r`, when already computed. */
  theirs?: SetDigest;
}

const sumOf = (counts: Map<number, number>): number => [...counts.values()].reduce((a, b) => a + b, 0);

function split(r: DigestRange): DigestRange[] {
  const h = r.heightTo - r.heightFrom > 1 ? [[r.heightFrom, r.heightFrom + Math.floor((r.heightTo - r.heightFrom) / 2)], [r.heightFrom + Math.floor((r.heightTo - r.heightFrom) / 2), r.heightTo]] : [[r.heightFrom, r.heightTo]];
  const s = r.senderTo - r.senderFrom > 1 ? [[r.senderFrom, r.senderFrom + Math.floor((r.senderTo - r.senderFrom) / 2)], [r.senderFrom + Math.floor((r.senderTo - r.senderFrom) / 2), r.senderTo]] : [[r.senderFrom, r.senderTo]];
  return h.flatMap(([heightFrom, heightTo]) => s.map(([senderFrom, senderTo]) => ({ senderFrom: senderFrom!, senderTo: senderTo!, heightFrom: heightFrom!, heightTo: heightTo! })));
}

/**
 * Compares the beacons' committed sets with the network's over `space` (every sender and
 * position of the run). The counts are exact; missingIds/unexpectedIds hold up to 10 of each.
 */
export async function reconcileByDigest(network: CommitStore, beacons: readonly DigestBeacon[], space: DigestRange): Promise<{ reconciliation: Omit<Reconciliation, 'fromHeight' | 'toHeight'>; stats: BisectionStats }> {
  const stats: BisectionStats = { rounds: 0, messages: 0, rangesAsked: 0, idsShipped: 0 };
  let matched = 0;
  let missing = 0;
  let unexpected = 0;
  const missingIds: string[] = [];
  const unexpectedIds: string[] = [];
  const all = new SetDigest();
  for (const b of beacons) all.merge(b.total);
  const net = await network.total();
  if (all.equals(net)) matched = net.count;
  else {
    const counts = new Map(beacons.map((b) => [b.beacon, b.total.count]));
    let frontier: Pending[] = [{ r: space, counts, ids: all.count + net.count <= LEAF_IDS }];
    const byBeacon = new Map(beacons.map((b) => [b.beacon, b]));
    while (frontier.length > 0) {
      stats.rounds++;
      // One question per beacon holding anything in any range of this round.
      const asked = new Map<number, number[]>();
      frontier.forEach((p, k) => {
        for (const [b, c] of p.counts) {
          if (c === 0) continue;
          const ks = asked.get(b);
          if (ks) ks.push(k);
          else asked.set(b, [k]);
        }
      });
      const answers = await Promise.all([...asked].map(async ([b, ks]) => ({ b, ks, cells: await byBeacon.get(b)!.ask(ks.map((k) => ({ ...frontier[k]!.r, ids: frontier[k]!.ids }))) })));
      stats.messages += asked.size;
      const cells = frontier.map(() => ({ digest: new SetDigest(), counts: new Map<number, number>(), ids: new Set<string>() }));
      for (const { b, ks, cells: got } of answers) {
        stats.rangesAsked += ks.length;
        ks.forEach((k, n) => {
          const cell = got[n]!;
          const c = cells[k]!;
          c.digest.merge(cell);
          c.counts.set(b, cell.count);
          for (const id of cell.ids ?? []) c.ids.add(id);
          stats.idsShipped += cell.ids?.length ?? 0;
        });
      }
      // Ids a beacon holds outside the positions read from the network are missing from it.
      if (stats.rounds === 1) missing += all.count - cells[0]!.digest.count;
      const next: Pending[] = [];
      frontier.forEach((p, k) => {
        const mine = cells[k]!;
        const theirs = p.theirs ?? network.digest(p.r);
        if (mine.digest.equals(theirs)) return void (matched += theirs.count);
        if (mine.digest.count === 0) {
          unexpected += theirs.count;
          if (unexpectedIds.length < SAMPLE_IDS) unexpectedIds.push(...network.ids(p.r, SAMPLE_IDS - unexpectedIds.length));
          return;
        }
        if (p.ids) {
          const netIds = new Set(network.ids(p.r));
          for (const id of mine.ids) {
            if (netIds.has(id)) {
              matched++;
              continue;
            }
            missing++;
            if (missingIds.length < SAMPLE_IDS) missingIds.push(id);
          }
          for (const id of netIds) {
            if (mine.ids.has(id)) continue;
            unexpected++;
            if (unexpectedIds.length < SAMPLE_IDS) unexpectedIds.push(id);
          }
          return;
        }
        if (theirs.count === 0 && mine.digest.count > LEAF_IDS) {
          // The network has nothing here and the beacons much: all missing; naming a few would cost more rounds.
          missing += mine.digest.count;
          return;
        }
        const unsplittable = p.r.senderTo - p.r.senderFrom <= 1 && p.r.heightTo - p.r.heightFrom <= 1;
        if (unsplittable || mine.digest.count + theirs.count <= LEAF_IDS) return void next.push({ r: p.r, counts: mine.counts, ids: true, theirs });
        for (const r of split(p.r)) {
          const d = network.digest(r);
          next.push({ r, counts: mine.counts, ids: sumOf(mine.counts) + d.count <= LEAF_IDS, theirs: d });
        }
      });
      frontier = next;
    }
  }
  const reconciliation = { networkCommitted: net.count, beaconCommitted: matched + missing, matched, missing, unexpected, missingIds, unexpectedIds };
  return { reconciliation, stats };
}
