import { bech32m } from '@scure/base';
import { TpslabError } from '../errors.js';

/** Human-readable prefix of every tpslab address: `tps1…`. */
export const ADDRESS_PREFIX = 'tps';
export const PUBLIC_KEY_BYTES = 32;

/**
 * An account address is its Ed25519 public key in bech32m (BIP 350) with the
 * `tps` prefix: a checksum catches typos, and the key is recoverable from the
 * address, so signatures verify without a key registry.
 */
export function encodeAddress(publicKey: Uint8Array): string {
  if (publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new TpslabError('TPSLAB_E_BAD_ADDRESS', `public key must be ${PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`);
  }
  return bech32m.encode(ADDRESS_PREFIX, bech32m.toWords(publicKey));
}

/** Decodes `tps1…` to the 32-byte public key; `where` names the field for the error message. */
export function decodeAddress(address: string, where = 'address'): Buffer {
  let prefix: string;
  let words: number[];
  try {
    ({ prefix, words } = bech32m.decode(address as `${string}1${string}`));
  } catch (err) {
    throw new TpslabError(
      'TPSLAB_E_BAD_ADDRESS',
      `${where}: "${truncate(address)}" is not a valid address (${(err as Error).message}); expected a bech32m string starting with "${ADDRESS_PREFIX}1"`,
      { cause: err, details: { field: where } },
    );
  }
  if (prefix !== ADDRESS_PREFIX) {
    throw new TpslabError('TPSLAB_E_BAD_ADDRESS', `${where}: prefix "${prefix}" is not "${ADDRESS_PREFIX}"`, {
      details: { field: where },
    });
  }
  const bytes = bech32m.fromWordsUnsafe(words);
  if (!bytes || bytes.length !== PUBLIC_KEY_BYTES) {
    throw new TpslabError('TPSLAB_E_BAD_ADDRESS', `${where}: address does not hold a ${PUBLIC_KEY_BYTES}-byte public key`, {
      details: { field: where },
    });
  }
  return Buffer.from(bytes);
}

export function isAddress(text: string): boolean {
  try {
    decodeAddress(text);
    return true;
  } catch {
    return false;
  }
}

function truncate(s: string): string {
  return typeof s === 'string' && s.length > 80 ? `${s.slice(0, 77)}...` : String(s);
}
