import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { isErrorCode, TpslabError } from '../../src/errors.js';
import { ByteReader } from '../../src/protocol/bytes.js';
import { decodeTx, keyPairFromLabel, signTx, txId, verifyTx } from '../../src/protocol/signing.js';
import { decodeBody, encodeBody, SIGNATURE_BYTES, type SignedTx, type TxBody } from '../../src/protocol/tx.js';
import { bodyArb, key, NETWORK, sampleBodies, sampleTxs, sign, throwsCoded, U64_MAX } from './fixtures.js';

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/** Offset of the first kind-specific field, after version, kind, nonce, fee and deps. */
const kindFieldsOffset = (body: TxBody): number => 1 + 1 + 8 + 8 + 1 + 32 * body.deps.length;

function assertRoundTrip(tx: SignedTx): SignedTx {
  const decoded = decodeTx(tx.bytes);
  assert.deepEqual(decoded.body, tx.body);
  assert.deepEqual(decoded.signatures, tx.signatures);
  assert.equal(decoded.bodyLength, tx.bodyLength);
  assert.ok(decoded.bytes.equals(tx.bytes));
  assert.ok(decoded.id.equals(tx.id));
  assert.ok(decoded.id.equals(sha256(tx.bytes.subarray(0, tx.bodyLength))), 'id is sha256 of the body, signatures excluded');
  // Re-encoding the decoded transaction reproduces the exact bytes.
  const bodyBytes = encodeBody(decoded.body);
  assert.equal(bodyBytes.length, decoded.bodyLength);
  assert.ok(Buffer.concat([bodyBytes, ...decoded.signatures]).equals(tx.bytes));
  assert.equal(tx.bytes.length, tx.bodyLength + SIGNATURE_BYTES * tx.signatures.length);
  verifyTx(decoded, NETWORK);
  return decoded;
}

describe('codec round trip', () => {
  for (const [name, tx] of sampleTxs()) {
    test(`${name} (${tx.body.kind}): sign -> bytes -> decodeTx -> verifyTx`, () => {
      assertRoundTrip(tx);
    });
  }

  test('decoded values do not alias the input buffer', () => {
    const tx = sign(sampleBodies().message!);
    const copy = Buffer.from(tx.bytes);
    const decoded = decodeTx(copy);
    copy.fill(0);
    assert.deepEqual(decoded.body, tx.body);
    assert.ok(decoded.bytes.equals(tx.bytes));
    verifyTx(decoded, NETWORK);
  });

  test('decodeBody leaves the reader after the body', () => {
    const tx = sign(sampleBodies().transferMulti!);
    const r = new ByteReader(tx.bytes, 'transaction');
    assert.deepEqual(decodeBody(r), tx.body);
    assert.equal(r.offset, tx.bodyLength);
  });

  test('property: random valid bodies of every kind round-trip byte-exactly', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(bodyArb, (body) => {
        seen.add(body.kind);
        const tx = sign(body);
        assertRoundTrip(tx);
        assert.ok(tx.id.equals(txId(tx.bytes.subarray(0, tx.bodyLength))));
        // Encoding is a function of the body: signing again gives the same body bytes.
        assert.ok(encodeBody(body).equals(tx.bytes.subarray(0, tx.bodyLength)));
      }),
      { numRuns: 200 },
    );
    assert.deepEqual([...seen].sort(), ['create-account', 'create-topic', 'message', 'transfer']);
  });
});

