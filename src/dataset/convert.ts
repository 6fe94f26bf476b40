/**
 * One Bitcoin transaction → at most one tpslab `transfer` (rules in docs/dataset.md):
 *
 * - inputs: the accounts of the outputs it spends, merged per account in order
 *   of first appearance, zero amounts left out; the first is the sender (its
 *   nonce, its fee). outputs: every output with a value, merged per account.
 * - fee: Bitcoin's fee (inputs − outputs), paid by the sender and burned. No
 *   account is ever debited more than the outputs it spends were worth.
 * - deps: the ledger ids of the dataset transactions it spends from, at most
 *   16 (the most recent); spends from older parents are funded at genesis.
 * - coinbases and transactions that cannot become a transfer are left out;
 *   their spendable outputs count as coming from outside the dataset, so a
 *   later spend of them is funded at genesis and has no dep.
 *
 * Nothing is signed here: a record is the unsigned body and its inputs' seeds;
 * its id (what children name in deps) is the SHA-256 of the body.
 */
import { txId } from '../protocol/signing.js';
import { CODEC_LIMITS, encodeBody, type Entry } from '../protocol/tx.js';
import { isUnspendable, shardKeyOf, type PublicKeyCache, type SeedCache } from './accounts.js';
import type { BtcBlock, BtcTx } from './btc-block.js';
import { encodeRecord, type DatasetStats } from './format.js';
import type { PrepareState, Utxo } from './state.js';

export interface ConvertContext {
  state: PrepareState;
  /** Public keys by seed: derived once per new account (the costliest step left). */
  keys: PublicKeyCache;
  seeds: SeedCache;
  ledgerNetwork: string;
  bucketBits: number;
  /** Called with each record in ledger sequence order. */
  emit(bucket: number, seq: number, record: Buffer): void;
}

/** Running totals, bigint where they can pass 2^53. */
export interface Counters extends Omit<DatasetStats, 'externalSpend' | 'overflowSpend' | 'feeTotal'> {
  externalSpend: bigint;
  overflowSpend: bigint;
  feeTotal: bigint;
  /** Next ledger sequence number. */
  nextSeq: number;
}

export function emptyCounters(): Counters {
  return {
    blocks: 0, blocksBeforeRange: 0, btcTxs: 0, records: 0, coinbases: 0, zeroOutputTxs: 0, oversizedTxs: 0,
    unknownInputTxs: 0, depsOverflowTxs: 0, deps: 0, externalSpend: 0n, overflowSpend: 0n, feeTotal: 0n, inputBytes: 0, maxDepth: 0, nextSeq: 0,
  };
}

export function countersToStats(c: Counters): DatasetStats {
  const { nextSeq: _seq, ...rest } = c;
  return { ...rest, externalSpend: c.externalSpend.toString(), overflowSpend: c.overflowSpend.toString(), feeTotal: c.feeTotal.toString() };
}

export function countersFromStats(s: DatasetStats, nextSeq: number): Counters {
  return { ...s, externalSpend: BigInt(s.externalSpend), overflowSpend: BigInt(s.overflowSpend), feeTotal: BigInt(s.feeTotal), nextSeq };
}

function outpoint(txid: Buffer, vout: number): Buffer {
  const op = Buffer.allocUnsafe(36);
  txid.copy(op, 0);
  op.writeUInt32BE(vout, 32);
  return op;
}

/** Records the spendable outputs of a transaction left out of the dataset: spends of them are funded at genesis. */
function putExternal(ctx: ConvertContext, tx: BtcTx): void {
  tx.outs.forEach((o, vout) => {
    if (isUnspendable(o.script)) return;
    const seed = ctx.seeds.get(o.script);
    // The account when it is at hand (the key workers derive coinbase outputs' keys ahead), so spending it derives nothing.
    ctx.state.put(outpoint(tx.txid, vout), { seed, account: ctx.keys.peek(seed) ?? null, amount: Number(o.value), parentSeq: null, parentId: null, depth: 0 });
  });
}

/** A block before --from-block: its outputs become the outside world the range spends from. */
export function absorbBlock(ctx: ConvertContext, block: BtcBlock): void {
  for (const tx of block.txs) {
    if (!tx.coinbase) for (const i of tx.ins) ctx.state.take(outpoint(i.prevTxid, i.vout));
    putExternal(ctx, tx);
  }
}

export function convertBlock(ctx: ConvertContext, block: BtcBlock, height: number, c: Counters): void {
  for (const tx of block.txs) {
    c.btcTxs++;
    if (tx.coinbase) {
      c.coinbases++;
      putExternal(ctx, tx);
    } else convertTx(ctx, tx, block, height, c);
  }
}

interface InputAcc {
  seed: Buffer;
  account: Buffer;
  amount: bigint;
  utxos: Utxo[];
}

