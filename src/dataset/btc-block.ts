/**
 * One Bitcoin block, parsed with bitcoinjs-lib. Transaction ids are computed
 * here with node:crypto over the raw bytes (double SHA-256 of the
 * serialization without witnesses) instead of bitcoinjs-lib's getId(), which
 * re-serializes and hashes in JavaScript at about a third of the speed; a test
 * checks the two agree.
 */
import { createHash } from 'node:crypto';
import { Block } from 'bitcoinjs-lib';
import { TpslabError } from '../errors.js';

export interface BtcInput {
  /** Spent transaction id, internal byte order (as in the serialization). */
  prevTxid: Buffer;
  vout: number;
}

export interface BtcOutput {
  script: Buffer;
  value: bigint;
}

export interface BtcTx {
  /** Internal byte order; `displayId` gives the usual reversed hex. */
  txid: Buffer;
  coinbase: boolean;
  segwit: boolean;
  ins: BtcInput[];
  outs: BtcOutput[];
}

export interface BtcBlock {
  hash: Buffer;
  prevHash: Buffer;
  timeSec: number;
  sizeBytes: number;
  txs: BtcTx[];
}

export function sha256d(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return createHash('sha256').update(h.digest()).digest();
}

/** Reversed hex, as explorers and bitcoind print ids. */
export function displayId(hash: Uint8Array): string {
  return Buffer.from(hash).reverse().toString('hex');
}

/** Bitcoin's MAX_MONEY: no valid output holds more (and every amount fits a double exactly). */
export const MAX_MONEY_SAT = 2_100_000_000_000_000n;

/** A Buffer over the same memory (bitcoinjs-lib hands out Uint8Array views of the block): no copy. */
function view(a: Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function varintLength(buf: Buffer, at: number): number {
  const b = buf[at];
  return b === undefined ? 1 : b < 0xfd ? 1 : b === 0xfd ? 3 : b === 0xfe ? 5 : 9;
}

/** Parses a serialized block; `where` names it in errors (file and offset). */
export function parseBlock(bytes: Buffer, where: string): BtcBlock {
  let block: Block;
  try {
    block = Block.fromBuffer(bytes);
  } catch (err) {
    throw new TpslabError('TPSLAB_E_DATASET', `${where}: the block does not parse (${(err as Error).message}); the file is damaged`, { cause: err });
  }
  const raw = block.transactions ?? [];
  let pos = 80 + varintLength(bytes, 80);
  const txs: BtcTx[] = raw.map((tx) => {
    const full = tx.byteLength(true);
    const segwit = tx.hasWitnesses();
    let txid: Buffer;
    if (!segwit) txid = sha256d(bytes.subarray(pos, pos + full));
    else {
      // version | [marker flag] | inputs and outputs | witnesses | locktime: hash all but marker, flag and witnesses.
      const stripped = tx.byteLength(false);
      txid = sha256d(bytes.subarray(pos, pos + 4), bytes.subarray(pos + 6, pos + 6 + stripped - 8), bytes.subarray(pos + full - 4, pos + full));
    }
    pos += full;
    for (const o of tx.outs) {
      if (o.value > MAX_MONEY_SAT) throw new TpslabError('TPSLAB_E_DATASET', `${where}: transaction ${displayId(txid)} has an output of ${o.value} sat, more than 21 million BTC; the file is damaged`);
    }
    return {
      txid,
      coinbase: tx.isCoinbase(),
      segwit,
      ins: tx.ins.map((i) => ({ prevTxid: view(i.hash), vout: i.index })),
      outs: tx.outs.map((o) => ({ script: view(o.script), value: o.value })),
    };
  });
  if (pos !== bytes.length) {
    throw new TpslabError('TPSLAB_E_DATASET', `${where}: the block's transactions end at byte ${pos} of ${bytes.length}; the frame holds trailing bytes`);
  }
  return { hash: sha256d(bytes.subarray(0, 80)), prevHash: Buffer.from(bytes.subarray(4, 36)), timeSec: bytes.readUInt32LE(68), sizeBytes: bytes.length, txs };
}
