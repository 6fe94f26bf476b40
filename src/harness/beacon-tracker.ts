/**
 * A beacon's per-transaction tracking: what happens to each transaction once it is sent (submit
 * answers, confirmations, failures, expiry), the cumulative counts and error codes, and the
 * entries in flight. The beacon (beacon.ts) decides what to send and when; this decides what each
 * answer means. Ledger compaction and the outcomes of dropped entries are beacon-compaction.ts.
 */
import type { Clock } from '../clock.js';
import type { SubmitItem, SubmitResult } from '../connectors/contract.js';
import { TxState, emptyLedger, type Ledger } from './beacon-ledger.js';
import { Compactor, SETTLED_MAX } from './beacon-compaction.js';
import { CommitStore } from './commit-store.js';
import { IntervalRecorder } from './histogram.js';
import { IdIndex } from './id-index.js';
import { LostRepair } from './lost-repair.js';
import type { Assign, Outcome } from './messages.js';
import { SentOrder } from './sent-order.js';

/** The outcome error of a lost transaction whose sender had an earlier one fail for good (its nonce never used). */
export const LOST_BEHIND_FAILED = 'LOST_BEHIND_FAILED';

/** Cumulative; lost = expired − late (a late commit moves a transaction from lost to late, never back in time). */
export interface BeaconCounts {
  sent: number;
  committed: number;
  failed: number;
  failures: number;
  lost: number;
  expired: number;
  late: number;
  retries: number;
}

export class Tracker {
  /** Entries from the oldest unresolved (or not yet dropped) one to what is planned ahead: bounded by what is in flight. */
  readonly txs: Ledger = emptyLedger();
  /** Entries dropped from the ledger's front: ledger entry i is the share's entry base + i. */
  base = 0;
  /** Reassigned work: the first `skip` ledger entries were sent by a previous owner. */
  skip = 0;
  /** When the load started (Date.now() domain): intended times count from it. */
  startMs = 0;
  /** Sourced transactions: a resolved one's bytes are dropped (bounded memory). */
  dropBuilt = false;
  readonly counts: BeaconCounts = { sent: 0, committed: 0, failed: 0, failures: 0, lost: 0, expired: 0, late: 0, retries: 0 };
  readonly errors = new Map<string, number>();
  readonly recorder = new IntervalRecorder();
  /**
   * Id → the entry's index in the share (ledger index + base): compaction renumbers nothing here, and
   * raises its floor to the new base. Filled when something is first looked up by id (`lookup`):
   * entries [indexedTo, pendingTo) have ids not yet in it. Submit answers come in send order, so
   * a network that confirms nothing (or a beacon's first seconds) costs no index work.
   */
  readonly byId = new IdIndex();
  private indexedTo = 0;
  private pendingTo = 0;
  /** Sent and unresolved, in first-send order (≈ intended order), for expiry and polling. */
  readonly sent = new SentOrder();
  inFlight = 0;
  /** Refused for now: ledger index → when to queue it again. */
  retryAt = new Map<number, number>();
  /**
   * Sender → the ordinals (ascending) of its transactions that failed for good and have not committed since: the
   * first one's nonce was never used, so the sender's later ones cannot commit. Those that expire are lost as
   * LOST_BEHIND_FAILED, not bare LOST. All of them are kept, so a late commit of the first still leaves the sender
   * behind the next: one number per failed transaction, as many as `counts.failed` (usually a few per sender; in
   * send order, so adding one is at the end).
   */
  private readonly failedBySender = new Map<number, number[]>();
  /** Reassigned work: commits seen for entries not sent yet (a previous owner sent them). */
  early = new Map<number, [height: number, atMs: number]>();
  /** Lost transactions no node took (refused after their timeout): sent again so their senders' later ones can commit. */
  readonly repair: LostRepair;
  /** What this beacon saw committed (id, sender, height), on local disk: `done` carries only its digest. */
  readonly commits = new CommitStore();
  readonly compactor: Compactor;

  constructor(
    readonly a: Assign,
    private readonly clock: Clock,
    readonly log: (line: string) => void,
    /** Streams outcome rows (of dropped entries) to the overseer. */
    sendOutcomes: (rows: Outcome[]) => void,
    /** Dropped failed or lost entries kept by id, at most (beacon-compaction.ts). */
    settledMax = SETTLED_MAX,
  ) {
    this.repair = new LostRepair(a.confirmation.retries + 1, log, a.confirmation.timeoutMs);
    this.compactor = new Compactor(this, sendOutcomes, log, settledMax);
  }

