/**
 * The mempool: admission, per-sender FIFO by nonce, causal dependency
 * buffering, expiry and capacity. Pure logic over an injected clock; the
 * sequencer drives it.
 *
 * - A sender's transactions are released strictly in nonce order. A nonce
 *   ahead of the next expected one is buffered (up to `maxFutureNonces` ahead).
 * - A transaction whose `deps` are not all committed (or earlier in the block
 *   being built) parks its sender until they are.
 * - Every pending transaction has a deadline (`pendingTtlMs`); when it passes,
 *   the transaction is dropped with NONCE_GAP_EXPIRED (it was waiting for a
 *   missing nonce) or DEPS_EXPIRED (it, or the nonce before it, was waiting
 *   for dependencies). When a transaction fails or is dropped, the ones queued
 *   behind it from the same sender are dropped with PREDECESSOR_FAILED.
 * - At `capacity` pending transactions, admission fails with MEMPOOL_FULL (429).
 * - When a verified transaction is refused at admission (full, too far ahead,
 *   short of funds), the later nonces of its sender cannot run until it is
 *   sent again: those buffered are dropped at once, and those arriving later
 *   are refused until it is, so a burst of refusals does not leave the mempool
 *   full of transactions that wait for nothing. When the refusal was for
 *   capacity both are retryable (dropped with PREDECESSOR_REFUSED, refused with
 *   MEMPOOL_FULL): the sender sends the same transactions again after that
 *   nonce. Otherwise both are PREDECESSOR_FAILED.
 */
import { TpslabError, type ErrorCode } from '../errors.js';
import type { Clock } from '../clock.js';
import { encodeAddress } from '../protocol/address.js';
import { senderOf, type SignedTx } from '../protocol/tx.js';
import { accountKey, type LedgerState, type TxEffect } from './state.js';
import { NonceSlots } from './nonce-slots.js';

export interface MempoolOptions {
  capacity: number;
  maxFutureNonces: number;
  pendingTtlMs: number;
  /** At most this many pending transactions may name dependencies not yet committed. */
  maxWaitingOnDeps: number;
}

/** Refusals that leave a hole in a sender's nonces (the nonce is not used by anything). */
const HOLE_CODES: ReadonlySet<ErrorCode> = new Set(['TPSLAB_E_MEMPOOL_FULL', 'TPSLAB_E_NONCE_TOO_HIGH', 'TPSLAB_E_INSUFFICIENT_FUNDS', 'TPSLAB_E_UNKNOWN_ACCOUNT']);
/** Senders whose refused nonce is remembered at most. */
const MAX_REFUSED_SENDERS = 100_000;

export const DEFAULT_MEMPOOL_OPTIONS: MempoolOptions = {
  capacity: 100_000,
  maxFutureNonces: 256,
  pendingTtlMs: 60_000,
  maxWaitingOnDeps: 20_000,
};

export interface PendingTx {
  tx: SignedTx;
  idKey: string;
  senderKey: string;
  deadlineMs: number;
  /** Admitted with dependencies that were not yet committed. */
  waitsOnDeps: boolean;
  done: boolean;
}

interface SenderQueue {
  key: string;
  next: bigint;
  txs: NonceSlots;
  inReady: boolean;
  /** Dependency id this sender's head waits for, if parked. */
  parkedOn: string | undefined;
}

const NOTHING_DROPPED: readonly Dropped[] = Object.freeze([]);
/**
 * Emptied sender queues kept for reuse, at most: with one pending transaction per sender (the usual
 * case) every admission made a queue and its Map, and every inclusion dropped them.
 */
const MAX_SPARE_QUEUES = 4096;

export interface Dropped {
  pending: PendingTx;
  code: ErrorCode;
  message: string;
}

export interface BuildResult {
  included: SignedTx[];
  effects: TxEffect[];
  failed: Dropped[];
  /**
   * When the included transaction that waited longest became ready to include (admitted with its sender's
   * next nonce and no dependency pending, or released by its predecessor's or dependency's inclusion), on
   * the mempool's clock; undefined when nothing was included. The sequencer's `block_wait` counts from it.
   */
  oldestReadyAtMs: number | undefined;
  /**
   * Why building stopped early: a dependency lookup threw (the transaction index found damaged). What ran
   * before it is in `included` (the state has executed exactly those: seal them); the transaction whose
   * lookup threw is still pending, its sender still first in the ready queue.
   */
  lookupError?: unknown;
}

