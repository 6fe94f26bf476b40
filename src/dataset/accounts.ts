/**
 * Bitcoin output scripts to ledger accounts, deterministically.
 *
 * A script with an address (P2PKH, P2SH, P2WPKH, P2WSH, P2TR and future
 * witness versions) maps to that address string; any other script (P2PK,
 * bare multisig, OP_RETURN, non-standard) to `script:` + the hex SHA-256 of
 * the script. That label is the seed: the account's Ed25519 key is
 * keyPairFromLabel(label), so the same input always gives the same accounts,
 * and anyone holding the dataset can re-derive every key.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { address as btcAddress, networks, type Network } from 'bitcoinjs-lib';
import { encodeAddress } from '../protocol/address.js';
import { keyPairFromSeed, type KeyPair } from '../protocol/signing.js';
import { publicKeyOfSeed } from './public-key.js';
import type { SourceNetwork } from './blk-files.js';

export { publicKeyOfSeed };

const ADDRESS_NETWORK: Record<SourceNetwork, Network> = {
  mainnet: networks.bitcoin,
  testnet: networks.testnet,
  regtest: networks.regtest,
  signet: networks.testnet,
  testnet4: networks.testnet,
};

export function addressNetwork(source: SourceNetwork): Network {
  return ADDRESS_NETWORK[source];
}

const OP_RETURN = 0x6a;
/** Scripts longer than this are unspendable by consensus. */
const MAX_SCRIPT_BYTES = 10_000;

/** Provably unspendable: OP_RETURN first, or too long to ever run. Such outputs never enter the UTXO set. */
export function isUnspendable(script: Uint8Array): boolean {
  return (script.length > 0 && script[0] === OP_RETURN) || script.length > MAX_SCRIPT_BYTES;
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/**
 * Base58Check of `version ‖ hash160`, as bitcoinjs-lib's toBase58Check gives it
 * (a test compares them) at several times its speed: the checksum by
 * node:crypto, and the base conversion of 25 bytes done directly (P2PKH and
 * P2SH outputs are most outputs, and each needs its address).
 */
function base58Check(hash: Uint8Array, version: number): string {
  const payload = Buffer.allocUnsafe(25);
  payload[0] = version;
  payload.set(hash, 1);
  const check = createHash('sha256').update(createHash('sha256').update(payload.subarray(0, 21)).digest()).digest();
  check.copy(payload, 21, 0, 4);
  const digits: number[] = [];
  let zeros = 0;
  while (zeros < payload.length && payload[zeros] === 0) zeros++;
  for (let i = zeros; i < payload.length; i++) {
    let carry = payload[i]!;
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j]! * 256;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = (carry / 58) | 0;
    }
  }
  let out = '1'.repeat(zeros);
  for (let j = digits.length - 1; j >= 0; j--) out += BASE58[digits[j]!];
  return out;
}

/** The address of a standard script, or undefined. Matches templates by bytes, then encodes (base58check here, bech32 with bitcoinjs-lib). */
export function scriptAddress(s: Uint8Array, network: Network): string | undefined {
  const n = s.length;
  if (n === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 0x14 && s[23] === 0x88 && s[24] === 0xac) return base58Check(s.subarray(3, 23), network.pubKeyHash);
  if (n === 23 && s[0] === 0xa9 && s[1] === 0x14 && s[22] === 0x87) return base58Check(s.subarray(2, 22), network.scriptHash);
  const op = s[0]!;
  if (n >= 4 && n <= 42 && (op === 0 || (op >= 0x51 && op <= 0x60)) && s[1] === n - 2) {
    const version = op === 0 ? 0 : op - 0x50;
    if (version === 0 && n !== 22 && n !== 34) return undefined;
    return btcAddress.toBech32(s.subarray(2), version, network.bech32);
  }
  return undefined;
}

/** The seed label of an output script: its address, or `script:<sha256 hex>`. */
export function scriptLabel(script: Uint8Array, network: Network): string {
  return scriptAddress(script, network) ?? `script:${createHash('sha256').update(script).digest('hex')}`;
}

/** The 32-byte Ed25519 seed of a label: exactly what keyPairFromLabel uses. */
export function seedOfLabel(label: string): Buffer {
  return createHash('sha256').update(`tpslab-test-key:${label}`).digest();
}

