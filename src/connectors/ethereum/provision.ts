/**
 * Provisioning on an Ethereum network: the run's fees read from the node; the
 * child wallets topped up from the root key (one value transfer each, sent in
 * batches, waited for until mined); the workload's contract deployed once (or
 * reused by address) and, for erc20-transfer, tokens handed to every wallet.
 * A rerun with the same seed finds its wallets funded and only tops them up.
 */
import { encodeDeployData, encodeFunctionData, decodeFunctionResult, getContractAddress, type Hex } from 'viem';
import type { Clock } from '../../clock.js';
import { TpslabError } from '../../errors.js';
import type { ProvisionProgress } from '../contract.js';
import { ARTIFACTS } from './contracts/artifacts.js';
import { RpcError, type RpcClient } from './rpc.js';
import type { EthereumTargetOptions, FeeConfig } from './schema.js';
import { signTx, type Wallet } from './wallets.js';

const ROOT_BATCH = 100;
const TRANSFER_GAS = 21_000;
const TOKEN_TRANSFER_GAS = 80_000;
const DEPLOY_GAS = 3_000_000;
const PROVISION_TIMEOUT_MS = 180_000;
const POLL_MS = 100;
/** The token supply minted to the root, and what each wallet is topped up to (token units). */
export const TOKEN_SUPPLY = 2n ** 128n;
export const TOKENS_EACH = 10n ** 24n;

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

export interface Root {
  rpc: RpcClient;
  root: Wallet;
  chainId: number;
  fees: FeeConfig;
  clock: Clock;
  progress: (p: ProvisionProgress) => void;
  log: (line: string) => void;
}

interface RootTx {
  to?: Hex;
  valueWei: bigint;
  gas: number;
  data?: Hex;
}

/** Sends transactions from the root in nonce order and batches; resolves with the first nonce when all are mined. */
async function sendFromRoot(r: Root, txs: RootTx[], step: string): Promise<number> {
  const first = Number(await r.rpc.call<string>('eth_getTransactionCount', [r.root.address, 'pending']));
  let nonce = first;
  for (let k = 0; k < txs.length; k += ROOT_BATCH) {
    const raws = txs.slice(k, k + ROOT_BATCH).map((t) => signTx(r.root.key, { chainId: r.chainId, nonce: nonce++, ...t, fees: r.fees }).raw);
    const answers = await r.rpc.batch(raws.map((raw) => ({ method: 'eth_sendRawTransaction', params: [raw] })));
    const bad = answers.find((a) => a.error && !/already known|known transaction/i.test(a.error.message));
    if (bad?.error) throw new TpslabError('TPSLAB_E_PROVISION', `${step}: a transaction from the root ${r.root.address} was refused: ${bad.error.message} (code ${bad.error.code})`);
    r.progress({ step: `${step}: sent`, done: Math.min(txs.length, k + ROOT_BATCH), total: txs.length });
  }
  const deadline = r.clock.now() + PROVISION_TIMEOUT_MS;
  for (;;) {
    const mined = Number(await r.rpc.call<string>('eth_getTransactionCount', [r.root.address, 'latest']));
    r.progress({ step: `${step}: mined`, done: Math.max(0, Math.min(txs.length, mined - first)), total: txs.length });
    if (mined >= nonce) return first;
    if (r.clock.now() > deadline) throw new TpslabError('TPSLAB_E_PROVISION', `${step}: ${nonce - mined} of ${txs.length} transactions from the root ${r.root.address} were not mined within ${PROVISION_TIMEOUT_MS / 1000} s; is the network producing blocks?`);
    await new Promise((res) => r.clock.setTimeout(() => res(undefined), POLL_MS));
  }
}

