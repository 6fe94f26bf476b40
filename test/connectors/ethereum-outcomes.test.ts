// eth_sendRawTransaction refusals, worded as geth/reth, Besu, Nethermind, EDR and ganache word
// them, map to the documented stable outcomes (docs/connectors.md, "ethereum").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifySendError } from '../../src/connectors/ethereum/outcomes.js';

const CASES: [message: string, code: number, expected: string][] = [
  // geth / reth
  ['nonce too low: address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, tx: 0 state: 3', -32000, 'known-if-found ETH_NONCE_TOO_LOW'],
  ['already known', -32000, 'known-if-found ETH_ALREADY_KNOWN'],
  ['replacement transaction underpriced', -32000, 'known-if-found ETH_REPLACEMENT_UNDERPRICED'],
  ['insufficient funds for gas * price + value: address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 have 0 want 21000000000000', -32000, 'rejected ETH_INSUFFICIENT_FUNDS'],
  ['txpool is full', -32000, 'retry ETH_TXPOOL_FULL'],
  ['max fee per gas less than block base fee: address 0x7099…, maxFeePerGas: 1, baseFee: 7', -32000, 'rejected ETH_UNDERPRICED'],
  ['transaction underpriced', -32000, 'rejected ETH_UNDERPRICED'],
  ['intrinsic gas too low', -32000, 'rejected ETH_GAS'],
  ['invalid chain id for signer: have 1 want 31337', -32000, 'rejected ETH_CHAIN_ID'],
  ['request limit reached', -32005, 'retry ETH_RATE_LIMITED'],
  // Besu
  ['Upfront cost exceeds account balance', -32004, 'rejected ETH_INSUFFICIENT_FUNDS'],
  ['Nonce too low', -32001, 'known-if-found ETH_NONCE_TOO_LOW'],
  ['Known transaction', -32000, 'known-if-found ETH_ALREADY_KNOWN'],
  ['TRANSACTION_POOL_FULL', -32000, 'retry ETH_TXPOOL_FULL'],
  // Nethermind
  ['OldNonce', -32010, 'known-if-found ETH_NONCE_TOO_LOW'],
  ['AlreadyKnown', -32010, 'known-if-found ETH_ALREADY_KNOWN'],
  ['NonceGap', -32010, 'rejected ETH_NONCE_TOO_HIGH'],
  ['InsufficientFunds, Balance is zero, cannot pay gas', -32010, 'rejected ETH_INSUFFICIENT_FUNDS'],
  // EDR (Hardhat) and ganache
  ['Nonce too low. Expected nonce to be 3 but got 1. Note that transactions can\'t be queued when automining.', -32000, 'known-if-found ETH_NONCE_TOO_LOW'],
  ['Sender doesn\'t have enough funds to send tx. The max upfront cost is: 31500000000000 and the sender\'s balance is: 0.', -32003, 'rejected ETH_INSUFFICIENT_FUNDS'],
  ['the tx doesn\'t have the correct nonce. account has nonce of: 1 tx has nonce of: 0', -32000, 'known-if-found ETH_NONCE_TOO_LOW'],
  // anything else is final, with its message kept
  ['execution reverted: custom pool rule', -32000, 'rejected ETH_REJECTED'],
];

test('send refusals of each client map to the documented outcome and code', () => {
  for (const [message, code, expected] of CASES) {
    const r = classifySendError({ code, message }, 1);
    assert.equal(`${r.kind} ${'code' in r ? r.code : ''}`, expected, message);
    if (r.kind === 'retry') assert.ok(r.afterMs > 0);
  }
});

test('backoff of retried refusals grows with the attempt and stays bounded', () => {
  const after = (attempt: number) => {
    const r = classifySendError({ code: -32000, message: 'txpool is full' }, attempt);
    return r.kind === 'retry' ? r.afterMs : -1;
  };
  assert.ok(after(1) < after(3));
  assert.equal(after(30), 2000);
});
