/**
 * A beacon's dropped failed or lost transactions, kept by id so that a later commit still counts
 * (beacon-compaction.ts): a ring of at most `max` rows in typed columns, oldest out, found through
 * an IdIndex whose floor follows the oldest row kept. Rows are indexed when one is first looked
 * up, so rows nobody asks about before they go cost no index work. A `Map<string, Outcome>` cost an object and
 * two hash-table operations per lost transaction, which a network that commits nothing makes every
 * transaction.
 */
import { TxState, type Ledger } from './beacon-ledger.js';
import { IdIndex } from './id-index.js';
import type { Outcome } from './messages.js';

const MIN_ROWS = 1024;

export class SettledRows {
  private readonly byId = new IdIndex();
  /** Rows ever added; row `seq` sits at `seq % capacity` while seq ≥ byId.floor. */
  private seq = 0;
  private capacity = 0;
  private ids: (string | undefined)[] = [];
  private errors: (string | undefined)[] = [];
  /** Rows below it are in byId (or gone); rows are indexed when one is first looked up. */
  private indexedSeq = 0;
  private sender = new Float64Array(0);
  private nonce = new Float64Array(0);
  private intendedMs = new Float64Array(0);
  private sentMs = new Float64Array(0);
  private attempts = new Uint32Array(0);
  /** TxState.Failed or TxState.Lost; 0 once taken back (a late commit). */
  private state = new Uint8Array(0);
  /** Rows let go past `max` while still held. */
  evicted = 0;

  constructor(private readonly max: number) {}

  /** Rows held (neither let go nor taken back). */
  get size(): number {
    let n = 0;
    for (let s = Math.max(this.byId.floor, this.seq - this.capacity); s < this.seq; s++) if (this.state[s % this.capacity] !== 0) n++;
    return n;
  }

  private grow(): void {
    const capacity = Math.min(this.max, Math.max(MIN_ROWS, this.capacity * 2));
    const n = this.seq; // below max no row was let go: row s sits at s
    const num = <T extends Float64Array | Uint32Array | Uint8Array>(make: new (n: number) => T, old: T): T => {
      const c = new make(capacity);
      c.set(old.subarray(0, n));
      return c;
    };
    this.sender = num(Float64Array, this.sender);
    this.nonce = num(Float64Array, this.nonce);
    this.intendedMs = num(Float64Array, this.intendedMs);
    this.sentMs = num(Float64Array, this.sentMs);
    this.attempts = num(Uint32Array, this.attempts);
    this.state = num(Uint8Array, this.state);
    this.ids.length = capacity;
    this.errors.length = capacity;
    this.capacity = capacity;
  }

  /**
   * Keeps ledger entries [from, to), every one failed or lost and with an id, oldest out past `max`,
   * with the numeric columns moved as whole slices (a flat-out beacon whose transactions are all
   * lost keeps every one of them: row by row, that was a division and eight column copies each).
   * Returns how many older rows still held were let go to make room.
   */
  addRun(t: Ledger, from: number, to: number, startMs: number): number {
    if (this.max <= 0) {
      this.evicted += to - from;
      return to - from;
    }
    let letGo = 0;
    while (from < to) {
      if (this.seq === this.capacity && this.capacity < this.max) this.grow();
      const cap = this.capacity;
      const s = this.seq;
      const r = s % cap;
      // Below max no row was let go and s < cap (row s at s); at max, up to the ring's end.
      const m = Math.min(to - from, cap - r);
      if (s + m > cap) {
        // Rows s - cap … s + m - 1 - cap go: ids naming them count as gone.
        this.byId.floor = s + m - cap;
        for (let j = r; j < r + m; j++) if (this.state[j] !== 0) letGo++;
      }
      const ids = this.ids;
      const errors = this.errors;
      const intendedMs = this.intendedMs;
      for (let j = 0; j < m; j++) {
        ids[r + j] = t.id[from + j];
        errors[r + j] = t.error[from + j];
        intendedMs[r + j] = startMs + t.intended[from + j]!;
      }
      const end = from + m;
      this.sender.set(t.sender.subarray(from, end), r);
      this.nonce.set(t.ordinal.subarray(from, end), r);
      this.sentMs.set(t.firstSentMs.subarray(from, end), r);
      this.attempts.set(t.attempts.subarray(from, end), r);
      this.state.set(t.state.subarray(from, end), r);
      this.seq = s + m;
      from = end;
    }
    this.evicted += letGo;
    return letGo;
  }

  private rowOf(id: string): number {
    if (this.indexedSeq < this.seq) {
      for (let q = Math.max(this.indexedSeq, this.seq - this.capacity); q < this.seq; q++) {
        const r = q % this.capacity;
        if (this.state[r] !== 0) this.byId.set(this.ids[r]!, q);
      }
      this.indexedSeq = this.seq;
    }
    const s = this.byId.get(id);
    if (s === undefined) return -1;
    const r = s % this.capacity;
    return this.state[r] === 0 ? -1 : r;
  }

  /** A dropped transaction that was lost. */
  isLost(id: string): boolean {
    const r = this.rowOf(id);
    return r >= 0 && this.state[r] === TxState.Lost;
  }

  /** Takes `id`'s row back (it committed after all): its outcome as it was, or undefined if not held. */
  take(id: string): Outcome | undefined {
    const r = this.rowOf(id);
    if (r < 0) return undefined;
    const lost = this.state[r] === TxState.Lost;
    const o: Outcome = {
      id,
      sender: this.sender[r]!,
      nonce: this.nonce[r]!,
      intendedMs: this.intendedMs[r]!,
      sentMs: this.sentMs[r] || null,
      committedMs: null,
      status: lost ? 'lost' : 'failed',
      errorCode: this.errors[r] ?? null,
      height: null,
      attempts: this.attempts[r]!,
    };
    this.state[r] = 0;
    this.ids[r] = undefined;
    this.errors[r] = undefined;
    this.byId.delete(id);
    return o;
  }
}
