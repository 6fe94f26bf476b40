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
import type { BeaconConnector, BuiltTx, PlannedTx, SubmitItem, SubmitResult } from '../connectors/contract.js';
import { TxState, appendEntry, type Ledger } from './beacon-ledger.js';
import { Tracker } from './beacon-tracker.js';
import type { CommitStore } from './commit-store.js';
import type { Assign, BeaconMessage, DigestAnswer, DigestQuery, Outcome } from './messages.js';
import { SendQueue } from './send-queue.js';
import { PROTOCOL_VERSION } from './messages.js';
import { planCursor, type PlanCursor } from './plan-stream.js';
import { SecondReporter } from './second-reporter.js';
import { SourceReader } from './source-reader.js';
import { NO_ANSWER } from './lost-repair.js';

const MAX_CONCURRENT_REQUESTS = 64;
const TICK_MS = 1;
/** Sourced transactions read ahead of sending, at most (and at most maxInFlight). */
const SOURCE_READ_AHEAD = 8192;
/** Open model: planned entries generated (and, presigning, signed) ahead of the next due one. */
export const PLAN_AHEAD = 8192;
/** Open model: due entries queued at most (more than a tick sends: MAX_CONCURRENT_REQUESTS batches). */
export const QUEUE_AHEAD = 16_384;

export { TxState, type Ledger } from './beacon-ledger.js';
export { COMPACT_MIN } from './beacon-compaction.js';

