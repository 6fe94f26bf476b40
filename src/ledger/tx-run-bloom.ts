/**
 * The Bloom filter of a run of the transaction index (tx-runs.ts): blocked, so that adding or asking an
 * id touches one 64-byte block (one cache line), 10 bits an id and 7 bits set per id (about 1% false
 * positives). A lookup asks a run's filter before reading the run: a missing id costs a few
 * nanoseconds a run instead of a file read.
 *
 * Ids are hashes (SHA-256 of the signed transaction), so the filter takes its bits from the id itself:
 * bytes 0..4 (the fences' key, big-endian) pick the block, so a run written in id order fills its filter
 * front to back (no cache miss per id, whatever the filter's size); bytes 8..16 pick the 7 bits in it.
 */

/** Bytes a filter block. */
export const BLOOM_BLOCK_BYTES = 64;
const BITS_PER_ID = 10;
const TWO_32 = 2 ** 32;

/** How many 64-byte blocks a filter for up to `count` ids has (at least 1). */
export const bloomBlocksFor = (count: number): number => Math.max(1, Math.ceil((count * BITS_PER_ID) / (BLOOM_BLOCK_BYTES * 8)));

/** Byte offset of the filter block of an id whose first 4 bytes (big-endian) are `key`. */
const blockOf = (key: number, blocks: number): number => Math.floor((key * blocks) / TWO_32) * BLOOM_BLOCK_BYTES;

/** Whether bit `p` (0..511) of the block at `base` is set. */
const has = (bits: Uint8Array, base: number, p: number): boolean => (bits[base + (p >>> 3)]! & (1 << (p & 7))) !== 0;

/** Sets bit `p` (0..511) of the block at `base`. */
function set(bits: Uint8Array, base: number, p: number): void {
  const i = base + (p >>> 3);
  bits[i] = bits[i]! | (1 << (p & 7));
}

export class BloomFilter {
  readonly blocks: number;

  /** A filter over `bits` (its length a multiple of 64 bytes). */
  constructor(readonly bits: Uint8Array) {
    this.blocks = bits.length / BLOOM_BLOCK_BYTES;
  }

  /** An empty filter for up to `count` ids. */
  static sizedFor(count: number): BloomFilter {
    return new BloomFilter(new Uint8Array(bloomBlocksFor(count) * BLOOM_BLOCK_BYTES));
  }

  /**
   * Adds an id given as its bytes 0..4 read big-endian (`key`), 8..12 and 12..16 read little-endian (`b`,
   * `c`). Its 7 bits: 9 each from the 64 of b and c (bits 0..8, 9..17, 18..26, 27..35 across, 36..44,
   * 45..53, 54..62).
   */
  add(key: number, b: number, c: number): void {
    const bits = this.bits;
    const base = blockOf(key, this.blocks);
    set(bits, base, b & 511);
    set(bits, base, (b >>> 9) & 511);
    set(bits, base, (b >>> 18) & 511);
    set(bits, base, ((b >>> 27) | (c << 5)) & 511);
    set(bits, base, (c >>> 4) & 511);
    set(bits, base, (c >>> 13) & 511);
    set(bits, base, (c >>> 22) & 511);
  }

  /** False if the id is certainly not in the run; true if it may be. */
  mayHold(id: Buffer): boolean {
    const bits = this.bits;
    const base = blockOf(id.readUInt32BE(0), this.blocks);
    const b = id.readUInt32LE(8);
    const c = id.readUInt32LE(12);
    return has(bits, base, b & 511) && has(bits, base, (b >>> 9) & 511) && has(bits, base, (b >>> 18) & 511) &&
      has(bits, base, ((b >>> 27) | (c << 5)) & 511) && has(bits, base, (c >>> 4) & 511) && has(bits, base, (c >>> 13) & 511) &&
      has(bits, base, (c >>> 22) & 511);
  }
}
