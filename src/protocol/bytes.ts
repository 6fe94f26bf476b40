import { TpslabError } from '../errors.js';

const U64_MAX = (1n << 64n) - 1n;

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
    if (v < 0n || v > U64_MAX) throw new RangeError(`u64 out of range: ${v}`);
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
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
 */
export class ByteReader {
  private pos = 0;
  /** Where the field being read starts, for error messages. */
  private fieldStart = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(field: string, problem: string, code: 'TPSLAB_E_DECODE' | 'TPSLAB_E_OLD_FORMAT' = 'TPSLAB_E_DECODE'): never {
    throw new TpslabError(code, `${this.what}: ${field} at byte ${this.fieldStart}: ${problem}`, {
      details: { field, offset: this.fieldStart },
    });
  }

  private need(n: number, field: string): void {
    this.fieldStart = this.pos;
    if (this.pos + n > this.buf.length) {
      this.fail(field, `needs ${n} bytes but only ${this.remaining} remain (truncated?)`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf.readUInt8(this.pos++);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
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

  /** A copy, so decoded values never alias the (possibly reused) input buffer. */
  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** A count or length bounded by [min, max]. */
  bounded(value: number, min: number, max: number, field: string): number {
    if (value < min || value > max) this.fail(field, `is ${value}, must be between ${min} and ${max}`);
    return value;
  }

  end(): void {
    if (this.remaining !== 0) this.fail('end', `${this.remaining} trailing bytes after a complete value`);
  }
}
