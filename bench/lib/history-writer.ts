/**
 * Writes a large committed history fast, for timing a restart (bench/lib/large-history.ts): the files a
 * node's data directory holds after a sequencer wrote those blocks (block log, transaction index,
 * snapshots, the log checkpoint), in bulk.
 *
 * What is the same as a sequencer's: every block is executed by `LedgerState` (nonces, balances, the
 * incremental state hash) and sealed, so each block's state hash, prevHash and hash are real, and the
 * snapshots are `encodeSnapshot` of that state; blocks are appended through `BlockLog` (commit markers,
 * CRCs), and the checkpoint (with its frame offsets) is the log's own after each snapshot block, as
 * ChainStore writes it.
 *
 * What is done in bulk instead (none of it changes the files' contents):
 *  - transfers before the signed tail carry zero signatures (no restart path verifies one) and are
 *    laid out from a per-sender template with the nonce patched in, instead of one encodeBody each
 *    (checked against encodeBody once a block);
 *  - fsync off;
 *  - the transaction index gets one run per chunk of up to ID_CHUNK ids (TxIndex.addRun: the same
 *    files a node's flushes and merges make, in fewer, larger runs).
 */
import { join } from 'node:path';
import { BlockLog } from '../../src/ledger/block-log.js';
import { ChainStore, writeCheckpoint } from '../../src/ledger/chain-store.js';
import type { Genesis } from '../../src/ledger/genesis.js';
import { encodeSnapshot, writeSnapshot } from '../../src/ledger/snapshot.js';
import { INDEX_SHIFT, TxIndex } from '../../src/ledger/tx-index.js';
import { blockHash, encodeBlock } from '../../src/protocol/block.js';
import { signTx, txId, type KeyPair } from '../../src/protocol/signing.js';
import { encodeBody, SIGNATURE_BYTES, type SignedTx, type TransferBody } from '../../src/protocol/tx.js';

export interface GrowOptions {
  dataDir: string;
  genesis: Genesis;
  /** Funded in the genesis; sender k % keys.length sends to the next one. */
  keys: readonly KeyPair[];
  /** Blocks to append to whatever the data directory holds. */
  blocks: number;
  txsPerBlock: number;
  /** A snapshot (and a log checkpoint) at every multiple of this height. */
  snapshotEveryBlocks: number;
  /** The last this many blocks are signed (the tail a restart replays); earlier ones carry zero signatures. */
  signedTailBlocks: number;
  onProgress?(height: number): void;
}

export interface GrowResult {
  height: number;
  /** One transaction id (latin1) a block, every `sampleEvery` blocks, with its height: to check the index. */
  samples: { idKey: string; height: number }[];
}

/** Ids held before they are sorted into the index (32 B each: 128 MiB). */
const ID_CHUNK = 1 << 22;
const BLOCK_HEADER_BYTES = 1 + 8 + 32 + 8 + 32 + 4;
const NONCE_OFFSET = 2; // u8 version | u8 kind | u64 nonce (src/protocol/tx.ts)
const ZERO_SIGNATURE = Buffer.alloc(SIGNATURE_BYTES);

/** Ids staged for the index, with their packed locations; written sorted by id. */
class IdStage {
  private readonly ids: Buffer;
  private readonly locs: Float64Array;
  private n = 0;
  private markHeight = 0;

  private readonly index: TxIndex;

  constructor(path: string, private readonly capacity: number) {
    this.index = TxIndex.open(path, { fsync: false });
    this.ids = Buffer.allocUnsafe(capacity * 32);
    this.locs = new Float64Array(capacity);
  }

  room(count: number): boolean {
    return this.n + count <= this.capacity;
  }

  add(id: Buffer, loc: number): void {
    id.copy(this.ids, this.n * 32);
    this.locs[this.n++] = loc;
  }

  /** Writes the staged ids as one run of the index and marks blocks 1..height indexed. */
  flush(height: number): void {
    this.index.addRun(this.ids, this.locs, this.n, height);
    this.markHeight = height;
    this.n = 0;
  }

  close(): Promise<void> {
    return this.index.settle().then(() => this.index.close());
  }

  get indexedHeight(): number {
    return this.markHeight;
  }
}

/** A transfer body of sender `s` (to s + 1) at nonce 0, and the objects state.execute reads. */
interface SenderTemplate {
  body: Buffer;
  inputs: TransferBody['inputs'];
  outputs: TransferBody['outputs'];
}

function templates(keys: readonly KeyPair[]): SenderTemplate[] {
  return keys.map((from, s) => {
    const inputs = [{ account: from.publicKey, amount: 1n }];
    const outputs = [{ account: keys[(s + 1) % keys.length]!.publicKey, amount: 1n }];
    return { body: encodeBody({ kind: 'transfer', nonce: 0n, fee: 0n, deps: [], inputs, outputs }), inputs, outputs };
  });
}

