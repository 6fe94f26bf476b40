import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { bech32, bech32m } from '@scure/base';
import { ADDRESS_PREFIX, decodeAddress, encodeAddress, isAddress } from '../../src/protocol/address.js';
import { batchSize, encodeBatch, splitBatch } from '../../src/protocol/batch.js';
import { BLOCK_VERSION, blockHash, decodeBlock, encodeBlock, makeBlock, txRoot, type Block } from '../../src/protocol/block.js';
import { ByteWriter } from '../../src/protocol/bytes.js';
import { decodeTx } from '../../src/protocol/signing.js';
import { filled, KEYS, key, sampleTxs, throwsCoded } from './fixtures.js';

const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

describe('addresses', () => {
  test('fixture keys encode to tps1 addresses and decode back', () => {
    for (const k of KEYS) {
      assert.ok(k.address.startsWith(`${ADDRESS_PREFIX}1`));
      assert.equal(encodeAddress(k.publicKey), k.address);
      assert.ok(decodeAddress(k.address).equals(k.publicKey));
      assert.ok(isAddress(k.address));
    }
  });

  test('property: any 32 bytes round-trip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (u) => {
        const a = encodeAddress(u);
        assert.match(a, /^tps1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/);
        assert.ok(decodeAddress(a).equals(Buffer.from(u)));
      }),
      { numRuns: 200 },
    );
  });

  test('every single changed character is rejected (checksum)', () => {
    for (const k of [key(0), key(1)]) {
      const a = k.address;
      for (let i = 0; i < a.length; i++) {
        for (const c of `${BECH32_CHARSET}1bio`) {
          if (c === a[i]) continue;
          const changed = a.slice(0, i) + c + a.slice(i + 1);
          const err = throwsCoded(() => decodeAddress(changed, 'to'), 'TPSLAB_E_BAD_ADDRESS', /^to: /);
          assert.equal(err.details?.['field'], 'to');
          assert.equal(isAddress(changed), false);
        }
      }
    }
  });

  test('a dropped, added or swapped character is rejected', () => {
    const a = key(2).address;
    for (let i = 4; i < a.length; i++) {
      throwsCoded(() => decodeAddress(a.slice(0, i) + a.slice(i + 1)), 'TPSLAB_E_BAD_ADDRESS');
      throwsCoded(() => decodeAddress(a.slice(0, i) + 'q' + a.slice(i)), 'TPSLAB_E_BAD_ADDRESS');
      if (i + 1 < a.length && a[i] !== a[i + 1]) {
        throwsCoded(() => decodeAddress(a.slice(0, i) + a[i + 1] + a[i] + a.slice(i + 2)), 'TPSLAB_E_BAD_ADDRESS');
      }
    }
  });

  test('wrong prefix is rejected', () => {
    const words = bech32m.toWords(key(0).publicKey);
    for (const prefix of ['tpx', 'bc', 'tps2', 'tp']) {
      throwsCoded(() => decodeAddress(bech32m.encode(prefix, words), 'from'), 'TPSLAB_E_BAD_ADDRESS', new RegExp(`^from: prefix "${prefix}" is not "tps"`));
    }
  });

  test('bech32 (not bech32m) checksum is rejected', () => {
    throwsCoded(() => decodeAddress(bech32.encode(ADDRESS_PREFIX, bech32.toWords(key(0).publicKey))), 'TPSLAB_E_BAD_ADDRESS');
  });

  test('wrong length is rejected', () => {
    for (const n of [0, 1, 20, 31, 33, 64]) {
      const a = bech32m.encode(ADDRESS_PREFIX, bech32m.toWords(filled(n, n)), false);
      throwsCoded(() => decodeAddress(a, 'account'), 'TPSLAB_E_BAD_ADDRESS', /^account: /);
      throwsCoded(() => encodeAddress(filled(n, n)), 'TPSLAB_E_BAD_ADDRESS', /32 bytes/);
    }
  });

  test('garbage and mixed case are rejected', () => {
    const a = key(0).address;
    for (const bad of ['', 'tps1', 'tps', '1', 'not an address', ` ${a}`, `${a} `, a.slice(0, 8).toUpperCase() + a.slice(8), 'x'.repeat(200)]) {
      throwsCoded(() => decodeAddress(bad), 'TPSLAB_E_BAD_ADDRESS', /^address: /);
    }
  });
});

// ------------------------------------------------------------------ blocks

