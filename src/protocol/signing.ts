/**
 * Ed25519 keys, signing and verification through node:crypto, and the
 * assembly of signed transactions. Signatures cover a domain prefix that names
 * the network, so a transaction signed for one network fails on another.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, hash, sign, verify, type KeyObject } from 'node:crypto';
import { TpslabError } from '../errors.js';
import { encodeAddress } from './address.js';
import { ByteReader } from './bytes.js';
import { decodeBody, encodeBody, SIGNATURE_BYTES, signatureCount, signersOf, type SignedTx, type TxBody } from './tx.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface KeyPair {
  /** 32-byte Ed25519 public key. */
  publicKey: Buffer;
  /** 32-byte Ed25519 seed (the private key). */
  seed: Buffer;
  address: string;
  privateKeyObject: KeyObject;
}

export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return keyPairFromSeed(der.subarray(der.length - 32));
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  if (seed.length !== 32) throw new TpslabError('TPSLAB_E_KEY_FILE', `an Ed25519 seed is 32 bytes, got ${seed.length}`);
  const privateKeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKeyObject).export({ format: 'der', type: 'spki' });
  const publicKey = Buffer.from(spki.subarray(spki.length - 32));
  return { publicKey, seed: Buffer.from(seed), address: encodeAddress(publicKey), privateKeyObject };
}

/** Deterministic key pair from a label, for tests, benchmarks and seeded scenarios. Never for real funds. */
export function keyPairFromLabel(label: string): KeyPair {
  return keyPairFromSeed(createHash('sha256').update(`tpslab-test-key:${label}`).digest());
}

/**
 * Verifying keys are cached (parsing one costs a fifth of a verification),
 * least recently used out first: a Map keeps insertion order,
 * and a hit moves the key to the end.
 */
const publicKeyCache = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_MAX = 200_000;

/**
 * Public keys that anyone can sign for: the eight points of small order (the curve's torsion
 * subgroup: identity, order 2, two of order 4, four of order 8) and six non-canonical encodings of
 * them (C2SP's Ed25519 vectors call the set "eight plus six alternative encodings"). OpenSSL accepts
 * a signature of all zeros from the all-zero key, so an account with such a key could be spent by
 * anyone; verification refuses them (a test derives the set again with @noble/curves).
 */
export const SMALL_ORDER_KEYS: readonly string[] = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '0000000000000000000000000000000000000000000000000000000000000000',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
];
const smallOrder = new Set(SMALL_ORDER_KEYS.map((h) => Buffer.from(h, 'hex').toString('latin1')));

/** The key to verify with, or undefined for a key that anyone can sign for (never cached). */
function publicKeyObject(publicKey: Buffer): KeyObject | undefined {
  const k = publicKey.toString('latin1');
  let obj = publicKeyCache.get(k);
  if (obj) {
    publicKeyCache.delete(k);
  } else {
    if (smallOrder.has(k)) return undefined;
    // As a JWK, not DER: OpenSSL 3 sends DER through its decoder framework, about 85 us a key on
    // this machine against 15 us for the raw key of a JWK; the key is the same (same verify results).
    obj = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') }, format: 'jwk' });
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) publicKeyCache.delete(publicKeyCache.keys().next().value!);
  }
  publicKeyCache.set(k, obj);
  return obj;
}

const domainCache = new Map<string, Buffer>();

/** `tpslab/tx/v1` ‖ u8 len ‖ network id: prepended to the body before signing. */
export function signingDomain(network: string): Buffer {
  let d = domainCache.get(network);
  if (!d) {
    const net = Buffer.from(network, 'utf8');
    if (net.length === 0 || net.length > 64) throw new TpslabError('TPSLAB_E_CONFIG', `network id must be 1-64 bytes, got "${network}"`);
    d = Buffer.concat([Buffer.from('tpslab/tx/v1', 'ascii'), Buffer.from([net.length]), net]);
    domainCache.set(network, d);
  }
  return d;
}

/**
 * A transaction's id: SHA-256 of its canonical body, signatures excluded (the
 * body is `signed.subarray(0, bodyLength)`). Safe because signatures are
 * deterministic and strictly verified before admission (docs/protocol.md).
 */
export function txId(bodyBytes: Uint8Array): Buffer {
  // One-shot hash: no Hash object per transaction (about 2 µs less each, and ids are computed at every decode).
  return hash('sha256', bodyBytes, 'buffer');
}

/** The id as a latin1 string (`SignedTx.idKey`), hashed straight into it: no Buffer, no ArrayBuffer of its own. */
export function txIdKey(bodyBytes: Uint8Array): string {
  return hash('sha256', bodyBytes, 'binary'); // 'binary' is Node's name for latin1
}

/** Scratch for txIdHex: ids go to hex without a Buffer each. */
const idHexScratch = Buffer.allocUnsafe(64);

