/**
 * The leader's lease for replicated ordering, kept in a JetStream key-value bucket (one key, history 1).
 *
 * - The leader renews it every `leaseMs / 3` by a compare-and-set on the key's revision. It counts
 *   itself leader until `leaseMs` after it *sent* its last successful renewal; past that, or when a
 *   compare-and-set finds another revision, it has lost the lease.
 * - A follower polls the key every `leaseMs / 12` (`followerPollMs`). When the revision has not changed
 *   for `leaseMs` (by its own clock, from when it saw the change), or the holder resigned, it takes the
 *   lease with a compare-and-set on the revision it saw and the next term. Only one contender can win a
 *   revision.
 * - So a leader that dies is replaced between `leaseMs - leaseMs / 3` and `leaseMs + 2 × leaseMs / 12`
 *   after its death (its last renewal was up to a renewal period before; the follower saw it up to a poll
 *   late, and notices the lapse up to a poll late): 800–1,400 ms with the default 1,200 ms lease.
 *
 * No clocks are compared between machines: each side measures `leaseMs` on its own clock from events it
 * saw, and the follower's measure starts after the leader's. The lease gives liveness; safety comes from
 * the stream's expected-last-sequence fence (ordering-log.ts).
 */
import type { KV } from '@nats-io/kv';
import { systemClock, type Clock } from '../clock.js';

export interface LeaseValue {
  id: string;
  /** Where the holder takes transactions (its HTTP base URL). */
  url: string;
  term: number;
  resigned?: boolean;
}

/** The key the lease lives in; `create` and `update` throw when the key exists / moved on. */
export interface LeaseStore {
  get(): Promise<{ value: LeaseValue; revision: number } | undefined>;
  create(v: LeaseValue): Promise<number>;
  update(v: LeaseValue, revision: number): Promise<number>;
}

export function kvLeaseStore(kv: KV, key = 'leader'): LeaseStore {
  const enc = (v: LeaseValue): string => JSON.stringify(v);
  return {
    get: async () => {
      const e = await kv.get(key);
      if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
      return { value: e.json<LeaseValue>(), revision: e.revision };
    },
    create: (v) => kv.create(key, enc(v)),
    update: (v, revision) => kv.update(key, enc(v), revision),
  };
}

export interface LeaseHandlers {
  /** This process holds the lease for `term`. */
  elected(term: number): void;
  /** It no longer does (taken, not renewed in time). */
  lost(reason: string): void;
}

/**
 * The default lease (`--lease-ms`): a dead leader is replaced within 1.4 s, which leaves room for the
 * marker append and the first block inside issue 16's 2 s; shorter would mean more spurious takeovers
 * on a busy machine (a leader whose renewals run late loses the lease).
 */
export const DEFAULT_LEASE_MS = 1200;

/** How often the holder renews: a third of the lease, so two renewals may fail before it lapses. */
export function renewPeriodMs(leaseMs: number): number {
  return Math.max(1, Math.floor(leaseMs / 3));
}

/** How often a follower reads the lease: each poll's lateness adds to the time a dead leader goes unreplaced. */
export function followerPollMs(leaseMs: number): number {
  return Math.max(1, Math.floor(leaseMs / 12));
}

export class LeaderLease {
  /** Campaigns only while true (a follower that is caught up and following). */
  eligible = false;
  private holdingTerm: number | undefined;
  private revision: number | undefined;
  private seen: { value: LeaseValue; revision: number; atMs: number } | undefined;
  private validUntilMs = 0;
  private timer: unknown;
  private busy = false;
  private closed = false;
  /** Newest term seen held or taken (0: none yet). */
  newestTerm = 0;
  /** Renewals that failed (NATS unreachable or slow, or the lease taken): a leader near losing its lease. */
  renewFailures = 0;

  constructor(
    private readonly store: LeaseStore,
    private readonly self: { id: string; url: string },
    private readonly leaseMs: number,
    private readonly handlers: LeaseHandlers,
    private readonly clock: Clock = systemClock,
  ) {}

  start(): void {
    this.schedule(0);
  }

