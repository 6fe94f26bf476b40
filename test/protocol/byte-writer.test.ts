// ByteWriter.u64 writes values up to 2^53 - 1 as two 32-bit halves (no BigInt shifts): the bytes must be
// writeBigUInt64BE's at every boundary, and values outside u64 must still be refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteWriter } from '../../src/protocol/bytes.js';

const reference = (v: bigint): string => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b.toString('hex');
};

test('u64 gives writeBigUInt64BE bytes at the 32-bit, 53-bit and 64-bit boundaries', () => {
  const values = [0n, 1n, 255n, 256n, 0xffff_ffffn, 0x1_0000_0000n, 0x1_0000_0001n, 0xdead_beef_cafen, 2n ** 53n - 2n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n];
  for (const v of values) assert.equal(new ByteWriter(1).u8(7).u64(v).finish().subarray(1).toString('hex'), reference(v), String(v));
});

test('u64 refuses negative values and values above 2^64 - 1, writing nothing', () => {
  const w = new ByteWriter(16).u8(1);
  assert.throws(() => w.u64(-1n), RangeError);
  assert.throws(() => w.u64(2n ** 64n), RangeError);
  assert.equal(w.finish().toString('hex'), '01');
});