export class Mempool {
  private readonly senders = new Map<string, SenderQueue>();
  private readonly byId = new Map<string, PendingTx>();
  private ready: string[] = [];
  /** When each entry of `ready` was queued (clock time). */
  private readyAtMs: number[] = [];
  private readyHead = 0;
  private readonly parked = new Map<string, Set<string>>();
  private arrivals: PendingTx[] = [];
  private arrivalsHead = 0;
  /** Entries of `arrivals` after its head that are done (in a block or dropped): compacted away once they dominate. */
  private arrivalsDone = 0;
  private waitingOnDeps = 0;
  /** sender → lowest nonce refused at admission and not sent again since. */
  private readonly refusedAt = new Map<string, { nonce: bigint; code: ErrorCode }>();
  /** Transactions dropped at admission time (successors of a refused one), for the caller to report. */
  private droppedOnAdmit: Dropped[] = [];
  /** Queues of senders with nothing pending, for reuse (`txs` empty); none is in `senders`. */
  private readonly spareQueues: SenderQueue[] = [];

  constructor(
    private readonly opts: MempoolOptions,
    private readonly clock: Clock,
    private readonly state: LedgerState,
    /** True if the id is in a block already cut (durable or on its way to disk). */
    private readonly isIncluded: (idKey: string) => boolean,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** Entries kept for expiry (pending ones, plus done ones not yet compacted away): bounded by about twice `size` + 4096. */
  get trackedForExpiry(): number {
    return this.arrivals.length - this.arrivalsHead;
  }

  get readyCount(): number {
    return this.ready.length - this.readyHead;
  }

  has(idKey: string): boolean {
    return this.byId.has(idKey);
  }

  /** What was dropped at admission since the last call (successors of refused transactions). */
  takeDroppedOnAdmit(): readonly Dropped[] {
    if (this.droppedOnAdmit.length === 0) return NOTHING_DROPPED; // every admission asks: no array each time
    const out = this.droppedOnAdmit;
    this.droppedOnAdmit = [];
    return out;
  }

  /** Admits a verified transaction or throws a coded error; nothing is kept on error. */
  admit(tx: SignedTx): PendingTx {
    const idKey = tx.idKey;
    const body = tx.body;
    const sender = senderOf(body);
    const senderKey = accountKey(sender);
    const account = this.state.accountByKey(senderKey);
    // Only a nonce the state has passed can be in a block (it ran there and moved the nonce on):
    // the index is asked only then, not for every fresh transaction.
    const mayBeIncluded = account !== undefined && body.nonce < account.nonce;
    if (this.byId.has(idKey) || (mayBeIncluded && this.isIncluded(idKey))) {
      throw new TpslabError('TPSLAB_E_DUPLICATE', `transaction ${tx.id.toString('hex')} is already ${this.byId.has(idKey) ? 'pending' : 'committed'}`);
    }
    const q = this.senders.get(senderKey);
    const next = q?.next ?? account?.nonce ?? 0n;
    const hole = this.refusedAt.get(senderKey);
    if (hole && (hole.nonce < next || body.nonce === hole.nonce)) this.refusedAt.delete(senderKey); // sent again, or used since
    else if (hole && body.nonce > hole.nonce) {
      // It would only wait for the refused nonce: refused too, retryable when that one was.
      throw new TpslabError(
        hole.code === 'TPSLAB_E_MEMPOOL_FULL' ? 'TPSLAB_E_MEMPOOL_FULL' : 'TPSLAB_E_PREDECESSOR_FAILED',
        `nonce ${hole.nonce} from ${encodeAddress(sender)} was refused (${hole.code}) and not sent again, so nonce ${body.nonce} cannot run; send nonce ${hole.nonce} again first, then this one`,
      );
    }
    try {
      return this.admitChecked(tx, idKey, senderKey, sender, q, account, next);
    } catch (err) {
      if (err instanceof TpslabError && HOLE_CODES.has(err.code) && body.nonce >= next) this.leaveHole(senderKey, body.nonce, err.code);
      throw err;
    }
  }

  /** Remembers a refused nonce and drops what the sender has buffered after it. */
  private leaveHole(senderKey: string, nonce: bigint, code: ErrorCode): void {
    const known = this.refusedAt.get(senderKey);
    if (!known || nonce < known.nonce) {
      this.refusedAt.delete(senderKey);
      this.refusedAt.set(senderKey, { nonce, code });
      if (this.refusedAt.size > MAX_REFUSED_SENDERS) this.refusedAt.delete(this.refusedAt.keys().next().value!);
    }
    const q = this.senders.get(senderKey);
    if (q && q.txs.entries().some(([n]) => n > nonce)) {
      // Refused for capacity, the nonce will be sent again: what waited behind it can be too (retryable).
      const dropCode = code === 'TPSLAB_E_MEMPOOL_FULL' ? 'TPSLAB_E_PREDECESSOR_REFUSED' : 'TPSLAB_E_PREDECESSOR_FAILED';
      this.droppedOnAdmit.push(...this.dropQueue(q, nonce, `was refused (${code})`, dropCode));
    }
  }

  private admitChecked(
    tx: SignedTx,
    idKey: string,
    senderKey: string,
    sender: Buffer,
    existing: SenderQueue | undefined,
    account: Readonly<{ balance: bigint; nonce: bigint }> | undefined,
    next: bigint,
  ): PendingTx {
    const body = tx.body;
    let q = existing;
    if (!account && !q && body.deps.length === 0) {
      throw new TpslabError('TPSLAB_E_UNKNOWN_ACCOUNT', `sender ${encodeAddress(sender)} does not exist; fund it first (or name the funding transaction in deps)`);
    }
    if (body.nonce < next) {
      throw new TpslabError('TPSLAB_E_NONCE_TOO_LOW', `nonce ${body.nonce} for ${encodeAddress(sender)} is used; the next nonce is ${next}`, {
        details: { expectedNonce: next.toString() },
      });
    }
    if (body.nonce > next + BigInt(this.opts.maxFutureNonces)) {
      throw new TpslabError(
        'TPSLAB_E_NONCE_TOO_HIGH',
        `nonce ${body.nonce} for ${encodeAddress(sender)} is more than ${this.opts.maxFutureNonces} ahead of the next nonce ${next}`,
        { details: { expectedNonce: next.toString() } },
      );
    }
    if (q?.txs.has(body.nonce)) {
      throw new TpslabError('TPSLAB_E_NONCE_PENDING', `another transaction with nonce ${body.nonce} from ${encodeAddress(sender)} is already pending`);
    }
    if (body.nonce === next && body.deps.length === 0 && account && !q?.txs.size) {
      // The common case can be checked against current state right away.
      const need = body.kind === 'transfer' ? body.inputs[0]!.amount + body.fee : body.fee;
      if (account.balance < need) {
        throw new TpslabError('TPSLAB_E_INSUFFICIENT_FUNDS', `${encodeAddress(sender)} holds ${account.balance} but this transaction needs ${need} (amount + fee)`);
      }
    }
    if (this.byId.size >= this.opts.capacity) {
      throw new TpslabError('TPSLAB_E_MEMPOOL_FULL', `the mempool holds ${this.byId.size} transactions, its limit; retry shortly`);
    }
    const waitsOnDeps = body.deps.some((d) => !this.isIncluded(d.toString('latin1')));
    if (waitsOnDeps && this.waitingOnDeps >= this.opts.maxWaitingOnDeps) {
      throw new TpslabError('TPSLAB_E_MEMPOOL_FULL', `${this.waitingOnDeps} transactions already wait on dependencies, the limit; retry shortly`);
    }
    if (!q) {
      q = this.spareQueues.pop();
      if (q) {
        q.key = senderKey;
        q.next = next;
        q.inReady = false;
        q.parkedOn = undefined;
      } else q = { key: senderKey, next, txs: new NonceSlots(), inReady: false, parkedOn: undefined };
      this.senders.set(senderKey, q);
    }
    const p: PendingTx = { tx, idKey, senderKey, deadlineMs: this.clock.now() + this.opts.pendingTtlMs, waitsOnDeps, done: false };
    q.txs.set(body.nonce, p);
    this.byId.set(idKey, p);
    this.arrivals.push(p);
    if (waitsOnDeps) this.waitingOnDeps++;
    if (body.nonce === q.next && !q.parkedOn) this.markReady(q);
    return p;
  }

  /** Forgets a sender with nothing pending (`q.txs` is empty); its queue is kept for the next one. */
  private dropSender(q: SenderQueue): void {
    this.senders.delete(q.key);
    if (this.spareQueues.length < MAX_SPARE_QUEUES) this.spareQueues.push(q);
  }

  private markReady(q: SenderQueue): void {
    if (q.inReady) return;
    q.inReady = true;
    this.ready.push(q.key);
    this.readyAtMs.push(this.clock.now());
  }

  private remove(p: PendingTx): void {
    p.done = true;
    this.arrivalsDone++;
    this.byId.delete(p.idKey);
    if (p.waitsOnDeps) this.waitingOnDeps--;
  }

  /**
   * Picks and executes transactions for one block, in ready order, releasing
   * each sender's nonces in order and honouring deps. State is mutated for
   * every included transaction; failures change nothing and are returned.
   * Never throws after executing one: a dependency lookup that throws ends the
   * block there (`lookupError`).
   */
  build(maxTxs: number, maxBytes: number): BuildResult {
    const included: SignedTx[] = [];
    const effects: TxEffect[] = [];
    const failed: Dropped[] = [];
    /** Ids included so far, made only once a transaction names dependencies. */
    let inBlock: Set<string> | undefined;
    let bytes = 0;
    let oldestReadyAtMs = Infinity;
    let lookupError: unknown;
    while (included.length < maxTxs && this.readyHead < this.ready.length) {
      const q = this.senders.get(this.ready[this.readyHead]!);
      const p = q?.txs.get(q.next);
      if (!q || !p) {
        this.readyHead++;
        if (q) q.inReady = false;
        continue;
      }
      if (bytes + p.tx.bytes.length > maxBytes && included.length > 0) break;
      const queuedAtMs = this.readyAtMs[this.readyHead]!;
      this.readyHead++;
      q.inReady = false;
      const deps = p.tx.body.deps;
      if (deps.length > 0) inBlock ??= new Set(included.map((tx) => tx.idKey));
      let missing: Buffer | undefined;
      try {
        missing = deps.length === 0 ? undefined : deps.find((d) => {
          const k = d.toString('latin1');
          return !inBlock!.has(k) && !this.isIncluded(k);
        });
      } catch (err) {
        // Not thrown on: the transactions before this one have run on the state and must make a block.
        this.readyHead--; // this sender stays first, as it was
        q.inReady = true;
        lookupError = err;
        break;
      }
      if (missing) {
        const k = missing.toString('latin1');
        q.parkedOn = k;
        let set = this.parked.get(k);
        if (!set) this.parked.set(k, (set = new Set()));
        set.add(q.key);
        continue;
      }
      q.txs.delete(q.next);
      this.remove(p);
      try {
        effects.push(this.state.execute(p.tx, p.senderKey));
      } catch (err) {
        const e = err instanceof TpslabError ? err : new TpslabError('TPSLAB_E_INTERNAL', String(err));
        failed.push({ pending: p, code: e.code, message: e.message });
        failed.push(...this.dropQueue(q, p.tx.body.nonce, 'failed'));
        continue;
      }
      included.push(p.tx);
      // Ready once both queued and admitted (deadlineMs is admission + TTL): an entry queued for a sender's
      // earlier transaction that left can be older than this one.
      oldestReadyAtMs = Math.min(oldestReadyAtMs, Math.max(queuedAtMs, p.deadlineMs - this.opts.pendingTtlMs));
      bytes += p.tx.bytes.length;
      inBlock?.add(p.idKey);
      q.next += 1n;
      this.wake(p.idKey);
      if (q.txs.has(q.next)) this.markReady(q);
      else if (q.txs.size === 0) this.dropSender(q);
    }
    this.compactReady();
    const result: BuildResult = { included, effects, failed, oldestReadyAtMs: included.length > 0 ? oldestReadyAtMs : undefined };
    if (lookupError !== undefined) result.lookupError = lookupError;
    return result;
  }

  /** Wakes senders parked on a dependency that has just been included. */
  private wake(idKey: string): void {
    const set = this.parked.get(idKey);
    if (!set) return;
    this.parked.delete(idKey);
    for (const sk of set) {
      const q = this.senders.get(sk);
      if (q && q.parkedOn === idKey) {
        q.parkedOn = undefined;
        if (q.txs.has(q.next)) this.markReady(q);
      }
    }
  }

  /** Drops everything queued for a sender from `fromNonce` on (exclusive). */
  private dropQueue(q: SenderQueue, failedNonce: bigint, why: string, code: ErrorCode = 'TPSLAB_E_PREDECESSOR_FAILED'): Dropped[] {
    const out: Dropped[] = [];
    for (const [nonce, p] of q.txs.entries().sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (nonce <= failedNonce) continue;
      q.txs.delete(nonce);
      this.remove(p);
      out.push({
        pending: p,
        code,
        message:
          code === 'TPSLAB_E_PREDECESSOR_REFUSED'
            ? `nonce ${failedNonce} from the same sender ${why}, so nonce ${nonce} was dropped; send it again after nonce ${failedNonce}`
            : `nonce ${failedNonce} from the same sender ${why}, so nonce ${nonce} cannot run; re-sign from the account's nonce`,
      });
    }
    this.unpark(q);
    if (q.txs.size === 0) this.dropSender(q);
    return out;
  }

  private unpark(q: SenderQueue): void {
    if (!q.parkedOn) return;
    this.parked.get(q.parkedOn)?.delete(q.key);
    if (this.parked.get(q.parkedOn)?.size === 0) this.parked.delete(q.parkedOn);
    q.parkedOn = undefined;
  }

  /** Drops transactions whose deadline has passed. */
  expire(): Dropped[] {
    const now = this.clock.now();
    const out: Dropped[] = [];
    while (this.arrivalsHead < this.arrivals.length) {
      const p = this.arrivals[this.arrivalsHead]!;
      if (!p.done && p.deadlineMs > now) break;
      this.arrivalsHead++;
      if (p.done) {
        this.arrivalsDone--;
        continue;
      }
      const q = this.senders.get(p.senderKey)!;
      const nonce = p.tx.body.nonce;
      const blockedByDeps = q.parkedOn !== undefined || p.waitsOnDeps;
      const code: ErrorCode = nonce > q.next && !blockedByDeps ? 'TPSLAB_E_NONCE_GAP_EXPIRED' : 'TPSLAB_E_DEPS_EXPIRED';
      const message =
        code === 'TPSLAB_E_NONCE_GAP_EXPIRED'
          ? `waited ${this.opts.pendingTtlMs} ms for nonce ${q.next} from the same sender, which never arrived`
          : `waited ${this.opts.pendingTtlMs} ms for its dependencies (or those of an earlier nonce) to commit`;
      q.txs.delete(nonce);
      this.remove(p);
      this.arrivalsDone--; // behind the head already
      out.push({ pending: p, code, message });
      // Nothing after an expired nonce can run any more: drop it too (PREDECESSOR_FAILED).
      out.push(...this.dropQueue(q, nonce, 'expired'));
    }
    if (this.arrivalsHead > 4096 && this.arrivalsHead * 2 > this.arrivals.length) {
      this.arrivals = this.arrivals.slice(this.arrivalsHead);
      this.arrivalsHead = 0;
    }
    // One transaction waiting for its deadline at the head (a nonce gap, deps) would otherwise keep every
    // later one, committed or not, for up to pendingTtlMs: 60 s of traffic, about 1 KB each.
    if (this.arrivalsDone > 4096 && this.arrivalsDone * 2 > this.arrivals.length - this.arrivalsHead) {
      this.arrivals = this.arrivals.slice(this.arrivalsHead).filter((p) => !p.done);
      this.arrivalsHead = 0;
      this.arrivalsDone = 0;
    }
    return out;
  }

  private compactReady(): void {
    if (this.readyHead > 4096 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyAtMs = this.readyAtMs.slice(this.readyHead);
      this.readyHead = 0;
    }
  }
}
