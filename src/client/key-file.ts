/** Key files: `{ "type": "tpslab-ed25519", "address": "tps1…", "seed": "<64 hex>" }`, mode 0600. */
import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { TpslabError } from '../errors.js';
import { describeZodError } from '../protocol/json.js';
import { keyPairFromSeed, type KeyPair } from '../protocol/signing.js';

const KeyFileSchema = z.strictObject({
  type: z.literal('tpslab-ed25519'),
  address: z.string(),
  seed: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex characters'),
});

export function keyFileJson(key: KeyPair): string {
  return `${JSON.stringify({ type: 'tpslab-ed25519', address: key.address, seed: key.seed.toString('hex') }, null, 2)}\n`;
}

/** Writes a new key file; refuses to overwrite an existing one. */
export async function writeKeyFile(path: string, key: KeyPair): Promise<void> {
  try {
    await writeFile(path, keyFileJson(key), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'it already exists (keys are never overwritten)' : (err as Error).message;
    throw new TpslabError('TPSLAB_E_KEY_FILE', `cannot write key file ${path}: ${why}`, { cause: err });
  }
}

export async function readKeyFile(path: string): Promise<KeyPair> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new TpslabError('TPSLAB_E_KEY_FILE', `cannot read key file ${path}: ${(err as Error).message}; create one with "tpslab keys new --out ${path}"`, { cause: err });
  }
  const parsed = KeyFileSchema.safeParse(json);
  if (!parsed.success) throw new TpslabError('TPSLAB_E_KEY_FILE', `key file ${path}: ${describeZodError(parsed.error, 'key')}`);
  const key = keyPairFromSeed(Buffer.from(parsed.data.seed, 'hex'));
  if (key.address !== parsed.data.address) {
    throw new TpslabError('TPSLAB_E_KEY_FILE', `key file ${path}: address ${parsed.data.address} does not belong to the seed (it is ${key.address})`);
  }
  return key;
}
