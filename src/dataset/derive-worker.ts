/**
 * Worker side of the preparator's key derivation: seeds in, Ed25519 public
 * keys out, 32 bytes each, back to back (publicKeyOfSeed, the same function
 * the main thread uses, so the keys are the same whatever thread derives them).
 */
import { publicKeyOfSeed } from './public-key.js';

export default function deriveKeys(seeds: Uint8Array): Uint8Array {
  const n = seeds.length / 32;
  const out = new Uint8Array(n * 32);
  const all = Buffer.from(seeds.buffer, seeds.byteOffset, seeds.byteLength);
  for (let i = 0; i < n; i++) out.set(publicKeyOfSeed(all.subarray(i * 32, i * 32 + 32)), i * 32);
  return out;
}
