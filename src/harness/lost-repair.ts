/**
 * Lost transactions that no node took. A transaction counted lost (unconfirmed past its timeout) while
 * its submit was still out, or while it waited to be resent, and then refused as retryable, is held by
 * nobody. Left alone it is a nonce hole: every later transaction of its sender waits for it and is lost
 * too (after one long commit pause the whole window in flight went that way, one per sender, and the
 * failover e2e's load stalled for good on a healthy network). They are sent again, same bytes, a bounded
 * number of times; one that commits counts as late, like any lost transaction that commits.
 */
import type { SubmitItem } from '../connectors/contract.js';

export class LostRepair {
  private readonly due = new Map<string, { item: SubmitItem; atMs: number }>();

  /** `maxAttempts`: sends of one transaction at most, counting those before it was lost. */
  constructor(private readonly maxAttempts: number) {}

  get size(): number {
    return this.due.size;
  }

  /** Sends `item` again at `atMs`, unless it was sent `maxAttempts` times already. */
  add(id: string, item: SubmitItem, atMs: number): void {
    if (item.attempt > this.maxAttempts) this.due.delete(id);
    else this.due.set(id, { item, atMs });
  }

  /** It committed (or is known to the network): nothing more to send. */
  done(id: string): void {
    this.due.delete(id);
  }

  /** Up to `max` transactions due by `nowMs`, taken out (an answer puts one back with `add`). */
  take(nowMs: number, max: number): [id: string, item: SubmitItem][] {
    const out: [string, SubmitItem][] = [];
    for (const [id, d] of this.due) {
      if (out.length >= max) break;
      if (d.atMs > nowMs) continue;
      this.due.delete(id);
      out.push([id, d.item]);
    }
    return out;
  }
}
