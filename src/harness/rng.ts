/**
 * A small seeded PRNG for load plans: xoshiro128** (Blackman & Vigna), 32-bit
 * state words driven with Math.imul, so it needs no BigInt and no dependency.
 *
 * A generator is named by (seed, stream): the same pair always yields the same
 * sequence, and different stream labels give independent sequences from one
 * seed, so e.g. the sender draws do not shift when the recipient policy changes.
 * Not for cryptography.
 */
import { TpslabError } from '../errors.js';

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number;
  /** Uniform integer in [0, n) without modulo bias; n an integer in [1, 2^32]. */
  nextBelow(n: number): number;
}

/** murmur3's finaliser: a bijection on 32-bit words with good avalanche. */
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

class Xoshiro128 implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private boundN = 0;
  private boundLimit = 0;

  constructor(s0: number, s1: number, s2: number, s3: number) {
    this.s0 = s0 | 0;
    this.s1 = s1 | 0;
    this.s2 = s2 | 0;
    this.s3 = s3 | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
    for (let i = 0; i < 8; i++) this.nextUint32();
  }

  nextUint32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result >>> 0;
  }

  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  nextBelow(n: number): number {
    if (n !== this.boundN) {
      this.boundN = n;
      this.boundLimit = TWO_POW_32 - (TWO_POW_32 % n); // largest multiple of n that fits: no modulo bias
    }
    let r = this.nextUint32();
    while (r >= this.boundLimit) r = this.nextUint32();
    // r mod n by float division (faster than fmod on uint32 values); the quotient may round up by one.
    const m = r - Math.floor(r / n) * n;
    return m < 0 ? m + n : m;
  }
}

/**
 * A generator for (seed, stream). `seed` may be any finite number (its float64
 * bits are used, so 1 and 1.5 differ; 0 and -0 are the same); `path` names the
 * option in the error when it is not finite.
 */
export function createRng(seed: number, stream: string, path = 'seed'): Rng {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new TpslabError('TPSLAB_E_SCENARIO', `${path} is ${String(seed)}; it must be a finite number (an integer such as 42 is usual).`, {
      details: { field: path },
    });
  }
  const bits = new DataView(new ArrayBuffer(8));
  bits.setFloat64(0, seed === 0 ? 0 : seed);
  const hi = bits.getUint32(0);
  const lo = bits.getUint32(4);
  const label = fnv1a(stream);
  // Each word is a bijection of one input, so distinct (seed, stream) give distinct states.
  return new Xoshiro128(
    fmix32(lo ^ 0x9e3779b9),
    fmix32(hi ^ 0x7f4a7c15),
    fmix32(label ^ 0xc2b2ae35),
    fmix32((lo + hi + label + 0x27d4eb2f) >>> 0),
  );
}