  /** Ledger entry i is transaction `id`. */
  index(i: number, id: string): void {
    this.txs.id[i] = id;
    const v = this.base + i;
    // Ids are given in ledger order (built ahead, or as sent): normally one more pending entry.
    if (v >= this.indexedTo) this.pendingTo = Math.max(this.pendingTo, v + 1);
    else this.byId.set(id, v);
  }

  /** The share index of the entry with id `id` still in the ledger, if any. */
  lookup(id: string): number | undefined {
    if (this.pendingTo > this.indexedTo) {
      const t = this.txs;
      for (let v = Math.max(this.indexedTo, this.base); v < this.pendingTo; v++) {
        const pending = t.id[v - this.base];
        if (pending !== undefined) this.byId.set(pending, v);
      }
      this.indexedTo = this.pendingTo;
    }
    return this.byId.get(id);
  }

  /** A confirmation from the network, by id. */
  committedById(id: string, height: number, atMs: number): void {
    const i = this.lookup(id);
    if (i !== undefined) this.onCommitted(i - this.base, height, atMs);
    else this.compactor.committed(id, height, atMs);
  }

  /** A failure from the network, by id: final, or transient (`retryAfterMs`: dropped for now, sent again as a refused submit is). */
  failedById(id: string, code: string, retryAfterMs?: number): void {
    const i = this.lookup(id);
    if (i === undefined) {
      if (this.compactor.isLost(id)) this.count(code); // past its timeout it stays lost
      return;
    }
    const k = i - this.base;
    if (retryAfterMs !== undefined) {
      // Already waiting for its resend: the same drop reported again (a duplicate event, a poll answer) changes
      // nothing; acting on it counted the code again and put the resend off (reports coming often enough, for good).
      if (this.txs.state[k] === TxState.Waiting) return;
      const tx = this.txs.built[k];
      if (tx && this.txs.attempts[k]! > 0) return this.onSubmitted(k, { kind: 'retry', code, afterMs: retryAfterMs }, { tx, attempt: this.txs.attempts[k]! });
    }
    this.onFailed(k, code);
  }

  /** Entry i goes out now (attempt `attempt`): the first time, it is counted sent and in flight. */
  markSent(i: number, attempt: number, now: number): void {
    const t = this.txs;
    if (attempt === 1) {
      t.firstSentMs[i] = now;
      this.sent.push(i);
      this.inFlight++;
      this.recorder.recordLag(now - (this.startMs + t.intended[i]!));
      this.counts.sent++;
    } else this.counts.retries++;
    t.attempts[i] = attempt;
    t.state[i] = TxState.InFlight;
  }

  /** Entries [lo, hi), never sent, go out now for the first time: markSent(i, 1, now) for each, as one run. */
  markSentRun(lo: number, hi: number, now: number): void {
    const t = this.txs;
    t.firstSentMs.fill(now, lo, hi);
    t.attempts.fill(1, lo, hi);
    t.state.fill(TxState.InFlight, lo, hi);
    this.sent.pushRun(lo, hi);
    this.inFlight += hi - lo;
    this.counts.sent += hi - lo;
    const intended = t.intended;
    for (let i = lo; i < hi; i++) this.recorder.recordLag(now - (this.startMs + intended[i]!));
  }

  /** Reassigned work: an entry a previous owner sent and the network committed counts as sent and committed, not sent again. */
  adoptEarly(i: number, now: number): boolean {
    if (this.early.size === 0) return false; // the common case: no reassigned work (hot path, per transaction)
    const e = this.early.get(i);
    if (!e || this.txs.attempts[i] !== 0) return false;
    this.early.delete(i);
    this.txs.firstSentMs[i] = Math.min(now, e[1]);
    this.txs.attempts[i] = 1;
    this.txs.state[i] = TxState.InFlight;
    this.sent.push(i);
    this.inFlight++;
    this.counts.sent++;
    this.recorder.recordLag(Math.max(0, this.txs.firstSentMs[i]! - (this.startMs + this.txs.intended[i]!)));
    this.onCommitted(i, e[0], e[1]);
    return true;
  }

