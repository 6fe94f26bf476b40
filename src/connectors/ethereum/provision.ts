/**
 * Provisioning on an Ethereum network: the run's fees read from the node, and
 * the child wallets topped up from the root key (one value transfer each, sent
 * in batches, waited for until mined). A rerun with the same seed finds its
 * wallets funded and only tops up what they spent.
 */
import type { Clock } from '../../clock.js';
import { TpslabError } from '../../errors.js';
import type { ProvisionProgress } from '../contract.js';
import { RpcError, type RpcClient } from './rpc.js';
import type { EthereumTargetOptions, FeeConfig } from './schema.js';
import { signTx, type Wallet } from './wallets.js';

const FUNDING_BATCH = 100;
const TRANSFER_GAS = 21_000;
const PROVISION_TIMEOUT_MS = 180_000;
const POLL_MS = 100;

const multiply = (v: bigint, by: number): bigint => (v * BigInt(Math.round(by * 1000))) / 1000n;

/** The run's fees: the options' fixed values, or the node's current ones times the multiplier. */
export async function readFees(rpc: RpcClient, o: EthereumTargetOptions['fees']): Promise<FeeConfig> {
  const latest = await rpc.call<{ baseFeePerGas?: string } | null>('eth_getBlockByNumber', ['latest', false]);
  const type = o.type === 'auto' ? (latest?.baseFeePerGas ? 'eip1559' : 'legacy') : o.type;
  if (type === 'legacy') return { type, gasPrice: o.gasPrice ?? String(multiply(BigInt(await rpc.call<string>('eth_gasPrice')), o.multiplier)) };
  const base = BigInt(latest?.baseFeePerGas ?? 0);
  const tip = o.maxPriorityFeePerGas !== undefined ? BigInt(o.maxPriorityFeePerGas) : multiply(await nodeTip(rpc), o.multiplier);
  const maxFee = o.maxFeePerGas !== undefined ? BigInt(o.maxFeePerGas) : multiply(2n * base + tip, o.multiplier);
  return { type, maxFeePerGas: String(maxFee > tip ? maxFee : tip), maxPriorityFeePerGas: String(tip) };
}

async function nodeTip(rpc: RpcClient): Promise<bigint> {
  try {
    return BigInt(await rpc.call<string>('eth_maxPriorityFeePerGas'));
  } catch (err) {
    if (err instanceof RpcError) return 1_000_000_000n; // a node without the method: 1 gwei
    throw err;
  }
}

/** The most a transaction can cost in fees. */
export function maxFeeWei(fees: FeeConfig, gas: number): bigint {
  return BigInt(gas) * BigInt(fees.type === 'eip1559' ? fees.maxFeePerGas : fees.gasPrice);
}

export interface FundingPlan {
  rpc: RpcClient;
  root: Wallet;
  wallets: Wallet[];
  fundWei: bigint;
  chainId: number;
  fees: FeeConfig;
  clock: Clock;
  progress: (p: ProvisionProgress) => void;
  log: (line: string) => void;
}

/** Tops every wallet up to `fundWei` from the root; resolves when every funding transfer is mined. */
export async function fundWallets(p: FundingPlan): Promise<void> {
  const { rpc, root, wallets } = p;
  const balances = await rpc.calls<string>(wallets.map((w) => ({ method: 'eth_getBalance', params: [w.address, 'latest'] })));
  const needs = wallets.map((w, i) => ({ to: w.address, value: p.fundWei - BigInt(balances[i]!) })).filter((n) => n.value > 0n);
  if (needs.length === 0) {
    p.log(`all ${wallets.length} wallets already hold ${p.fundWei} wei`);
    return;
  }
  const fee = maxFeeWei(p.fees, TRANSFER_GAS);
  const total = needs.reduce((s, n) => s + n.value + fee, 0n);
  const have = BigInt(await rpc.call<string>('eth_getBalance', [root.address, 'latest']));
  if (have < total) {
    throw new TpslabError('TPSLAB_E_PROVISION', `the root account ${root.address} holds ${have} wei but funding ${needs.length} wallets to ${p.fundWei} wei needs up to ${total} wei; fund it, or lower target.fundWei or accounts.count`);
  }
  let nonce = Number(await rpc.call<string>('eth_getTransactionCount', [root.address, 'pending']));
  p.log(`funding ${needs.length} of ${wallets.length} wallets from ${root.address} (${needs.length} transfers)`);
  for (let k = 0; k < needs.length; k += FUNDING_BATCH) {
    const chunk = needs.slice(k, k + FUNDING_BATCH);
    const raws = chunk.map((n) => signTx(root.key, { chainId: p.chainId, nonce: nonce++, to: n.to, valueWei: n.value, gas: TRANSFER_GAS, fees: p.fees }).raw);
    const answers = await rpc.batch(raws.map((raw) => ({ method: 'eth_sendRawTransaction', params: [raw] })));
    const bad = answers.find((a) => a.error && !/already known|known transaction/i.test(a.error.message));
    if (bad?.error) throw new TpslabError('TPSLAB_E_PROVISION', `a funding transfer from ${root.address} was refused: ${bad.error.message} (code ${bad.error.code})`);
    p.progress({ step: 'sending funding transfers', done: Math.min(needs.length, k + FUNDING_BATCH), total: needs.length });
  }
  const first = nonce - needs.length;
  const deadline = p.clock.now() + PROVISION_TIMEOUT_MS;
  for (;;) {
    const mined = Number(await rpc.call<string>('eth_getTransactionCount', [root.address, 'latest']));
    p.progress({ step: 'funding transfers mined', done: Math.max(0, Math.min(needs.length, mined - first)), total: needs.length });
    if (mined >= nonce) return;
    if (p.clock.now() > deadline) throw new TpslabError('TPSLAB_E_PROVISION', `${nonce - mined} of ${needs.length} funding transfers from ${root.address} were not mined within ${PROVISION_TIMEOUT_MS / 1000} s; is the network producing blocks?`);
    await new Promise((r) => p.clock.setTimeout(() => r(undefined), POLL_MS));
  }
}
