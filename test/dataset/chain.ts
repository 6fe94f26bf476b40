/**
 * Builds realistic blk*.dat content with bitcoinjs-lib: a chain of blocks
 * (valid merkle roots, each block linked to the last) whose transactions spend
 * earlier outputs, 1-3 inputs each, P2PKH and P2WPKH (with witnesses), some
 * OP_RETURN outputs, one transaction whose only output is a zero OP_RETURN,
 * and one consolidation spending 20 different parents. Signatures are
 * placeholders of the right shape: the preparator does not validate scripts.
 */
import { createHash } from 'node:crypto';
import { Block, payments, Transaction } from 'bitcoinjs-lib';
import { BLK_MAGICS, type SourceNetwork } from '../../src/dataset/blk-files.js';

export interface ChainOut {
  value: bigint;
  script: Buffer;
}

export interface ChainTx {
  txid: string;
  height: number;
  coinbase: boolean;
  ins: { txid: string; vout: number }[];
  outs: ChainOut[];
}

export interface Chain {
  blocks: Buffer[];
  txs: ChainTx[];
}

export interface ChainSpec {
  blocks: number;
  txsPerBlock: number;
  addresses?: number;
  seed?: number;
  /** Height at which a transaction spends 20 different parents (0: none). */
  consolidateAt?: number;
  /** Height of a transaction whose only output is OP_RETURN with value 0 (0: none). */
  zeroOutputAt?: number;
}

/** A small deterministic generator (mulberry32): the same stream for the same seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const opReturn = (data: string): Buffer => Buffer.concat([Buffer.from([0x6a, data.length]), Buffer.from(data)]);
const FEE = 1_000n;

export function buildChain(spec: ChainSpec): Chain {
  const rand = rng(spec.seed ?? 1);
  const pick = (n: number): number => Math.floor(rand() * n);
  const addresses = Array.from({ length: spec.addresses ?? 50 }, (_, i) => {
    const hash = createHash('sha256').update(`addr-${spec.seed ?? 1}-${i}`).digest().subarray(0, 20);
    return i % 2 === 0 ? Buffer.from(payments.p2pkh({ hash }).output!) : Buffer.from(payments.p2wpkh({ hash }).output!);
  });
  const pool: { txid: Buffer; vout: number; value: bigint; script: Buffer; coinbase: boolean; parent: string }[] = [];
  const txs: ChainTx[] = [];
  const blocks: Buffer[] = [];
  let prev = Buffer.alloc(32);
  const finish = (tx: Transaction, height: number, coinbase: boolean): void => {
    const txid = Buffer.from(tx.getHash());
    const id = Buffer.from(txid).reverse().toString('hex');
    txs.push({
      txid: id, height, coinbase,
      ins: coinbase ? [] : tx.ins.map((i) => ({ txid: Buffer.from(i.hash).reverse().toString('hex'), vout: i.index })),
      outs: tx.outs.map((o) => ({ value: o.value, script: Buffer.from(o.script) })),
    });
    tx.outs.forEach((o, vout) => {
      if (o.script[0] !== 0x6a) pool.push({ txid, vout, value: o.value, script: Buffer.from(o.script), coinbase, parent: id });
    });
  };
  const spend = (tx: Transaction, u: (typeof pool)[number]): void => {
    const sig = Buffer.alloc(72, 0x30);
    const pub = Buffer.alloc(33, 0x02);
    if (u.script[0] === 0x00) {
      const i = tx.addInput(u.txid, u.vout);
      tx.setWitness(i, [sig, pub]);
    } else tx.addInput(u.txid, u.vout, 0xffffffff, Buffer.concat([Buffer.from([72]), sig, Buffer.from([33]), pub]));
  };
  for (let h = 0; h < spec.blocks; h++) {
    const blockTxs: Transaction[] = [];
    const cb = new Transaction();
    cb.addInput(Buffer.alloc(32), 0xffffffff, 0xffffffff, Buffer.from([0x04, h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, 0x01]));
    cb.addOutput(addresses[pick(addresses.length)]!, 5_000_000_000n);
    blockTxs.push(cb);
    finish(cb, h, true);
    for (let t = 0; t < spec.txsPerBlock && h > 0; t++) {
      const tx = new Transaction();
      tx.version = 2;
      if (h === spec.zeroOutputAt && t === 0) {
        spend(tx, pool.splice(pick(pool.length), 1)[0]!);
        tx.addOutput(opReturn('nothing to see'), 0n);
      } else if (h === spec.consolidateAt && t === 0) {
        const seen = new Set<string>();
        let total = 0n;
        for (let i = pool.length - 1; i >= 0 && seen.size < 20; i--) {
          const u = pool[i]!;
          if (u.coinbase || seen.has(u.parent)) continue;
          seen.add(u.parent);
          spend(tx, u);
          total += u.value;
          pool.splice(i, 1);
        }
        tx.addOutput(addresses[pick(addresses.length)]!, total - FEE);
      } else {
        const k = 1 + pick(3);
        let total = 0n;
        for (let i = 0; i < k && pool.length > 0; i++) {
          const u = pool.splice(pick(pool.length), 1)[0]!;
          spend(tx, u);
          total += u.value;
        }
        const m = 1 + pick(3);
        let left = total - FEE;
        for (let i = 0; i < m; i++) {
          const v = i === m - 1 ? left : left / BigInt(2 + pick(3));
          tx.addOutput(addresses[pick(addresses.length)]!, v);
          left -= v;
        }
        if (t % 7 === 3) tx.addOutput(opReturn(`memo ${h}/${t}`), 0n);
      }
      blockTxs.push(tx);
      finish(tx, h, false);
    }
    const block = new Block();
    block.version = 0x20000000;
    block.prevHash = prev;
    block.timestamp = 1_600_000_000 + h * 600;
    block.bits = 0x207fffff;
    block.nonce = h;
    block.transactions = blockTxs;
    block.merkleRoot = Block.calculateMerkleRoot(blockTxs);
    const bytes = Buffer.from(block.toBuffer());
    blocks.push(bytes);
    prev = Buffer.from(block.getHash());
  }
  return { blocks, txs };
}

/** blk*.dat framing: magic, u32 LE length, block; optionally bitcoind's zero preallocation after. */
export function blkFile(blocks: readonly Buffer[], network: SourceNetwork = 'regtest', zeroTail = 0): Buffer {
  const magic = Buffer.from(BLK_MAGICS[network], 'hex');
  const parts: Buffer[] = [];
  for (const b of blocks) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(magic, len, b);
  }
  parts.push(Buffer.alloc(zeroTail));
  return Buffer.concat(parts);
}