/** An id key (`SignedTx.idKey`) as hex, the form the API and the commit stream name it by. */
export function txIdHex(idKey: string): string {
  const n = idHexScratch.write(idKey, 0, 'latin1');
  return idHexScratch.toString('hex', 0, n);
}

/**
 * A decoded transaction. Its id is hashed into `idKey` only; the Buffer form (`id`) is made from it on first
 * use (a slice of Node's buffer pool), since most of a decoded transaction's life needs only the key.
 */
class DecodedTx implements SignedTx {
  private idBuffer: Buffer | undefined = undefined;

  constructor(
    readonly body: TxBody,
    readonly signatures: readonly Buffer[],
    readonly bytes: Buffer,
    readonly bodyLength: number,
    readonly idKey: string,
  ) {}

  get id(): Buffer {
    return (this.idBuffer ??= Buffer.from(this.idKey, 'latin1'));
  }
}

/**
 * Signs a body. `keys` are the signers in signature order (for a transfer,
 * one per input, matching each input's account).
 */
export function signTx(body: TxBody, keys: readonly KeyPair[], network: string): SignedTx {
  const signers = signersOf(body);
  if (keys.length !== signers.length) {
    throw new TpslabError('TPSLAB_E_INVALID_TX', `${body.kind} needs ${signers.length} signing keys, got ${keys.length}`);
  }
  const bodyBytes = encodeBody(body);
  const message = Buffer.concat([signingDomain(network), bodyBytes]);
  const signatures = signers.map((account, i) => {
    const key = keys[i]!;
    if (!key.publicKey.equals(account)) {
      throw new TpslabError('TPSLAB_E_INVALID_TX', `signing key ${i} (${key.address}) does not match account ${encodeAddress(account)}`);
    }
    return sign(null, message, key.privateKeyObject);
  });
  const bytes = Buffer.concat([bodyBytes, ...signatures]);
  const id = txId(bodyBytes);
  return { body, signatures, bytes, bodyLength: bodyBytes.length, id, idKey: id.toString('latin1') };
}

/** Strictly reads signed bytes: the body, where it ends, and views of its signatures. */
function readSigned(bytes: Buffer): { body: TxBody; bodyLength: number; signatures: Buffer[] } {
  const r = new ByteReader(bytes, 'transaction', true);
  const body = decodeBody(r);
  const bodyLength = r.offset;
  const n = signatureCount(body);
  const signatures: Buffer[] = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) signatures[i] = r.bytes(SIGNATURE_BYTES, 'signatures[]', i);
  r.end();
  return { body, bodyLength, signatures };
}

/**
 * Strictly decodes signed bytes (no signature check; see verifyTx). The bytes are copied
 * once; the decoded fields (accounts, signatures, payload) are views of that copy, which
 * the transaction owns, so nothing aliases the caller's buffer.
 */
export function decodeTx(bytes: Buffer, owned = false): SignedTx {
  // owned: the caller's buffer is the transaction's from now on (never changed again): its fields are views of it.
  const own = owned ? bytes : Buffer.from(bytes);
  const { body, bodyLength, signatures } = readSigned(own);
  return new DecodedTx(body, signatures, own, bodyLength, txIdKey(own.subarray(0, bodyLength)));
}

/** Throws TPSLAB_E_BAD_SIGNATURE naming the first signature that fails. */
export function verifyTx(tx: SignedTx, network: string): void {
  const message = Buffer.concat([signingDomain(network), tx.bytes.subarray(0, tx.bodyLength)]);
  const signers = signersOf(tx.body);
  for (let i = 0; i < signers.length; i++) {
    const key = publicKeyObject(signers[i]!);
    if (!key) {
      throw new TpslabError(
        'TPSLAB_E_BAD_SIGNATURE',
        `signer ${i} (${encodeAddress(signers[i]!)}) has a small-order public key, for which anyone can forge a signature; such an account cannot sign: use a key from 'tpslab keys new'`,
        { details: { index: i } },
      );
    }
    const ok = verify(null, message, key, tx.signatures[i]!);
    if (!ok) {
      throw new TpslabError(
        'TPSLAB_E_BAD_SIGNATURE',
        `signature ${i} does not verify for ${encodeAddress(signers[i]!)} on network "${network}"; sign the exact body with that account's key`,
        { details: { index: i } },
      );
    }
  }
}

/**
 * One Ed25519 verification of a signature over `message` (signing domain and body), refusing small-order
 * keys, with the key object cached: the node's verify threads (ledger/verify-worker.ts) check every
 * signature of a batch with it, and bench/lib/verify.ts measures it as the node's own path.
 */
export function verifyRaw(message: Buffer, publicKey: Buffer, signature: Buffer): boolean {
  const key = publicKeyObject(publicKey);
  return key !== undefined && verify(null, message, key, signature);
}
