/**
 * The JSON form of a transaction, for humans and HTTP. Amounts, nonces and
 * fees are decimal strings (u64 does not fit a JSON number); ids and
 * signatures are lowercase hex; payloads are base64.
 */
import { z } from 'zod';
import { describeZodError } from '../zod-errors.js';
import { TpslabError } from '../errors.js';
import { decodeAddress, encodeAddress } from './address.js';
import { CODEC_LIMITS, encodeBody, SIGNATURE_BYTES, TOPIC_PATTERN, TX_ID_BYTES, type SignedTx, type TxBody } from './tx.js';
import { txId } from './signing.js';

const U64_MAX = (1n << 64n) - 1n;

const u64 = z
  .union([z.string().regex(/^(0|[1-9][0-9]{0,19})$/, 'must be a decimal integer string'), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)])
  .transform((v, ctx) => {
    const n = BigInt(v);
    if (n > U64_MAX) {
      ctx.addIssue({ code: 'custom', message: 'exceeds 2^64-1' });
      return z.NEVER;
    }
    return n;
  });
const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `must be ${bytes} bytes as ${bytes * 2} hex characters`);
const address = z.string().min(1, 'must be an address like tps1...');
const topic = z
  .string()
  .max(CODEC_LIMITS.maxTopicBytes, `must be at most ${CODEC_LIMITS.maxTopicBytes} characters`)
  .regex(TOPIC_PATTERN, 'must be 1 or more characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit');

const common = {
  nonce: u64,
  fee: u64.default(0n),
  deps: z.array(hex(TX_ID_BYTES)).max(16, 'at most 16 dependencies').default([]),
  id: hex(TX_ID_BYTES).optional(),
};

export const TxJsonSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('transfer'),
    ...common,
    inputs: z.array(z.strictObject({ account: address, amount: u64, signature: hex(SIGNATURE_BYTES) })).min(1).max(64),
    outputs: z.array(z.strictObject({ account: address, amount: u64 })).min(1).max(1024),
  }),
  z.strictObject({
    kind: z.literal('message'),
    ...common,
    from: address,
    topic,
    payload: z.base64(),
    signature: hex(SIGNATURE_BYTES),
  }),
  z.strictObject({ kind: z.literal('create-account'), ...common, from: address, account: address, signature: hex(SIGNATURE_BYTES) }),
  z.strictObject({ kind: z.literal('create-topic'), ...common, from: address, topic, signature: hex(SIGNATURE_BYTES) }),
]);

export type TxJson = z.input<typeof TxJsonSchema>;

/** Turns zod issues into one message naming each bad field by its full path. */
/** Parses the JSON form into a signed transaction. Signature validity is checked separately. */
export function txFromJson(input: unknown): SignedTx {
  const parsed = TxJsonSchema.safeParse(input);
  if (!parsed.success) throw new TpslabError('TPSLAB_E_BAD_JSON', `invalid transaction: ${describeZodError(parsed.error, 'tx')}`);
  const j = parsed.data;
  const deps = j.deps.map((d) => Buffer.from(d, 'hex'));
  let body: TxBody;
  let signatures: Buffer[];
  switch (j.kind) {
    case 'transfer':
      body = {
        kind: 'transfer',
        nonce: j.nonce,
        fee: j.fee,
        deps,
        inputs: j.inputs.map((e, i) => ({ account: decodeAddress(e.account, `tx.inputs[${i}].account`), amount: e.amount })),
        outputs: j.outputs.map((e, i) => ({ account: decodeAddress(e.account, `tx.outputs[${i}].account`), amount: e.amount })),
      };
      signatures = j.inputs.map((e) => Buffer.from(e.signature, 'hex'));
      break;
    case 'message':
      body = {
        kind: 'message',
        nonce: j.nonce,
        fee: j.fee,
        deps,
        from: decodeAddress(j.from, 'tx.from'),
        topic: j.topic,
        payload: Buffer.from(j.payload, 'base64'),
      };
      signatures = [Buffer.from(j.signature, 'hex')];
      break;
    case 'create-account':
      body = { kind: 'create-account', nonce: j.nonce, fee: j.fee, deps, from: decodeAddress(j.from, 'tx.from'), account: decodeAddress(j.account, 'tx.account') };
      signatures = [Buffer.from(j.signature, 'hex')];
      break;
    case 'create-topic':
      body = { kind: 'create-topic', nonce: j.nonce, fee: j.fee, deps, from: decodeAddress(j.from, 'tx.from'), topic: j.topic };
      signatures = [Buffer.from(j.signature, 'hex')];
      break;
  }
  const bodyBytes = encodeBody(body);
  const bytes = Buffer.concat([bodyBytes, ...signatures]);
  const id = txId(bodyBytes);
  if (j.id !== undefined && j.id.toLowerCase() !== id.toString('hex')) {
    throw new TpslabError('TPSLAB_E_BAD_JSON', `tx.id: given ${j.id} but the transaction hashes to ${id.toString('hex')}; omit id or fix the fields`);
  }
  return { body, signatures, bytes, bodyLength: bodyBytes.length, id, idKey: id.toString('latin1') };
}

export function txToJson(tx: SignedTx): Record<string, unknown> {
  const b = tx.body;
  const base = { id: tx.id.toString('hex'), kind: b.kind, nonce: b.nonce.toString(), fee: b.fee.toString(), deps: b.deps.map((d) => d.toString('hex')) };
  const sig0 = tx.signatures[0]?.toString('hex');
  switch (b.kind) {
    case 'transfer':
      return {
        ...base,
        inputs: b.inputs.map((e, i) => ({ account: encodeAddress(e.account), amount: e.amount.toString(), signature: tx.signatures[i]?.toString('hex') })),
        outputs: b.outputs.map((e) => ({ account: encodeAddress(e.account), amount: e.amount.toString() })),
      };
    case 'message':
      return { ...base, from: encodeAddress(b.from), topic: b.topic, payload: b.payload.toString('base64'), signature: sig0 };
    case 'create-account':
      return { ...base, from: encodeAddress(b.from), account: encodeAddress(b.account), signature: sig0 };
    case 'create-topic':
      return { ...base, from: encodeAddress(b.from), topic: b.topic, signature: sig0 };
  }
}

export { describeZodError };