describe('ids over the body', () => {
  test('the id is known before signing, and signatures for another network leave it unchanged', () => {
    for (const [, body] of Object.entries(sampleBodies())) {
      const a = sign(body, 'a');
      const b = sign(body, 'b');
      assert.ok(!a.bytes.equals(b.bytes), 'different signatures');
      assert.ok(a.id.equals(txId(encodeBody(body))), 'id of the unsigned body');
      assert.ok(a.id.equals(b.id));
      assert.ok(decodeTx(b.bytes).id.equals(a.id));
    }
  });

  test('golden vector: a fixed transfer, its body bytes, its id (SHA-256 of the body, checked with Python hashlib) and its signed bytes', () => {
    const a = keyPairFromLabel('golden-a');
    const b = keyPairFromLabel('golden-b');
    const body: TxBody = { kind: 'transfer', nonce: 7n, fee: 3n, deps: [Buffer.alloc(32, 0xab)], inputs: [{ account: a.publicKey, amount: 1003n }], outputs: [{ account: b.publicKey, amount: 1000n }] };
    const bodyHex =
      '02010000000000000007000000000000000301abababababababababababababababababababababababababababababababab00012f9924f5501a9bd44db1c14ddf4103bacde8f72b10ce2f6f26295e3fde74785c00000000000003eb000112a45d964068f21f906280edc13f40f38190830c9ce1756916e9841edb5e362300000000000003e8';
    const tx = signTx(body, [a], 'golden-net');
    assert.equal(encodeBody(body).toString('hex'), bodyHex);
    assert.equal(tx.id.toString('hex'), '90a8e16d6772cd9f4219d257e5a2e99ac953e2a1112b3eb4627f7ace8e1d2057');
    assert.equal(
      tx.bytes.toString('hex'),
      `${bodyHex}a5310499e20f53e07857db22a058d944f94dee20087d468f789068ff737b71b4fcd80576076774177afb876fd63a734ed0240cb7e37b23380453c6571bf34d08`,
    );
  });

  test('Ed25519 signing is deterministic: signing one body twice gives the same bytes', () => {
    for (const [, body] of Object.entries(sampleBodies())) assert.ok(sign(body).bytes.equals(sign(body).bytes));
  });
});

describe('signing', () => {
  test('a transaction signed for network "a" fails on network "b"', () => {
    for (const [, body] of Object.entries(sampleBodies())) {
      const tx = sign(body, 'a');
      verifyTx(decodeTx(tx.bytes), 'a');
      throwsCoded(() => verifyTx(decodeTx(tx.bytes), 'b'), 'TPSLAB_E_BAD_SIGNATURE', /network "b"/);
    }
  });

  test('same body signed for different networks gives different bytes under one id (the id names the body)', () => {
    const body = sampleBodies().createAccount!;
    assert.ok(!sign(body, 'a').bytes.equals(sign(body, 'b').bytes));
    assert.ok(sign(body, 'a').id.equals(sign(body, 'b').id));
  });

  test('a signature from the wrong input is rejected naming its index', () => {
    const tx = sign(sampleBodies().transferMulti!);
    const swapped = Buffer.from(tx.bytes);
    // Swap signatures 1 and 2.
    const s1 = tx.bodyLength + SIGNATURE_BYTES;
    const s2 = tx.bodyLength + 2 * SIGNATURE_BYTES;
    tx.bytes.copy(swapped, s1, s2, s2 + SIGNATURE_BYTES);
    tx.bytes.copy(swapped, s2, s1, s1 + SIGNATURE_BYTES);
    const err = throwsCoded(() => verifyTx(decodeTx(swapped), NETWORK), 'TPSLAB_E_BAD_SIGNATURE', /signature 1 /);
    assert.deepEqual(err.details, { index: 1 });
  });

  test('signTx refuses keys that do not match the signers', () => {
    const body = sampleBodies().transferMulti!;
    throwsCoded(() => signTx(body, [key(0), key(1)], NETWORK), 'TPSLAB_E_INVALID_TX', /needs 3 signing keys/);
    throwsCoded(() => signTx(body, [key(0), key(2), key(1)], NETWORK), 'TPSLAB_E_INVALID_TX', /signing key 1/);
  });

  test('encodeBody rejects bodies the decoder would reject', () => {
    const b = sampleBodies();
    const t = b.transferMinimal as Extract<TxBody, { kind: 'transfer' }>;
    throwsCoded(() => encodeBody({ ...t, inputs: [] }), 'TPSLAB_E_INVALID_TX', /inputs/);
    throwsCoded(() => encodeBody({ ...t, outputs: [] }), 'TPSLAB_E_INVALID_TX', /outputs/);
    throwsCoded(() => encodeBody({ ...t, deps: Array.from({ length: 17 }, () => Buffer.alloc(32)) }), 'TPSLAB_E_INVALID_TX', /deps/);
    throwsCoded(() => encodeBody({ ...t, deps: [Buffer.alloc(31)] }), 'TPSLAB_E_INVALID_TX', /deps/);
    const ct = b.createTopic as Extract<TxBody, { kind: 'create-topic' }>;
    for (const topic of ['', 'A', '-a', 'a/b', 'a'.repeat(65), 'é']) {
      throwsCoded(() => encodeBody({ ...ct, topic }), 'TPSLAB_E_INVALID_TX', /topic/);
    }
  });
});

