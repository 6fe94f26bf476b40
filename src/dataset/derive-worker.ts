/**
 * Worker side of the preparator's account derivation (key-deriver.ts): output
 * scripts → seeds (address or script hash, see accounts.ts) → Ed25519 public
 * keys, and seeds already known → keys. The functions are the ones the
 * converting thread uses (scriptLabel, seedOfLabel, publicKeyOfSeed), so
 * results are the same whatever thread computes them.
 */
import { addressNetwork, scriptLabel, seedOfLabel } from './accounts.js';
import type { SourceNetwork } from './blk-files.js';
import { publicKeyOfSeed } from './public-key.js';

export interface DeriveTask {
  network: SourceNetwork;
  /** Output scripts back to back; script i is scripts[offsets[i], offsets[i + 1]). */
  scripts: Uint8Array;
  offsets: Uint32Array;
  /** Seeds whose keys are wanted, 32 bytes each. */
  seeds: Uint8Array;
}

export interface DeriveResult {
  /** One seed per script, 32 bytes each. */
  scriptSeeds: Uint8Array;
  /** One key per script, then one per seed of the task, 32 bytes each. */
  keys: Uint8Array;
}

export default function derive(task: DeriveTask): DeriveResult {
  const network = addressNetwork(task.network);
  const nScripts = task.offsets.length - 1;
  const nSeeds = task.seeds.length / 32;
  const scriptSeeds = new Uint8Array(nScripts * 32);
  const keys = new Uint8Array((nScripts + nSeeds) * 32);
  const scripts = Buffer.from(task.scripts.buffer, task.scripts.byteOffset, task.scripts.byteLength);
  for (let i = 0; i < nScripts; i++) {
    const seed = seedOfLabel(scriptLabel(scripts.subarray(task.offsets[i]!, task.offsets[i + 1]!), network));
    scriptSeeds.set(seed, i * 32);
    keys.set(publicKeyOfSeed(seed), i * 32);
  }
  const seeds = Buffer.from(task.seeds.buffer, task.seeds.byteOffset, task.seeds.byteLength);
  for (let i = 0; i < nSeeds; i++) keys.set(publicKeyOfSeed(seeds.subarray(i * 32, i * 32 + 32)), (nScripts + i) * 32);
  return { scriptSeeds, keys };
}

/** Keys of seeds alone (tests and benches). */
export function deriveKeys(seeds: Uint8Array): Uint8Array {
  return derive({ network: 'mainnet', scripts: new Uint8Array(0), offsets: new Uint32Array(1), seeds }).keys;
}
