/**
 * The run's wallets and their transactions: keys derived deterministically from
 * the seed (same network and seed, same wallets: reruns top them up instead of
 * funding new ones), and transactions signed synchronously with secp256k1
 * (@noble/curves, the curve library viem itself uses) and serialized by viem.
 */
import { secp256k1 } from '@noble/curves/secp256k1';
import { keccak256, numberToHex, serializeTransaction, stringToBytes, toHex, type Hex, type TransactionSerializable } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import type { FeeConfig } from './schema.js';

/** The seed of a run's wallet keys: chain and scenario seed. */
export function keySeedOf(chainId: number, seed: number): string {
  return `tpslab:ethereum:${chainId}:${seed}`;
}

export interface Wallet {
  key: Hex;
  address: Hex;
}

/** Wallet `index` of a run: its key is keccak256 of the seed and index. */
export function wallet(keySeed: string, index: number): Wallet {
  const key = keccak256(stringToBytes(`${keySeed}:${index}`));
  return { key, address: privateKeyToAddress(key) };
}

/** Wallets by index, derived once. */
export class WalletBook {
  private readonly cache = new Map<number, Wallet>();
  constructor(private readonly keySeed: string) {}
  get(index: number): Wallet {
    let w = this.cache.get(index);
    if (!w) this.cache.set(index, (w = wallet(this.keySeed, index)));
    return w;
  }
}

export interface TxFields {
  chainId: number;
  nonce: number;
  /** Absent: a contract creation. */
  to?: Hex;
  valueWei: bigint;
  gas: number;
  data?: Hex;
  fees: FeeConfig;
}

/** Signs and serializes a transaction; returns the raw bytes and the hash the network will report. */
export function signTx(key: Hex, f: TxFields): { raw: Hex; hash: Hex } {
  const base = { chainId: f.chainId, nonce: f.nonce, ...(f.to ? { to: f.to } : {}), value: f.valueWei, gas: BigInt(f.gas), ...(f.data ? { data: f.data } : {}) };
  const tx: TransactionSerializable =
    f.fees.type === 'eip1559'
      ? { ...base, type: 'eip1559', maxFeePerGas: BigInt(f.fees.maxFeePerGas), maxPriorityFeePerGas: BigInt(f.fees.maxPriorityFeePerGas) }
      : { ...base, type: 'legacy', gasPrice: BigInt(f.fees.gasPrice) };
  const sig = secp256k1.sign(keccak256(serializeTransaction(tx)).slice(2), key.slice(2), { lowS: true });
  const raw = serializeTransaction(tx, { r: numberToHex(sig.r, { size: 32 }), s: numberToHex(sig.s, { size: 32 }), yParity: sig.recovery, ...(f.fees.type === 'legacy' ? { v: BigInt(sig.recovery + 35 + 2 * f.chainId) } : {}) });
  return { raw, hash: keccak256(raw) };
}

/** Fees of a replacement: 25% above `fees` (nodes want at least 10% more to replace a pending transaction). */
export function bumpFees(fees: FeeConfig): FeeConfig {
  const up = (v: string): string => String((BigInt(v) * 125n + 99n) / 100n);
  return fees.type === 'eip1559' ? { type: 'eip1559', maxFeePerGas: up(fees.maxFeePerGas), maxPriorityFeePerGas: up(fees.maxPriorityFeePerGas) } : { type: 'legacy', gasPrice: up(fees.gasPrice) };
}

export { toHex };