  get holding(): boolean {
    return this.holdingTerm !== undefined;
  }

  /** Until when this process counts itself leader (its clock), or undefined when it holds no lease. */
  get holdsUntilMs(): number | undefined {
    return this.holdingTerm === undefined ? undefined : this.validUntilMs;
  }

  /** The leader as last seen (undefined when none or it resigned). */
  get leader(): LeaseValue | undefined {
    if (this.holdingTerm !== undefined) return { ...this.self, term: this.holdingTerm };
    const v = this.seen?.value;
    return v && !v.resigned ? v : undefined;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    if (this.holdingTerm !== undefined && this.clock.now() >= this.validUntilMs) this.lose(`the lease was not renewed within ${this.leaseMs} ms`);
    if (!this.busy) {
      this.busy = true;
      try {
        if (this.holdingTerm !== undefined) await this.renew();
        else await this.watch();
      } catch {
        // NATS unreachable or slow: judged again at the next tick (a holder loses the lease by time).
      } finally {
        this.busy = false;
      }
    }
    this.schedule(this.holdingTerm !== undefined ? renewPeriodMs(this.leaseMs) : followerPollMs(this.leaseMs));
  }

  private async renew(): Promise<void> {
    const term = this.holdingTerm!;
    const sentAtMs = this.clock.now();
    try {
      this.revision = await this.store.update({ ...this.self, term }, this.revision!);
      if (this.holdingTerm === term) this.validUntilMs = sentAtMs + this.leaseMs;
    } catch (err) {
      this.renewFailures++;
      if (isWrongRevision(err) && this.holdingTerm === term) this.lose('another sequencer took the lease');
      throw err;
    }
  }

  private async watch(): Promise<void> {
    const e = await this.store.get();
    const now = this.clock.now();
    if (!e) {
      if (this.eligible) await this.take({ ...this.self, term: (this.seen?.value.term ?? 0) + 1 }, undefined, now);
      return;
    }
    // Reads may be served by a replica a little behind (direct get): an older revision than one already
    // seen says nothing, and must not restart the lapse count.
    if (this.seen && e.revision < this.seen.revision) return;
    if (e.revision !== this.seen?.revision) this.seen = { ...e, atMs: now };
    this.newestTerm = Math.max(this.newestTerm, e.value.term);
    const lapsed = e.value.resigned === true || now - this.seen.atMs >= this.leaseMs;
    if (lapsed && this.eligible) await this.take({ ...this.self, term: e.value.term + 1 }, e.revision, now);
  }

  private async take(value: LeaseValue, revision: number | undefined, sentAtMs: number): Promise<void> {
    let rev: number;
    try {
      rev = revision === undefined ? await this.store.create(value) : await this.store.update(value, revision);
    } catch {
      return; // another contender won this revision
    }
    if (this.closed || !this.eligible) {
      await this.store.update({ ...value, resigned: true }, rev).catch(() => {});
      return;
    }
    this.revision = rev;
    this.holdingTerm = value.term;
    this.newestTerm = Math.max(this.newestTerm, value.term);
    this.validUntilMs = sentAtMs + this.leaseMs;
    this.seen = { value, revision: rev, atMs: sentAtMs };
    this.handlers.elected(value.term);
  }

  private lose(reason: string): void {
    if (this.holdingTerm === undefined) return;
    this.holdingTerm = undefined;
    this.eligible = false;
    this.seen = undefined;
    this.handlers.lost(reason);
  }

  /** Gives the lease up at once (stepping down), so a follower need not wait for it to lapse. */
  async resign(): Promise<void> {
    const term = this.holdingTerm;
    const rev = this.revision;
    this.holdingTerm = undefined;
    this.eligible = false;
    if (term === undefined || rev === undefined) return;
    await this.store.update({ ...this.self, term, resigned: true }, rev).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    await this.resign();
  }
}

/** JetStream's "wrong last sequence": the key has another revision than the one named. */
function isWrongRevision(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return e.code === 10071 || e.cause?.code === 10071 || /wrong last sequence/i.test(String((err as Error).message));
}