// ------------------------------------------------------------------ strict decoder

function withByte(bytes: Buffer, offset: number, value: number): Buffer {
  const out = Buffer.from(bytes);
  out[offset] = value;
  return out;
}

/** Decoding must fail with TPSLAB_E_DECODE, naming `field` (the `transaction: <field> at byte N` form). */
function rejects(bytes: Buffer, field: string, problem?: RegExp): TpslabError {
  const escaped = field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const err = throwsCoded(() => decodeTx(bytes), 'TPSLAB_E_DECODE', new RegExp(`^transaction: ${escaped} at byte \\d+: `));
  assert.equal(err.details?.['field'], field);
  if (problem) assert.match(err.message, problem);
  return err;
}

describe('strict decoder', () => {
  const b = sampleBodies();
  const transfer = sign(b.transferMinimal!); // no deps
  const message = sign(b.messageEmpty!); // no deps
  const topic = sign(b.createTopic!); // no deps

  test('trailing byte is rejected', () => {
    for (const [, tx] of sampleTxs()) {
      rejects(Buffer.concat([tx.bytes, Buffer.from([0])]), 'end', /1 trailing bytes/);
    }
  });

  test('unknown version is rejected', () => {
    rejects(withByte(transfer.bytes, 0, 0), 'version', /unknown transaction version 0/);
    rejects(withByte(transfer.bytes, 0, 3), 'version', /unknown transaction version 3/);
  });

  test('version 1 (id over the signed bytes) was decoded with a silently different id: now TPSLAB_E_OLD_FORMAT saying what to do', () => {
    const err = throwsCoded(() => decodeTx(withByte(transfer.bytes, 0, 1)), 'TPSLAB_E_OLD_FORMAT', /^transaction: version at byte 0: transaction version 1 is the old format/);
    assert.match(err.message, /sign it again/);
    assert.match(err.message, /fresh data directory/);
  });

  test('unknown kind (0 and 5) is rejected', () => {
    rejects(withByte(transfer.bytes, 1, 0), 'kind', /unknown transaction kind 0/);
    rejects(withByte(transfer.bytes, 1, 5), 'kind', /unknown transaction kind 5/);
    rejects(withByte(transfer.bytes, 1, 255), 'kind', /unknown transaction kind 255/);
  });

  test('deps count 17 is rejected', () => {
    // Even with 17 ids actually present, the count alone is over the bound.
    const body = transfer.bytes.subarray(0, 18);
    const withDeps = Buffer.concat([body, Buffer.from([17]), Buffer.alloc(17 * 32), transfer.bytes.subarray(19)]);
    rejects(withDeps, 'deps.count', /is 17, must be between 0 and 16/);
  });

  test('inputs count 0 and 65 are rejected', () => {
    const at = kindFieldsOffset(transfer.body);
    const zero = Buffer.from(transfer.bytes);
    zero.writeUInt16BE(0, at);
    rejects(zero, 'inputs.count', /is 0, must be between 1 and 64/);
    const many = Buffer.from(transfer.bytes);
    many.writeUInt16BE(65, at);
    rejects(many, 'inputs.count', /is 65, must be between 1 and 64/);
  });

  test('outputs count 0 is rejected', () => {
    const at = kindFieldsOffset(transfer.body) + 2 + 40;
    assert.equal(transfer.bytes.readUInt16BE(at), 1);
    const zero = Buffer.from(transfer.bytes);
    zero.writeUInt16BE(0, at);
    rejects(zero, 'outputs.count', /is 0, must be between 1 and 1024/);
    const many = Buffer.from(transfer.bytes);
    many.writeUInt16BE(1025, at);
    rejects(many, 'outputs.count', /is 1025/);
  });

  test('topic length 0 and 65 are rejected', () => {
    for (const tx of [topic, message]) {
      const at = kindFieldsOffset(tx.body) + 32;
      rejects(withByte(tx.bytes, at, 0), 'topic.length', /is 0, must be between 1 and 64/);
      rejects(withByte(tx.bytes, at, 65), 'topic.length', /is 65, must be between 1 and 64/);
    }
  });

  test('topic with uppercase or illegal characters is rejected', () => {
    for (const tx of [topic, message]) {
      const at = kindFieldsOffset(tx.body) + 32 + 1; // first topic character
      for (const ch of ['A', 'Z', '/', ' ', '\0', '\x7f', '\xe9', '\xff']) {
        rejects(withByte(tx.bytes, at, ch.charCodeAt(0)), 'topic', /characters outside/);
      }
      // Punctuation is allowed inside but not as the first character.
      for (const ch of ['.', '_', '-']) rejects(withByte(tx.bytes, at, ch.charCodeAt(0)), 'topic');
    }
    const last = kindFieldsOffset(topic.body) + 32 + 1 + 63;
    rejects(withByte(topic.bytes, last, 'Q'.charCodeAt(0)), 'topic');
  });

  test('payload length beyond the remaining bytes is rejected', () => {
    assert.equal(message.body.kind, 'message');
    const topicLength = message.body.kind === 'message' ? message.body.topic.length : 0;
    const at = kindFieldsOffset(message.body) + 32 + 1 + topicLength;
    assert.equal(message.bytes.readUInt32BE(at), 0);
    const remaining = message.bytes.length - (at + 4);
    const over = Buffer.from(message.bytes);
    over.writeUInt32BE(remaining + 1, at);
    rejects(over, 'payload', /needs \d+ bytes but only \d+ remain/);
    // Over the codec's hard bound is refused before any read.
    const huge = Buffer.from(message.bytes);
    huge.writeUInt32BE(0xffffffff, at);
    rejects(huge, 'payload.length', /must be between 0 and 1048576/);
    // A payload length that swallows the signature leaves the signature truncated.
    const swallow = Buffer.from(message.bytes);
    swallow.writeUInt32BE(remaining, at);
    rejects(swallow, 'signatures[0]', /needs 64 bytes but only 0 remain/);
  });

  test('missing and extra signatures are rejected', () => {
    const tx = sign(b.transferMulti!);
    rejects(tx.bytes.subarray(0, tx.bytes.length - SIGNATURE_BYTES), 'signatures[2]');
    rejects(Buffer.concat([tx.bytes, tx.signatures[0]!]), 'end', /64 trailing bytes/);
  });

  test('empty input is rejected', () => {
    rejects(Buffer.alloc(0), 'version', /needs 1 bytes but only 0 remain/);
  });
});

