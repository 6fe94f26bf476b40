/**
 * Worker side of signature verification: decodes each transaction and checks
 * its signatures. Answers, per transaction, -1 when every signature verifies,
 * or the index of the first one that fails (-2 if the bytes do not decode).
 */
import { verifyEncoded } from '../protocol/signing.js';

export interface VerifyTask {
  network: string;
  /** All transactions' bytes, back to back. */
  packed: Uint8Array;
  /** Start of transaction i in `packed`; offsets[n] is the end. */
  offsets: Uint32Array;
}

export default function verifyBatch(task: VerifyTask): Int32Array {
  const n = task.offsets.length - 1;
  const out = new Int32Array(n);
  const all = Buffer.from(task.packed.buffer, task.packed.byteOffset, task.packed.byteLength);
  for (let i = 0; i < n; i++) {
    try {
      // The caller has decoded these bytes already: only the signatures are checked here (no copy, no id).
      out[i] = verifyEncoded(all.subarray(task.offsets[i]!, task.offsets[i + 1]!), task.network);
    } catch {
      out[i] = -2;
    }
  }
  return out;
}
