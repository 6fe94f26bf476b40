/**
 * An account's public key from its seed: the one derivation the converting
 * thread (accounts.ts) and the derivation workers (derive-worker.ts) share.
 */
import { createPrivateKey } from 'node:crypto';
import { keyPairFromSeed } from '../protocol/signing.js';

/**
 * Just the public key (the ledger account) of a seed: the JWK import of
 * fastKeyPairFromSeed without the address encoding or a public KeyObject
 * (about 29 µs of CPU a key here, nearly a signature's cost). The preparator needs it for every new account; it
 * signs nothing.
 */
export function publicKeyOfSeed(seed: Buffer): Buffer {
  try {
    // The private key's own JWK export carries `x`: no public KeyObject to build.
    const priv = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: '' }, format: 'jwk' });
    const pub = Buffer.from(priv.export({ format: 'jwk' }).x ?? '', 'base64url');
    if (pub.length === 32) return pub;
  } catch {
    // fall through to the PKCS#8 path
  }
  return keyPairFromSeed(seed).publicKey;
}
