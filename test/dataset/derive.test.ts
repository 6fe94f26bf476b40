/** The preparator's key derivation: the worker path gives the keys the protocol's own derivation gives, and the key cache stays within its bound. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519';
import { addressNetwork, PublicKeyCache, SeedCache, seedOfLabel } from '../../src/dataset/accounts.js';
import derive, { deriveKeys } from '../../src/dataset/derive-worker.js';
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

test('the derivation workers turn output scripts (P2PKH, P2SH, P2WPKH, P2WSH, P2TR, P2PK, bare data) into the seeds and keys the converting thread computes, on mainnet and testnet', () => {
  const h = (n: number, b: number): Buffer => Buffer.alloc(n, b);
  const scripts = [
    Buffer.concat([Buffer.from([0x76, 0xa9, 0x14]), h(20, 1), Buffer.from([0x88, 0xac])]),
    Buffer.concat([Buffer.from([0xa9, 0x14]), h(20, 2), Buffer.from([0x87])]),
    Buffer.concat([Buffer.from([0x00, 0x14]), h(20, 3)]),
    Buffer.concat([Buffer.from([0x00, 0x20]), h(32, 4)]),
    Buffer.concat([Buffer.from([0x51, 0x20]), h(32, 5)]),
    Buffer.concat([Buffer.from([0x21]), h(33, 6), Buffer.from([0xac])]),
    Buffer.from([0x6a, 0x01, 0x07]),
  ];
  for (const network of ['mainnet', 'testnet'] as const) {
    const offsets = new Uint32Array(scripts.length + 1);
    scripts.forEach((sc, i) => (offsets[i + 1] = offsets[i]! + sc.length));
    const out = derive({ network, scripts: new Uint8Array(Buffer.concat(scripts)), offsets, seeds: new Uint8Array(Buffer.alloc(32, 8)) });
    const cache = new SeedCache(addressNetwork(network));
    scripts.forEach((sc, i) => {
      const seed = cache.get(sc);
      assert.ok(Buffer.from(out.scriptSeeds.subarray(i * 32, i * 32 + 32)).equals(seed), `${network} script ${i}: seed`);
      assert.ok(Buffer.from(out.keys.subarray(i * 32, i * 32 + 32)).equals(keyPairFromSeed(seed).publicKey), `${network} script ${i}: key`);
    });
    assert.ok(Buffer.from(out.keys.subarray(scripts.length * 32)).equals(keyPairFromSeed(Buffer.alloc(32, 8)).publicKey), 'the lone seed\'s key comes after the scripts\'');
  }
});
