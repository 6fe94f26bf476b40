/**
 * Ingress: turns request bytes or JSON into verified transactions and hands
 * them to the sequencer. Every refusal is a coded error; nothing refused is kept.
 */
import { TpslabError } from '../errors.js';
import { txFromJson } from '../protocol/json.js';
import { decodeTx, verifyTx } from '../protocol/signing.js';
import type { SignedTx } from '../protocol/tx.js';
import type { Genesis } from './genesis.js';
import { encodeAddress } from '../protocol/address.js';
import { checkStatic, type LedgerState } from './state.js';

export interface IngressLimits {
  /** Largest signed transaction accepted. */
  maxTxBytes: number;
  /** Most transactions in one batch request. */
  maxBatchTxs: number;
  /** Largest request body. */
  maxBodyBytes: number;
}

export const DEFAULT_INGRESS_LIMITS: IngressLimits = {
  maxTxBytes: 64 * 1024,
  maxBatchTxs: 10_000,
  maxBodyBytes: 32 * 1024 * 1024,
};

export type IngressResult = { id: string; ok: true } | { id?: string; ok: false; error: TpslabError };

/** Decodes and checks one transaction in binary form, without its signatures (see verifier.ts). */
export function decodeBinary(bytes: Buffer, genesis: Genesis, limits: IngressLimits): SignedTx {
  if (bytes.length > limits.maxTxBytes) {
    throw new TpslabError('TPSLAB_E_TOO_LARGE', `transaction is ${bytes.length} bytes; this node accepts at most ${limits.maxTxBytes}`);
  }
  const tx = decodeTx(bytes);
  checkStatic(tx.body, genesis);
  return tx;
}

/** Decodes, checks and verifies one transaction in binary form. */
export function verifyBinary(bytes: Buffer, genesis: Genesis, limits: IngressLimits): SignedTx {
  const tx = decodeBinary(bytes, genesis, limits);
  verifyTx(tx, genesis.network);
  return tx;
}

/** Parses, checks and verifies one transaction in JSON form. */
export function verifyJson(json: unknown, genesis: Genesis, limits: IngressLimits): SignedTx {
  const tx = txFromJson(json);
  if (tx.bytes.length > limits.maxTxBytes) {
    throw new TpslabError('TPSLAB_E_TOO_LARGE', `transaction is ${tx.bytes.length} bytes encoded; this node accepts at most ${limits.maxTxBytes}`);
  }
  checkStatic(tx.body, genesis);
  verifyTx(tx, genesis.network);
  return tx;
}

/**
 * Refuses at ingress what the applied state already shows can never run:
 * creating an account or a topic that exists (409). State may lag the
 * sequencer, so a creation that passes here can still fail later.
 */
export function checkNotExisting(tx: SignedTx, state: LedgerState): void {
  const body = tx.body;
  if (body.kind === 'create-account' && state.getAccount(body.account)) {
    throw new TpslabError('TPSLAB_E_ACCOUNT_EXISTS', `account ${encodeAddress(body.account)} already exists; nothing to create`);
  }
  if (body.kind === 'create-topic' && state.getTopic(body.topic)) {
    throw new TpslabError('TPSLAB_E_TOPIC_EXISTS', `topic "${body.topic}" already exists; send messages to it, or create a topic with another name`);
  }
}
