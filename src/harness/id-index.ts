/**
 * Transaction id → number (a ledger entry's index in the share, a settled row's sequence number),
 * for a beacon's hot path: an open-addressing table (linear probing) over typed arrays, where a
 * value below `floor` counts as gone. Whoever drops a prefix of what it numbers raises the floor,
 * so dropping costs nothing per id (a `Map<string, number>` cost a hash-table delete per dropped
 * transaction, on top of its set; the two were about a sixth of a flat-out beacon's CPU). Slots
 * below the floor are reused by later inserts and cleared when the table is rebuilt (once its
 * used slots pass half of it), so it stays within a small multiple of what is live.
 *
 * The hash reads the whole id: an HTTP connector's ids come from a user's template, and what varies
 * may be anywhere in them (a uuid before a constant suffix); a full compare confirms every match.
 */

const MIN_CAPACITY = 1024;
/** A slot's value when it never held an id (ends a probe). */
const EMPTY = -2;
/** A deleted id's value: below any floor, so its slot is free for reuse (a probe goes on past it). */
const GONE = -1;
export function hashOf(id: string): number {
  let h = 0x811c9dc5 ^ id.length;
  for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
  // fmix32 (MurmurHash3): spreads every character's bits to the low bits the mask keeps.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

export class IdIndex {
  /** Values below it are gone (their slots free for reuse). */
  floor = 0;
  /** Read only when a slot's hash matches, or on insert. */
  private keys: (string | undefined)[] = [];
  /**
   * Per slot, side by side: the id's hash, and its value (EMPTY: never used). A probe reads one
   * cache line here, not three arrays (with a million ids live, each read is a cache miss).
   */
  private slots = new Float64Array(0);
  private mask = -1;
  /** Slots holding a key, live or gone. */
  private used = 0;

  constructor() {
    this.alloc(MIN_CAPACITY);
  }

  private alloc(capacity: number): void {
    this.keys = new Array<string | undefined>(capacity).fill(undefined);
    this.slots = new Float64Array(2 * capacity).fill(EMPTY);
    this.mask = capacity - 1;
    this.used = 0;
  }

  /** The slot holding `id` live (hash `h`), or -1. */
  private find(id: string, h: number): number {
    const slots = this.slots;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const v = slots[2 * s + 1]!;
      if (v === EMPTY) return -1;
      if (slots[2 * s] === h && v >= this.floor && this.keys[s] === id) return s;
    }
  }

  /** The live value of `id`, if any. */
  get(id: string): number | undefined {
    const s = this.find(id, hashOf(id));
    return s < 0 ? undefined : this.slots[2 * s + 1];
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** `id` now names `value` (≥ floor); an earlier live value of the same id is replaced. */
  set(id: string, value: number): void {
    const h = hashOf(id);
    const slots = this.slots;
    let free = -1;
    let s = h & this.mask;
    for (; ; s = (s + 1) & this.mask) {
      const v = slots[2 * s + 1]!;
      if (v === EMPTY) break;
      if (v < this.floor) {
        if (free < 0) free = s;
      } else if (slots[2 * s] === h && this.keys[s] === id) {
        slots[2 * s + 1] = value;
        return;
      }
    }
    if (free < 0) {
      free = s;
      this.used++;
    }
    this.keys[free] = id;
    slots[2 * free] = h;
    slots[2 * free + 1] = value;
    if (this.used * 2 > this.keys.length) this.rebuild();
  }

  /** Forgets `id` (its value is gone as if below the floor). */
  delete(id: string): void {
    const s = this.find(id, hashOf(id));
    if (s >= 0) this.slots[2 * s + 1] = GONE;
  }

  /** Live entries (a scan: for tests and rebuilding). */
  get size(): number {
    let n = 0;
    for (let s = 0; s < this.keys.length; s++) if (this.slots[2 * s + 1]! >= this.floor) n++;
    return n;
  }

  /** Re-lays the live entries into a table four times their number (gone ones cleared). */
  private rebuild(): void {
    const { keys, slots, floor } = this;
    const live = this.size;
    let capacity = MIN_CAPACITY;
    while (capacity < live * 4) capacity *= 2;
    this.alloc(capacity);
    for (let s = 0; s < keys.length; s++) {
      const v = slots[2 * s + 1]!;
      if (v < floor) continue;
      const h = slots[2 * s]!;
      let t = h & this.mask;
      while (this.slots[2 * t + 1] !== EMPTY) t = (t + 1) & this.mask;
      this.keys[t] = keys[s];
      this.slots[2 * t] = h;
      this.slots[2 * t + 1] = v;
      this.used++;
    }
  }
}
