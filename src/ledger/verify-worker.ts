/**
 * Worker side of signature verification. The caller has decoded every transaction already, so it
 * sends, per transaction, the signed bytes followed by each signer's public key, and where the body
 * ends: the thread only checks signatures (no decoding, no copy, no id). Answers, per transaction,
 * -1 when every signature verifies, or the index of the first one that fails.
 */
import { signingDomain, verifyRaw } from '../protocol/signing.js';
import { SIGNATURE_BYTES } from '../protocol/tx.js';

export const PUBLIC_KEY_BYTES = 32;

export interface VerifyTask {
  network: string;
  /** Per transaction, back to back: its signed bytes (body, then signatures), then its signers' public keys. */
  packed: Uint8Array<ArrayBuffer>;
  /** Start of transaction i in `packed`; offsets[n] is the end. */
  offsets: Uint32Array<ArrayBuffer>;
  /** Body length of transaction i (its signatures follow). */
  bodyLengths: Uint32Array<ArrayBuffer>;
  /** Signatures (and signers) of transaction i. */
  signers: Uint8Array<ArrayBuffer>;
}

/** The signing domain followed by one body at a time: the message, without a Buffer.concat each. */
let scratch = Buffer.allocUnsafe(0);

export default function verifyBatch(task: VerifyTask): Int32Array {
  const n = task.offsets.length - 1;
  const out = new Int32Array(n);
  const all = Buffer.from(task.packed.buffer, task.packed.byteOffset, task.packed.byteLength);
  const domain = signingDomain(task.network);
  for (let i = 0; i < n; i++) {
    const start = task.offsets[i]!;
    const bodyLength = task.bodyLengths[i]!;
    const m = task.signers[i]!;
    if (scratch.length < domain.length + bodyLength) scratch = Buffer.allocUnsafe(Math.max(4096, 2 * (domain.length + bodyLength)));
    domain.copy(scratch, 0);
    all.copy(scratch, domain.length, start, start + bodyLength);
    const message = scratch.subarray(0, domain.length + bodyLength);
    const sigAt = start + bodyLength;
    const keyAt = sigAt + m * SIGNATURE_BYTES;
    out[i] = -1;
    for (let s = 0; s < m; s++) {
      const key = all.subarray(keyAt + s * PUBLIC_KEY_BYTES, keyAt + (s + 1) * PUBLIC_KEY_BYTES);
      const sig = all.subarray(sigAt + s * SIGNATURE_BYTES, sigAt + (s + 1) * SIGNATURE_BYTES);
      if (!verifyRaw(message, key, sig)) {
        out[i] = s;
        break;
      }
    }
  }
  return out;
}
