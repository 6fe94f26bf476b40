/**
 * Regression test: an all-zero public key with an all-zero signature verified as valid (OpenSSL
 * accepts it), so funds sent to that account could be spent by anyone. Verification now refuses
 * every small-order key; the list is derived again here with @noble/curves.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519';
import verifyBatch from '../../src/ledger/verify-worker.js';
import { SMALL_ORDER_KEYS, decodeTx, signingDomain, verifyRaw, verifyTx } from '../../src/protocol/signing.js';
import { encodeBody } from '../../src/protocol/tx.js';
import type { TxBody } from '../../src/protocol/tx.js';
import { NETWORK, key } from './fixtures.js';

const Point = ed25519.ExtendedPoint;
/** noble decodes non-canonical encodings only under ZIP 215 (its second argument, missing from the typings). */
const fromHexZip215 = (hex: string): ReturnType<typeof Point.fromHex> => (Point.fromHex as (h: string, zip215: boolean) => ReturnType<typeof Point.fromHex>)(hex, true);

describe('small-order public keys', () => {
  it('the list is the torsion subgroup (8 points) plus its 6 non-canonical encodings', () => {
    const order8 = Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
    const torsion: string[] = [];
    let q = Point.ZERO;
    for (let k = 0; k < 8; k++, q = q.add(order8)) torsion.push(Buffer.from(q.toRawBytes()).toString('hex'));
    assert.ok(q.equals(Point.ZERO), 'the generator has order 8');
    assert.deepEqual([...SMALL_ORDER_KEYS.slice(0, 8)].sort(), [...torsion].sort());
    assert.equal(new Set(SMALL_ORDER_KEYS).size, 14);
    for (const hex of SMALL_ORDER_KEYS.slice(8)) {
      assert.ok(fromHexZip215(hex).isSmallOrder(), `${hex} decodes (ZIP 215) to a small-order point`);
      assert.ok(!torsion.includes(hex), `${hex} is an alternative encoding`);
    }
  });

  it('a forged signature (small-order R, S = 0) for the all-zero key, which OpenSSL accepts, is refused by verifyTx, verifyRaw and the batch check of the verify threads', () => {
    const zeroKey = Buffer.alloc(32);
    const raw = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: zeroKey.toString('base64url') }, format: 'jwk' });
    // S·B = R + k·A holds when R cancels k·A in the small subgroup: some nonce and torsion R do it.
    let forged: { bytes: Buffer; message: Buffer } | undefined;
    for (let nonce = 0n; nonce < 256n && !forged; nonce++) {
      const body: TxBody = { kind: 'transfer', nonce, fee: 0n, deps: [], inputs: [{ account: zeroKey, amount: 5n }], outputs: [{ account: key(1).publicKey, amount: 5n }] };
      const bodyBytes = encodeBody(body);
      const message = Buffer.concat([signingDomain(NETWORK), bodyBytes]);
      for (const r of SMALL_ORDER_KEYS.slice(0, 8)) {
        const sig = Buffer.concat([Buffer.from(r, 'hex'), Buffer.alloc(32)]);
        if (verify(null, message, raw, sig)) {
          forged = { bytes: Buffer.concat([bodyBytes, sig]), message };
          break;
        }
      }
    }
    assert.ok(forged, 'OpenSSL accepted no forgery for the all-zero key: this test no longer shows the hole');
    const tx = decodeTx(forged.bytes);
    assert.throws(() => verifyTx(tx, NETWORK), (e: { code?: string; message: string }) => e.code === 'TPSLAB_E_BAD_SIGNATURE' && /small-order/.test(e.message));
    // What a verify thread gets for a batch (ledger/verifier.ts packs it): the signed bytes, then the signer's key.
    const packed = new Uint8Array(Buffer.concat([tx.bytes, zeroKey]));
    const answer = verifyBatch({ network: NETWORK, packed, offsets: Uint32Array.of(0, packed.length), bodyLengths: Uint32Array.of(tx.bodyLength), signers: Uint8Array.of(1) });
    assert.deepEqual([...answer], [0], 'its signature 0 fails');
    for (const hex of SMALL_ORDER_KEYS) assert.equal(verifyRaw(forged.message, Buffer.from(hex, 'hex'), tx.signatures[0]!), false, hex);
  });

  it('an ordinary key still verifies', () => {
    const message = Buffer.from('hello');
    const k = key(2);
    const sig = Buffer.from(ed25519.sign(message, k.seed));
    assert.equal(verifyRaw(message, k.publicKey, sig), true);
    assert.equal(verifyRaw(message, k.publicKey, Buffer.alloc(64)), false);
  });
});
