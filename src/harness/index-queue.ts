/**
 * A FIFO of transaction indexes with O(1) push and take from the front. A beacon that
 * falls behind its schedule holds millions of due transactions; `Array#splice(0, n)` on such
 * a queue moves every element each batch (quadratic: it was most of the beacon's CPU).
 */
export class IndexQueue {
  private items: number[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(i: number): void {
    this.items.push(i);
  }

  /** The oldest index, without taking it. */
  peek(): number | undefined {
    return this.items[this.head];
  }

  /** Takes up to `n` indexes from the front, oldest first. */
  take(n: number): number[] {
    const out = this.items.slice(this.head, this.head + n);
    this.head += out.length;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 65_536 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
