/**
 * The tracker's membership core, driven by an injected clock.
 *
 * Members announce themselves with heartbeats at the interval the tracker
 * hands out; the first heartbeat registers a member, and one from a member
 * that was removed re-adds it. A member silent for more than twice the
 * interval is removed. Every change bumps the view's version and is pushed to
 * watchers. Members of the shard roles get an even, stable allocation of the
 * 2^64 key space (see shard-allocator.ts).
 */
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../clock.js';
import { allocationOf, rebalance, type KeyRange } from './shard-allocator.js';

export interface TrackerOptions {
  heartbeatIntervalMs: number;
  /** Fraction of each share also covered by the next member (0 ≤ overlap < 1). */
  overlap: number;
  /** Roles whose members get shards. */
  shardRoles: readonly string[];
}

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = { heartbeatIntervalMs: 1000, overlap: 0, shardRoles: ['node', 'replica'] };

export interface Heartbeat {
  id: string;
  role: string;
  url: string;
  height?: number | undefined;
  healthy?: boolean | undefined;
}

export interface Member extends Heartbeat {
  joinedMs: number;
  lastSeenMs: number;
}

export interface MemberView extends Member {
  ranges: KeyRange[];
  covered: KeyRange[];
}

export interface MembershipView {
  version: number;
  heartbeatIntervalMs: number;
  overlap: number;
  members: MemberView[];
}

export interface TrackerEvents {
  change: [MembershipView, { joined: string[]; removed: string[] }];
}

export class Tracker extends EventEmitter<TrackerEvents> {
  private readonly members = new Map<string, Member>();
  private slots: (string | undefined)[] = [];
  private version = 0;
  private timer: unknown;
  private cached: MembershipView | undefined;
  readonly opts: TrackerOptions;

  constructor(
    options: Partial<TrackerOptions> = {},
    private readonly clock: Clock = systemClock,
  ) {
    super();
    this.opts = { ...DEFAULT_TRACKER_OPTIONS, ...options };
  }

  /** Starts the failure detector: checks four times per interval. */
  start(): void {
    const tick = (): void => {
      this.check();
      this.timer = this.clock.setTimeout(tick, Math.max(10, this.opts.heartbeatIntervalMs / 4));
    };
    this.timer = this.clock.setTimeout(tick, Math.max(10, this.opts.heartbeatIntervalMs / 4));
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Records a heartbeat; registers (or re-adds) an unknown member. Returns whether it joined. */
  heartbeat(hb: Heartbeat): { joined: boolean; heartbeatIntervalMs: number; version: number } {
    const now = this.clock.now();
    const known = this.members.get(hb.id);
    if (known) {
      const moved = known.url !== hb.url || known.role !== hb.role;
      Object.assign(known, hb, { lastSeenMs: now });
      this.cached = undefined;
      if (moved) this.changed([], []);
      return { joined: false, heartbeatIntervalMs: this.opts.heartbeatIntervalMs, version: this.version };
    }
    this.members.set(hb.id, { ...hb, joinedMs: now, lastSeenMs: now });
    this.changed([hb.id], []);
    return { joined: true, heartbeatIntervalMs: this.opts.heartbeatIntervalMs, version: this.version };
  }

  /** A member leaving on purpose. */
  leave(id: string): boolean {
    if (!this.members.delete(id)) return false;
    this.changed([], [id]);
    return true;
  }

  /** Removes members silent for more than twice the interval. */
  check(): string[] {
    const cutoff = this.clock.now() - 2 * this.opts.heartbeatIntervalMs;
    const removed: string[] = [];
    for (const [id, m] of this.members) {
      if (m.lastSeenMs < cutoff) {
        this.members.delete(id);
        removed.push(id);
      }
    }
    if (removed.length > 0) this.changed([], removed);
    return removed;
  }

  view(): MembershipView {
    if (this.cached) return this.cached;
    const alloc = allocationOf(this.slots, this.opts.overlap);
    this.cached = {
      version: this.version,
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
      overlap: this.opts.overlap,
      members: [...this.members.values()].map((m) => ({ ...m, ranges: alloc.ranges.get(m.id) ?? [], covered: alloc.covered.get(m.id) ?? [] })),
    };
    return this.cached;
  }

  /** Slot owners, for tests measuring movement. */
  get slotOwners(): readonly (string | undefined)[] {
    return this.slots;
  }

  private changed(joined: string[], removed: string[]): void {
    this.version++;
    const sharded = [...this.members.values()].filter((m) => this.opts.shardRoles.includes(m.role)).map((m) => m.id);
    this.slots = rebalance(this.slots, sharded);
    this.cached = undefined;
    this.emit('change', this.view(), { joined, removed });
  }
}