/**
 * Output script → account seed, least recently used out first: encoding an
 * address and hashing the label cost more than a lookup, and addresses recur.
 */
export class SeedCache {
  private readonly map = new Map<string, Buffer>();

  constructor(
    private readonly network: Network,
    private readonly capacity = 200_000,
  ) {}

  get(script: Buffer): Buffer {
    const k = script.toString('latin1');
    let seed = this.map.get(k);
    if (seed) this.map.delete(k);
    else {
      seed = seedOfLabel(scriptLabel(script, this.network));
      if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    }
    this.map.set(k, seed);
    return seed;
  }

  /** The cached seed of `script` (latin1, as `get` keys it), if any, without computing it or touching the order. */
  peek(scriptKey: string): Buffer | undefined {
    return this.map.get(scriptKey);
  }

  /** Adds a seed computed elsewhere (a key worker). */
  put(scriptKey: string, seed: Buffer): void {
    if (this.map.has(scriptKey)) this.map.delete(scriptKey);
    else if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    this.map.set(scriptKey, seed);
  }
}

/**
 * keyPairFromSeed's result, about 7 times faster: importing the seed as a JWK
 * takes OpenSSL's raw-key path instead of its PKCS#8 decoder (about 50 µs
 * against 350 µs a key on this machine), which matters when every new Bitcoin
 * address needs a key. A test checks both give the same keys and signatures.
 */
export function fastKeyPairFromSeed(seed: Buffer): KeyPair {
  let privateKeyObject;
  try {
    // `x` is recomputed from `d` on import; the empty value keeps us from deriving it twice.
    privateKeyObject = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: '' }, format: 'jwk' });
  } catch {
    return keyPairFromSeed(seed);
  }
  const x = createPublicKey(privateKeyObject).export({ format: 'jwk' }).x;
  const publicKey = Buffer.from(x ?? '', 'base64url');
  if (publicKey.length !== 32) return keyPairFromSeed(seed);
  return { publicKey, seed: Buffer.from(seed), address: encodeAddress(publicKey), privateKeyObject };
}

/**
 * Public keys by seed, least recently used out first: at most `capacity`
 * entries (default 200,000, about 40 MB: a 32-byte latin1 key string, a 32-byte
 * Buffer and the Map entry, ≈ 200 bytes each). The key derivation workers
 * (key-deriver.ts) fill it ahead of the conversion with `put`.
 */
export class PublicKeyCache {
  private readonly map = new Map<string, Buffer>();
  /** Keys derived in place on a miss (on the thread that converts). */
  misses = 0;

  constructor(private readonly capacity = 200_000) {}

  has(seed: Buffer): boolean {
    return this.map.has(seed.toString('latin1'));
  }

  /** The cached key, if any, without deriving or touching the order. */
  peek(seed: Buffer): Buffer | undefined {
    return this.map.get(seed.toString('latin1'));
  }

  /** Adds a key derived elsewhere (a worker thread). */
  put(seed: Buffer, pub: Buffer): void {
    const k = seed.toString('latin1');
    if (this.map.has(k)) this.map.delete(k);
    else if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    this.map.set(k, pub);
  }

  get(seed: Buffer): Buffer {
    const k = seed.toString('latin1');
    let pub = this.map.get(k);
    if (pub) this.map.delete(k);
    else {
      this.misses++;
      pub = publicKeyOfSeed(seed);
      if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    }
    this.map.set(k, pub);
    return pub;
  }
}

/**
 * Key pairs by seed, least recently used out first. Deriving a public key
 * costs about as much as a signature, and the same addresses come back often.
 */
export class KeyCache {
  private readonly map = new Map<string, KeyPair>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity = 100_000) {}

  get(seed: Buffer): KeyPair {
    const k = seed.toString('latin1');
    let kp = this.map.get(k);
    if (kp) {
      this.hits++;
      this.map.delete(k);
    } else {
      this.misses++;
      kp = fastKeyPairFromSeed(seed);
      if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    }
    this.map.set(k, kp);
    return kp;
  }
}

/**
 * A sender's position in the tracker's 2^64 shard space: the first 8 bytes of
 * its account (public key), big-endian. The replay workload splits a dataset by it.
 */
export function shardKeyOf(account: Uint8Array): bigint {
  return Buffer.from(account.buffer, account.byteOffset, 8).readBigUInt64BE(0);
}
