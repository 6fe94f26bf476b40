import type { PendingTx } from './mempool.js';

/**
 * A sender's pending transactions by nonce. Most senders have one pending at a time, so the first is
 * held in two fields and a Map is made only for more: V8 reallocates a Map's table whenever a delete
 * leaves it under a quarter full, which for a Map of one entry is every inclusion.
 */
export class NonceSlots {
  private oneNonce = 0n;
  private one: PendingTx | undefined;
  private more: Map<bigint, PendingTx> | undefined;

  get size(): number {
    return (this.one === undefined ? 0 : 1) + (this.more?.size ?? 0);
  }

  get(nonce: bigint): PendingTx | undefined {
    return this.one !== undefined && this.oneNonce === nonce ? this.one : this.more?.get(nonce);
  }

  has(nonce: bigint): boolean {
    return this.get(nonce) !== undefined;
  }

  set(nonce: bigint, p: PendingTx): void {
    if (this.one !== undefined && this.oneNonce === nonce) this.one = p;
    else if (this.one === undefined && !this.more?.has(nonce)) {
      this.oneNonce = nonce;
      this.one = p;
    } else (this.more ??= new Map()).set(nonce, p);
  }

  delete(nonce: bigint): boolean {
    if (this.one !== undefined && this.oneNonce === nonce) {
      this.one = undefined;
      return true;
    }
    return this.more?.delete(nonce) ?? false;
  }

  /** Every entry, in no particular order. */
  entries(): [bigint, PendingTx][] {
    const out: [bigint, PendingTx][] = this.more ? [...this.more] : [];
    if (this.one !== undefined) out.push([this.oneNonce, this.one]);
    return out;
  }
}