function convertTx(ctx: ConvertContext, tx: BtcTx, block: BtcBlock, height: number, c: Counters): void {
  const spent: Utxo[] = [];
  let unknown = false;
  for (const i of tx.ins) {
    const u = ctx.state.take(outpoint(i.prevTxid, i.vout));
    if (u) spent.push(u);
    else unknown = true;
  }
  if (unknown) {
    // Its outputs stay unknown too, so whatever spends them is left out as well.
    c.unknownInputTxs++;
    return;
  }
  const inputs = new Map<string, InputAcc>();
  for (const u of spent) {
    const k = u.seed.toString('latin1');
    const acc = inputs.get(k);
    if (acc) {
      acc.amount += BigInt(u.amount);
      acc.utxos.push(u);
    } else inputs.set(k, { seed: u.seed, account: u.account ?? ctx.keys.get(u.seed), amount: BigInt(u.amount), utxos: [u] });
  }
  const ins = [...inputs.values()].filter((a) => a.amount > 0n);
  const outs = new Map<string, { seed: Buffer; account: Buffer; amount: bigint }>();
  const outAccounts: ({ seed: Buffer; account: Buffer } | undefined)[] = tx.outs.map((o) => {
    if (isUnspendable(o.script) && o.value === 0n) return undefined;
    const seed = ctx.seeds.get(o.script);
    const k = seed.toString('latin1');
    const e = outs.get(k);
    if (e) {
      e.amount += o.value;
      return e;
    }
    const out = { seed, account: ctx.keys.get(seed), amount: o.value };
    if (o.value > 0n) outs.set(k, out);
    return out;
  });
  const inTotal = ins.reduce((t, a) => t + a.amount, 0n);
  const outTotal = [...outs.values()].reduce((t, o) => t + o.amount, 0n);
  const leftOut = (): void => putExternal(ctx, tx);
  if (outs.size === 0 || ins.length === 0) {
    c.zeroOutputTxs++;
    return leftOut();
  }
  if (ins.length > CODEC_LIMITS.maxInputs || outs.size > CODEC_LIMITS.maxOutputs || inTotal < outTotal) {
    c.oversizedTxs++;
    return leftOut();
  }
  // Parents inside the dataset: keep the 16 most recent as deps.
  const parents = new Map<number, { id: Buffer; depth: number }>();
  for (const u of spent) if (u.parentSeq !== null) parents.set(u.parentSeq, { id: u.parentId!, depth: u.depth });
  const kept = [...parents.keys()].sort((a, b) => b - a).slice(0, CODEC_LIMITS.maxDeps);
  const keptSet = new Set(kept);
  if (parents.size > kept.length) c.depsOverflowTxs++;
  // What genesis must fund: spends from outside the dataset, and from parents beyond the 16 deps.
  for (const a of ins) {
    let external = 0;
    let overflow = 0;
    for (const u of a.utxos) {
      if (u.parentSeq === null) external += u.amount;
      else if (!keptSet.has(u.parentSeq)) overflow += u.amount;
    }
    ctx.state.fund(a.account, external + overflow);
    c.externalSpend += BigInt(external + overflow);
    c.overflowSpend += BigInt(overflow);
  }
  // The sender pays the fee on top of its entry: entry0 = s0 − fee, at least 1; any fee it cannot cover is taken off the other entries.
  const fee = inTotal - outTotal;
  const ledgerFee = fee < ins[0]!.amount ? fee : ins[0]!.amount - 1n;
  let excess = fee - ledgerFee;
  const entries: Entry[] = [];
  const signers: Buffer[] = [];
  ins.forEach((a, idx) => {
    let amount = idx === 0 ? a.amount - ledgerFee : a.amount;
    if (idx > 0 && excess > 0n) {
      const cut = excess < amount ? excess : amount;
      amount -= cut;
      excess -= cut;
    }
    if (amount > 0n) {
      entries.push({ account: a.account, amount });
      signers.push(a.seed);
    }
  });
  const sender = ins[0]!.account;
  const nonce = ctx.state.nextNonce(sender);
  const deps = kept.sort((a, b) => a - b).map((s) => parents.get(s)!.id);
  const outputs: Entry[] = [...outs.values()].map((o) => ({ account: o.account, amount: o.amount }));
  const body = encodeBody({ kind: 'transfer', nonce: BigInt(nonce), fee: ledgerFee, deps, inputs: entries, outputs });
  const id = txId(body);
  const depth = 1 + kept.reduce((m, s) => Math.max(m, parents.get(s)!.depth), 0);
  const seq = c.nextSeq++;
  c.records++;
  c.deps += deps.length;
  c.feeTotal += ledgerFee;
  if (depth > c.maxDepth) c.maxDepth = depth;
  const bucket = Number(shardKeyOf(sender) >> BigInt(64 - ctx.bucketBits));
  ctx.emit(bucket, seq, encodeRecord({ seq, height, timeSec: block.timeSec, depth }, body, signers));
  tx.outs.forEach((o, vout) => {
    const out = outAccounts[vout];
    if (out && !isUnspendable(o.script)) ctx.state.put(outpoint(tx.txid, vout), { seed: out.seed, account: out.account, amount: Number(o.value), parentSeq: seq, parentId: id, depth });
  });
}
