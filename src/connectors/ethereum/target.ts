/**
 * The overseer side of the `ethereum` connector: an embedded EDR devnet started
 * for the run (torn down after), or a running network's JSON-RPC endpoints and
 * a funded root key; the run's wallets topped up from the root; the block
 * number as the cursor; reconciliation from the blocks of the run.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import type { Hex } from 'viem';
import type { Clock } from '../../clock.js';
import { TpslabError } from '../../errors.js';
import type { BeaconShareSpec, Capabilities, CommittedSet, Cursor, Log, NodeRow, ProvisionProgress, RunSpec, TargetConnector, TargetInfo, VisitCommitted } from '../contract.js';
import { rotate } from '../rotate.js';
import { startDevnet, type Devnet } from './devnet.js';
import { ensureContract, fundTokens, fundWallets, readFees, type Root } from './provision.js';
import { RpcClient } from './rpc.js';
import type { EthereumBeaconConfig, EthereumTargetOptions, FeeConfig } from './schema.js';
import { WalletBook, bumpFees, keySeedOf, signTx, type Wallet } from './wallets.js';

/** A transaction as eth_getBlockByNumber(n, true) lists it. */
interface BlockTx {
  hash: string;
  from: string;
  to: string | null;
  nonce: string;
  value: string;
  gas: string;
  input?: string;
  gasPrice?: string;
  maxFeePerGas?: string;
}

/** Default gas limits per workload: generous, since a limit too low fails the run and unused gas is not charged. */
export function defaultGasLimit(workload: EthereumTargetOptions['workload'], storageWrites: number): number {
  if (workload === 'erc20-transfer') return 80_000;
  if (workload === 'contract-call') return 50_000 + 25_000 * storageWrites;
  return 21_000;
}
const BLOCKS_PER_BATCH = 20;

export class EthereumTarget implements TargetConnector {
  readonly kind = 'ethereum';
  readonly capabilities: Capabilities;
  private rpc: RpcClient | undefined;
  private devnet: Devnet | undefined;
  private root: Wallet | undefined;
  private chainId = 0;
  private fees: FeeConfig | undefined;
  private book: WalletBook | undefined;
  private contract: Hex | undefined;
  /** newHeads URLs: the options', or the embedded devnet's. */
  private ws: string[] | undefined;
  /** From the last reconciliation: blocks read and the gas they used. */
  private chainStats = { blocks: 0, txs: 0, runTxs: 0, gasUsed: 0 };

  constructor(
    private readonly o: EthereumTargetOptions,
    private readonly run: RunSpec,
    private readonly clock: Clock,
  ) {
    this.capabilities = {
      reconcile: true,
      confirms: true,
      limits: [
        `Committed means included in a block with ${o.confirmations - 1} block${o.confirmations === 2 ? '' : 's'} on top (confirmations: ${o.confirmations}), as the node reported it; reorgs deeper than that are not watched.`,
        'Only the chain as the endpoints report it is checked: consensus, state roots and signatures are the node\'s business.',
      ],
    };
  }

  private get client(): RpcClient {
    if (!this.rpc) throw new TpslabError('TPSLAB_E_INTERNAL', 'the ethereum target is not open');
    return this.rpc;
  }

  async open(log: Log): Promise<TargetInfo> {
    let endpoints: string[];
    if (this.o.rpc) {
      endpoints = this.o.rpc;
      this.ws = this.o.ws;
      this.root = await this.readRootKey();
    } else {
      const key = generatePrivateKey(); // a fresh root for a fresh chain; it never leaves this process
      this.root = { key, address: privateKeyToAddress(key) };
      log(`starting an embedded Ethereum devnet (EDR, chain ${this.o.devnet.chainId}, a block every ${this.o.devnet.blockTimeMs} ms)`);
      this.devnet = await startDevnet({ root: this.root.address, chainId: this.o.devnet.chainId, blockTimeMs: this.o.devnet.blockTimeMs });
      endpoints = [this.devnet.url];
      this.ws = [this.devnet.url.replace(/^http/, 'ws')];
    }
    this.rpc = new RpcClient(endpoints, this.o.timeoutMs, 4, (from, to) => log(`${from} failed; moving to ${to}`));
    let chainId: number;
    try {
      chainId = Number(await this.rpc.call<string>('eth_chainId'));
    } catch (err) {
      throw new TpslabError('TPSLAB_E_UNAVAILABLE', `no Ethereum JSON-RPC endpoint answered eth_chainId (${endpoints.join(', ')}): ${(err as Error).message}; is the node running?`);
    }
    if (this.o.chainId !== undefined && this.o.chainId !== chainId) {
      throw new TpslabError('TPSLAB_E_CONNECTOR', `target.chainId is ${this.o.chainId} but ${this.rpc.endpoint} says ${chainId}; fix target.chainId or the rpc URLs`);
    }
    this.chainId = chainId;
    this.book = new WalletBook(keySeedOf(chainId, this.run.seed));
    return {
      network: `chain ${chainId}`,
      endpoints,
      roles: this.devnet ? [{ id: 'devnet', role: 'edr devnet', url: this.devnet.url }] : endpoints.map((url, i) => ({ id: `rpc${i + 1}`, role: 'rpc', url })),
      embedded: this.devnet !== undefined,
    };
  }

