/**
 * An order-independent digest of a set of transaction ids: the count, and the
 * sum of SHA-256(id) modulo 2^256 (an additive set hash, "AdHash"). Adding ids
 * in any order gives the same digest, and the digest of a union of disjoint
 * sets is the sum of theirs, so beacons' digests add up and ranges split and
 * merge without reading ids again. docs/harness.md ("Reconciliation") gives the
 * collision argument. Pure: no I/O.
 */
import { hash } from 'node:crypto';

/** A hash as eight 32-bit limbs, least significant first (how the commit store keeps it, so SQL can SUM it). */
export const LIMBS = 8;
const MASK = (1n << 256n) - 1n;

export function hashOfId(id: string): Buffer {
  return hash('sha256', id, 'buffer');
}

/** The limbs of a 32-byte hash read as a big-endian 256-bit number. */
export function limbsOf(hash: Buffer): number[] {
  const out = new Array<number>(LIMBS);
  for (let k = 0; k < LIMBS; k++) out[k] = hash.readUInt32BE((LIMBS - 1 - k) * 4);
  return out;
}

/** A digest as it travels in messages. */
export interface DigestJson {
  count: number;
  /** The sum of SHA-256 of the ids mod 2^256, 64 lowercase hex digits. */
  digest: string;
}

/** Hashes added into the limbs before they are folded into the sum (each limb stays below 2^52, exact in a double). */
const FOLD_EVERY = 1 << 20;

/** A count and a 256-bit sum. */
export class SetDigest {
  count = 0;
  private base = 0n;
  /** Hashes added since the last fold, as limb sums: adding a hash costs eight additions, no BigInt (a beacon's hot path). */
  private readonly limbs = new Float64Array(LIMBS);
  private unfolded = 0;

  add(id: string): this {
    return this.addHash(hashOfId(id));
  }

  addHash(h: Buffer): this {
    for (let k = 0; k < LIMBS; k++) this.limbs[k]! += h.readUInt32BE((LIMBS - 1 - k) * 4);
    this.count++;
    if (++this.unfolded >= FOLD_EVERY) this.fold();
    return this;
  }

  private fold(): void {
    let s = this.base;
    for (let k = 0; k < LIMBS; k++) s += BigInt(this.limbs[k]!) << BigInt(32 * k);
    this.base = s & MASK;
    this.limbs.fill(0);
    this.unfolded = 0;
  }

  /** The sum mod 2^256. */
  get sum(): bigint {
    if (this.unfolded > 0) this.fold();
    return this.base;
  }

  set sum(v: bigint) {
    this.limbs.fill(0);
    this.unfolded = 0;
    this.base = v & MASK;
  }

  /** Adds `count` ids whose hashes' limbs sum to `limbSums` (any size: a SQL SUM per limb). */
  addLimbSums(limbSums: readonly bigint[], count: number): this {
    let s = this.sum;
    for (let k = 0; k < LIMBS; k++) s += limbSums[k]! << BigInt(32 * k);
    this.sum = s & MASK;
    this.count += count;
    return this;
  }

  merge(o: SetDigest | DigestJson): this {
    const d = o instanceof SetDigest ? o : SetDigest.fromJson(o);
    this.sum = (this.sum + d.sum) & MASK;
    this.count += d.count;
    return this;
  }

  get hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }

  equals(o: SetDigest | DigestJson): boolean {
    const d = o instanceof SetDigest ? o : SetDigest.fromJson(o);
    return this.count === d.count && this.sum === d.sum;
  }

  toJson(): DigestJson {
    return { count: this.count, digest: this.hex };
  }

  static fromJson(j: DigestJson): SetDigest {
    const d = new SetDigest();
    d.sum = BigInt(`0x${j.digest}`) & MASK;
    d.count = j.count;
    return d;
  }

  static of(ids: Iterable<string>): SetDigest {
    const d = new SetDigest();
    for (const id of ids) d.add(id);
    return d;
  }
}