  /** Due retries, taken out (they join the send queue). */
  takeDueRetries(now: number, queue: (i: number) => void): void {
    for (const [i, at] of this.retryAt) {
      if (at <= now) {
        this.retryAt.delete(i);
        queue(i);
      }
    }
  }

  onSubmitted(i: number, r: SubmitResult, item: SubmitItem): void {
    // Resolved and dropped from the ledger while its request was out (it expired, then compaction
    // took it): the answer belongs to its settled outcome, never to a ledger index.
    if (i < 0) return this.onDroppedSubmitted(r, item);
    const state = this.txs.state[i];
    // Lost while its request was out, then refused for now: nobody holds it; sent again (lost-repair.ts).
    if (state === TxState.Lost && r.kind === 'retry') {
      this.count(r.code);
      this.repair.add(this.txs.id[i]!, { tx: item.tx, attempt: item.attempt + 1 }, this.clock.now() + r.afterMs);
      this.repair.note(this.txs.id[i]!, `answered ${r.code} after it expired`);
    }
    if (state === TxState.Committed || state === TxState.Failed || state === TxState.Lost) return;
    // accepted: in flight until a confirmation; known: a resend of one the network already has.
    if (r.kind === 'accepted' || r.kind === 'known') return;
    if (r.kind === 'retry' && this.txs.attempts[i]! <= this.a.confirmation.retries) {
      this.count(r.code);
      this.txs.state[i] = TxState.Waiting;
      this.retryAt.set(i, this.clock.now() + r.afterMs);
      return;
    }
    this.onFailed(i, r.code);
  }

  /** The answer for a transaction dropped while its request was out: a lost one refused for now is sent again; what was counted stays. */
  private onDroppedSubmitted(r: SubmitResult, item: SubmitItem): void {
    // As for a lost entry still in the ledger: only a refusal for now means nobody holds it.
    if (r.kind !== 'retry' || !this.compactor.isLost(item.tx.id)) return;
    this.count(r.code);
    this.repair.add(item.tx.id, { tx: item.tx, attempt: item.attempt + 1 }, this.clock.now() + r.afterMs);
    this.repair.note(item.tx.id, `answered ${r.code} after it expired`);
  }

  /** Marks as lost what is unconfirmed `timeoutMs` after its intended time. */
  expire(now: number): void {
    const limit = this.a.confirmation.timeoutMs;
    const t = this.txs;
    const state = t.state;
    let lost = 0;
    this.sent.advance((i) => {
      const s = state[i];
      if (s !== TxState.InFlight && s !== TxState.Waiting) return true;
      if (this.startMs + t.intended[i]! + limit > now) return false;
      // The common loss (sent, no answer from the network, no sender with a failed nonce): onLost's
      // outcome, its counts added once after the walk.
      if (s === TxState.InFlight && t.attempts[i]! > 0 && this.failedBySender.size === 0 && !this.dropBuilt) {
        if (this.retryAt.size > 0) this.retryAt.delete(i);
        state[i] = TxState.Lost;
        t.error[i] = 'LOST';
        lost++;
      } else this.onLost(i);
      return true;
    });
    this.inFlight -= lost;
    this.counts.lost += lost;
    this.counts.expired += lost;
  }

  /** Unresolved transactions first sent before `olderThanMs`, oldest first, for status polling. */
  pollCandidates(olderThanMs: number, max: number): string[] {
    const out: string[] = [];
    if (max <= 0) return out;
    this.sent.scan((i) => {
      if (this.txs.state[i] !== TxState.InFlight) return true;
      if (this.txs.firstSentMs[i]! > olderThanMs) return false;
      out.push(this.txs.id[i]!);
      return out.length < max;
    });
    return out;
  }

  private resolved(i: number): void {
    const s = this.txs.state[i];
    // Only what this beacon sent was counted in flight (a queued, never-sent entry was not).
    if ((s === TxState.InFlight || s === TxState.Waiting) && this.txs.attempts[i]! > 0) this.inFlight--;
    // Resolved, it is never sent again: a sourced transaction's bytes go (bounded memory).
    if (this.dropBuilt) this.txs.built[i] = undefined;
  }

