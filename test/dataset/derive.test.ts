/** The preparator's key derivation: the worker path gives the keys the protocol's own derivation gives, and the key cache stays within its bound. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519';
import { PublicKeyCache, seedOfLabel } from '../../src/dataset/accounts.js';
import deriveKeys from '../../src/dataset/derive-worker.js';
import { keyPairFromLabel, keyPairFromSeed } from '../../src/protocol/signing.js';

test('the derivation workers\' keys equal keyPairFromSeed (PKCS#8 import) and @noble/curves for 300 seeds, including all-zero and all-0xff ones', () => {
  const seeds = [Buffer.alloc(32, 0), Buffer.alloc(32, 0xff), ...Array.from({ length: 298 }, (_, i) => createHash('sha256').update(`derive-${i}`).digest())];
  const packed = new Uint8Array(Buffer.concat(seeds));
  const out = Buffer.from(deriveKeys(packed));
  assert.equal(out.length, seeds.length * 32);
  seeds.forEach((seed, i) => {
    const got = out.subarray(i * 32, i * 32 + 32);
    assert.ok(got.equals(keyPairFromSeed(seed).publicKey), `seed ${i}: the protocol's derivation`);
    assert.ok(got.equals(Buffer.from(ed25519.getPublicKey(seed))), `seed ${i}: @noble/curves`);
  });
  assert.ok(Buffer.from(deriveKeys(new Uint8Array(seedOfLabel('1BitcoinEaterAddressDontSendf59kuE')))).equals(keyPairFromLabel('1BitcoinEaterAddressDontSendf59kuE').publicKey), 'a label\'s seed gives keyPairFromLabel\'s key');
});

test('PublicKeyCache holds at most its capacity, least recently used out; put and peek neither derive nor count misses', () => {
  const cache = new PublicKeyCache(3);
  const seed = (i: number): Buffer => createHash('sha256').update(`cache-${i}`).digest();
  for (let i = 0; i < 3; i++) cache.get(seed(i));
  assert.equal(cache.misses, 3);
  cache.get(seed(0)); // 0 is now the most recent
  cache.put(seed(9), Buffer.alloc(32, 9));
  assert.equal(cache.has(seed(1)), false, 'the least recently used (1) went out');
  assert.ok(cache.has(seed(0)) && cache.has(seed(2)) && cache.has(seed(9)));
  assert.ok(cache.peek(seed(9))!.equals(Buffer.alloc(32, 9)));
  assert.equal(cache.peek(seed(5)), undefined);
  assert.equal(cache.misses, 3);
});
