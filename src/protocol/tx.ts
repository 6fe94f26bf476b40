/**
 * The transaction model and its canonical binary encoding (version 2).
 *
 * Layout, big-endian; "body" is what signatures sign, and what the id names:
 *
 *   body      = u8 version(=2) | u8 kind | u64 nonce | u64 fee | u8 depCount | depCount × 32-byte tx id | kind fields
 *   transfer  = u16 inputCount | inputs × (32-byte account | u64 amount)
 *             | u16 outputCount | outputs × (32-byte account | u64 amount)
 *   message   = 32-byte from | u8 topicLen | topic (ASCII) | u32 payloadLen | payload
 *   create-account = 32-byte from | 32-byte account
 *   create-topic   = 32-byte from | u8 topicLen | topic (ASCII)
 *   signed    = body | signatures × 64 bytes (one per transfer input, in input order; one otherwise)
 *
 * The decoder is strict: every count and length is bounded, unknown versions
 * and kinds are rejected, and so are trailing bytes. The sender of a transfer is
 * its first input; its nonce and fee belong to that account.
 *
 * Version 2 changed only the id: SHA-256 of the body, signatures excluded (as
 * Bitcoin's txid excludes witnesses), so an unsigned body already has its id
 * and others can name it in `deps` before anyone signs. Version 1's id covered
 * the signatures; its bytes are refused with TPSLAB_E_OLD_FORMAT.
 */
import { TpslabError } from '../errors.js';
import type { ByteReader } from './bytes.js';
import { ByteWriter } from './bytes.js';

export const TX_VERSION = 2;
/** The last version whose id covered the signatures; refused with TPSLAB_E_OLD_FORMAT. */
const OLD_TX_VERSION = 1;
export const TX_ID_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const ACCOUNT_BYTES = 32;

/** Hard bounds of the encoding. Nodes may configure tighter ones (see LedgerLimits). */
export const CODEC_LIMITS = {
  maxDeps: 16,
  maxInputs: 64,
  maxOutputs: 1024,
  maxTopicBytes: 64,
  maxPayloadBytes: 1 << 20,
} as const;

export const TX_KINDS = ['transfer', 'message', 'create-account', 'create-topic'] as const;
export type TxKind = (typeof TX_KINDS)[number];
const KIND_CODE: Record<TxKind, number> = { transfer: 1, message: 2, 'create-account': 3, 'create-topic': 4 };

export const TOPIC_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

export interface TxCommon {
  nonce: bigint;
  fee: bigint;
  /** Ids of transactions that must be committed before this one (at most 16). */
  deps: Buffer[];
}

export interface Entry {
  account: Buffer;
  amount: bigint;
}

export interface TransferBody extends TxCommon {
  kind: 'transfer';
  inputs: Entry[];
  outputs: Entry[];
}

export interface MessageBody extends TxCommon {
  kind: 'message';
  from: Buffer;
  topic: string;
  payload: Buffer;
}

export interface CreateAccountBody extends TxCommon {
  kind: 'create-account';
  from: Buffer;
  account: Buffer;
}

export interface CreateTopicBody extends TxCommon {
  kind: 'create-topic';
  from: Buffer;
  topic: string;
}

export type TxBody = TransferBody | MessageBody | CreateAccountBody | CreateTopicBody;

/** A signed, encoded transaction with its id. Immutable once built. */
export interface SignedTx {
  readonly body: TxBody;
  readonly signatures: readonly Buffer[];
  /** Canonical signed bytes. */
  readonly bytes: Buffer;
  /** Length of the body prefix inside `bytes` (what signatures sign). */
  readonly bodyLength: number;
  /** SHA-256 of the body (`bytes` up to `bodyLength`): signatures are not part of the id. */
  readonly id: Buffer;
  /**
   * The same id as a latin1 string (one char per byte): what maps of pending, indexed and accepted
   * transactions key on. Decoding hashes straight into it (a 32-byte Buffer from node:crypto gets an
   * ArrayBuffer of its own, which cost about 0.6 µs a transaction more, at every decode of it).
   */
  readonly idKey: string;
}

/** The account whose nonce orders this transaction and who pays the fee. */
export function senderOf(body: TxBody): Buffer {
  if (body.kind === 'transfer') {
    const first = body.inputs[0];
    if (!first) throw new TpslabError('TPSLAB_E_INVALID_TX', 'a transfer needs at least one input');
    return first.account;
  }
  return body.from;
}

/** Accounts that must sign, in signature order. */
export function signersOf(body: TxBody): Buffer[] {
  return body.kind === 'transfer' ? body.inputs.map((i) => i.account) : [body.from];
}

export function encodeBody(body: TxBody): Buffer {
  const w = new ByteWriter(128);
  w.u8(TX_VERSION).u8(KIND_CODE[body.kind]).u64(body.nonce).u64(body.fee);
  if (body.deps.length > CODEC_LIMITS.maxDeps) {
    throw new TpslabError('TPSLAB_E_INVALID_TX', `deps: ${body.deps.length} ids, at most ${CODEC_LIMITS.maxDeps} allowed`);
  }
  w.u8(body.deps.length);
  for (const d of body.deps) w.bytes(fixed(d, TX_ID_BYTES, 'deps[]'));
  switch (body.kind) {
    case 'transfer':
      writeEntries(w, body.inputs, 'inputs', CODEC_LIMITS.maxInputs);
      writeEntries(w, body.outputs, 'outputs', CODEC_LIMITS.maxOutputs);
      break;
    case 'message':
      w.bytes(fixed(body.from, ACCOUNT_BYTES, 'from'));
      writeTopic(w, body.topic);
      if (body.payload.length > CODEC_LIMITS.maxPayloadBytes) {
        throw new TpslabError('TPSLAB_E_TOO_LARGE', `payload: ${body.payload.length} bytes, at most ${CODEC_LIMITS.maxPayloadBytes}`);
      }
      w.u32(body.payload.length).bytes(body.payload);
      break;
    case 'create-account':
      w.bytes(fixed(body.from, ACCOUNT_BYTES, 'from')).bytes(fixed(body.account, ACCOUNT_BYTES, 'account'));
      break;
    case 'create-topic':
      w.bytes(fixed(body.from, ACCOUNT_BYTES, 'from'));
      writeTopic(w, body.topic);
      break;
  }
  return w.finish();
}