  count(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /**
   * A failed or lost transaction committed after all (still in the ledger, or dropped from it): a failed one no
   * longer holds its sender's later ones back, and a lost one's LOST_BEHIND_FAILED is taken back from the error counts.
   */
  committedAfterAll(status: 'failed' | 'lost', sender: number, ordinal: number, errorCode: string | null | undefined): void {
    if (status === 'lost') {
      if (errorCode === LOST_BEHIND_FAILED) this.errors.set(LOST_BEHIND_FAILED, Math.max(0, (this.errors.get(LOST_BEHIND_FAILED) ?? 0) - 1));
      return;
    }
    const list = this.failedBySender.get(sender);
    const at = list?.indexOf(ordinal) ?? -1;
    if (at < 0) return;
    list!.splice(at, 1);
    if (list!.length === 0) this.failedBySender.delete(sender);
  }

  onCommitted(i: number, height: number, atMs: number): void {
    const s = this.txs.state[i];
    if (s === TxState.Committed) return;
    if (this.txs.attempts[i] === 0) {
      // Not sent by us yet: cannot be ours (same id would need the same bytes), unless a previous owner sent it.
      if (this.skip > 0 && i >= this.skip) this.early.set(i, [height, atMs]);
      return;
    }
    this.resolved(i);
    if (this.repair.held > 0) this.repair.done(this.txs.id[i]!);
    if (s === TxState.Failed) {
      this.counts.failed--;
      this.committedAfterAll('failed', this.txs.sender[i]!, this.txs.ordinal[i]!, this.txs.error[i]);
    }
    if (s === TxState.Lost) {
      this.counts.lost--;
      this.counts.late++;
      this.committedAfterAll('lost', this.txs.sender[i]!, this.txs.ordinal[i]!, this.txs.error[i]);
      this.txs.error[i] = undefined;
    }
    if (this.retryAt.size > 0) this.retryAt.delete(i);
    this.txs.state[i] = TxState.Committed;
    this.txs.committedMs[i] = atMs;
    this.txs.height[i] = height;
    this.commits.add(this.txs.id[i]!, this.txs.sender[i]!, height);
    this.counts.committed++;
    const sent = this.txs.firstSentMs[i] || atMs;
    this.recorder.recordCommit(this.startMs + this.txs.intended[i]!, sent, atMs);
  }

  onFailed(i: number, code: string): void {
    // Not sent by us (a previous owner's, after a reassignment): sending it will learn its fate.
    if (this.txs.attempts[i] === 0) return;
    const s = this.txs.state[i];
    if (s === TxState.Committed || s === TxState.Failed) return;
    // Past its timeout it stays lost (never committed); the failure's code is still counted.
    if (s === TxState.Lost) return this.count(code);
    this.resolved(i);
    if (this.retryAt.size > 0) this.retryAt.delete(i);
    this.txs.state[i] = TxState.Failed;
    this.txs.error[i] = code;
    const sender = this.txs.sender[i]!;
    const ordinal = this.txs.ordinal[i]!;
    const list = this.failedBySender.get(sender);
    if (!list) this.failedBySender.set(sender, [ordinal]);
    else {
      let at = list.length;
      while (at > 0 && list[at - 1]! > ordinal) at--;
      list.splice(at, 0, ordinal);
    }
    this.counts.failed++;
    this.counts.failures++;
    this.count(code);
  }

  private onLost(i: number): void {
    const s = this.txs.state[i];
    if (s !== TxState.InFlight && s !== TxState.Waiting) return;
    // Waiting to be resent: refused for now, so nobody holds it (lost-repair.ts).
    const tx = this.txs.built[i];
    if (s === TxState.Waiting && this.txs.attempts[i]! > 0 && tx) {
      this.repair.add(this.txs.id[i]!, { tx, attempt: this.txs.attempts[i]! + 1 }, this.retryAt.get(i) ?? this.clock.now());
      this.repair.note(this.txs.id[i]!, 'expired waiting for its retry');
    }
    this.resolved(i);
    if (this.retryAt.size > 0) this.retryAt.delete(i);
    this.txs.state[i] = TxState.Lost;
    // Behind a failed nonce of its sender it could never commit: say so (counted with the error codes too).
    const firstFailed = this.failedBySender.size > 0 ? this.failedBySender.get(this.txs.sender[i]!)?.[0] : undefined;
    if (firstFailed !== undefined && firstFailed < this.txs.ordinal[i]!) {
      this.txs.error[i] = LOST_BEHIND_FAILED;
      this.count(LOST_BEHIND_FAILED);
    } else this.txs.error[i] = 'LOST';
    this.counts.lost++;
    this.counts.expired++;
  }
}
