/**
 * The genesis file: the network id, consensus parameters, initial balances and
 * the faucet account. Every node and the sequencer of one network must load
 * the same genesis; its hash is the "previous hash" of block 1.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { TpslabError } from '../errors.js';
import { decodeAddress } from '../protocol/address.js';
import { describeZodError } from '../protocol/json.js';
import { CODEC_LIMITS } from '../protocol/tx.js';

const amount = z.union([z.string().regex(/^(0|[1-9][0-9]{0,19})$/), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]).transform((v) => BigInt(v));

export const GenesisSchema = z.strictObject({
  network: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only'),
  timestampMs: z.number().int().nonnegative().default(0),
  params: z
    .strictObject({
      minFee: amount.default(0n),
      maxPayloadBytes: z.number().int().min(0).max(CODEC_LIMITS.maxPayloadBytes).default(4096),
    })
    .prefault({}),
  faucet: z.string().optional(),
  accounts: z.array(z.strictObject({ address: z.string(), balance: amount })).default([]),
});

export type GenesisJson = z.input<typeof GenesisSchema>;

export interface Genesis {
  network: string;
  timestampMs: number;
  minFee: bigint;
  maxPayloadBytes: number;
  faucet: Buffer | undefined;
  accounts: { account: Buffer; balance: bigint }[];
  /** SHA-256 of the canonical JSON; the previous hash of block 1. */
  hash: Buffer;
}

export function parseGenesis(input: unknown, source = 'genesis'): Genesis {
  const parsed = GenesisSchema.safeParse(input);
  if (!parsed.success) throw new TpslabError('TPSLAB_E_CONFIG', `${source}: ${describeZodError(parsed.error, 'genesis')}`);
  const g = parsed.data;
  const seen = new Set<string>();
  const accounts = g.accounts.map((a, i) => {
    const account = decodeAddress(a.address, `genesis.accounts[${i}].address`);
    const k = account.toString('hex');
    if (seen.has(k)) throw new TpslabError('TPSLAB_E_CONFIG', `${source}: genesis.accounts[${i}].address ${a.address} appears twice`);
    seen.add(k);
    return { account, balance: a.balance };
  });
  const U64_MAX = (1n << 64n) - 1n;
  const supply = accounts.reduce((t, a) => t + a.balance, 0n);
  if (supply > U64_MAX) {
    throw new TpslabError('TPSLAB_E_CONFIG', `${source}: genesis balances add up to ${supply}, more than 2^64-1 (${U64_MAX}); lower them`);
  }
  const faucet = g.faucet === undefined ? undefined : decodeAddress(g.faucet, 'genesis.faucet');
  const canonical = JSON.stringify({
    network: g.network,
    timestampMs: g.timestampMs,
    params: { minFee: g.params.minFee.toString(), maxPayloadBytes: g.params.maxPayloadBytes },
    faucet: g.faucet ?? null,
    accounts: g.accounts.map((a) => [a.address, a.balance.toString()]),
  });
  return {
    network: g.network,
    timestampMs: g.timestampMs,
    minFee: g.params.minFee,
    maxPayloadBytes: g.params.maxPayloadBytes,
    faucet,
    accounts,
    hash: createHash('sha256').update(canonical).digest(),
  };
}

export async function loadGenesis(path: string): Promise<Genesis> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TpslabError('TPSLAB_E_CONFIG', `cannot read genesis file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TpslabError('TPSLAB_E_CONFIG', `genesis file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseGenesis(json, path);
}