function writeEntries(w: ByteWriter, entries: Entry[], field: string, max: number): void {
  if (entries.length < 1 || entries.length > max) {
    throw new TpslabError('TPSLAB_E_INVALID_TX', `${field}: ${entries.length} entries, must be 1 to ${max}`);
  }
  w.u16(entries.length);
  for (const e of entries) w.bytes(fixed(e.account, ACCOUNT_BYTES, `${field}[].account`)).u64(e.amount);
}

function writeTopic(w: ByteWriter, topic: string): void {
  const bytes = Buffer.from(topic, 'ascii');
  if (!TOPIC_PATTERN.test(topic) || bytes.length > CODEC_LIMITS.maxTopicBytes) {
    throw new TpslabError(
      'TPSLAB_E_INVALID_TX',
      `topic: "${topic}" must be 1-${CODEC_LIMITS.maxTopicBytes} characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit`,
    );
  }
  w.u8(bytes.length).bytes(bytes);
}

function fixed(b: Buffer, n: number, field: string): Buffer {
  if (b.length !== n) throw new TpslabError('TPSLAB_E_INVALID_TX', `${field}: must be ${n} bytes, got ${b.length}`);
  return b;
}

/** Decodes a body from the reader; leaves the reader positioned after it. */
export function decodeBody(r: ByteReader): TxBody {
  const version = r.u8('version');
  if (version === OLD_TX_VERSION) {
    r.fail(
      'version',
      `transaction version ${OLD_TX_VERSION} is the old format, whose id covered the signatures; this tpslab speaks version ${TX_VERSION} (id over the body only): sign it again with this tpslab, and start nodes on a fresh data directory (a block log written by an older tpslab cannot be read)`,
      'TPSLAB_E_OLD_FORMAT',
    );
  }
  if (version !== TX_VERSION) r.fail('version', `unknown transaction version ${version} (this node speaks ${TX_VERSION})`);
  const kindCode = r.u8('kind');
  const kind = TX_KINDS[kindCode - 1];
  if (!kind) r.fail('kind', `unknown transaction kind ${kindCode}`);
  const nonce = r.u64('nonce');
  const fee = r.u64('fee');
  const depCount = r.bounded(r.u8('deps.count'), 0, CODEC_LIMITS.maxDeps, 'deps.count');
  const deps: Buffer[] = [];
  for (let i = 0; i < depCount; i++) deps.push(r.bytes(TX_ID_BYTES, 'deps[]', i));
  switch (kind) {
    case 'transfer': {
      const inputs = readEntries(r, 'inputs', CODEC_LIMITS.maxInputs);
      const outputs = readEntries(r, 'outputs', CODEC_LIMITS.maxOutputs);
      return { kind, nonce, fee, deps, inputs, outputs };
    }
    case 'message': {
      const from = r.bytes(ACCOUNT_BYTES, 'from');
      const topic = readTopic(r);
      const len = r.bounded(r.u32('payload.length'), 0, CODEC_LIMITS.maxPayloadBytes, 'payload.length');
      const payload = r.bytes(len, 'payload');
      return { kind, nonce, fee, deps, from, topic, payload };
    }
    case 'create-account': {
      const from = r.bytes(ACCOUNT_BYTES, 'from');
      const account = r.bytes(ACCOUNT_BYTES, 'account');
      return { kind, nonce, fee, deps, from, account };
    }
    case 'create-topic': {
      const from = r.bytes(ACCOUNT_BYTES, 'from');
      const topic = readTopic(r);
      return { kind, nonce, fee, deps, from, topic };
    }
  }
}

/** Field names of the entry lists, built once (decoding builds no strings unless it fails). */
const ENTRY_FIELDS = {
  inputs: { count: 'inputs.count', account: 'inputs[].account', amount: 'inputs[].amount' },
  outputs: { count: 'outputs.count', account: 'outputs[].account', amount: 'outputs[].amount' },
} as const;

function readEntries(r: ByteReader, field: 'inputs' | 'outputs', max: number): Entry[] {
  const f = ENTRY_FIELDS[field];
  const n = r.bounded(r.u16(f.count), 1, max, f.count);
  const out: Entry[] = new Array<Entry>(n);
  for (let i = 0; i < n; i++) {
    const account = r.bytes(ACCOUNT_BYTES, f.account, i);
    const amount = r.u64(f.amount, i);
    out[i] = { account, amount };
  }
  return out;
}

function readTopic(r: ByteReader): string {
  const len = r.bounded(r.u8('topic.length'), 1, CODEC_LIMITS.maxTopicBytes, 'topic.length');
  const raw = r.bytes(len, 'topic');
  const topic = raw.toString('latin1');
  if (!TOPIC_PATTERN.test(topic)) r.fail('topic', `"${topic}" has characters outside a-z 0-9 . _ -`);
  return topic;
}

/** Number of signatures a body requires. */
export function signatureCount(body: TxBody): number {
  return body.kind === 'transfer' ? body.inputs.length : 1;
}
