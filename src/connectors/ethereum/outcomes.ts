/**
 * JSON-RPC and HTTP failures of eth_sendRawTransaction mapped to the contract's
 * stable outcomes. Nodes word their errors differently (geth, reth, Besu,
 * Nethermind, EDR, ganache): the patterns below match each one's wording.
 * docs/connectors.md lists the codes.
 */
import type { SubmitResult } from '../contract.js';

interface Rule {
  test: RegExp;
  /** `known` answers are checked against the node first (is the hash there?). */
  outcome: 'known-if-found' | 'retry' | 'rejected';
  code: string;
}

const RULES: Rule[] = [
  { test: /already[ _]?known|known transaction|already imported|already in (the )?(mem|tx)?pool|transaction already exists/i, outcome: 'known-if-found', code: 'ETH_ALREADY_KNOWN' },
  { test: /nonce[ _]too[ _]low|nonce is too low|OldNonce|expected nonce to be .* but got|the tx doesn't have the correct nonce/i, outcome: 'known-if-found', code: 'ETH_NONCE_TOO_LOW' },
  { test: /replacement[ _](transaction[ _])?underpriced|ReplacementUnderpriced|replacement fee too low/i, outcome: 'known-if-found', code: 'ETH_REPLACEMENT_UNDERPRICED' },
  { test: /insufficient[ _]?funds|sender doesn't have enough funds|exceeds (account )?balance/i, outcome: 'rejected', code: 'ETH_INSUFFICIENT_FUNDS' },
  { test: /txpool is full|transaction[ _]pool[ _](is[ _])?full|pool is full|TxPoolFull|too many pending|queue is full/i, outcome: 'retry', code: 'ETH_TXPOOL_FULL' },
  { test: /nonce[ _]too[ _]high|nonce[ _]?gap/i, outcome: 'rejected', code: 'ETH_NONCE_TOO_HIGH' },
  { test: /underpriced|fee cap less than block base fee|max fee per gas less than block base fee|FeeTooLow|gas price too low/i, outcome: 'rejected', code: 'ETH_UNDERPRICED' },
  { test: /intrinsic gas too low|gas limit reached|exceeds block gas limit|IntrinsicGas/i, outcome: 'rejected', code: 'ETH_GAS' },
  { test: /invalid chain id|chain ?id mismatch|incompatible chain id|invalid sender/i, outcome: 'rejected', code: 'ETH_CHAIN_ID' },
];

/** -32005 is "limit exceeded" (EIP-1474), used by providers for rate limiting. */
const RATE_LIMITED_CODE = -32005;

export type Classified = { kind: 'known-if-found'; code: string; message: string } | SubmitResult;

/** The outcome of a JSON-RPC error answer to eth_sendRawTransaction. */
export function classifySendError(err: { code: number; message: string }, attempt: number): Classified {
  const message = err.message.slice(0, 300);
  if (err.code === RATE_LIMITED_CODE || /rate limit|too many requests/i.test(err.message)) return { kind: 'retry', code: 'ETH_RATE_LIMITED', afterMs: backoffMs(attempt), message };
  for (const r of RULES) {
    if (!r.test.test(err.message)) continue;
    if (r.outcome === 'retry') return { kind: 'retry', code: r.code, afterMs: backoffMs(attempt), message };
    if (r.outcome === 'rejected') return { kind: 'rejected', code: r.code, message };
    return { kind: 'known-if-found', code: r.code, message };
  }
  return { kind: 'rejected', code: 'ETH_REJECTED', message };
}

export function backoffMs(attempt: number): number {
  return Math.min(2000, 100 * 2 ** attempt);
}
