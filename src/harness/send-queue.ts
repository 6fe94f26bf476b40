/**
 * A beacon's send queue: one FIFO of ledger indexes, kept so that queueing costs nothing per
 * fresh transaction. Fresh transactions always join in index order (the schedule's due
 * entries in open mode, new entries in max and source modes), so they are a run
 * [freshHead, freshEnd) that grows by moving a boundary; retries join one by one, each
 * marked with the boundary at the time, and leave only once every fresh index queued before
 * them has left. The order taken is exactly that of a single FIFO.
 *
 * (A beacon behind its schedule holds millions of due transactions: pushing each one, and
 * `Array#splice(0, n)` to take a batch, were most of its CPU.)
 */
export class SendQueue {
  private freshHead = 0;
  private freshEnd = 0;
  /** Pairs: index, freshEnd when it was queued. */
  private retries: number[] = [];
  private retryHead = 0;

  get length(): number {
    return this.freshEnd - this.freshHead + (this.retries.length - this.retryHead) / 2;
  }

  /** Fresh indexes start at `i` (a reassigned share skips what its previous owner sent). Call while empty. */
  startAt(i: number): void {
    this.freshHead = this.freshEnd = i;
  }

  /**
   * The ledger dropped its first `k` entries: every index moves down by `k`, and queued indexes
   * below `k` (retries of entries resolved meanwhile) leave. Order is kept.
   */
  rebase(k: number): void {
    if (k <= 0) return;
    this.freshHead = Math.max(0, this.freshHead - k);
    this.freshEnd = Math.max(0, this.freshEnd - k);
    const kept: number[] = [];
    for (let j = this.retryHead; j < this.retries.length; j += 2) {
      const i = this.retries[j]!;
      if (i >= k) kept.push(i - k, Math.max(0, this.retries[j + 1]! - k));
    }
    this.retries = kept;
    this.retryHead = 0;
  }

  /** Queues every fresh index below `end`. */
  queueFreshTo(end: number): void {
    if (end > this.freshEnd) this.freshEnd = end;
  }

  /** Queues index `i` again (a retry), behind everything queued so far. */
  pushRetry(i: number): void {
    this.retries.push(i, this.freshEnd);
  }

  private retryFirst(): boolean {
    return this.retryHead < this.retries.length && (this.retries[this.retryHead + 1]! <= this.freshHead || this.freshHead === this.freshEnd);
  }

  /** The oldest queued index, without taking it. */
  peek(): number | undefined {
    if (this.retryFirst()) return this.retries[this.retryHead];
    return this.freshHead < this.freshEnd ? this.freshHead : undefined;
  }

  /** Takes up to `n` indexes, oldest first. */
  take(n: number): number[] {
    // Sized once (pushing grew it five times per batch of 200).
    const out = new Array<number>(Math.max(0, Math.min(n, this.length)));
    for (let k = 0; k < out.length; k++) {
      if (this.retryFirst()) {
        out[k] = this.retries[this.retryHead]!;
        this.retryHead += 2;
      } else out[k] = this.freshHead++;
    }
    if (this.retryHead === this.retries.length) {
      this.retries = [];
      this.retryHead = 0;
    } else if (this.retryHead > 65_536 && this.retryHead * 2 > this.retries.length) {
      this.retries = this.retries.slice(this.retryHead);
      this.retryHead = 0;
    }
    return out;
  }
}