describe('blocks', () => {
  const txs = sampleTxs().map(([, tx]) => tx);
  const fields = { height: 42, prevHash: filled(32, 1), timestampMs: 1_700_000_000_123, stateHash: filled(32, 2), txs };

  /** The block hash as documented, computed independently of block.ts. */
  function expectedHash(b: Omit<Block, 'hash'>): Buffer {
    const root = createHash('sha256');
    for (const tx of b.txs) root.update(tx.id);
    const w = new ByteWriter(16);
    w.u8(1).u64(BigInt(b.height)).bytes(b.prevHash).u64(BigInt(b.timestampMs)).bytes(b.stateHash).bytes(root.digest());
    return createHash('sha256').update(w.finish()).digest();
  }

  test('encode/decode round trip keeps every field and the hash', () => {
    const block = makeBlock(fields);
    assert.ok(block.hash.equals(blockHash(fields)));
    assert.ok(block.hash.equals(expectedHash(fields)));
    const bytes = encodeBlock(block);
    assert.equal(bytes[0], BLOCK_VERSION);
    const back = decodeBlock(bytes);
    assert.equal(back.height, 42);
    assert.equal(back.timestampMs, fields.timestampMs);
    assert.ok(back.prevHash.equals(fields.prevHash));
    assert.ok(back.stateHash.equals(fields.stateHash));
    assert.ok(back.hash.equals(block.hash));
    assert.equal(back.txs.length, txs.length);
    back.txs.forEach((tx, i) => {
      assert.ok(tx.id.equals(txs[i]!.id));
      assert.ok(tx.bytes.equals(txs[i]!.bytes));
      assert.deepEqual(tx.body, txs[i]!.body);
    });
    assert.ok(encodeBlock(back).equals(bytes));
  });

  test('empty block round-trips; hash is stable and deterministic', () => {
    const empty = { ...fields, height: 0, txs: [] };
    const a = makeBlock(empty);
    const b = makeBlock({ ...empty, prevHash: Buffer.from(empty.prevHash), stateHash: Buffer.from(empty.stateHash) });
    assert.ok(a.hash.equals(b.hash));
    assert.ok(a.hash.equals(expectedHash(empty)));
    assert.ok(txRoot([]).equals(createHash('sha256').digest()));
    const back = decodeBlock(encodeBlock(a));
    assert.equal(back.txs.length, 0);
    assert.ok(back.hash.equals(a.hash));
  });

  test('the hash commits to every header field and every transaction', () => {
    const base = makeBlock(fields).hash;
    const variants: Array<Omit<Block, 'hash'>> = [
      { ...fields, height: 43 },
      { ...fields, timestampMs: fields.timestampMs + 1 },
      { ...fields, prevHash: filled(32, 3) },
      { ...fields, stateHash: filled(32, 4) },
      { ...fields, txs: txs.slice(1) },
      { ...fields, txs: [...txs].reverse() },
    ];
    const hashes = new Set([base.toString('hex')]);
    for (const v of variants) hashes.add(makeBlock(v).hash.toString('hex'));
    assert.equal(hashes.size, variants.length + 1);
  });

  test('every truncation, a trailing byte and a bad version are decode errors', () => {
    const bytes = encodeBlock(makeBlock({ ...fields, txs: txs.slice(0, 2) }));
    for (let len = 0; len < bytes.length; len++) {
      throwsCoded(() => decodeBlock(Buffer.from(bytes.subarray(0, len))), 'TPSLAB_E_DECODE', /^(block|transaction): /);
    }
    throwsCoded(() => decodeBlock(Buffer.concat([bytes, Buffer.from([0])])), 'TPSLAB_E_DECODE', /^block: end /);
    const v = Buffer.from(bytes);
    v[0] = 2;
    throwsCoded(() => decodeBlock(v), 'TPSLAB_E_DECODE', /^block: version .*unknown block version 2/);
  });

  test('u64 height and timestamp over 2^53 decoded wrong or threw a plain RangeError: now exact or TPSLAB_E_DECODE naming the field', () => {
    const bytes = encodeBlock(makeBlock({ ...fields, txs: txs.slice(0, 1) }));
    const heightAt = 1;
    const timestampAt = 1 + 8 + 32;
    const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(['height', heightAt] as const, ['timestampMs', timestampAt] as const), (v, [field, at]) => {
        const b = Buffer.from(bytes);
        b.writeBigUInt64BE(v, at);
        if (v <= SAFE) {
          const back = decodeBlock(b);
          assert.equal(BigInt(field === 'height' ? back.height : back.timestampMs), v);
        } else {
          throwsCoded(() => decodeBlock(b), 'TPSLAB_E_DECODE', new RegExp(`^block: ${field} at byte ${at}: is ${v}, more than`));
        }
      }),
      { examples: [[SAFE, ['height', heightAt]], [SAFE + 1n, ['height', heightAt]], [(1n << 64n) - 1n, ['timestampMs', timestampAt]], [(1n << 64n) - 1n, ['height', heightAt]]] },
    );
  });

  test('bad transaction framing inside a block is a decode error', () => {
    const bytes = encodeBlock(makeBlock({ ...fields, txs: txs.slice(0, 1) }));
    const lenAt = 1 + 8 + 32 + 8 + 32 + 4;
    const zero = Buffer.from(bytes);
    zero.writeUInt32BE(0, lenAt);
    throwsCoded(() => decodeBlock(zero), 'TPSLAB_E_DECODE', /txs\[0\]\.length/);
    // A length one short leaves the transaction truncated and a byte behind.
    const short = Buffer.from(bytes);
    short.writeUInt32BE(txs[0]!.bytes.length - 1, lenAt);
    throwsCoded(() => decodeBlock(short), 'TPSLAB_E_DECODE');
    const count = Buffer.from(bytes);
    count.writeUInt32BE(2, lenAt - 4);
    throwsCoded(() => decodeBlock(count), 'TPSLAB_E_DECODE', /txs\[1\]\.length/);
    const tooMany = Buffer.from(bytes);
    tooMany.writeUInt32BE(100_001, lenAt - 4);
    throwsCoded(() => decodeBlock(tooMany), 'TPSLAB_E_DECODE', /txCount/);
  });
});

