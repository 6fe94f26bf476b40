/**
 * When a beacon reports: second k just after its end, at an absolute instant (start + k + 1 s),
 * so a timer firing early or late never merges two seconds into one report; and a final report
 * for the partial second a beacon finishes in. What a report holds is the beacon's.
 */
import type { Clock } from '../clock.js';

export class SecondReporter {
  private startMs = 0;
  private lastSecond = -1;
  private timer: unknown;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    /** Sends the report of whole second `second` since the start. */
    private readonly emit: (second: number) => void,
  ) {}

  /** The start instant (Date.now() domain); reports are scheduled once `run` is called. */
  begin(startMs: number): void {
    this.startMs = startMs;
  }

  /** Reports every second from second `k` on. */
  run(k = 0): void {
    const at = this.startMs + (k + 1) * 1000 + 2;
    this.timer = this.clock.setTimeout(() => {
      if (this.stopped) return;
      this.report(k);
      this.run(Math.max(k + 1, Math.floor((this.clock.now() - this.startMs) / 1000)));
    }, Math.max(0, at - this.clock.now()));
  }

  /** Reports second `k` (undefined: the final, partial second). */
  report(k?: number): void {
    if (this.startMs === 0) return; // never started: no second to report (done still carries the counts)
    // The final report takes the second it falls in, minus the 2 ms a scheduled report waits,
    // so finishing just before second k's report labels itself k rather than skipping k.
    const second = k ?? Math.max(this.lastSecond + 1, Math.floor((this.clock.now() - this.startMs - 2) / 1000));
    if (second <= this.lastSecond) return;
    this.lastSecond = second;
    this.emit(second);
  }

  /** No more scheduled reports (a final `report()` may still be made). */
  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }
}
