/**
 * A beacon's ledger compaction: the resolved (or skipped) front of the ledger is dropped once it
 * is long, so memory follows what is in flight. Committed ids are in the commit store already;
 * failed and lost ones are kept by id (`settled`) so that a later commit still counts; asked-for
 * outcome rows stream to the overseer.
 */
import { TxState, dropPrefix, isResolved, outcomeOf, outcomesOf, shiftIndexKeys } from './beacon-ledger.js';
import type { Tracker } from './beacon-tracker.js';
import type { Outcome } from './messages.js';
import { SettledRows } from './settled-rows.js';

/** The resolved prefix of the ledger is dropped once it is this long and at least half the ledger. */
export const COMPACT_MIN = 16_384;
/** Outcome rows per streamed `outcomes` message. */
const OUTCOME_CHUNK = 10_000;
/**
 * Dropped failed or lost entries kept by id, at most (settled-rows.ts; 58 MB of heap and array
 * buffers measured for 200,000 with 64-hex-digit ids, 50 MB for the Map it replaced). Past it the
 * oldest go first: a network that commits nothing for hours would otherwise grow the beacon with
 * the run. A commit of one that went is not counted (it stays lost; reconciliation names it).
 */
export const SETTLED_MAX = 200_000;

export class Compactor {
  /** The resolved (or skipped) prefix found so far. */
  private scan = 0;
  /** Dropped failed or lost entries by id, oldest first, so a later commit still counts (at most `max`). */
  private readonly settled: SettledRows;

  constructor(
    private readonly tr: Tracker,
    private readonly send: (rows: Outcome[]) => void,
    private readonly log: (line: string) => void = () => {},
    private readonly max = SETTLED_MAX,
  ) {
    this.settled = new SettledRows(max);
  }

  /** Settled entries let go past `max`. */
  get evicted(): number {
    return this.settled.evicted;
  }

  /** Keeps ledger entries [from, to) (failed or lost, each with an id) by id. */
  private settleRun(from: number, to: number): void {
    const before = this.settled.evicted;
    if (this.settled.addRun(this.tr.txs, from, to, this.tr.startMs) > 0 && before === 0) {
      this.log(`more than ${this.max} failed or lost transactions kept: the oldest are let go, and a commit of one of them will not be counted (it stays lost; reconciliation names it)`);
    }
  }

  /**
   * Drops the ledger's resolved (or skipped) front once it is long; returns how many entries
   * went (0: none). The tracker's index holders are renumbered; the caller renumbers its own.
   */
  compact(): number {
    const tr = this.tr;
    const t = tr.txs;
    let k = this.scan;
    while (k < t.size && (k < tr.skip || isResolved(t.state[k]))) k++;
    this.scan = k;
    if (k < COMPACT_MIN || k * 2 < t.size) return 0;
    if (tr.a.collectOutcomes) {
      let rows: Outcome[] = [];
      for (let i = tr.skip; i < k; i++) {
        rows.push(outcomeOf(t, i, tr.startMs));
        if (rows.length >= OUTCOME_CHUNK) rows = this.sendOutcomes(rows);
      }
      this.sendOutcomes(rows);
    }
    // Failed and lost entries with ids are kept by id, in runs (a committed one is in the commit
    // store already: onCommitted); an entry without an id was never built, so never sent.
    const state = t.state;
    const id = t.id;
    for (let i = Math.min(tr.skip, k); i < k; ) {
      if (state[i] === TxState.Committed || id[i] === undefined) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < k && state[j] !== TxState.Committed && id[j] !== undefined) j++;
      this.settleRun(i, j);
      i = j;
    }
    dropPrefix(t, k);
    tr.base += k;
    // The ids of dropped entries name indexes below the new base: gone, at no cost per id.
    tr.byId.floor = tr.base;
    this.scan = 0;
    tr.skip = Math.max(0, tr.skip - k);
    tr.retryAt = shiftIndexKeys(tr.retryAt, k);
    tr.sent.rebase(k);
    tr.early = shiftIndexKeys(tr.early, k);
    return k;
  }

  /** Sends outcome rows (if any) to the overseer; returns a fresh empty list. */
  private sendOutcomes(rows: Outcome[]): Outcome[] {
    if (rows.length > 0) this.send(rows);
    return [];
  }

  /** A dropped entry that was lost (a failure reported for it now is counted, nothing more). */
  isLost(id: string): boolean {
    return this.settled.isLost(id);
  }

  /** A commit of a dropped failed or lost entry: late (or no longer failed), as `onCommitted` counts it. */
  committed(id: string, height: number, atMs: number): void {
    const o = this.settled.take(id);
    if (!o) return;
    const tr = this.tr;
    if (tr.repair.held > 0) tr.repair.done(id);
    if (o.status === 'failed') tr.counts.failed--;
    else {
      tr.counts.lost--;
      tr.counts.late++;
    }
    tr.committedAfterAll(o.status === 'failed' ? 'failed' : 'lost', o.sender, o.nonce, o.errorCode);
    tr.counts.committed++;
    tr.commits.add(id, o.sender, height);
    tr.recorder.recordCommit(o.intendedMs, o.sentMs ?? atMs, atMs);
    if (tr.a.collectOutcomes) this.sendOutcomes([{ ...o, status: 'committed', committedMs: atMs, height, errorCode: o.status === 'lost' ? null : o.errorCode }]);
  }

  /** Outcome rows of what the ledger still holds (the rest streamed as it was dropped). */
  outcomes(): Outcome[] {
    return outcomesOf(this.tr.txs, this.tr.skip, this.tr.startMs);
  }
}
