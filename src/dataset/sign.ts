/**
 * Signing a dataset record: where the replay's signing moved (dataset format 2).
 * The preparator writes unsigned bodies and the seed of each input's key; the
 * beacon that sends a record signs it here, with keys derived from those seeds
 * and cached (`KeyCache`, least recently used out), so a sender's key is
 * derived once per beacon however many transactions it sends.
 */
import { sign } from 'node:crypto';
import { TpslabError } from '../errors.js';
import { signingDomain, txId } from '../protocol/signing.js';
import { SIGNATURE_BYTES } from '../protocol/tx.js';
import { KeyCache } from './accounts.js';
import type { DatasetRecord } from './reader.js';

export interface SignedRecord {
  /** SHA-256 of the body: the transaction's id (signatures are not part of it). */
  id: Buffer;
  /** The signed transaction, ready to submit. */
  bytes: Buffer;
}

/** Signs a record's body for `network` with its seeds' keys (from `keys`, derived on a miss). */
export function signRecord(r: Pick<DatasetRecord, 'body' | 'seeds'>, network: string, keys: KeyCache): SignedRecord {
  const message = Buffer.concat([signingDomain(network), r.body]);
  const bytes = Buffer.allocUnsafe(r.body.length + r.seeds.length * SIGNATURE_BYTES);
  r.body.copy(bytes, 0);
  let at = r.body.length;
  for (const seed of r.seeds) {
    const key = keys.get(seed);
    const sig = sign(null, message, key.privateKeyObject);
    if (sig.length !== SIGNATURE_BYTES) throw new TpslabError('TPSLAB_E_INTERNAL', `an Ed25519 signature of ${sig.length} bytes`);
    at += sig.copy(bytes, at);
  }
  return { id: txId(r.body), bytes };
}

export { KeyCache };
