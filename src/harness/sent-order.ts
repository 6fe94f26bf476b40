/**
 * A beacon's sent entries in first-send order (≈ intended order), from the oldest one that may
 * still be unresolved: what expiry walks and status polling reads, without scanning the ledger.
 */
export class SentOrder {
  private order: number[] = [];
  private head = 0;

  push(i: number): void {
    this.order.push(i);
  }

  /** Moves past the front while `settle(i)` says its entry is done with; stops at the first it keeps. */
  advance(settle: (i: number) => boolean): void {
    while (this.head < this.order.length && settle(this.order[this.head]!)) this.head++;
    if (this.head > 65_536 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** Entries from the front on, until `visit` returns false. */
  scan(visit: (i: number) => boolean): void {
    for (let k = this.head; k < this.order.length && visit(this.order[k]!); k++);
  }

  /** The ledger dropped its first `k` entries: those leave, the rest move down by `k`. */
  rebase(k: number): void {
    this.order = this.order.slice(this.head).filter((i) => i >= k).map((i) => i - k);
    this.head = 0;
  }
}