  /** The root key from its file or environment variable; its value is never echoed. */
  private async readRootKey(): Promise<Wallet> {
    let text: string;
    let where: string;
    if (this.o.rootKeyEnv) {
      where = `environment variable ${this.o.rootKeyEnv}`;
      const v = process.env[this.o.rootKeyEnv];
      if (v === undefined) throw new TpslabError('TPSLAB_E_CONNECTOR', `target.rootKeyEnv names ${this.o.rootKeyEnv}, which is not set; export it with the funded root private key`);
      text = v;
    } else {
      where = `file ${this.o.rootKeyFile}`;
      text = await readFile(this.o.rootKeyFile!, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new TpslabError('TPSLAB_E_CONNECTOR', `cannot read target.rootKeyFile ${this.o.rootKeyFile}: ${err.code ?? err.message}`);
      });
    }
    const key = text.trim().replace(/^(?!0x)/, '0x');
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new TpslabError('TPSLAB_E_CONNECTOR', `the root key in ${where} is not a private key (64 hex digits, optionally 0x-prefixed); its content is not shown`);
    return { key: key as Hex, address: privateKeyToAddress(key as Hex) };
  }

  get gasLimit(): number {
    return this.o.gasLimit ?? defaultGasLimit(this.o.workload, this.o.storageWrites);
  }

  async provision(progress: (p: ProvisionProgress) => void, log: Log): Promise<void> {
    this.fees = await readFees(this.client, this.o.fees);
    log(`fees: ${this.fees.type === 'eip1559' ? `max ${this.fees.maxFeePerGas} wei/gas, priority ${this.fees.maxPriorityFeePerGas} wei/gas` : `gas price ${this.fees.gasPrice} wei`}`);
    const wallets = Array.from({ length: this.run.accounts.count }, (_, i) => this.book!.get(i));
    progress({ step: 'deriving wallets', done: wallets.length, total: wallets.length });
    const root: Root = { rpc: this.client, root: this.root!, chainId: this.chainId, fees: this.fees, clock: this.clock, progress, log };
    await fundWallets(root, wallets, BigInt(this.o.fundWei));
    if (this.o.workload === 'erc20-transfer') {
      this.contract = await ensureContract(root, 'TpslabToken', this.o.contract as Hex | undefined);
      await fundTokens(root, this.contract, wallets);
    } else if (this.o.workload === 'contract-call') {
      this.contract = await ensureContract(root, 'StorageWriter', this.o.contract as Hex | undefined);
    }
  }

  async cursor(): Promise<Cursor> {
    return { position: Number(await this.client.call<string>('eth_blockNumber')) };
  }

  beaconConfig(share: BeaconShareSpec): EthereumBeaconConfig {
    if (!this.fees || !this.book) throw new TpslabError('TPSLAB_E_INTERNAL', 'beaconConfig before provision');
    return {
      endpoints: rotate(this.client.endpoints as string[], share.endpointOffset),
      ...(this.ws ? { ws: rotate(this.ws, share.endpointOffset) } : {}),
      chainId: this.chainId,
      keySeed: keySeedOf(this.chainId, this.run.seed),
      accounts: share.accounts,
      workload: this.o.workload,
      amount: String(this.run.workload.amount),
      ...(this.contract ? { contract: this.contract } : {}),
      storageWrites: this.o.storageWrites,
      gasLimit: this.gasLimit,
      fees: this.fees,
      confirmations: this.o.confirmations,
      fromBlock: share.start.position,
      timeoutMs: this.o.timeoutMs,
      stuckAfterMs: this.o.stuckAfterMs,
      replaceStuck: this.o.replaceStuck,
    };
  }

  /** Every transaction sent from the run's wallets in blocks (from, head]. */
  async committed(from: Cursor): Promise<CommittedSet> {
    const ids = new Set<string>();
    const r = await this.visitCommitted(from, (id) => void ids.add(id));
    return { ...r, ids };
  }

  /** The same, streamed with each transaction's block number and wallet index. */
  async visitCommitted(from: Cursor, visit: VisitCommitted): Promise<Omit<CommittedSet, 'ids'>> {
    const head = Number(await this.client.call<string>('eth_blockNumber'));
    const senders = new Map(Array.from({ length: this.run.accounts.count }, (_, i) => [this.book!.get(i).address.toLowerCase(), i]));
    const ids = new Set<string>();
    const stats = { blocks: 0, txs: 0, runTxs: 0, gasUsed: 0 };
    for (let n = from.position + 1; n <= head; n += BLOCKS_PER_BATCH) {
      const numbers = Array.from({ length: Math.min(BLOCKS_PER_BATCH, head - n + 1) }, (_, k) => n + k);
      const blocks = await this.client.calls<{ gasUsed: string; transactions: BlockTx[] } | null>(numbers.map((b) => ({ method: 'eth_getBlockByNumber', params: [`0x${b.toString(16)}`, true] })));
      for (const [k, b] of blocks.entries()) {
        if (!b) continue;
        stats.blocks++;
        stats.gasUsed += Number(b.gasUsed);
        stats.txs += b.transactions.length;
        for (const tx of b.transactions) {
          const sender = senders.get(tx.from.toLowerCase());
          if (sender === undefined) continue;
          const id = this.originalId(sender, tx);
          if (!ids.has(id)) visit(id, numbers[k]!, sender);
          ids.add(id);
        }
      }
    }
    this.chainStats = { ...stats, runTxs: ids.size };
    return { fromPosition: from.position, toPosition: head };
  }

  /** A replacement (replaceStuck: the run's fees × 1.25) stands for the transaction it replaced: re-signed with the run's fees, its hash is that id. */
  private originalId(sender: number, tx: BlockTx): string {
    if (!this.o.replaceStuck || !this.fees) return tx.hash;
    const bumped = bumpFees(this.fees);
    const isReplacement = bumped.type === 'eip1559' ? tx.maxFeePerGas !== undefined && BigInt(tx.maxFeePerGas) === BigInt(bumped.maxFeePerGas) : tx.gasPrice !== undefined && BigInt(tx.gasPrice) === BigInt(bumped.gasPrice);
    if (!isReplacement || !tx.to) return tx.hash;
    return signTx(this.book!.get(sender).key, { chainId: this.chainId, nonce: Number(tx.nonce), to: tx.to as Hex, valueWei: BigInt(tx.value), gas: Number(tx.gas), ...(tx.input && tx.input !== '0x' ? { data: tx.input as Hex } : {}), fees: this.fees }).hash;
  }

  async nodes(): Promise<NodeRow[]> {
    const rpc = this.client;
    return Promise.all(
      rpc.endpoints.map(async (url, i) => {
        const head = await rpc.headOf(i).catch(() => undefined);
        return { node: this.devnet ? 'devnet' : `rpc${i + 1}`, url, role: this.devnet ? 'edr devnet' : 'rpc', ...(head === undefined ? {} : { head }), healthy: head !== undefined, stats: { chainId: this.chainId, workload: this.o.workload, ...(this.contract ? { contract: this.contract } : {}), runBlocks: this.chainStats.blocks, runBlockTxs: this.chainStats.txs, runTxs: this.chainStats.runTxs, runGasUsed: this.chainStats.gasUsed } };
      }),
    );
  }

  accountName(index: number): string {
    return this.book?.get(index).address ?? String(index);
  }

  async close(): Promise<void> {
    const rpc = this.rpc;
    this.rpc = undefined;
    await rpc?.close();
    const devnet = this.devnet;
    this.devnet = undefined;
    await devnet?.stop();
  }
}

/** Resolves target.rootKeyFile against the scenario file's directory. */
export function resolveEthereumPaths(o: EthereumTargetOptions, baseDir: string): EthereumTargetOptions {
  return o.rootKeyFile && !isAbsolute(o.rootKeyFile) ? { ...o, rootKeyFile: resolve(baseDir, o.rootKeyFile) } : o;
}
