/**
 * The Bloom filter of a run of the transaction index (tx-runs.ts): blocked, so that adding or asking an
 * id touches one 64-byte block (one cache line), 10 bits an id and 7 bits set per id (about 1% false
 * positives). A lookup asks a run's filter before reading the run: a missing id costs a few
 * nanoseconds a run instead of a file read.
 *
 * Ids are hashes (SHA-256 of the signed transaction), so the filter takes its bits from the id itself:
 * bytes 4..8 pick the block (bytes 0..4 are the fences' key), bytes 8..16 the 7 bits in it.
 */

/** Bytes a filter block. */
export const BLOOM_BLOCK_BYTES = 64;
const BITS_PER_ID = 10;
const TWO_32 = 2 ** 32;

/** How many 64-byte blocks a filter for up to `count` ids has (at least 1). */
export const bloomBlocksFor = (count: number): number => Math.max(1, Math.ceil((count * BITS_PER_ID) / (BLOOM_BLOCK_BYTES * 8)));

/** Sets (`set`) or tests the 7 bits of the id at `at` in `src`; whether all were set before (a test stops at the first clear one). */
function probe(bits: Uint8Array, blocks: number, src: DataView, at: number, set: boolean): boolean {
  const base = Math.floor((src.getUint32(at + 4, true) * blocks) / TWO_32) * BLOOM_BLOCK_BYTES;
  const b = src.getUint32(at + 8, true);
  const c = src.getUint32(at + 12, true);
  let all = true;
  for (let i = 0; i < 7; i++) {
    // 9 bits each from the 64 of b and c: bits 0..8, 9..17, 18..26, 27..35 (across), 36..44, 45..53, 54..62
    const p = i < 3 ? (b >>> (i * 9)) & 511 : i === 3 ? ((b >>> 27) | (c << 5)) & 511 : (c >>> (i * 9 - 32)) & 511;
    const byte = base + (p >>> 3);
    const mask = 1 << (p & 7);
    if ((bits[byte]! & mask) === 0) {
      if (!set) return false;
      all = false;
      bits[byte] = bits[byte]! | mask;
    }
  }
  return all;
}

export class BloomFilter {
  readonly blocks: number;

  /** A filter over `bits` (its length a multiple of 64 bytes), or a new empty one for up to `count` ids. */
  constructor(readonly bits: Uint8Array) {
    this.blocks = bits.length / BLOOM_BLOCK_BYTES;
  }

  static sizedFor(count: number): BloomFilter {
    return new BloomFilter(new Uint8Array(bloomBlocksFor(count) * BLOOM_BLOCK_BYTES));
  }

  add(src: DataView, at: number): void {
    probe(this.bits, this.blocks, src, at, true);
  }

  /** False if the id is certainly not in the run; true if it may be. */
  mayHold(id: DataView): boolean {
    return probe(this.bits, this.blocks, id, 0, false);
  }
}
