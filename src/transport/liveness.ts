/**
 * Heartbeat bookkeeping: who was heard from when, and who has been silent for
 * longer than twice the interval (declared missing, once). Takes the injected
 * clock so tests drive missed heartbeats without sleeping.
 */
import type { Clock } from '../clock.js';

export class Liveness {
  private readonly lastMs = new Map<string, number>();
  private timer: unknown;
  private stopped = false;
  private lastCheckMs: number | undefined;

  constructor(
    private readonly clock: Clock,
    readonly intervalMs: number,
    private readonly onMissing: (name: string, silentMs: number) => void,
  ) {}

  /** Heard from `name` now (its heartbeat or any message). */
  seen(name: string): void {
    this.lastMs.set(name, this.clock.now());
  }

  /** Stops watching `name` (finished, released, or already declared missing). */
  forget(name: string): void {
    this.lastMs.delete(name);
  }

  watching(name: string): boolean {
    return this.lastMs.has(name);
  }

  start(): void {
    this.stopped = false;
    this.lastCheckMs = undefined;
    const check = (): void => {
      if (this.stopped) return;
      this.check();
      this.timer = this.clock.setTimeout(check, Math.max(1, Math.floor(this.intervalMs / 4)));
    };
    check();
  }

  /** Declares missing every name silent for more than twice the interval. */
  check(): void {
    const now = this.clock.now();
    // This process itself stalled (a long synchronous step): heartbeats wait unread in the socket.
    // Give everyone one more interval rather than declaring them all missing.
    const stalled = this.lastCheckMs !== undefined && now - this.lastCheckMs > this.intervalMs;
    this.lastCheckMs = now;
    if (stalled) {
      for (const [name, at] of this.lastMs) this.lastMs.set(name, Math.max(at, now - this.intervalMs));
      return;
    }
    for (const [name, at] of [...this.lastMs]) {
      if (now - at > 2 * this.intervalMs) {
        this.lastMs.delete(name);
        this.onMissing(name, now - at);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }
}
