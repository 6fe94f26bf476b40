/**
 * A beacon: takes its share of the plan, pre-signs it, waits for the start
 * instant, sends every transaction at its intended time (batched), tracks
 * confirmations, retries transient refusals with the same signed bytes, fails
 * over between endpoints, and reports every second. Everything about the
 * network (signing, requests, confirmations) is its connector's.
 *
 * Open model: sending never waits for confirmations. If the target is slow,
 * requests overlap (up to MAX_CONCURRENT_REQUESTS); past that, transactions
 * wait and the wait shows up in schedule lag and in the corrected latency,
 * which is measured from the intended send time.
 *
 * A connector that brings its own transactions (`source()`, a replayed dataset) is pulled
 * lazily instead: a bounded read-ahead, sent as fast as maxInFlight allows or at each
 * transaction's intended offset; a transaction's bytes are dropped once it is resolved.
 */
import { preciseClock, type Clock } from '../clock.js';
import type { BeaconConnector, BuiltTx, SubmitItem, SubmitResult } from '../connectors/contract.js';
import { TxState, appendEntry, dropPrefix, emptyLedger, isResolved, outcomeOf, outcomesOf, shiftIndexKeys, type Ledger } from './beacon-ledger.js';
import { CommitStore } from './commit-store.js';
import { IntervalRecorder } from './histogram.js';
import type { Assign, BeaconMessage, DigestAnswer, DigestQuery, Outcome } from './messages.js';
import { SendQueue } from './send-queue.js';
import { PROTOCOL_VERSION } from './messages.js';
import { planCursor, type PlanCursor } from './plan-stream.js';
import { SecondReporter } from './second-reporter.js';
import { SentOrder } from './sent-order.js';
import { SourceReader } from './source-reader.js';
import { LostRepair } from './lost-repair.js';

const MAX_CONCURRENT_REQUESTS = 64;
const TICK_MS = 1;
/** Sourced transactions read ahead of sending, at most (and at most maxInFlight). */
const SOURCE_READ_AHEAD = 8192;
/** Open model: planned entries generated (and, presigning, signed) ahead of the next due one. */
export const PLAN_AHEAD = 8192;
/** Open model: due entries queued at most (more than a tick sends: MAX_CONCURRENT_REQUESTS batches). */
export const QUEUE_AHEAD = 16_384;
/** The resolved prefix of the ledger is dropped once it is this long and at least half the ledger. */
export const COMPACT_MIN = 16_384;
/** Outcome rows per streamed `outcomes` message. */
const OUTCOME_CHUNK = 10_000;
/** A connector's answer missing for a transaction of the batch: its bug, counted and retried. */
const NO_ANSWER: SubmitResult = Object.freeze({ kind: 'retry', code: 'TPSLAB_E_CONNECTOR', afterMs: 1000 });

export { TxState, type Ledger } from './beacon-ledger.js';

