/**
 * A beacon's sent entries in first-send order (≈ intended order), from the oldest one that may
 * still be unresolved: what expiry walks and status polling reads, without scanning the ledger.
 * Ledger indexes in a typed array with a head: pushing writes in place, and a ledger compaction
 * moves the kept part down once (a JS array pushed per transaction and cut by slice, filter and
 * map at each compaction was garbage the size of what is in flight).
 */
const MIN_CAPACITY = 1024;

export class SentOrder {
  private order = new Float64Array(MIN_CAPACITY);
  private head = 0;
  private end = 0;

  push(i: number): void {
    if (this.end === this.order.length) this.makeRoom();
    this.order[this.end++] = i;
  }

  /** push(i) for each i in [lo, hi). */
  pushRun(lo: number, hi: number): void {
    for (let i = lo; i < hi; i++) {
      if (this.end === this.order.length) this.makeRoom();
      this.order[this.end++] = i;
    }
  }

  /** Moves what is kept to the front; grows only when more than half is kept. */
  private makeRoom(): void {
    const kept = this.end - this.head;
    const o = kept * 2 > this.order.length ? new Float64Array(this.order.length * 2) : this.order;
    o.set(this.order.subarray(this.head, this.end));
    this.order = o;
    this.head = 0;
    this.end = kept;
  }

  /** Moves past the front while `settle(i)` says its entry is done with; stops at the first it keeps. */
  advance(settle: (i: number) => boolean): void {
    while (this.head < this.end && settle(this.order[this.head]!)) this.head++;
  }

  /** Entries from the front on, until `visit` returns false. */
  scan(visit: (i: number) => boolean): void {
    for (let k = this.head; k < this.end && visit(this.order[k]!); k++);
  }

  /** The ledger dropped its first `k` entries: those leave, the rest move down by `k`. */
  rebase(k: number): void {
    const o = this.order;
    let n = 0;
    for (let j = this.head; j < this.end; j++) {
      const i = o[j]!;
      if (i >= k) o[n++] = i - k;
    }
    this.head = 0;
    this.end = n;
    // After a burst, give the memory back.
    if (n * 8 < o.length && o.length > 65_536) this.order = o.slice(0, Math.max(MIN_CAPACITY, 2 * n));
  }
}
