/**
 * Options of the `ethereum` connector (the scenario's `target` block) and the
 * configuration its target side hands each beacon. Kept free of heavy imports:
 * the scenario schema includes it.
 */
import { z } from 'zod';

const count = (min: number, max = Number.MAX_SAFE_INTEGER) => z.int().min(min).max(max);
const rpcUrl = z.url({ protocol: /^https?$/ });
const wei = z.union([z.int().nonnegative(), z.string().regex(/^\d+$/, 'an integer number of wei')]).transform((v) => String(v));

export const ETH_WORKLOADS = ['eth-transfer', 'erc20-transfer', 'contract-call'] as const;
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an address: 0x and 40 hex digits');

export const EthereumTargetSchema = z
  .strictObject({
    kind: z.literal('ethereum'),
    rpc: z
      .array(rpcUrl)
      .min(1)
      .optional()
      .describe('JSON-RPC HTTP URLs of the network; beacons spread over them and fail over between them. Without rpc, an embedded devnet (EDR) is started for the run.'),
    ws: z
      .array(z.url({ protocol: /^wss?$/ }))
      .min(1)
      .optional()
      .describe('WebSocket JSON-RPC URLs for eth_subscribe newHeads: a new block is read as soon as it is announced (polling stays as a 1 s fallback). The embedded devnet offers one.'),
    chainId: count(1).optional().describe('The chain id transactions are signed for; read from the node (eth_chainId) when omitted, and checked against it when given.'),
    rootKeyFile: z.string().min(1).optional().describe('With rpc: a file holding the funded root private key (0x + 64 hex digits); relative to the scenario file. Never printed or stored.'),
    rootKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional().describe('With rpc: the environment variable holding the funded root private key. Never printed or stored.'),
    workload: z
      .enum(ETH_WORKLOADS)
      .default('eth-transfer')
      .describe('What each transaction does: eth-transfer (a value transfer between the run\'s wallets), erc20-transfer (an ERC-20 token transfer between them), contract-call (a call writing storageWrites storage slots).'),
    storageWrites: count(0, 1000).default(1).describe('contract-call: fresh storage slots each call writes.'),
    contract: address.optional().describe('erc20-transfer, contract-call: an already deployed contract of the workload to reuse (the address a previous run logged); deployed from the root key when omitted.'),
    fundWei: wei.default('100000000000000000').describe('Each child wallet is topped up to this balance (wei) before the run; default 0.1 ETH.'),
    gasLimit: count(21_000).optional().describe('Gas limit of each transaction; default 21000 for eth-transfer, 80000 for erc20-transfer, 50000 + 25000 per storage write for contract-call.'),
    fees: z
      .strictObject({
        type: z.enum(['auto', 'eip1559', 'legacy']).default('auto').describe('auto: EIP-1559 when the latest block has a base fee, else legacy.'),
        maxFeePerGas: wei.optional().describe('EIP-1559 max fee per gas (wei); default 2 x base fee + priority fee, read from the node.'),
        maxPriorityFeePerGas: wei.optional().describe('EIP-1559 priority fee (wei); default eth_maxPriorityFeePerGas of the node.'),
        gasPrice: wei.optional().describe('Legacy gas price (wei); default eth_gasPrice of the node.'),
        multiplier: z.number().min(1).max(100).default(1.5).describe('Fees read from the node are multiplied by this.'),
      })
      .prefault({})
      .describe('Fees of the run\'s transactions, fixed for the run.'),
    confirmations: count(1, 1000).default(1).describe('A transaction counts as committed when its block has this many blocks on top of it, itself included (1: included in a block).'),
    devnet: z
      .strictObject({
        blockTimeMs: count(50, 60_000).default(500).describe('Embedded devnet: a block is mined this often (interval mining).'),
        chainId: count(1).default(31337).describe('Embedded devnet: its chain id.'),
      })
      .prefault({})
      .describe('The embedded devnet (no rpc).'),
    timeoutMs: count(100, 600_000).default(10_000).describe('A JSON-RPC request unanswered this long is retried on the next endpoint.'),
    replaceStuck: z.boolean().default(false).describe('A transaction in the pool but not mined after stuckAfterMs is replaced once by the same transaction with fees 25% higher; it keeps its id, and reconciliation recognizes the replacement.'),
    stuckAfterMs: count(100, 3_600_000).default(10_000).describe("A wallet whose oldest accepted transaction is not mined after this long is checked: a nonce gap fails its waiting transactions (ETH_NONCE_GAP), a nonce taken by another transaction fails it (ETH_REPLACED), otherwise it is reported as stuck."),
  })
  .superRefine((o, ctx) => {
    if (o.rpc && !o.rootKeyFile && !o.rootKeyEnv) ctx.addIssue({ code: 'custom', path: ['rootKeyFile'], message: 'with rpc, give rootKeyFile or rootKeyEnv: the funded key that provisions the run\'s wallets', input: o });
    if (o.rootKeyFile && o.rootKeyEnv) ctx.addIssue({ code: 'custom', path: ['rootKeyEnv'], message: 'give rootKeyFile or rootKeyEnv, not both', input: o });
    if (!o.rpc && (o.rootKeyFile || o.rootKeyEnv)) ctx.addIssue({ code: 'custom', path: ['rpc'], message: 'a root key is only used with rpc; the embedded devnet makes its own', input: o });
  })
  .describe('Any Ethereum JSON-RPC network (geth, reth, Besu, Nethermind, anvil, Hardhat, rollups), or an embedded EDR devnet started for the run.');

export type EthereumTargetOptions = z.output<typeof EthereumTargetSchema>;

/** What an ethereum beacon needs: plain JSON, so it can travel to another machine. */
export const EthereumBeaconSchema = z.strictObject({
  endpoints: z.array(z.string()).min(1),
  /** newHeads WebSocket URLs, when any. */
  ws: z.array(z.string()).min(1).optional(),
  chainId: z.number().int().positive(),
  /** Seed of the deterministic wallet keys (wallet i's key = keccak256(`${keySeed}:${i}`)). */
  keySeed: z.string(),
  /** This beacon's sending wallets [start, end). */
  accounts: z.strictObject({ start: z.number().int().nonnegative(), end: z.number().int().positive() }),
  workload: z.enum(ETH_WORKLOADS),
  /** eth-transfer: value in wei; erc20-transfer: token units. */
  amount: z.string(),
  /** erc20-transfer and contract-call: the contract called. */
  contract: address.optional(),
  storageWrites: z.number().int().nonnegative(),
  gasLimit: z.number().int().positive(),
  fees: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('eip1559'), maxFeePerGas: z.string(), maxPriorityFeePerGas: z.string() }),
    z.strictObject({ type: z.literal('legacy'), gasPrice: z.string() }),
  ]),
  confirmations: z.number().int().positive(),
  /** Block the run starts after (confirmation scans from here + 1). */
  fromBlock: z.number().int().nonnegative(),
  timeoutMs: z.number().int().positive(),
  stuckAfterMs: z.number().int().positive(),
  replaceStuck: z.boolean(),
});

export type EthereumBeaconConfig = z.infer<typeof EthereumBeaconSchema>;
export type FeeConfig = EthereumBeaconConfig['fees'];