export class Beacon {
  /** Transactions added per sender so far: senders in this beacon's account range in a typed array (hot path), any other in a Map. */
  private readonly ordinals = new Map<number, number>();
  private readonly rangeOrdinals: Uint32Array;
  /** What `build` passes the connector, refilled for each transaction. */
  private readonly planned: PlannedTx = { index: 0, sender: 0, target: 0, intendedOffsetMs: 0 };
  /** Per-transaction tracking: the ledger, counts, errors, what is in flight (beacon-tracker.ts). */
  private readonly t: Tracker;
  /** Open model: the walk over this beacon's share, and whether it is over. */
  private plan: PlanCursor | undefined;
  private planDone = false;
  private buildAhead = false;
  private nextDue = 0;
  private readonly queue = new SendQueue();
  private requests = 0;
  private stopped = false;
  private startTimer: unknown;
  private readonly reporter: SecondReporter;
  /** The connector's own transactions (a replay), read ahead. */
  private source: SourceReader | undefined;
  /** When the first transaction went out (this beacon's clock); undefined before. */
  firstSendMs: number | undefined;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    readonly a: Assign,
    /** Resolves once the message is on its way (the final `done` is awaited before the beacon ends). */
    private readonly send: (m: BeaconMessage) => Promise<void> | void,
    readonly connector: BeaconConnector,
    private readonly clock: Clock = preciseClock,
  ) {
    // At most 4 MB: a wider range keeps the rest of its senders in the Map.
    this.rangeOrdinals = new Uint32Array(Math.max(0, Math.min(a.accounts.end - a.accounts.start, 1 << 20)));
    this.reporter = new SecondReporter(clock, (second) => this.progress(second));
    this.t = new Tracker(a, clock, (line) => this.log(line), (outcomes: Outcome[]) => void this.send({ v: PROTOCOL_VERSION, type: 'outcomes', beacon: a.beacon, outcomes }));
  }

  /** Entries from the oldest unresolved (or not yet dropped) one to PLAN_AHEAD past the next due: bounded by what is in flight. */
  get txs(): Ledger {
    return this.t.txs;
  }

  /** What this beacon saw committed (id, sender, height), on local disk: `done` carries only its digest. */
  get commits(): CommitStore {
    return this.t.commits;
  }

  private build(i: number): BuiltTx {
    const t = this.t.txs;
    // One object for every call (per transaction on the hot path): the contract says not to keep it.
    const p = this.planned;
    p.index = this.t.base + i;
    p.sender = t.sender[i]!;
    p.target = t.target[i]!;
    p.intendedOffsetMs = t.intended[i]!;
    const built = this.connector.build(p);
    t.built[i] = built;
    this.t.index(i, built.id);
    return built;
  }

  /** Adds transaction i (sender, recipient or topic, intended offset). */
  private addTx(sender: number, target: number, intendedOffsetMs: number): number {
    const r = sender - this.a.accounts.start;
    let ordinal: number;
    if (r >= 0 && r < this.rangeOrdinals.length && Number.isInteger(r)) ordinal = this.rangeOrdinals[r]!++;
    else {
      ordinal = this.ordinals.get(sender) ?? 0;
      this.ordinals.set(sender, ordinal + 1);
    }
    return appendEntry(this.t.txs, sender, target, intendedOffsetMs, ordinal);
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
      this.t.dropBuilt = true;
      await this.source.pull();
    }
    else if (a.mode === 'open') {
      this.plan = planCursor(a);
      // Reassigned work is built in order, like presign: commits of what the previous owner sent are then recognised.
      this.buildAhead = a.sign === 'presign' || this.t.skip > 0;
      this.fill(this.t.skip + PLAN_AHEAD);
      this.nextDue = Math.min(this.t.skip, this.t.txs.size);
      this.queue.startAt(this.nextDue);
    }
    await this.connector.confirm(
      {
        committed: (id, position, atMs) => this.t.committedById(id, position, atMs),
        failed: (id, code, retryAfterMs) => this.t.failedById(id, code, retryAfterMs),
        log: (line) => this.log(line),
      },
      { sentBefore: (ms, max) => this.t.pollCandidates(ms, max) },
    );
    void this.send({ v: PROTOCOL_VERSION, type: 'ready', beacon: a.beacon, txs: this.t.txs.size, prepareMs: this.clock.now() - began });
  }

  /**
   * Reassigned work: the first `n` entries were sent by a previous owner. They are built (so a
   * connector's per-sender nonce order holds) but neither sent nor counted. Call before prepare.
   */
  skipFirst(n: number): void {
    this.t.skip = n;
  }

  private log(line: string): void {
    void this.send({ v: PROTOCOL_VERSION, type: 'log', beacon: this.a.beacon, line });
  }

  /** Starts at the absolute instant `atMs` (Date.now() domain). */
  start(atMs: number): void {
    this.t.startMs = atMs;
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
    const tr = this.t;
    const startMs = tr.startMs;
    if (this.source) this.takeSourced(this.source, now);
    else if (a.mode === 'open') {
      this.fill(this.nextDue + PLAN_AHEAD);
      // Due entries join the queue as a run (they stay Unsent until taken), at most QUEUE_AHEAD
      // queued: far behind its schedule, a beacon lays out what it can send soon, not every due
      // entry (their lag and latency count from their intended times either way).
      const intended = tr.txs.intended;
      const stop = Math.min(tr.txs.size, this.nextDue + Math.max(0, QUEUE_AHEAD - this.queue.length));
      while (this.nextDue < stop && startMs + intended[this.nextDue]! <= now) this.nextDue++;
      this.queue.queueFreshTo(this.nextDue);
    } else {
      // Max mode: keep maxInFlight unconfirmed, round-robin over this beacon's senders, sent now.
      const endMs = startMs + a.maxDurationMs;
      const span = a.accounts.end - a.accounts.start;
      while (now < endMs && tr.inFlight + this.queue.length < a.maxInFlight) {
        const k = tr.txs.size;
        const i = this.addTx(a.accounts.start + (k % span), a.accounts.start + ((k + 1) % span), now - startMs);
        tr.txs.state[i] = TxState.Waiting;
        this.queue.queueFreshTo(i + 1);
      }
    }
    tr.takeDueRetries(now, (i) => this.queue.pushRetry(i));
    const oldest = this.queue.length ? startMs + tr.txs.intended[this.queue.peek()!]! : now;
    while (this.queue.length > 0 && this.requests < MAX_CONCURRENT_REQUESTS && (this.queue.length >= a.batchMax || now - oldest >= a.batchDelayMs || this.nothingMoreSoon(now))) {
      void this.sendBatch(this.queue.take(a.batchMax), now);
    }
    if (tr.repair.size > 0 && this.requests < MAX_CONCURRENT_REQUESTS) void this.sendRepairs(now);
    tr.expire(now);
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
    const tr = this.t;
    const endMs = tr.startMs + a.maxDurationMs;
    for (let s = source.peek(); s && now < endMs && tr.inFlight + this.queue.length < a.maxInFlight; s = source.peek()) {
      if (s.intendedOffsetMs !== undefined && tr.startMs + s.intendedOffsetMs > now) break;
      source.take();
      const i = this.addTx(s.sender, 0, s.intendedOffsetMs ?? now - tr.startMs);
      tr.txs.built[i] = s.tx;
      tr.index(i, s.tx.id);
      tr.txs.state[i] = TxState.Waiting;
      this.queue.queueFreshTo(i + 1);
    }
    void source.pull();
  }

  /** True when no further transaction is due within the batch delay, so waiting would only add latency. */
  private nothingMoreSoon(now: number): boolean {
    if (this.source) {
      const at = this.source.peek()?.intendedOffsetMs;
      return at === undefined || this.t.startMs + at > now + this.a.batchDelayMs;
    }
    if (this.a.mode === 'max') return true;
    // The columns are typed arrays with spare capacity: past `size` they read 0, not undefined.
    if (this.nextDue >= this.t.txs.size) return true;
    return this.t.startMs + this.t.txs.intended[this.nextDue]! > now + this.a.batchDelayMs;
  }

  private async sendBatch(queued: number[], now: number): Promise<void> {
    // Hot path (per transaction): plain loops over the parallel arrays, one item object each.
    const tr = this.t;
    const t = tr.txs;
    const base = tr.base;
    // What is sent is written back over `queued` (and the items into an array of its length): arrays
    // grown by push were reallocated five times each per batch, most of a beacon's garbage with the items.
    const batch = queued;
    const items = new Array<SubmitItem>(queued.length);
    let n = 0;
    if (this.freshRun(queued)) {
      // The common batch: entries never sent, consecutive (the schedule's due run). Built and
      // itemized one by one, marked sent as one run (tr.markSentRun).
      const lo = queued[0]!;
      for (; n < queued.length; n++) items[n] = { tx: t.built[lo + n] ?? this.build(lo + n), attempt: 1 };
      this.firstSendMs ??= now;
      tr.markSentRun(lo, lo + n, now);
    } else for (let q = 0; q < queued.length; q++) {
      const i = queued[q]!;
      // A queued retry may have been resolved meanwhile (committed, failed or lost): never resend it.
      const s = t.state[i];
      if ((s !== TxState.Waiting && s !== TxState.Unsent) || tr.adoptEarly(i, now)) continue;
      const tx = t.built[i] ?? this.build(i);
      const attempt = t.attempts[i]! + 1;
      if (attempt === 1) this.firstSendMs ??= now;
      tr.markSent(i, attempt, now);
      batch[n] = i;
      items[n++] = { tx, attempt };
    }
    if (n === 0) return;
    if (n < queued.length) {
      batch.length = n;
      items.length = n;
    }
    const results = await this.submit(items, true);
    // The ledger may have dropped its resolved front meanwhile: entry i moved to i - shift. An entry
    // that expired while its request was out may be gone (i < shift): onSubmitted takes it by id.
    const shift = tr.base - base;
    for (let k = 0; k < batch.length; k++) {
      const r = results[k] ?? NO_ANSWER;
      // Accepted: in flight until its confirmation, whatever happened to it meanwhile (onSubmitted changes nothing).
      if (r.kind !== 'accepted') tr.onSubmitted(batch[k]! - shift, r, items[k]!);
    }
    this.pump();
  }

  /** Whether `queued` is a run of consecutive entries none of which was ever sent (nor adopted: no reassigned work). */
  private freshRun(queued: readonly number[]): boolean {
    const m = queued.length;
    if (m === 0 || this.t.early.size > 0) return false;
    const lo = queued[0]!;
    if (queued[m - 1] !== lo + m - 1) return false;
    const { state, attempts } = this.t.txs;
    // Every queued index checked, not only the ends: a duplicate and a gap would otherwise pass together.
    for (let q = 0; q < m; q++) {
      const i = lo + q;
      if (queued[q] !== i || state[i] !== TxState.Unsent || attempts[i] !== 0) return false;
    }
    return true;
  }

  /**
   * A request came back: while a whole batch is queued (due, or a retry due), it goes out now
   * instead of at the next tick, so the connector keeps its requests on the wire (with 64 out, a
   * beacon that sent only in its ticks left connections idle for most of each millisecond).
   */
  private pump(): void {
    const a = this.a;
    if (this.stopped || this.queue.length < a.batchMax || this.requests >= MAX_CONCURRENT_REQUESTS) return;
    const now = this.clock.now();
    while (this.queue.length >= a.batchMax && this.requests < MAX_CONCURRENT_REQUESTS) void this.sendBatch(this.queue.take(a.batchMax), now);
  }

  /**
   * One request out (counted against MAX_CONCURRENT_REQUESTS). A connector must answer `retry`
   * for network failures; a throw is its bug: counted (logged if `logThrow`) and retried.
   */
  private async submit(items: readonly SubmitItem[], logThrow: boolean): Promise<readonly SubmitResult[]> {
    this.requests++;
    try {
      return await this.connector.submit(items);
    } catch (err) {
      if (logThrow) this.log(`connector submit failed: ${(err as Error).message}`);
      return items.map(() => NO_ANSWER);
    } finally {
      this.requests--;
    }
  }

  /** Sends due lost-repair transactions again (same bytes); a retryable refusal puts one back, a bounded number of times. */
  private async sendRepairs(now: number): Promise<void> {
    const tr = this.t;
    const due = tr.repair.take(now, this.a.batchMax);
    if (due.length === 0) return;
    tr.counts.retries += due.length;
    const results = await this.submit(due.map(([, item]) => item), false);
    tr.repair.answered(due, results, this.clock.now(), (code) => tr.count(code));
  }

  private finished(): boolean {
    const a = this.a;
    const tr = this.t;
    const over = this.clock.now() >= tr.startMs + a.maxDurationMs;
    const idle = this.queue.length === 0 && tr.retryAt.size === 0 && this.requests === 0 && tr.inFlight === 0 && !tr.repair.busy(this.clock.now());
    if (this.source) return (over || this.source.exhausted) && idle;
    const planned = a.mode === 'open' ? this.planDone && this.nextDue >= tr.txs.size : over;
    return planned && idle;
  }

  /** The progress report of whole second `second` since the start. */
  private progress(second: number): void {
    const snap = this.t.recorder.snapshot();
    void this.send({
      v: PROTOCOL_VERSION,
      type: 'progress',
      beacon: this.a.beacon,
      second,
      ...this.t.counts,
      inFlight: this.t.inFlight,
      errors: Object.fromEntries(this.t.errors),
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
    // Counts, errors and the digest's mark in one tick: a commit arriving while the digest is
    // awaited is in none of them. The hashing thread has followed the commits during the run, so
    // the wait is for its last range only.
    const counts = { ...this.t.counts };
    const errors = Object.fromEntries(this.t.errors);
    const outcomes = this.a.collectOutcomes ? { outcomes: this.t.compactor.outcomes() } : {};
    let sent: Promise<void> | void;
    try {
      const committedDigest = (await this.t.commits.total()).toJson();
      sent = this.send({ v: PROTOCOL_VERSION, type: 'done', beacon: this.a.beacon, ...counts, inFlight: 0, errors, committedDigest, ...outcomes });
    } catch (err) {
      // The ids it saw committed cannot be read back: say so rather than report a digest that is wrong.
      sent = this.send({ v: PROTOCOL_VERSION, type: 'error', beacon: this.a.beacon, code: 'TPSLAB_E_INTERNAL', message: (err as Error).message });
    }
    await Promise.all([sent, this.connector.close()]);
    this.resolveDone();
  }

  /** Generates planned entries until the ledger holds `upTo` (or the plan is over); presigning, builds them. */
  private fill(upTo: number): void {
    const p = this.plan;
    if (!p) return;
    while (!this.planDone && this.t.txs.size < upTo) {
      if (!p.next()) {
        this.planDone = true;
        break;
      }
      const i = this.addTx(p.sender, p.target, p.offsetMs);
      if (this.buildAhead) this.build(i);
    }
  }

  /** Drops the ledger's resolved front once it is long (beacon-compaction.ts); the send queue and schedule move down with it. */
  private compact(): void {
    const k = this.t.compactor.compact();
    if (k === 0) return;
    this.nextDue = Math.max(0, this.nextDue - k);
    this.queue.rebase(k);
  }

  /** Reconciliation: digests of the ranges asked (and the ids of those asked for ids) from what this beacon saw committed. */
  answer(q: DigestQuery): DigestAnswer {
    const commits = this.t.commits;
    const cells = q.ranges.map((r) => ({ ...commits.digest(r).toJson(), ...(r.ids ? { ids: commits.ids(r) } : {}) }));
    return { v: PROTOCOL_VERSION, type: 'digest-answer', beacon: this.a.beacon, query: q.query, cells };
  }

  /** Removes what this beacon keeps on disk; after `done`, once the overseer has no more questions. */
  release(): void {
    this.t.commits.close();
  }

  /** Stops early (overseer abort); reports what it has. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.finish();
  }
}