// ------------------------------------------------------------------ batches

describe('batch framing', () => {
  const txBytes = sampleTxs().map(([, tx]) => tx.bytes);

  test('encodeBatch/splitBatch round trip', () => {
    const batch = encodeBatch(txBytes);
    const parts = splitBatch(batch, 100, 1 << 20);
    assert.equal(parts.length, txBytes.length);
    parts.forEach((p, i) => {
      assert.ok(p.equals(txBytes[i]!));
      assert.ok(decodeTx(p).bytes.equals(txBytes[i]!));
    });
  });

  test('encodeBatch into a reused buffer: exactly the batch, whatever a longer earlier batch left there', () => {
    const into = Buffer.alloc(64 * 1024, 0xee);
    const long = encodeBatch(txBytes, into);
    assert.equal(long.buffer, into.buffer, 'written in place');
    const short = encodeBatch(txBytes.slice(0, 1), into);
    assert.ok(short.equals(encodeBatch(txBytes.slice(0, 1))));
    assert.equal(short.length, batchSize(txBytes.slice(0, 1)));
    // Too small a buffer: a fresh one.
    const small = Buffer.alloc(8);
    const fresh = encodeBatch(txBytes, small);
    assert.notEqual(fresh.buffer, small.buffer);
    assert.ok(fresh.equals(encodeBatch(txBytes)));
  });

  test('encodeBatch given a size larger than the batch refuses (it would send a reused buffer\'s stale bytes)', () => {
    const into = Buffer.alloc(64 * 1024, 0xee);
    const size = batchSize(txBytes);
    assert.throws(() => encodeBatch(txBytes, into, size + 4), (e: Error & { code?: string }) => e.code === 'TPSLAB_E_INTERNAL' && /batchSize/.test(e.message));
    assert.ok(encodeBatch(txBytes, into, size).equals(encodeBatch(txBytes)));
  });

  test('property: arbitrary non-empty parts round-trip', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 }), (arr) => {
        const batch = encodeBatch(arr);
        assert.equal(batch.readUInt32BE(0), arr.length);
        const parts = splitBatch(batch, 20, 300);
        assert.deepEqual(
          parts.map((p) => Buffer.from(p).toString('hex')),
          arr.map((u) => Buffer.from(u).toString('hex')),
        );
      }),
      { numRuns: 150 },
    );
  });

  test('bad count is a decode error', () => {
    throwsCoded(() => splitBatch(encodeBatch([]), 10, 1000), 'TPSLAB_E_DECODE', /^batch: count .*is 0/);
    throwsCoded(() => splitBatch(encodeBatch(txBytes), txBytes.length - 1, 1 << 20), 'TPSLAB_E_DECODE', /^batch: count /);
    const more = encodeBatch(txBytes.slice(0, 2));
    more.writeUInt32BE(3, 0);
    throwsCoded(() => splitBatch(more, 10, 1 << 20), 'TPSLAB_E_DECODE', /^batch: txs\[2\]\.length .*truncated/);
    const fewer = encodeBatch(txBytes.slice(0, 2));
    fewer.writeUInt32BE(1, 0);
    throwsCoded(() => splitBatch(fewer, 10, 1 << 20), 'TPSLAB_E_DECODE', /^batch: end .*trailing bytes/);
  });

  test('bad lengths are decode errors', () => {
    const zero = encodeBatch([Buffer.from([1, 2, 3])]);
    zero.writeUInt32BE(0, 4);
    throwsCoded(() => splitBatch(zero, 10, 1000), 'TPSLAB_E_DECODE', /^batch: txs\[0\]\.length /);
    throwsCoded(() => splitBatch(encodeBatch([Buffer.alloc(1001)]), 10, 1000), 'TPSLAB_E_DECODE', /^batch: txs\[0\]\.length .*1001/);
    throwsCoded(() => splitBatch(encodeBatch([Buffer.alloc(0)]), 10, 1000), 'TPSLAB_E_DECODE', /txs\[0\]\.length/);
  });

  test('every truncation and any trailing bytes are decode errors', () => {
    const batch = encodeBatch(txBytes.slice(0, 3));
    for (let len = 0; len < batch.length; len++) {
      throwsCoded(() => splitBatch(Buffer.from(batch.subarray(0, len)), 10, 1 << 20), 'TPSLAB_E_DECODE', /^batch: /);
    }
    for (const extra of [Buffer.from([0]), Buffer.alloc(4), Buffer.alloc(100, 7)]) {
      throwsCoded(() => splitBatch(Buffer.concat([batch, extra]), 10, 1 << 20), 'TPSLAB_E_DECODE', /^batch: end /);
    }
  });
});