export class Beacon {
  private readonly ordinals = new Map<number, number>();
  /** Entries from the oldest unresolved (or not yet dropped) one to PLAN_AHEAD past the next due: bounded by what is in flight. */
  readonly txs: Ledger = emptyLedger();
  /** Open model: the walk over this beacon's share, and whether it is over. */
  private plan: PlanCursor | undefined;
  private planDone = false;
  private buildAhead = false;
  /** Entries dropped from the ledger's front: ledger entry i is the share's entry base + i. */
  private base = 0;
  /** The resolved (or skipped) prefix found so far. */
  private scan = 0;
  /** Dropped failed or lost entries by id, so a later commit still counts (grows with failures, not with the run). */
  private readonly settled = new Map<string, Outcome>();
  private readonly recorder = new IntervalRecorder();
  private startMs = 0;
  private nextDue = 0;
  private readonly queue = new SendQueue();
  private retryAt = new Map<number, number>();
  private requests = 0;
  private stopped = false;
  private startTimer: unknown;
  private readonly reporter: SecondReporter;
  /** Cumulative; lost = expired − late (a late commit moves a transaction from lost to late, never back in time). */
  private counts = { sent: 0, committed: 0, failed: 0, failures: 0, lost: 0, expired: 0, late: 0, retries: 0 };
  private readonly errors = new Map<string, number>();
  /** Id → the entry's index in the share (ledger index + base): compaction renumbers nothing here. */
  private readonly byId = new Map<string, number>();
  /** Sent and unresolved, in first-send order (≈ intended order), for expiry and polling. */
  private readonly sent = new SentOrder();
  private inFlight = 0;
  /** The connector's own transactions (a replay), read ahead. */
  private source: SourceReader | undefined;
  private skip = 0;
  /** When the first transaction went out (this beacon's clock); undefined before. */
  firstSendMs: number | undefined;
  /** Reassigned work: commits seen for entries not sent yet (a previous owner sent them). */
  private early = new Map<number, [height: number, atMs: number]>();
  /** Lost transactions no node took (refused after their timeout): sent again so their senders' later ones can commit. */
  private readonly repair: LostRepair;
  private repairsNoted = 0;
  /** What this beacon saw committed (id, sender, height), on local disk: `done` carries only its digest. */
  readonly commits = new CommitStore();
  private resolveDone!: () => void;
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    readonly a: Assign,
    /** Resolves once the message is on its way (the final `done` is awaited before the beacon ends). */
    private readonly send: (m: BeaconMessage) => Promise<void> | void,
    readonly connector: BeaconConnector,
    private readonly clock: Clock = preciseClock,
  ) {
    this.reporter = new SecondReporter(clock, (second) => this.progress(second));
    this.repair = new LostRepair(a.confirmation.retries + 1);
  }

  private build(i: number): BuiltTx {
    const t = this.txs;
    const built = this.connector.build({ index: this.base + i, sender: t.sender[i]!, target: t.target[i]!, intendedOffsetMs: t.intended[i]! });
    t.built[i] = built;
    t.id[i] = built.id;
    this.byId.set(built.id, this.base + i);
    return built;
  }

  /** Adds transaction i (sender, recipient or topic, intended offset). */
  private addTx(sender: number, target: number, intendedOffsetMs: number): number {
    const ordinal = this.ordinals.get(sender) ?? 0;
    this.ordinals.set(sender, ordinal + 1);
    return appendEntry(this.txs, sender, target, intendedOffsetMs, ordinal);
  }

  /** Lets the connector prepare (nonces), pre-signs the plan, and starts confirmations. */
  async prepare(): Promise<void> {
    const a = this.a;
    const began = this.clock.now();
    await this.connector.prepare();
    const source = this.connector.source?.();
    if (source) {
      const ahead = Math.min(SOURCE_READ_AHEAD, Math.max(a.batchMax, a.maxInFlight));
      this.source = new SourceReader(source, ahead, (code, message) => void this.send({ v: PROTOCOL_VERSION, type: 'error', beacon: a.beacon, code, message }));
      await this.source.pull();
    }
    else if (a.mode === 'open') {
      this.plan = planCursor(a);
      // Reassigned work is built in order, like presign: commits of what the previous owner sent are then recognised.
      this.buildAhead = a.sign === 'presign' || this.skip > 0;
      this.fill(this.skip + PLAN_AHEAD);
      this.nextDue = Math.min(this.skip, this.txs.intended.length);
      this.queue.startAt(this.nextDue);
    }
    await this.connector.confirm(
      {
        committed: (id, position, atMs) => {
          const i = this.byId.get(id);
          if (i !== undefined) this.onCommitted(i - this.base, position, atMs);
          else if (this.settled.size > 0) this.onSettledCommitted(id, position, atMs);
        },
        failed: (id, code) => {
          const i = this.byId.get(id);
          if (i !== undefined) this.onFailed(i - this.base, code);
          else if (this.settled.get(id)?.status === 'lost') this.count(code); // past its timeout it stays lost
        },
        log: (line) => this.log(line),
      },
      { sentBefore: (ms, max) => this.pollCandidates(ms, max) },
    );
    void this.send({ v: PROTOCOL_VERSION, type: 'ready', beacon: a.beacon, txs: this.txs.intended.length, prepareMs: this.clock.now() - began });
  }

  /**
   * Reassigned work: the first `n` entries were sent by a previous owner. They are built (so a
   * connector's per-sender nonce order holds) but neither sent nor counted. Call before prepare.
   */
  skipFirst(n: number): void {
    this.skip = n;
  }

  private log(line: string): void {
    void this.send({ v: PROTOCOL_VERSION, type: 'log', beacon: this.a.beacon, line });
  }

  /** Starts at the absolute instant `atMs` (Date.now() domain). */
  start(atMs: number): void {
    this.startMs = atMs;
    this.reporter.begin(atMs);
    const wait = Math.max(0, atMs - this.clock.now());
    this.startTimer = this.clock.setTimeout(() => {
      if (this.stopped) return;
      this.reporter.run();
      this.tick();
    }, wait);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const a = this.a;
    if (this.source) this.takeSourced(this.source, now);
    else if (a.mode === 'open') {
      this.fill(this.nextDue + PLAN_AHEAD);
      // Due entries join the queue as a run (they stay Unsent until taken), at most QUEUE_AHEAD
      // queued: far behind its schedule, a beacon lays out what it can send soon, not every due
      // entry (their lag and latency count from their intended times either way).
      const stop = Math.min(this.txs.intended.length, this.nextDue + Math.max(0, QUEUE_AHEAD - this.queue.length));
      while (this.nextDue < stop && this.startMs + this.txs.intended[this.nextDue]! <= now) this.nextDue++;
      this.queue.queueFreshTo(this.nextDue);
    } else {
      // Max mode: keep maxInFlight unconfirmed, round-robin over this beacon's senders, sent now.
      const endMs = this.startMs + a.maxDurationMs;
      const span = a.accounts.end - a.accounts.start;
      while (now < endMs && this.inFlight + this.queue.length < a.maxInFlight) {
        const k = this.txs.intended.length;
        const i = this.addTx(a.accounts.start + (k % span), a.accounts.start + ((k + 1) % span), now - this.startMs);
        this.txs.state[i] = TxState.Waiting;
        this.queue.queueFreshTo(i + 1);
      }
    }
    for (const [i, at] of this.retryAt) {
      if (at <= now) {
        this.retryAt.delete(i);
        this.queue.pushRetry(i);
      }
    }
    const oldest = this.queue.length ? this.startMs + this.txs.intended[this.queue.peek()!]! : now;
    while (this.queue.length > 0 && this.requests < MAX_CONCURRENT_REQUESTS && (this.queue.length >= a.batchMax || now - oldest >= a.batchDelayMs || this.nothingMoreSoon(now))) {
      void this.sendBatch(this.queue.take(a.batchMax), now);
    }
    if (this.repair.size > 0 && this.requests < MAX_CONCURRENT_REQUESTS) void this.sendRepairs(now);
    this.expire(now);
    this.compact();
    if (this.finished()) {
      void this.finish();
      return;
    }
    this.clock.setTimeout(() => this.tick(), TICK_MS);
  }

  /** Source mode: takes what is due (or, without intended offsets, what maxInFlight allows) within the load's duration. */
  private takeSourced(source: SourceReader, now: number): void {
    const a = this.a;
    const endMs = this.startMs + a.maxDurationMs;
    for (let s = source.peek(); s && now < endMs && this.inFlight + this.queue.length < a.maxInFlight; s = source.peek()) {
      if (s.intendedOffsetMs !== undefined && this.startMs + s.intendedOffsetMs > now) break;
      source.take();
      const i = this.addTx(s.sender, 0, s.intendedOffsetMs ?? now - this.startMs);
      this.txs.built[i] = s.tx;
      this.txs.id[i] = s.tx.id;
      this.byId.set(s.tx.id, this.base + i);
      this.txs.state[i] = TxState.Waiting;
      this.queue.queueFreshTo(i + 1);
    }
    void source.pull();
  }

  /** True when no further transaction is due within the batch delay, so waiting would only add latency. */
  private nothingMoreSoon(now: number): boolean {
    if (this.source) {
      const at = this.source.peek()?.intendedOffsetMs;
      return at === undefined || this.startMs + at > now + this.a.batchDelayMs;
    }
    if (this.a.mode === 'max') return true;
    const next = this.txs.intended[this.nextDue];
    return next === undefined || this.startMs + next > now + this.a.batchDelayMs;
  }

  private async sendBatch(queued: number[], now: number): Promise<void> {
    // Hot path (per transaction): plain loops over the parallel arrays, one item object each.
    const t = this.txs;
    const base = this.base;
    const batch: number[] = [];
    const items: SubmitItem[] = [];
    for (const i of queued) {
      // A queued retry may have been resolved meanwhile (committed, failed or lost): never resend it.
      const s = t.state[i];
      if ((s !== TxState.Waiting && s !== TxState.Unsent) || this.adoptEarly(i, now)) continue;
      const tx = t.built[i] ?? this.build(i);
      const attempt = t.attempts[i]! + 1;
      if (attempt === 1) {
        this.firstSendMs ??= now;
        t.firstSentMs[i] = now;
        this.sent.push(i);
        this.inFlight++;
        this.recorder.recordLag(now - (this.startMs + t.intended[i]!));
        this.counts.sent++;
      } else this.counts.retries++;
      t.attempts[i] = attempt;
      t.state[i] = TxState.InFlight;
      batch.push(i);
      items.push({ tx, attempt });
    }
    if (batch.length === 0) return;
    this.requests++;
    let results: readonly SubmitResult[];
    try {
      results = await this.connector.submit(items);
    } catch (err) {
      // A connector must answer `retry` for network failures; a throw is its bug. Count it and retry.
      const code = 'TPSLAB_E_CONNECTOR';
      this.log(`connector submit failed: ${(err as Error).message}`);
      results = items.map(() => ({ kind: 'retry', code, afterMs: 1000 }));
    }
    this.requests--;
    // The ledger may have dropped its resolved front meanwhile: entry i moved to i - shift (an
    // entry in flight is never dropped, so i ≥ shift).
    const shift = this.base - base;
    for (let k = 0; k < batch.length; k++) this.onSubmitted(batch[k]! - shift, results[k] ?? NO_ANSWER, items[k]!);
  }

  /** Logs the first few expired transactions no node took (they are sent again): where a load was held. */
  private noteRepair(id: string, why: string): void {
    if (++this.repairsNoted <= 10) this.log(`transaction ${id} ${why}: no node holds it; sending it again${this.repairsNoted === 10 ? ' (further ones not logged)' : ''}`);
  }

  /** Sends due lost-repair transactions again (same bytes); a retryable refusal puts one back, a bounded number of times. */
  private async sendRepairs(now: number): Promise<void> {
    const due = this.repair.take(now, this.a.batchMax);
    if (due.length === 0) return;
    this.requests++;
    this.counts.retries += due.length;
    let results: readonly SubmitResult[];
    try {
      results = await this.connector.submit(due.map(([, item]) => item));
    } catch {
      results = [];
    }
    this.requests--;
    due.forEach(([id, item], k) => {
      const r = results[k] ?? NO_ANSWER;
      if (r.kind === 'retry' || r.kind === 'rejected') this.count(r.code);
      if (r.kind === 'retry') this.repair.add(id, { tx: item.tx, attempt: item.attempt + 1 }, this.clock.now() + r.afterMs);
    });
  }

  /** Reassigned work: an entry a previous owner sent and the network committed counts as sent and committed, not sent again. */
  private adoptEarly(i: number, now: number): boolean {
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

  private onSubmitted(i: number, r: SubmitResult, item: SubmitItem): void {
    const state = this.txs.state[i];
    // Lost while its request was out, then refused for now: nobody holds it; sent again (lost-repair.ts).
    if (state === TxState.Lost && r.kind === 'retry') {
      this.count(r.code);
      this.repair.add(this.txs.id[i]!, { tx: item.tx, attempt: item.attempt + 1 }, this.clock.now() + r.afterMs);
      this.noteRepair(this.txs.id[i]!, `answered ${r.code} after it expired`);
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

  /** Marks as lost what is unconfirmed `timeoutMs` after its intended time. */
  private expire(now: number): void {
    const limit = this.a.confirmation.timeoutMs;
    this.sent.advance((i) => {
      const s = this.txs.state[i];
      if (s !== TxState.InFlight && s !== TxState.Waiting) return true;
      if (this.startMs + this.txs.intended[i]! + limit > now) return false;
      this.onLost(i);
      return true;
    });
  }

  /** Unresolved transactions first sent before `olderThanMs`, oldest first, for status polling. */
  private pollCandidates(olderThanMs: number, max: number): string[] {
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
    if (this.source) this.txs.built[i] = undefined;
  }

  private count(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  private onCommitted(i: number, height: number, atMs: number): void {
    const s = this.txs.state[i];
    if (s === TxState.Committed) return;
    if (this.txs.attempts[i] === 0) {
      // Not sent by us yet: cannot be ours (same id would need the same bytes), unless a previous owner sent it.
      if (this.skip > 0 && i >= this.skip) this.early.set(i, [height, atMs]);
      return;
    }
    this.resolved(i);
    if (this.repair.size > 0) this.repair.done(this.txs.id[i]!);
    if (s === TxState.Failed) this.counts.failed--;
    if (s === TxState.Lost) {
      this.counts.lost--;
      this.counts.late++;
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

  private onFailed(i: number, code: string): void {
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
      this.noteRepair(this.txs.id[i]!, 'expired waiting for its retry');
    }
    this.resolved(i);
    if (this.retryAt.size > 0) this.retryAt.delete(i);
    this.txs.state[i] = TxState.Lost;
    this.txs.error[i] = 'LOST';
    this.counts.lost++;
    this.counts.expired++;
  }

  private finished(): boolean {
    const a = this.a;
    const over = this.clock.now() >= this.startMs + a.maxDurationMs;
    if (this.source) return (over || this.source.exhausted) && this.queue.length === 0 && this.retryAt.size === 0 && this.requests === 0 && this.inFlight === 0;
    const planned = a.mode === 'open' ? this.planDone && this.nextDue >= this.txs.intended.length : this.clock.now() >= this.startMs + a.maxDurationMs;
    return planned && this.queue.length === 0 && this.retryAt.size === 0 && this.requests === 0 && this.inFlight === 0;
  }

  /** The progress report of whole second `second` since the start. */
  private progress(second: number): void {
    const snap = this.recorder.snapshot();
    void this.send({
      v: PROTOCOL_VERSION,
      type: 'progress',
      beacon: this.a.beacon,
      second,
      ...this.counts,
      inFlight: this.inFlight,
      errors: Object.fromEntries(this.errors),
      corrected: snap.corrected,
      uncorrected: snap.uncorrected,
      lag: snap.lag,
      height: this.connector.position,
    });
  }

  private async finish(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.clearTimeout(this.startTimer);
    this.reporter.stop();
    this.source?.close();
    this.reporter.report();
    const sent = this.send({
      v: PROTOCOL_VERSION,
      type: 'done',
      beacon: this.a.beacon,
      ...this.counts,
      inFlight: 0,
      errors: Object.fromEntries(this.errors),
      committedDigest: this.commits.total.toJson(),
      ...(this.a.collectOutcomes ? { outcomes: this.outcomes() } : {}),
    });
    await Promise.all([sent, this.connector.close()]);
    this.resolveDone();
  }

  /** Generates planned entries until the ledger holds `upTo` (or the plan is over); presigning, builds them. */
  private fill(upTo: number): void {
    const p = this.plan;
    if (!p) return;
    while (!this.planDone && this.txs.intended.length < upTo) {
      if (!p.next()) {
        this.planDone = true;
        break;
      }
      const i = this.addTx(p.sender, p.target, p.offsetMs);
      if (this.buildAhead) this.build(i);
    }
  }

  /**
   * Drops the ledger's resolved (or skipped) front once it is long, so memory follows what is in
   * flight: committed ids are in the commit store already, failed and lost ones join `settled`, and asked-for
   * outcome rows stream to the overseer. Everything holding an entry index is renumbered.
   */
  private compact(): void {
    const t = this.txs;
    let k = this.scan;
    while (k < t.state.length && (k < this.skip || isResolved(t.state[k]))) k++;
    this.scan = k;
    if (k < COMPACT_MIN || k * 2 < t.state.length) return;
    let rows: Outcome[] = [];
    for (let i = 0; i < k; i++) {
      const id = t.id[i];
      if (id !== undefined) this.byId.delete(id);
      if (i < this.skip) continue;
      if (this.a.collectOutcomes) rows.push(outcomeOf(t, i, this.startMs));
      if (rows.length >= OUTCOME_CHUNK) rows = this.sendOutcomes(rows);
      if (id === undefined) continue;
      // A committed one is in the commit store already (onCommitted).
      if (t.state[i] !== TxState.Committed) this.settled.set(id, outcomeOf(t, i, this.startMs));
    }
    this.sendOutcomes(rows);
    dropPrefix(t, k);
    this.base += k;
    this.scan = 0;
    this.skip = Math.max(0, this.skip - k);
    this.nextDue = Math.max(0, this.nextDue - k);
    this.queue.rebase(k);
    this.retryAt = shiftIndexKeys(this.retryAt, k);
    this.sent.rebase(k);
    this.early = shiftIndexKeys(this.early, k);
  }

  /** Sends outcome rows (if any) to the overseer; returns a fresh empty list. */
  private sendOutcomes(rows: Outcome[]): Outcome[] {
    if (rows.length > 0) void this.send({ v: PROTOCOL_VERSION, type: 'outcomes', beacon: this.a.beacon, outcomes: rows });
    return [];
  }

  /** A commit of a dropped failed or lost entry: late (or no longer failed), as `onCommitted` counts it. */
  private onSettledCommitted(id: string, height: number, atMs: number): void {
    const o = this.settled.get(id);
    if (!o) return;
    this.settled.delete(id);
    if (this.repair.size > 0) this.repair.done(id);
    if (o.status === 'failed') this.counts.failed--;
    else {
      this.counts.lost--;
      this.counts.late++;
    }
    this.counts.committed++;
    this.commits.add(id, o.sender, height);
    this.recorder.recordCommit(o.intendedMs, o.sentMs ?? atMs, atMs);
    if (this.a.collectOutcomes) this.sendOutcomes([{ ...o, status: 'committed', committedMs: atMs, height, errorCode: o.status === 'lost' ? null : o.errorCode }]);
  }

  private outcomes(): Outcome[] {
    return outcomesOf(this.txs, this.skip, this.startMs);
  }

  /** Reconciliation: digests of the ranges asked (and the ids of those asked for ids) from what this beacon saw committed. */
  answer(q: DigestQuery): DigestAnswer {
    const cells = q.ranges.map((r) => ({ ...this.commits.digest(r).toJson(), ...(r.ids ? { ids: this.commits.ids(r) } : {}) }));
    return { v: PROTOCOL_VERSION, type: 'digest-answer', beacon: this.a.beacon, query: q.query, cells };
  }

  /** Removes what this beacon keeps on disk; after `done`, once the overseer has no more questions. */
  release(): void {
    this.commits.close();
  }

  /** Stops early (overseer abort); reports what it has. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.finish();
  }
}
