/**
 * Transaction id → number (a ledger entry's index in the share, a settled row's sequence number),
 * for a beacon's hot path: an open-addressing table (linear probing) over typed arrays, where a
 * value below `floor` counts as gone. Whoever drops a prefix of what it numbers raises the floor,
 * so dropping costs nothing per id (a `Map<string, number>` cost a hash-table delete per dropped
 * transaction, on top of its set; the two were about a sixth of a flat-out beacon's CPU). Slots
 * below the floor are reused by later inserts and cleared when the table is rebuilt (once its
 * used slots pass half of it), so it stays within a small multiple of what is live.
 *
 * The hash reads at most HASHED_CHARS characters from the end of the id: transaction ids are
 * hashes (hex) or end with what varies (a sequence); a full compare confirms every match.
 */

const MIN_CAPACITY = 1024;
/** Characters hashed, from the end of the id. */
const HASHED_CHARS = 12;

function hashOf(id: string): number {
  let h = 0x811c9dc5 ^ id.length;
  for (let k = Math.max(0, id.length - HASHED_CHARS); k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
  // fmix32 (MurmurHash3): spreads the last characters' bits to the low bits the mask keeps.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

export class IdIndex {
  /** Values below it are gone (their slots free for reuse). */
  floor = 0;
  private keys: (string | undefined)[] = [];
  private hashes = new Int32Array(0);
  private vals = new Float64Array(0);
  private mask = -1;
  /** Slots holding a key, live or gone. */
  private used = 0;

  constructor() {
    this.alloc(MIN_CAPACITY);
  }

  private alloc(capacity: number): void {
    this.keys = new Array<string | undefined>(capacity).fill(undefined);
    this.hashes = new Int32Array(capacity);
    this.vals = new Float64Array(capacity);
    this.mask = capacity - 1;
    this.used = 0;
  }

  /** The live value of `id`, if any. */
  get(id: string): number | undefined {
    const h = hashOf(id);
    const keys = this.keys;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const k = keys[s];
      if (k === undefined) return undefined;
      if (this.hashes[s] === h && this.vals[s]! >= this.floor && k === id) return this.vals[s];
    }
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** `id` now names `value` (≥ floor); an earlier live value of the same id is replaced. */
  set(id: string, value: number): void {
    const h = hashOf(id);
    const keys = this.keys;
    let free = -1;
    let s = h & this.mask;
    for (; ; s = (s + 1) & this.mask) {
      const k = keys[s];
      if (k === undefined) break;
      if (this.vals[s]! < this.floor) {
        if (free < 0) free = s;
      } else if (this.hashes[s] === h && k === id) {
        this.vals[s] = value;
        return;
      }
    }
    if (free < 0) {
      free = s;
      this.used++;
    }
    keys[free] = id;
    this.hashes[free] = h;
    this.vals[free] = value;
    if (this.used * 2 > keys.length) this.rebuild();
  }

  /** Forgets `id` (its value is gone as if below the floor). */
  delete(id: string): void {
    const h = hashOf(id);
    const keys = this.keys;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const k = keys[s];
      if (k === undefined) return;
      if (this.hashes[s] === h && this.vals[s]! >= this.floor && k === id) {
        this.vals[s] = -1;
        return;
      }
    }
  }

  /** Live entries (a scan: for tests and rebuilding). */
  get size(): number {
    let n = 0;
    for (let s = 0; s < this.keys.length; s++) if (this.keys[s] !== undefined && this.vals[s]! >= this.floor) n++;
    return n;
  }

  /** Re-lays the live entries into a table four times their number (gone ones cleared). */
  private rebuild(): void {
    const { keys, hashes, vals, floor } = this;
    const live = this.size;
    let capacity = MIN_CAPACITY;
    while (capacity < live * 4) capacity *= 2;
    this.alloc(capacity);
    for (let s = 0; s < keys.length; s++) {
      const k = keys[s];
      if (k === undefined || vals[s]! < floor) continue;
      let t = hashes[s]! & this.mask;
      while (this.keys[t] !== undefined) t = (t + 1) & this.mask;
      this.keys[t] = k;
      this.hashes[t] = hashes[s]!;
      this.vals[t] = vals[s]!;
      this.used++;
    }
  }
}