// ------------------------------------------------------ truncation and corruption

/** A corrupted version byte may read as 1, the old format. */
const KNOWN_DECODE_FAILURES: readonly string[] = ['TPSLAB_E_DECODE', 'TPSLAB_E_OLD_FORMAT'];

/**
 * The property: every truncation or single-byte corruption of a valid
 * transaction is rejected with a coded error, or decodes to a transaction whose
 * signature fails.
 */
function assertCorruptionRejected(tx: SignedTx, corrupted: Buffer, what: string): 'decode' | 'signature' {
  let decoded: SignedTx;
  try {
    decoded = decodeTx(corrupted);
  } catch (err) {
    assert.ok(err instanceof TpslabError, `${what}: decodeTx threw a non-TpslabError: ${String(err)}`);
    assert.ok(isErrorCode(err.code), `${what}: unknown code ${String(err.code)}`);
    assert.ok(KNOWN_DECODE_FAILURES.includes(err.code), `${what}: ${err.code}: ${err.message}`);
    return 'decode';
  }
  // The id covers the body: a corrupted body has another id; corrupted signatures keep it (and fail verification below).
  const bodyChanged = !corrupted.subarray(0, decoded.bodyLength).equals(tx.bytes.subarray(0, tx.bodyLength));
  assert.equal(!decoded.id.equals(tx.id), bodyChanged, `${what}: the id must change exactly when the body does`);
  try {
    verifyTx(decoded, NETWORK);
  } catch (err) {
    assert.ok(err instanceof TpslabError, `${what}: verifyTx threw a non-TpslabError: ${String(err)}`);
    assert.equal(err.code, 'TPSLAB_E_BAD_SIGNATURE', `${what}: ${err.code}: ${err.message}`);
    return 'signature';
  }
  assert.fail(`${what}: corrupted bytes decoded and verified: ${corrupted.toString('hex')}`);
}

