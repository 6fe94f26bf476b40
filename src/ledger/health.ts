/**
 * The node's own health policy for balancers: head age, lag behind the
 * sequencer, and draining. Kept apart from the node API so /health stays one
 * call (node-api.ts asks `verdict()` after its own availability check).
 *
 * Draining is not downtime. A draining node is healthy and serving; it only
 * asks balancers to send it no new clients before maintenance. /health answers
 * 503 with `status: "draining"` (any balancer takes the node out); with
 * `?draining=404` it answers 404 instead, which HAProxy's
 * `http-check disable-on-404` turns into its DRAIN/NOLB state rather than DOWN,
 * so HAProxy counts no downtime for it. Monitors must treat "draining" as up.
 */
import { systemClock, type Clock } from '../clock.js';

export interface HealthOptions {
  /** Unhealthy when the newest durable block is older than this (only for networks with steady traffic: an idle network cuts no blocks). */
  maxHeadAgeMs?: number;
  /** Unhealthy when the sequencer's head is more than this many blocks ahead (replicas). */
  maxLagBlocks?: number;
}

export interface HealthFacts {
  nowMs: number;
  height: number;
  headTimestampMs: number;
  sequencerHeight: number | undefined;
  draining: boolean;
}

export type HealthVerdict = { ok: true } | { ok: false; status: 'draining' | 'unavailable'; check: 'draining' | 'head-age' | 'lag'; reason: string };

/** Pure: the first check that fails, lag and age before draining (a lagging node is down even if draining). */
export function judgeHealth(o: HealthOptions, f: HealthFacts): HealthVerdict {
  if (o.maxLagBlocks !== undefined && f.sequencerHeight !== undefined && f.sequencerHeight - f.height > o.maxLagBlocks) {
    return { ok: false, status: 'unavailable', check: 'lag', reason: `lagging: at block ${f.height}, the sequencer is at ${f.sequencerHeight} (more than ${o.maxLagBlocks} behind)` };
  }
  if (o.maxHeadAgeMs !== undefined && f.height > 0 && f.nowMs - f.headTimestampMs > o.maxHeadAgeMs) {
    return { ok: false, status: 'unavailable', check: 'head-age', reason: `stale head: block ${f.height} is ${f.nowMs - f.headTimestampMs} ms old (limit ${o.maxHeadAgeMs} ms)` };
  }
  if (f.draining) return { ok: false, status: 'draining', check: 'draining', reason: 'draining before maintenance: serving, but taking no new clients' };
  return { ok: true };
}

/** Drain state plus, for replicas with a lag limit, the sequencer's height polled every second. */
export class NodeHealth {
  draining = false;
  sequencerHeight: number | undefined;
  private timer: unknown;
  private stopped = false;

  constructor(
    readonly options: HealthOptions,
    private readonly sequencerUrl?: string,
    private readonly clock: Clock = systemClock,
  ) {
    if (sequencerUrl && options.maxLagBlocks !== undefined) this.poll();
  }

  private poll(): void {
    if (this.stopped) return;
    fetch(`${this.sequencerUrl}/v1/head`, { signal: AbortSignal.timeout(2000) })
      .then((r) => (r.ok ? (r.json() as Promise<{ height: number }>) : undefined))
      .then((h) => {
        if (h) this.sequencerHeight = h.height;
      })
      .catch(() => {})
      .finally(() => (this.timer = this.clock.setTimeout(() => this.poll(), 1000)));
  }

  verdict(height: number, headTimestampMs: number): HealthVerdict {
    return judgeHealth(this.options, { nowMs: this.clock.now(), height, headTimestampMs, sequencerHeight: this.sequencerHeight, draining: this.draining });
  }

  /** What /health answers instead of 200, if a check fails: `draining404` when the caller asked `?draining=404`. */
  answer(role: string, height: number, headTimestampMs: number, draining404: boolean): { httpStatus: number; body: Record<string, unknown> } | undefined {
    const v = this.verdict(height, headTimestampMs);
    if (v.ok) return undefined;
    return { httpStatus: v.status === 'draining' && draining404 ? 404 : 503, body: { status: v.status, role, height, check: v.check, reason: v.reason } };
  }

  close(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }
}

/** Loopback addresses only may call the admin routes (drain). */
export function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
