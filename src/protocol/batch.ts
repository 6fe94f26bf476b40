/**
 * Binary batch framing for `POST /v1/txs`:
 * `u32 count | count × (u32 length | signed transaction bytes)`, big-endian.
 */
import { ByteReader } from './bytes.js';
import { TpslabError } from '../errors.js';

/** Bytes of the framed batch. */
export function batchSize(txs: readonly Uint8Array[]): number {
  let size = 4;
  for (const t of txs) size += 4 + t.length;
  return size;
}

/** The framed batch; written into `into` (returning its first bytes) when it is large enough. `size`: batchSize(txs), when known. */
export function encodeBatch(txs: readonly Uint8Array[], into?: Buffer, size = batchSize(txs)): Buffer {
  const out = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
  out.writeUInt32BE(txs.length, 0);
  let pos = 4;
  for (let k = 0; k < txs.length; k++) {
    // Per transaction (a beacon's hot path): the length's bytes stored directly (writeUInt32BE
    // validates its arguments on every call), then the bytes in one copy.
    const t = txs[k]!;
    const n = t.length;
    out[pos] = n >>> 24;
    out[pos + 1] = (n >>> 16) & 0xff;
    out[pos + 2] = (n >>> 8) & 0xff;
    out[pos + 3] = n & 0xff;
    out.set(t, pos + 4);
    pos += 4 + n;
  }
  // A wrong `size` would send stale bytes from a reused buffer, and the node would reject the whole batch.
  if (pos !== size) throw new TpslabError('TPSLAB_E_INTERNAL', `encodeBatch was given a size of ${size} bytes for a batch of ${pos}: a caller computed it wrongly (batchSize(txs) gives the right one)`);
  return out;
}

/**
 * Splits a batch; wrong framing (counts, lengths, trailing bytes) is a TPSLAB_E_DECODE error.
 * The parts are views of `body` (decodeTx copies what it keeps).
 */
export function splitBatch(body: Buffer, maxTxs: number, maxTxBytes: number): Buffer[] {
  const r = new ByteReader(body, 'batch');
  const count = r.bounded(r.u32('count'), 1, maxTxs, 'count');
  const out: Buffer[] = new Array<Buffer>(count);
  for (let i = 0; i < count; i++) {
    const len = r.bounded(r.u32('txs[].length', i), 1, maxTxBytes, 'txs[].length', i);
    out[i] = r.view(len, 'txs[]', i);
  }
  r.end();
  return out;
}
