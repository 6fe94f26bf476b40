/**
 * Blocks and their canonical encoding (version 1):
 *
 *   u8 version | u64 height | 32 prevHash | u64 timestampMs | 32 stateHash | u32 txCount | txCount × (u32 len | signed tx bytes)
 *
 * The block hash is SHA-256 over the header fields and the transaction root
 * (SHA-256 of the concatenated transaction ids), so it commits to every
 * transaction and to the state the block produced.
 */
import { createHash } from 'node:crypto';
import { ByteReader, ByteWriter } from './bytes.js';
import { decodeTx } from './signing.js';
import type { SignedTx } from './tx.js';

export const BLOCK_VERSION = 1;
export const HASH_BYTES = 32;
/** Hard cap on transactions per block in the encoding. */
export const MAX_BLOCK_TXS = 100_000;

export interface Block {
  height: number;
  prevHash: Buffer;
  timestampMs: number;
  stateHash: Buffer;
  txs: SignedTx[];
  /** Computed, not encoded. */
  hash: Buffer;
}

export function txRoot(txs: readonly SignedTx[]): Buffer {
  // The ids' latin1 keys joined and hashed in one update: no id Buffer is made (decoding hashes ids into keys).
  let ids = '';
  for (const tx of txs) ids += tx.idKey;
  return createHash('sha256').update(ids, 'latin1').digest();
}

export function blockHash(b: Omit<Block, 'hash'>): Buffer {
  const w = new ByteWriter(128);
  w.u8(BLOCK_VERSION).u64(BigInt(b.height)).bytes(b.prevHash).u64(BigInt(b.timestampMs)).bytes(b.stateHash).bytes(txRoot(b.txs));
  return createHash('sha256').update(w.finish()).digest();
}

export function makeBlock(fields: Omit<Block, 'hash'>): Block {
  return { ...fields, hash: blockHash(fields) };
}

export function encodeBlock(b: Block): Buffer {
  let size = 1 + 8 + 32 + 8 + 32 + 4;
  for (const tx of b.txs) size += 4 + tx.bytes.length;
  const w = new ByteWriter(size);
  w.u8(BLOCK_VERSION).u64(BigInt(b.height)).bytes(b.prevHash).u64(BigInt(b.timestampMs)).bytes(b.stateHash).u32(b.txs.length);
  for (const tx of b.txs) w.u32(tx.bytes.length).bytes(tx.bytes);
  return w.finish();
}

/**
 * Strictly decodes a block. Each transaction copies its bytes, unless `owned`: the caller hands `bytes` over (a
 * buffer of its own that nothing changes again, such as the copy it logs) and the transactions are views of it:
 * whatever is kept after the block is applied (a topic's owner, say) must then be copied, or it keeps the whole block.
 */
export function decodeBlock(bytes: Buffer, owned = false): Block {
  const r = new ByteReader(bytes, 'block');
  const version = r.u8('version');
  if (version !== BLOCK_VERSION) r.fail('version', `unknown block version ${version}`);
  const height = r.u64Safe('height');
  const prevHash = r.bytes(HASH_BYTES, 'prevHash');
  const timestampMs = r.u64Safe('timestampMs');
  const stateHash = r.bytes(HASH_BYTES, 'stateHash');
  const count = r.bounded(r.u32('txCount'), 0, MAX_BLOCK_TXS, 'txCount');
  const txs: SignedTx[] = new Array<SignedTx>(count);
  for (let i = 0; i < count; i++) {
    const len = r.bounded(r.u32('txs[].length', i), 1, bytes.length, 'txs[].length', i);
    txs[i] = decodeTx(r.view(len, 'txs[]', i), owned); // a copy of its own unless the block's bytes are owned
  }
  r.end();
  return makeBlock({ height, prevHash, timestampMs, stateHash, txs });
}
