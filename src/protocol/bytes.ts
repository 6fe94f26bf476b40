import { TpslabError } from '../errors.js';

const U64_MAX = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_32 = 2 ** 32;

/** Growable big-endian writer. */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSizeBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialSizeBytes);
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf.writeUInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  u64(v: bigint): this {
    this.ensure(8);
    const buf = this.buf;
    const pos = this.pos;
    if (v >= 0n && v <= MAX_SAFE) {
      // Balances, nonces and heights fit a double: two 32-bit halves, no BigInt shifted or masked.
      const n = Number(v);
      const hi = Math.floor(n / TWO_32);
      const lo = n >>> 0;
      buf[pos] = hi >>> 24;
      buf[pos + 1] = hi >>> 16;
      buf[pos + 2] = hi >>> 8;
      buf[pos + 3] = hi;
      buf[pos + 4] = lo >>> 24;
      buf[pos + 5] = lo >>> 16;
      buf[pos + 6] = lo >>> 8;
      buf[pos + 7] = lo;
    } else {
      if (v < 0n || v > U64_MAX) throw new RangeError(`u64 out of range: ${v}`);
      buf.writeBigUInt64BE(v, pos);
    }
    this.pos = pos + 8;
    return this;
  }

  /** A string of one-byte characters (a latin1 map key) as its bytes, without a Buffer made of it first. */
  latin1(s: string): this {
    this.ensure(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Strict big-endian reader: every read is bounds-checked and failures are
 * TPSLAB_E_DECODE errors that name the field being read and the offset.
 *
 * A field name may hold `[]` and be given an index: the name with `[i]` is
 * built only if the read fails, so the hot path allocates no strings.
 */
export class ByteReader {
  private pos = 0;
  /** Where the field being read starts, for error messages. */
  private fieldStart = 0;

  /**
   * `views`: the caller owns `buf` and keeps it unchanged, so `bytes()` may return
   * subarrays of it instead of copies.
   */
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
    private readonly views = false,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(field: string, problem: string, code: 'TPSLAB_E_DECODE' | 'TPSLAB_E_OLD_FORMAT' = 'TPSLAB_E_DECODE', index?: number): never {
    const name = index === undefined ? field : field.replace('[]', `[${index}]`);
    throw new TpslabError(code, `${this.what}: ${name} at byte ${this.fieldStart}: ${problem}`, {
      details: { field: name, offset: this.fieldStart },
    });
  }

  private need(n: number, field: string, index: number | undefined): void {
    this.fieldStart = this.pos;
    if (this.pos + n > this.buf.length) {
      this.fail(field, `needs ${n} bytes but only ${this.remaining} remain (truncated?)`, 'TPSLAB_E_DECODE', index);
    }
  }

  u8(field: string, index?: number): number {
    this.need(1, field, index);
    return this.buf[this.pos++]!;
  }

  u16(field: string, index?: number): number {
    this.need(2, field, index);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string, index?: number): number {
    this.need(4, field, index);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field: string, index?: number): bigint {
    this.need(8, field, index);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A u64 that must fit a JS number exactly (at most 2^53 - 1), else a coded decode error naming the field. */
  u64Safe(field: string): number {
    const v = this.u64(field);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(field, `is ${v}, more than ${Number.MAX_SAFE_INTEGER} (2^53 - 1), the largest this implementation represents exactly`);
    return Number(v);
  }

  /** A copy, so decoded values never alias the (possibly reused) input buffer; a view if the reader was made with `views`. */
  bytes(n: number, field: string, index?: number): Buffer {
    return this.views ? this.view(n, field, index) : Buffer.from(this.view(n, field, index));
  }

  /** The next `n` bytes as a subarray of the input: valid only as long as the input is. */
  view(n: number, field: string, index?: number): Buffer {
    this.need(n, field, index);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A count or length bounded by [min, max]. */
  bounded(value: number, min: number, max: number, field: string, index?: number): number {
    if (value < min || value > max) this.fail(field, `is ${value}, must be between ${min} and ${max}`, 'TPSLAB_E_DECODE', index);
    return value;
  }

  end(): void {
    if (this.remaining !== 0) this.fail('end', `${this.remaining} trailing bytes after a complete value`);
  }
}