/** An unsigned block's transactions, laid out in one buffer (its encoding) from the templates. */
function unsignedBlock(t: readonly SenderTemplate[], b: number, txsPerBlock: number): { txs: SignedTx[]; bytes: Buffer } {
  const bodyLength = t[0]!.body.length;
  const txLength = bodyLength + SIGNATURE_BYTES;
  const bytes = Buffer.alloc(BLOCK_HEADER_BYTES + txsPerBlock * (4 + txLength)); // zeroed: the signatures
  const txs = new Array<SignedTx>(txsPerBlock);
  let o = BLOCK_HEADER_BYTES;
  for (let i = 0; i < txsPerBlock; i++) {
    const k = b * txsPerBlock + i;
    const s = k % t.length;
    const nonce = BigInt(Math.floor(k / t.length));
    o = bytes.writeUInt32BE(txLength, o);
    t[s]!.body.copy(bytes, o);
    bytes.writeBigUInt64BE(nonce, o + NONCE_OFFSET);
    const body: TransferBody = { kind: 'transfer', nonce, fee: 0n, deps: [], inputs: t[s]!.inputs, outputs: t[s]!.outputs };
    const bodyBytes = bytes.subarray(o, o + bodyLength);
    if (i === 0 && !encodeBody(body).equals(bodyBytes)) throw new Error('history-writer: the transfer template no longer matches encodeBody');
    const id = txId(bodyBytes);
    txs[i] = { body, signatures: [ZERO_SIGNATURE], bytes: bytes.subarray(o, o + txLength), bodyLength, id, idKey: id.toString('latin1') };
    o += txLength;
  }
  return { txs, bytes };
}

/** Appends `o.blocks` blocks of transfers; resumable (nonces follow the height). */
export async function growHistory(o: GrowOptions): Promise<GrowResult> {
  // Recover the state as a node would (snapshot + tail), then write the files directly.
  const chain = await ChainStore.open(o.dataDir, o.genesis, { fsync: false, snapshotEveryBlocks: 0, snapshotEveryTxs: 0 });
  const state = chain.state;
  await chain.close();
  const log = await BlockLog.open(join(o.dataDir, 'blocks.log'), { fsync: false });
  const stage = new IdStage(join(o.dataDir, 'txindex'), Math.min(ID_CHUNK, o.blocks * o.txsPerBlock));
  const tpl = templates(o.keys);
  const samples: GrowResult['samples'] = [];
  const offsetsSaved = { records: 0, crc: 0 }; // rewritten whole at the first checkpoint, appended to after
  const sampleEvery = Math.max(1, Math.floor(o.blocks / 50));
  const first = state.height;
  const signFrom = first + o.blocks - o.signedTailBlocks;
  let pending: Promise<number>[] = [];
  const drain = async (): Promise<void> => {
    await Promise.all(pending);
    pending = [];
  };
  try {
    for (let b = first; b < first + o.blocks; b++) {
      const height = b + 1;
      const timestampMs = o.genesis.timestampMs + height;
      let txs: SignedTx[];
      let bytes: Buffer | undefined;
      if (b >= signFrom) {
        txs = Array.from({ length: o.txsPerBlock }, (_, i) => {
          const k = b * o.txsPerBlock + i;
          const s = k % o.keys.length;
          const body: TransferBody = { kind: 'transfer', nonce: BigInt(Math.floor(k / o.keys.length)), fee: 0n, deps: [], inputs: tpl[s]!.inputs, outputs: tpl[s]!.outputs };
          return signTx(body, [o.keys[s]!], o.genesis.network);
        });
      } else ({ txs, bytes } = unsignedBlock(tpl, b, o.txsPerBlock));
      for (const tx of txs) state.execute(tx);
      const prevHash = state.headHash;
      const stateHash = state.seal(height);
      const fields = { height, prevHash, timestampMs, stateHash, txs };
      const hash = blockHash(fields);
      state.setHead(hash);
      if (bytes) {
        let h = bytes.writeUInt8(1, 0); // the header encodeBlock writes (version 1)
        h = bytes.writeBigUInt64BE(BigInt(height), h);
        h += prevHash.copy(bytes, h);
        h = bytes.writeBigUInt64BE(BigInt(timestampMs), h);
        h += stateHash.copy(bytes, h);
        bytes.writeUInt32BE(txs.length, h);
        if (b === first && !encodeBlock({ ...fields, hash }).equals(bytes)) throw new Error('history-writer: the block layout no longer matches encodeBlock');
      } else bytes = encodeBlock({ ...fields, hash });
      if (!stage.room(txs.length)) {
        await drain();
        stage.flush(height - 1);
      }
      txs.forEach((tx, i) => stage.add(tx.id, height * INDEX_SHIFT + i));
      if ((b - first) % sampleEvery === 0) samples.push({ idKey: txs[0]!.id.toString('latin1'), height });
      pending.push(log.append(bytes));
      if (height % o.snapshotEveryBlocks === 0) {
        await drain();
        await writeSnapshot(o.dataDir, height, encodeSnapshot(state, timestampMs), false);
        const cp = log.checkpoint!;
        await writeCheckpoint(o.dataDir, cp, (from) => log.offsetsOf(cp.records, from), offsetsSaved);
      }
      if (pending.length >= 8) {
        await drain();
        o.onProgress?.(height);
      }
    }
    await drain();
  } finally {
    await log.close();
  }
  stage.flush(state.height);
  await stage.close();
  if (stage.indexedHeight !== state.height) throw new Error('history-writer: the index is not whole');
  return { height: state.height, samples };
}
