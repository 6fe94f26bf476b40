/**
 * A beacon: takes its share of the plan, pre-signs it, waits for the start
 * instant, sends every transaction at its intended time (batched), tracks
 * confirmations, retries transient refusals with the same signed bytes, fails
 * over between endpoints, and reports every second.
 *
 * Open model: sending never waits for confirmations. If the target is slow,
 * requests overlap (up to MAX_CONCURRENT_REQUESTS); past that, transactions
 * wait and the wait shows up in schedule lag and in the corrected latency,
 * which is measured from the intended send time.
 */
import { performance } from 'node:perf_hooks';
import type { TpslabError } from '../errors.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../protocol/signing.js';
import type { SignedTx, TxBody } from '../protocol/tx.js';
import { BeaconClient, type SubmitOutcome } from './beacon-client.js';
import { Confirmer } from './beacon-confirm.js';
import { IntervalRecorder } from './histogram.js';
import type { Assign, BeaconMessage, Outcome } from './messages.js';
import { PROTOCOL_VERSION } from './messages.js';

/** Wall-clock milliseconds with sub-millisecond resolution, in the Date.now() domain. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

const MAX_CONCURRENT_REQUESTS = 64;
const TICK_MS = 1;

export const enum TxState {
  Unsent = 0,
  Waiting = 1,
  InFlight = 2,
  Committed = 3,
  Failed = 4,
  Lost = 5,
}

/** Per-transaction bookkeeping, in parallel arrays (a beacon may hold millions). */
export interface Ledger {
  intended: number[];
  sender: number[];
  nonce: bigint[];
  bytes: (Buffer | undefined)[];
  id: (string | undefined)[];
  state: TxState[];
  firstSentMs: number[];
  attempts: number[];
  error: (string | undefined)[];
  committedMs: number[];
  height: number[];
}