describe('truncation and corruption', () => {
  const txs = sampleTxs();

  for (const [name, tx] of txs) {
    test(`${name}: every truncation is a coded decode error`, () => {
      for (let len = 0; len < tx.bytes.length; len++) {
        // A fresh buffer of exactly `len` bytes, so nothing past the end is reachable.
        const prefix = Buffer.from(tx.bytes.subarray(0, len));
        try {
          decodeTx(prefix);
        } catch (err) {
          assert.ok(err instanceof TpslabError, `prefix ${len}: non-TpslabError ${String(err)}`);
          assert.ok(isErrorCode(err.code));
          assert.equal(err.code, 'TPSLAB_E_DECODE', `prefix ${len}: ${err.message}`);
          continue;
        }
        assert.fail(`prefix of ${len}/${tx.bytes.length} bytes decoded`);
      }
    });

    test(`${name}: every single-byte corruption is rejected (masks 0x01, 0x80, 0xff)`, () => {
      const outcomes = { decode: 0, signature: 0 };
      for (let pos = 0; pos < tx.bytes.length; pos++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const corrupted = Buffer.from(tx.bytes);
          corrupted[pos]! ^= mask;
          outcomes[assertCorruptionRejected(tx, corrupted, `byte ${pos} ^ 0x${mask.toString(16)}`)]++;
        }
      }
      // Sanity: both rejection paths are exercised (signature bytes can only fail verification).
      assert.ok(outcomes.signature >= 3 * SIGNATURE_BYTES * tx.signatures.length, JSON.stringify(outcomes));
      assert.ok(outcomes.decode > 0, JSON.stringify(outcomes));
    });
  }

  test('property: random single-byte corruption of random transactions is rejected', () => {
    fc.assert(
      fc.property(bodyArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (body, posSeed, mask) => {
        const tx = sign(body);
        const pos = posSeed % tx.bytes.length;
        const corrupted = Buffer.from(tx.bytes);
        corrupted[pos]! ^= mask;
        assertCorruptionRejected(tx, corrupted, `byte ${pos} ^ 0x${mask.toString(16)}`);
      }),
      { numRuns: 200 },
    );
  });

  test('property: random truncation of random transactions is a decode error', () => {
    fc.assert(
      fc.property(bodyArb, fc.nat(), (body, lenSeed) => {
        const tx = sign(body);
        const len = lenSeed % tx.bytes.length;
        throwsCoded(() => decodeTx(Buffer.from(tx.bytes.subarray(0, len))), 'TPSLAB_E_DECODE');
      }),
      { numRuns: 150 },
    );
  });

  test('extreme u64 values survive the round trip', () => {
    const body = { ...sampleBodies().createAccount!, nonce: U64_MAX, fee: 0n } as TxBody;
    const decoded = decodeTx(sign(body).bytes);
    assert.equal(decoded.body.nonce, U64_MAX);
    assert.equal(decoded.body.fee, 0n);
  });
});
