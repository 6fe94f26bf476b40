/**
 * Lost transactions that no node took. A transaction counted lost (unconfirmed past its timeout) while
 * its submit was still out, or while it waited to be resent, and then refused as retryable, is held by
 * nobody. Left alone it is a nonce hole: every later transaction of its sender waits for it and is lost
 * too (after one long commit pause the whole window in flight went that way, one per sender, and the
 * failover e2e's load stalled for good on a healthy network). They are sent again, same bytes, a bounded
 * number of times; one that commits counts as late, like any lost transaction that commits.
 */
import type { SubmitItem, SubmitResult } from '../connectors/contract.js';

/** A connector's answer missing for a transaction of the batch: its bug, counted and retried. */
export const NO_ANSWER: SubmitResult = Object.freeze({ kind: 'retry', code: 'TPSLAB_E_CONNECTOR', afterMs: 1000 });
/** Repairs logged at most (the first few say where a load was held). */
const NOTES_LOGGED = 10;

export class LostRepair {
  private readonly due = new Map<string, { item: SubmitItem; atMs: number }>();
  /** Sent again and taken by the network: id → until when its commit is waited for (`busy`). */
  private readonly awaiting = new Map<string, number>();
  private noted = 0;

  /**
   * `maxAttempts`: sends of one transaction at most, counting those before it was lost. `waitMs`: how
   * long after a resend was taken the beacon keeps running for its commit (its confirmation timeout).
   */
  constructor(
    private readonly maxAttempts: number,
    private readonly log: (line: string) => void = () => {},
    private readonly waitMs = 0,
  ) {}

  /**
   * Something is still to send, or a resend taken by the network may still commit: a beacon does not
   * end before (each is bounded: `maxAttempts` sends, `waitMs` after the last).
   */
  busy(nowMs: number): boolean {
    if (this.due.size > 0) return true;
    for (const [id, untilMs] of this.awaiting) {
      if (untilMs > nowMs) return true;
      this.awaiting.delete(id);
    }
    return false;
  }

  /** Logs the first few expired transactions no node took (they are sent again): where a load was held. */
  note(id: string, why: string): void {
    if (++this.noted <= NOTES_LOGGED) this.log(`transaction ${id} ${why}: no node holds it; sending it again${this.noted === NOTES_LOGGED ? ' (further ones not logged)' : ''}`);
  }

  /** The answers to a resend of `sent` (from `take`): a retryable refusal puts one back; refusals are counted. */
  answered(sent: readonly [id: string, item: SubmitItem][], results: readonly SubmitResult[], nowMs: number, count: (code: string) => void): void {
    sent.forEach(([id, item], k) => {
      const r = results[k] ?? NO_ANSWER;
      if (r.kind === 'retry' || r.kind === 'rejected') count(r.code);
      if (r.kind === 'retry') this.add(id, { tx: item.tx, attempt: item.attempt + 1 }, nowMs + r.afterMs);
      else if (r.kind === 'accepted' || r.kind === 'known') this.awaiting.set(id, nowMs + this.waitMs);
    });
  }

  /** Transactions to send again (not those only awaited). */
  get size(): number {
    return this.due.size;
  }

  /** Transactions to send again or awaited (a commit of any of them calls `done`). */
  get held(): number {
    return this.due.size + this.awaiting.size;
  }

  /** Sends `item` again at `atMs`, unless it was sent `maxAttempts` times already. */
  add(id: string, item: SubmitItem, atMs: number): void {
    if (item.attempt > this.maxAttempts) this.due.delete(id);
    else this.due.set(id, { item, atMs });
  }

  /** It committed (or is known to the network): nothing more to send. */
  done(id: string): void {
    this.due.delete(id);
    this.awaiting.delete(id);
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
