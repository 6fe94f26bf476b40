/**
 * Admission before work: a budget of request bytes and transactions that the
 * node is reading, decoding and verifying at once. A submission takes its
 * share when it arrives (before its body is read); beyond the budget it is
 * refused at once with 429 and Retry-After, so a flood of large batches
 * cannot make the node hold gigabytes or starve /health and reads.
 */
import { TpslabError } from '../errors.js';

export interface IngressBudgetLimits {
  /** Request bytes being read, decoded and verified at once. */
  maxBytes: number;
  /** Transactions being decoded and verified at once. */
  maxTxs: number;
}

export const DEFAULT_INGRESS_BUDGET: IngressBudgetLimits = {
  maxBytes: 16 * 1024 * 1024,
  maxTxs: 20_000,
};

/**
 * A batch's transaction count is estimated at arrival as one per this many
 * bytes (a signed transaction with its signature and framing is larger), then
 * set to the real count once the batch is split.
 */
export const ESTIMATE_BYTES_PER_TX = 100;

/** One admitted request's share; `resize` sets its transactions to the real count, `release` gives it all back (idempotent). */
export interface Lease {
  resize(txs: number): void;
  release(): void;
}

export class IngressBudget {
  private bytes = 0;
  private txs = 0;

  constructor(readonly limits: IngressBudgetLimits) {}

  get inFlightBytes(): number {
    return this.bytes;
  }
  get inFlightTxs(): number {
    return this.txs;
  }

  /**
   * Takes `bytes` and `txs` or throws TPSLAB_E_MEMPOOL_FULL (429, retryable).
   * When nothing is in flight a request is always admitted, so one request
   * larger than the budget (but within the body limit) still gets through.
   */
  take(bytes: number, txs: number): Lease {
    const idle = this.bytes === 0 && this.txs === 0;
    if (!idle && (this.bytes + bytes > this.limits.maxBytes || this.txs + txs > this.limits.maxTxs)) {
      throw new TpslabError(
        'TPSLAB_E_MEMPOOL_FULL',
        `the node is already reading and verifying ${this.txs} transactions (${this.bytes} bytes), its limit is ${this.limits.maxTxs} (${this.limits.maxBytes} bytes); retry after the Retry-After header`,
      );
    }
    this.bytes += bytes;
    this.txs += txs;
    let heldBytes = bytes;
    let heldTxs = txs;
    return {
      resize: (need: number) => {
        if (heldBytes === 0 && heldTxs === 0) return; // released already
        this.txs += need - heldTxs;
        heldTxs = need;
      },
      release: () => {
        this.bytes -= heldBytes;
        this.txs -= heldTxs;
        heldBytes = 0;
        heldTxs = 0;
      },
    };
  }
}
