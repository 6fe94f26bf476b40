/**
 * The two sets the replay check (replay-check.ts) needs, in bounded memory whatever the replay's
 * length:
 *
 * - `SeenIds`: every dataset transaction read so far, with its height. The last WINDOW_IDS are in
 *   a Map; all of them go, a batch at a time, into a transaction index of sorted runs on disk (the
 *   nodes' own, src/ledger/tx-index.ts) in a scratch directory (src/harness/scratch-dir.ts: removed
 *   at exit, or by the next process if this one is killed), so an older one is found by one lookup
 *   there (a Bloom filter per run, then one read).
 * - `SenderSet`: the dataset's senders as the first 8 bytes of their keys (8 bytes each, sorted,
 *   answered by binary search) instead of one hex string each.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeScratchDir, removeScratchDir } from '../../harness/scratch-dir.js';
import { INDEX_SHIFT, TxIndex } from '../../ledger/tx-index.js';

/** Ids kept in memory (45 MB of heap measured), the most recent; older ones are looked up on disk. */
export const WINDOW_IDS = 262_144;
/** Ids written to the disk index at a time (one run each, merged in tiers by the index). */
const FLUSH_IDS = 8_192;

export class SeenIds {
  private readonly recent = new Map<string, number>();
  /** Blocks written to the index whose ids are still in `recent`, oldest first (from `first`, its key `firstKey`). */
  private written: string[][] = [];
  private first = 0;
  private firstKey = 0;
  /** Blocks read since the last write to the index, and how many ids they hold. */
  private pending: { height: number; keys: string[] }[] = [];
  private pendingIds = 0;
  private index: TxIndex | undefined;
  private dir: string | undefined;
  private count = 0;

  /**
   * At most `window` ids written to the index stay in memory too (plus those not yet written, fewer
   * than FLUSH_IDS and a block). The index goes in a scratch directory under `scratchParent`
   * (TMPDIR by default: on a host whose /tmp is a tmpfs, set TMPDIR to a disk).
   */
  constructor(private readonly window = WINDOW_IDS, private readonly scratchParent = tmpdir()) {}

  /** How many ids were added. */
  get size(): number {
    return this.count;
  }

  /** Records a block's dataset transactions (latin1 id keys); blocks come in height order. */
  add(height: number, keys: string[]): void {
    if (keys.length === 0) return;
    for (const k of keys) this.recent.set(k, height);
    this.count += keys.length;
    this.pending.push({ height, keys });
    this.pendingIds += keys.length;
    if (this.pendingIds >= FLUSH_IDS) this.flush();
  }

  /** The height of an id added before, or undefined. */
  heightOf(key: string): number | undefined {
    const h = this.recent.get(key);
    if (h !== undefined || !this.index) return h;
    const loc = this.index.locate(Buffer.from(key, 'latin1'));
    return loc === undefined ? undefined : Math.floor(loc / INDEX_SHIFT);
  }

  /** Writes the pending blocks to the index (a scratch directory made on first need), then forgets the oldest ids over the window. */
  private flush(): void {
    if (!this.index) {
      this.dir = makeScratchDir('tpslab-replay-check-', this.scratchParent);
      // In a directory of its own: the index removes every file it does not know at open.
      this.index = TxIndex.open(join(this.dir, 'index'), { fsync: false });
    }
    const blocks = this.pending;
    this.pending = [];
    this.pendingIds = 0;
    const index = this.index;
    index.batch(() => {
      for (const b of blocks) index.addBlock(b.height, b.keys, undefined);
    });
    for (const b of blocks) this.written.push(b.keys);
    while (this.recent.size - this.pendingIds > this.window) {
      const keys = this.written[this.first]!;
      this.recent.delete(keys[this.firstKey++]!);
      if (this.firstKey === keys.length) {
        this.written[this.first++] = [];
        this.firstKey = 0;
      }
    }
    if (this.first > 1024 && this.first * 2 > this.written.length) {
      this.written = this.written.slice(this.first);
      this.first = 0;
    }
  }

  /** Closes the index and removes its directory. */
  async close(): Promise<void> {
    this.pending = [];
    this.written = [];
    this.recent.clear();
    try {
      await this.index?.close();
    } finally {
      if (this.dir) removeScratchDir(this.dir);
    }
  }
}

/** Account keys by their first 8 bytes: a sorted, deduplicated array, 8 bytes a sender. */
export class SenderSet {
  private keys = new BigUint64Array(1024);
  private n = 0;
  private sorted = 0;

  /** Adds a sender (its key, 8 bytes or more). */
  add(account: Uint8Array): void {
    if (this.n === this.keys.length) {
      this.compact();
      if (this.n > this.keys.length / 2) {
        const grown = new BigUint64Array(this.keys.length * 2);
        grown.set(this.keys.subarray(0, this.n));
        this.keys = grown;
      }
    }
    this.keys[this.n++] = prefixOf(account);
  }

  /** Sorts and drops repeats; call once every sender is added (add after it is allowed). */
  compact(): void {
    const a = this.keys.subarray(0, this.n).sort();
    let w = 0;
    for (let i = 0; i < a.length; i++) if (w === 0 || a[i] !== a[w - 1]) a[w++] = a[i]!;
    this.n = w;
    this.sorted = w;
  }

  get size(): number {
    return this.sorted;
  }

  has(account: Uint8Array): boolean {
    if (this.sorted !== this.n) this.compact();
    const k = prefixOf(account);
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.keys[mid]!;
      if (v === k) return true;
      if (v < k) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}

const prefixOf = (account: Uint8Array): bigint => new DataView(account.buffer, account.byteOffset, 8).getBigUint64(0, false);