/** Tops every wallet up to `fundWei` (ETH) from the root. */
export async function fundWallets(r: Root, wallets: Wallet[], fundWei: bigint): Promise<void> {
  const balances = await r.rpc.calls<string>(wallets.map((w) => ({ method: 'eth_getBalance', params: [w.address, 'latest'] })));
  const needs = wallets.map((w, i) => ({ to: w.address, valueWei: fundWei - BigInt(balances[i]!), gas: TRANSFER_GAS })).filter((n) => n.valueWei > 0n);
  if (needs.length === 0) return r.log(`all ${wallets.length} wallets already hold ${fundWei} wei`);
  const total = needs.reduce((s, n) => s + n.valueWei + maxFeeWei(r.fees, TRANSFER_GAS), 0n);
  const have = BigInt(await r.rpc.call<string>('eth_getBalance', [r.root.address, 'latest']));
  if (have < total) {
    throw new TpslabError('TPSLAB_E_PROVISION', `the root account ${r.root.address} holds ${have} wei but funding ${needs.length} wallets to ${fundWei} wei needs up to ${total} wei; fund it, or lower target.fundWei or accounts.count`);
  }
  r.log(`funding ${needs.length} of ${wallets.length} wallets from ${r.root.address} (${needs.length} transfers)`);
  await sendFromRoot(r, needs, 'funding wallets');
}

export type ContractName = keyof typeof ARTIFACTS.contracts;

/** The workload's contract: the given address when it holds code, else deployed now from the root. */
export async function ensureContract(r: Root, name: ContractName, given: Hex | undefined): Promise<Hex> {
  if (given) {
    const code = await r.rpc.call<string>('eth_getCode', [given, 'latest']);
    if (!code || code === '0x') throw new TpslabError('TPSLAB_E_PROVISION', `target.contract ${given} has no code on chain ${r.chainId}; remove it to deploy ${name} anew`);
    r.log(`reusing ${name} at ${given}`);
    return given;
  }
  const a = ARTIFACTS.contracts[name];
  const data = name === 'TpslabToken' ? encodeDeployData({ abi: ARTIFACTS.contracts.TpslabToken.abi, bytecode: a.bytecode, args: [TOKEN_SUPPLY] }) : (a.bytecode as Hex);
  const nonce = await sendFromRoot(r, [{ valueWei: 0n, gas: DEPLOY_GAS, data }], `deploying ${name}`);
  const address = getContractAddress({ from: r.root.address, nonce: BigInt(nonce) });
  const code = await r.rpc.call<string>('eth_getCode', [address, 'latest']);
  if (!code || code === '0x') throw new TpslabError('TPSLAB_E_PROVISION', `deploying ${name} from ${r.root.address} did not leave code at ${address} (the deployment reverted or ran out of gas)`);
  r.log(`deployed ${name} (${ARTIFACTS.compiler}) at ${address}; set target.contract: ${address} to reuse it`);
  return address;
}

/** Tops every wallet up to TOKENS_EACH tokens from the root. */
export async function fundTokens(r: Root, token: Hex, wallets: Wallet[]): Promise<void> {
  const abi = ARTIFACTS.contracts.TpslabToken.abi;
  const calls = wallets.map((w) => ({ method: 'eth_call', params: [{ to: token, data: encodeFunctionData({ abi, functionName: 'balanceOf', args: [w.address] }) }, 'latest'] }));
  const held = (await r.rpc.calls<Hex>(calls)).map((data) => decodeFunctionResult({ abi, functionName: 'balanceOf', data }));
  const needs = wallets
    .map((w, i) => ({ to: w.address, amount: TOKENS_EACH - held[i]! }))
    .filter((n) => n.amount > 0n)
    .map((n) => ({ to: token, valueWei: 0n, gas: TOKEN_TRANSFER_GAS, data: encodeFunctionData({ abi, functionName: 'transfer', args: [n.to, n.amount] }) }));
  if (needs.length === 0) return r.log(`all ${wallets.length} wallets already hold ${TOKENS_EACH} token units`);
  const rootHolds = decodeFunctionResult({ abi, functionName: 'balanceOf', data: await r.rpc.call<Hex>('eth_call', [{ to: token, data: encodeFunctionData({ abi, functionName: 'balanceOf', args: [r.root.address] }) }, 'latest']) });
  if (rootHolds < TOKENS_EACH * BigInt(needs.length)) throw new TpslabError('TPSLAB_E_PROVISION', `the root ${r.root.address} holds ${rootHolds} units of the token at ${token}, too few to hand ${TOKENS_EACH} to ${needs.length} wallets; target.contract must be a TpslabToken deployed by this root key`);
  r.log(`handing tokens to ${needs.length} of ${wallets.length} wallets`);
  await sendFromRoot(r, needs, 'funding tokens');
}