export class Beacon {
  private keys = new Map<number, KeyPair>();
  private nextNonce = new Map<number, bigint>();
  readonly txs: Ledger = { intended: [], sender: [], nonce: [], bytes: [], id: [], state: [], firstSentMs: [], attempts: [], error: [], committedMs: [], height: [] };
  private readonly recorder = new IntervalRecorder();
  private readonly client: BeaconClient;
  private readonly confirmer: Confirmer;
  private startMs = 0;
  private nextDue = 0;
  private queue: number[] = [];
  private retryAt = new Map<number, number>();
  private requests = 0;
  private stopped = false;
  private reportTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private lastSecond = -1;
  /** Cumulative; lost = expired − late (a late commit moves a transaction from lost to late, never back in time). */
  private counts = { sent: 0, committed: 0, failed: 0, failures: 0, lost: 0, expired: 0, late: 0, retries: 0 };
  private readonly errors = new Map<string, number>();
  private readonly byId = new Map<string, number>();
  /** Sent and unresolved, in first-send order (≈ intended order), for expiry and polling. */
  private sentOrder: number[] = [];
  private sentHead = 0;
  private inFlight = 0;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    readonly a: Assign,
    /** Resolves once the message is on its way (the final `done` is awaited before the beacon ends). */
    private readonly send: (m: BeaconMessage) => Promise<void> | void,
  ) {
    this.client = new BeaconClient(a.endpoints);
    this.confirmer = new Confirmer(a, this.client, {
      lookup: (id) => this.byId.get(id),
      candidates: (olderThanMs, max) => this.pollCandidates(olderThanMs, max),
      committed: (i, height, atMs) => this.onCommitted(i, height, atMs),
      failed: (i, code) => this.onFailed(i, code),
      log: (line) => void this.send({ v: PROTOCOL_VERSION, type: 'log', beacon: a.beacon, line }),
    });
  }

  private key(account: number): KeyPair {
    let k = this.keys.get(account);
    if (!k) this.keys.set(account, (k = keyPairFromLabel(`${this.a.keySeed}:${account}`)));
    return k;
  }

  private body(i: number): TxBody {
    const a = this.a;
    const sender = this.key(this.txs.sender[i]!);
    const common = { nonce: this.txs.nonce[i]!, fee: BigInt(a.workload.fee), deps: [] };
    if (a.workload.kind === 'transfer') {
      const to = this.key(a.targets[i]!).publicKey;
      const amount = BigInt(a.workload.amount);
      return { kind: 'transfer', ...common, inputs: [{ account: sender.publicKey, amount }], outputs: [{ account: to, amount }] };
    }
    const payload = Buffer.alloc(a.workload.payloadBytes, i % 251);
    return { kind: 'message', ...common, from: sender.publicKey, topic: a.workload.topics[a.targets[i]! % a.workload.topics.length]!, payload };
  }

  private sign(i: number): SignedTx {
    const tx = signTx(this.body(i), [this.key(this.txs.sender[i]!)], this.a.network);
    this.txs.bytes[i] = tx.bytes;
    this.txs.id[i] = tx.id.toString('hex');
    this.byId.set(this.txs.id[i]!, i);
    return tx;
  }

  /** Adds transaction i (sender, intended offset) with the sender's next nonce. */
  private addTx(sender: number, intendedOffsetMs: number): number {
    const i = this.txs.intended.length;
    const nonce = this.nextNonce.get(sender) ?? 0n;
    this.nextNonce.set(sender, nonce + 1n);
    const t = this.txs;
    t.intended.push(intendedOffsetMs);
    t.sender.push(sender);
    t.nonce.push(nonce);
    t.bytes.push(undefined);
    t.id.push(undefined);
    t.state.push(TxState.Unsent);
    t.firstSentMs.push(0);
    t.attempts.push(0);
    t.error.push(undefined);
    t.committedMs.push(0);
    t.height.push(0);
    return i;
  }

  /** Learns nonces (unless the accounts are fresh) and pre-signs the plan. */
  async prepare(): Promise<void> {
    const a = this.a;
    const began = nowMs();
    if (!a.freshAccounts) {
      const accounts = Array.from({ length: a.accounts.end - a.accounts.start }, (_, k) => a.accounts.start + k);
      const nonces = await this.client.nonces(accounts.map((acct) => this.key(acct).address));
      accounts.forEach((acct, k) => this.nextNonce.set(acct, nonces[k]!));
    }
    if (a.mode === 'open') {
      for (let i = 0; i < a.offsetsMs.length; i++) this.addTx(a.senders[i]!, a.offsetsMs[i]!);
      if (a.sign === 'presign') for (let i = 0; i < this.txs.intended.length; i++) this.sign(i);
    }
    await this.confirmer.open(a.fromHeight);
    void this.send({ v: PROTOCOL_VERSION, type: 'ready', beacon: a.beacon, txs: this.txs.intended.length, prepareMs: nowMs() - began });
  }

  /** Starts at the absolute instant `atMs` (Date.now() domain). */
  start(atMs: number): void {
    this.startMs = atMs;
    const wait = Math.max(0, atMs - nowMs());
    this.startTimer = setTimeout(() => {
      if (this.stopped) return;
      this.scheduleReport(0);
      this.tick();
    }, wait);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = nowMs();
    const a = this.a;
    if (a.mode === 'open') {
      while (this.nextDue < this.txs.intended.length && this.startMs + this.txs.intended[this.nextDue]! <= now) {
        this.txs.state[this.nextDue] = TxState.Waiting;
        this.queue.push(this.nextDue++);
      }
    } else {
      // Max mode: keep maxInFlight unconfirmed, round-robin over this beacon's senders, sent now.
      const endMs = this.startMs + a.maxDurationMs;
      const span = a.accounts.end - a.accounts.start;
      while (now < endMs && this.inFlight + this.queue.length < a.maxInFlight) {
        const i = this.addTx(a.accounts.start + (this.txs.intended.length % span), now - this.startMs);
        this.txs.state[i] = TxState.Waiting;
        this.queue.push(i);
      }
    }
    for (const [i, at] of this.retryAt) {
      if (at <= now) {
        this.retryAt.delete(i);
        this.queue.push(i);
      }
    }
    const oldest = this.queue.length ? this.startMs + this.txs.intended[this.queue[0]!]! : now;
    while (this.queue.length > 0 && this.requests < MAX_CONCURRENT_REQUESTS && (this.queue.length >= a.batchMax || now - oldest >= a.batchDelayMs || this.nothingMoreSoon(now))) {
      void this.sendBatch(this.queue.splice(0, a.batchMax), now);
    }
    this.expire(now);
    if (this.finished()) {
      void this.finish();
      return;
    }
    setTimeout(() => this.tick(), TICK_MS);
  }

  /** True when no further transaction is due within the batch delay, so waiting would only add latency. */
  private nothingMoreSoon(now: number): boolean {
    if (this.a.mode === 'max') return true;
    const next = this.txs.intended[this.nextDue];
    return next === undefined || this.startMs + next > now + this.a.batchDelayMs;
  }

  private async sendBatch(queued: number[], now: number): Promise<void> {
    // A queued retry may have been resolved meanwhile (committed, failed or lost): never resend it.
    const batch = queued.filter((i) => this.txs.state[i] === TxState.Waiting);
    if (batch.length === 0) return;
    this.requests++;
    const txs: Buffer[] = [];
    for (const i of batch) {
      if (!this.txs.bytes[i]) this.sign(i);
      if (this.txs.attempts[i] === 0) {
        this.txs.firstSentMs[i] = now;
        this.sentOrder.push(i);
        this.inFlight++;
        this.recorder.recordLag(now - (this.startMs + this.txs.intended[i]!));
        this.counts.sent++;
      } else this.counts.retries++;
      this.txs.attempts[i]!++;
      this.txs.state[i] = TxState.InFlight;
      txs.push(this.txs.bytes[i]!);
    }
    const outcomes = await this.client.submit(txs);
    this.requests--;
    batch.forEach((i, k) => this.onSubmitted(i, outcomes[k]!));
  }

  private onSubmitted(i: number, o: SubmitOutcome): void {
    const state = this.txs.state[i];
    if (state === TxState.Committed || state === TxState.Failed || state === TxState.Lost) return;
    if (o.ok) return; // accepted: in flight until the stream (or a poll) confirms
    const e: TpslabError = o.error;
    // Already accepted earlier (a retry after a lost answer): keep waiting for the commit.
    if (this.txs.attempts[i]! > 1 && ['TPSLAB_E_DUPLICATE', 'TPSLAB_E_NONCE_PENDING', 'TPSLAB_E_NONCE_TOO_LOW'].includes(e.code)) return;
    if (e.retryable && this.txs.attempts[i]! <= this.a.confirmation.retries) {
      this.count(e.code);
      const backoff = e.code === 'TPSLAB_E_MEMPOOL_FULL' ? 1000 : Math.min(2000, 100 * 2 ** this.txs.attempts[i]!);
      this.txs.state[i] = TxState.Waiting;
      this.retryAt.set(i, nowMs() + backoff);
      return;
    }
    this.onFailed(i, e.code);
  }

  /** Marks as lost what is unconfirmed `timeoutMs` after its intended time. */
  private expire(now: number): void {
    const limit = this.a.confirmation.timeoutMs;
    while (this.sentHead < this.sentOrder.length) {
      const i = this.sentOrder[this.sentHead]!;
      const s = this.txs.state[i];
      if (s === TxState.InFlight || s === TxState.Waiting) {
        if (this.startMs + this.txs.intended[i]! + limit > now) break;
        this.onLost(i);
      }
      this.sentHead++;
    }
    if (this.sentHead > 65_536 && this.sentHead * 2 > this.sentOrder.length) {
      this.sentOrder = this.sentOrder.slice(this.sentHead);
      this.sentHead = 0;
    }
  }

  /** Unresolved transactions first sent before `olderThanMs`, oldest first, for status polling. */
  private pollCandidates(olderThanMs: number, max: number): [number, string][] {
    const out: [number, string][] = [];
    for (let k = this.sentHead; k < this.sentOrder.length && out.length < max; k++) {
      const i = this.sentOrder[k]!;
      if (this.txs.state[i] !== TxState.InFlight) continue;
      if (this.txs.firstSentMs[i]! > olderThanMs) break;
      out.push([i, this.txs.id[i]!]);
    }
    return out;
  }

  private resolved(i: number): void {
    const s = this.txs.state[i];
    if (s === TxState.InFlight || s === TxState.Waiting) this.inFlight--;
  }

  private count(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  private onCommitted(i: number, height: number, atMs: number): void {
    const s = this.txs.state[i];
    if (s === TxState.Committed) return;
    if (this.txs.attempts[i] === 0) return; // not sent by us yet: cannot be ours (same id would need the same bytes)
    this.resolved(i);
    if (s === TxState.Failed) this.counts.failed--;
    if (s === TxState.Lost) {
      this.counts.lost--;
      this.counts.late++;
      this.txs.error[i] = undefined;
    }
    this.retryAt.delete(i);
    this.txs.state[i] = TxState.Committed;
    this.txs.committedMs[i] = atMs;
    this.txs.height[i] = height;
    this.counts.committed++;
    const sent = this.txs.firstSentMs[i] || atMs;
    this.recorder.recordCommit(this.startMs + this.txs.intended[i]!, sent, atMs);
  }

  private onFailed(i: number, code: string): void {
    const s = this.txs.state[i];
    if (s === TxState.Committed || s === TxState.Failed) return;
    // Past its timeout it stays lost (never committed); the failure's code is still counted.
    if (s === TxState.Lost) return this.count(code);
    this.resolved(i);
    this.retryAt.delete(i);
    this.txs.state[i] = TxState.Failed;
    this.txs.error[i] = code;
    this.counts.failed++;
    this.counts.failures++;
    this.count(code);
  }

  private onLost(i: number): void {
    const s = this.txs.state[i];
    if (s !== TxState.InFlight && s !== TxState.Waiting) return;
    this.resolved(i);
    this.retryAt.delete(i);
    this.txs.state[i] = TxState.Lost;
    this.txs.error[i] = 'LOST';
    this.counts.lost++;
    this.counts.expired++;
  }

  private finished(): boolean {
    const a = this.a;
    const planned = a.mode === 'open' ? this.nextDue >= this.txs.intended.length : nowMs() >= this.startMs + a.maxDurationMs;
    return planned && this.queue.length === 0 && this.retryAt.size === 0 && this.requests === 0 && this.inFlight === 0;
  }

  /**
   * Second k is reported just after its end, at an absolute instant (start + k + 1 s), so a
   * timer firing early or late never merges two seconds into one report.
   */
  private scheduleReport(k: number): void {
    const at = this.startMs + (k + 1) * 1000 + 2;
    this.reportTimer = setTimeout(() => {
      if (this.stopped) return;
      this.report(k);
      this.scheduleReport(Math.max(k + 1, Math.floor((nowMs() - this.startMs) / 1000)));
    }, Math.max(0, at - nowMs()));
  }

  /** Reports second `k` (undefined: the final, partial second). */
  private report(k?: number): void {
    // The final report takes the second it falls in, minus the 2 ms a scheduled report waits,
    // so finishing just before second k's report labels itself k rather than skipping k.
    const second = k ?? Math.max(this.lastSecond + 1, Math.floor((nowMs() - this.startMs - 2) / 1000));
    if (second <= this.lastSecond) return;
    this.lastSecond = second;
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
      height: this.confirmer.height,
    });
  }

  private async finish(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.startTimer) clearTimeout(this.startTimer);
    if (this.reportTimer) clearTimeout(this.reportTimer);
    this.report();
    const committed = this.txs.state.reduce((n, s) => n + (s === TxState.Committed ? 1 : 0), 0);
    const ids = new Uint8Array(committed * 32);
    let k = 0;
    for (let i = 0; i < this.txs.state.length; i++) if (this.txs.state[i] === TxState.Committed) ids.set(Buffer.from(this.txs.id[i]!, 'hex'), 32 * k++);
    const sent = this.send({
      v: PROTOCOL_VERSION,
      type: 'done',
      beacon: this.a.beacon,
      ...this.counts,
      inFlight: 0,
      errors: Object.fromEntries(this.errors),
      committedIds: ids,
      ...(this.a.collectOutcomes ? { outcomes: this.outcomes() } : {}),
    });
    this.confirmer.close();
    await Promise.all([sent, this.client.close()]);
    this.resolveDone();
  }

  private outcomes(): Outcome[] {
    const t = this.txs;
    const status = ['pending', 'pending', 'pending', 'committed', 'failed', 'lost'] as const;
    return t.state.map((s, i) => ({
      id: t.id[i] ?? '',
      sender: t.sender[i]!,
      nonce: Number(t.nonce[i]!),
      intendedMs: this.startMs + t.intended[i]!,
      sentMs: t.firstSentMs[i] || null,
      committedMs: t.committedMs[i] || null,
      status: status[s],
      errorCode: t.error[i] ?? null,
      height: t.height[i] || null,
      attempts: t.attempts[i]!,
    }));
  }

  /** Stops early (overseer abort); reports what it has. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.finish();
  }
}
