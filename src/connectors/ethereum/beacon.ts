/**
 * The beacon side of the `ethereum` connector: each wallet's next nonce learned
 * once (pending count), transactions signed in plan order per wallet (so nonces
 * have no gaps), sent as JSON-RPC batches of eth_sendRawTransaction, and
 * confirmed by polling new blocks (eth_getBlockByNumber with transaction hashes)
 * down to the configured confirmation depth.
 */
import { encodeFunctionData, type Hex } from 'viem';
import { ARTIFACTS } from './contracts/artifacts.js';
import type { BeaconConnector, BeaconContext, BuiltTx, ConfirmSink, PendingView, PlannedTx, SubmitItem, SubmitResult } from '../contract.js';
import { backoffMs, classifySendError } from './outcomes.js';
import { RpcClient, TransportError, type RpcAnswer } from './rpc.js';
import type { EthereumBeaconConfig } from './schema.js';
import { NewHeads } from './heads.js';
import { StuckWatch } from './stuck.js';
import { WalletBook, bumpFees, signTx } from './wallets.js';

/** Blocks fetched per poll round at most (a beacon that fell behind catches up over rounds). */
const BLOCKS_PER_ROUND = 50;
const MIN_POLL_MS = 50;
/** With newHeads announcing blocks, the poll is only a fallback. */
const FALLBACK_POLL_MS = 1000;

export class EthereumBeacon implements BeaconConnector {
  private readonly rpc: RpcClient;
  private readonly book: WalletBook;
  private readonly nonces = new Map<number, number>();
  /** Built and not yet seen in a block: hash → sender and nonce. */
  private readonly watching = new Map<string, { sender: number; nonce: number; raw: Hex; target: number }>();
  /** Replacements (replaceStuck): their hash → the id of the transaction they replace. */
  private readonly aliases = new Map<string, string>();
  private readonly stuck: StuckWatch;
  private sink: ConfirmSink | undefined;
  private nextBlock: number;
  private confirmedTo: number;
  private timer: unknown;
  private closed = false;
  private heads: NewHeads | undefined;
  private polling: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly c: EthereumBeaconConfig,
    private readonly ctx: BeaconContext,
  ) {
    this.rpc = new RpcClient(c.endpoints, c.timeoutMs, 16, (from, to) => ctx.log(`${from} failed; moving to ${to}`));
    this.book = new WalletBook(c.keySeed);
    this.stuck = new StuckWatch(
      c.stuckAfterMs,
      (sender) => this.book.get(sender).address,
      (id) => this.watching.get(id)?.raw,
      c.replaceStuck ? (id) => this.replacement(id) : undefined,
    );
    this.nextBlock = c.fromBlock + 1;
    this.confirmedTo = c.fromBlock;
  }

  get position(): number {
    return this.confirmedTo;
  }

  /** Each wallet's next nonce: its pending transaction count. */
  async prepare(): Promise<void> {
    const { start, end } = this.c.accounts;
    const indexes = Array.from({ length: end - start }, (_, k) => start + k);
    const counts = await this.rpc.calls<string>(indexes.map((i) => ({ method: 'eth_getTransactionCount', params: [this.book.get(i).address, 'pending'] })));
    indexes.forEach((i, k) => this.nonces.set(i, Number(counts[k])));
  }

  build(tx: PlannedTx): BuiltTx {
    const from = this.book.get(tx.sender);
    const nonce = this.nonces.get(tx.sender) ?? 0;
    this.nonces.set(tx.sender, nonce + 1);
    const { raw, hash } = signTx(from.key, { chainId: this.c.chainId, nonce, ...this.call(tx.target), gas: this.c.gasLimit, fees: this.c.fees });
    this.watching.set(hash, { sender: tx.sender, nonce, raw, target: tx.target });
    return { id: hash, payload: raw };
  }

  /** The same transaction with fees 25% higher; its hash confirms the original's id. */
  private replacement(id: string): Hex | undefined {
    const w = this.watching.get(id);
    if (!w) return undefined;
    const { raw, hash } = signTx(this.book.get(w.sender).key, { chainId: this.c.chainId, nonce: w.nonce, ...this.call(w.target), gas: this.c.gasLimit, fees: bumpFees(this.c.fees) });
    this.aliases.set(hash, id);
    return raw;
  }

  /** What the transaction does: a value transfer to wallet `target`, a token transfer to it, or a storage-writing call. */
  private call(target: number): { to: Hex; valueWei: bigint; data?: Hex } {
    const to = this.book.get(target).address;
    if (this.c.workload === 'eth-transfer') return { to, valueWei: BigInt(this.c.amount) };
    const contract = this.c.contract as Hex;
    if (this.c.workload === 'erc20-transfer') return { to: contract, valueWei: 0n, data: encodeFunctionData({ abi: ARTIFACTS.contracts.TpslabToken.abi, functionName: 'transfer', args: [to, BigInt(this.c.amount)] }) };
    return { to: contract, valueWei: 0n, data: encodeFunctionData({ abi: ARTIFACTS.contracts.StorageWriter.abi, functionName: 'write', args: [BigInt(this.c.storageWrites)] }) };
  }

  async submit(batch: readonly SubmitItem[]): Promise<SubmitResult[]> {
    let answers: RpcAnswer[];
    try {
      answers = await this.rpc.batchOnce(batch.map((item) => ({ method: 'eth_sendRawTransaction', params: [item.tx.payload as Hex] })));
    } catch (err) {
      const attempt = batch[0]?.attempt ?? 1;
      if (err instanceof TransportError && err.rateLimitedMs !== undefined) return batch.map(() => ({ kind: 'retry', code: 'ETH_RATE_LIMITED', afterMs: err.rateLimitedMs!, message: err.message }));
      return batch.map(() => ({ kind: 'retry', code: 'ETH_UNAVAILABLE', afterMs: backoffMs(attempt), message: (err as Error).message }));
    }
    const results: (SubmitResult | undefined)[] = [];
    const check: { k: number; code: string; message: string }[] = [];
    answers.forEach((a, k) => {
      // A resend answered with its hash: some nodes (ganache) answer so even when it is already mined; ask.
      if (!a.error && batch[k]!.attempt > 1) return void check.push({ k, code: '', message: '' });
      if (!a.error) return void (results[k] = { kind: 'accepted' });
      const r = classifySendError(a.error, batch[k]!.attempt);
      if (r.kind === 'known-if-found') check.push({ k, code: r.code, message: r.message });
      else results[k] = r;
    });
    if (check.length) await this.checkKnown(batch, check, results);
    const now = this.ctx.clock.now();
    return results.map((r, k) => {
      const w = this.watching.get(batch[k]!.tx.id);
      if (w && (r?.kind === 'accepted' || r?.kind === 'known')) this.stuck.accepted(w.sender, w.nonce, batch[k]!.tx.id, now);
      if (w && r?.kind === 'rejected') {
        this.stuck.refusedNonce(w.sender, w.nonce);
        this.watching.delete(batch[k]!.tx.id); // final: never confirmed
      }
      return r ?? { kind: 'retry', code: 'ETH_UNAVAILABLE', afterMs: 1000 };
    });
  }

  /** "Already known", "nonce too low", "replacement underpriced": known if the node has this very transaction, else refused. A resend answered with its hash (code ''): known if already mined. */
  private async checkKnown(batch: readonly SubmitItem[], check: { k: number; code: string; message: string }[], results: (SubmitResult | undefined)[]): Promise<void> {
    let found: RpcAnswer[];
    try {
      found = await this.rpc.batchOnce(check.map((c) => ({ method: 'eth_getTransactionByHash', params: [batch[c.k]!.tx.id] })));
    } catch (err) {
      for (const c of check) results[c.k] = { kind: 'retry', code: 'ETH_UNAVAILABLE', afterMs: backoffMs(batch[c.k]!.attempt), message: (err as Error).message };
      return;
    }
    check.forEach((c, j) => {
      const tx = found[j]?.result as { blockNumber?: string | null } | null | undefined;
      if (c.code === '') results[c.k] = tx?.blockNumber ? { kind: 'known' } : { kind: 'accepted' };
      else results[c.k] = tx ? { kind: 'known' } : { kind: 'rejected', code: c.code, message: c.message };
    });
  }

  async confirm(sink: ConfirmSink, _pending: PendingView): Promise<void> {
    this.sink = sink;
    if (this.c.ws) {
      this.heads = new NewHeads(this.c.ws, () => void this.pollNow(), (l) => sink.log(l), this.ctx.clock);
      this.heads.start();
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    const every = this.heads?.live ? FALLBACK_POLL_MS : Math.max(MIN_POLL_MS, this.ctx.confirmation.pollIntervalMs);
    this.timer = this.ctx.clock.setTimeout(() => void this.pollNow().finally(() => this.schedule()), every);
  }

  /** One poll at a time; a head announced during a poll runs one more after it. */
  private pollNow(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return this.polling;
    }
    this.polling = this.poll().finally(() => {
      this.polling = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.pollNow();
      }
    });
    return this.polling;
  }

  /** Scans blocks from the last one seen to head - (confirmations - 1); reports the run's transactions in them. */
  private async poll(): Promise<void> {
    try {
      const head = Number(await this.rpc.call<string>('eth_blockNumber'));
      const last = Math.min(head - (this.c.confirmations - 1), this.nextBlock + BLOCKS_PER_ROUND - 1);
      if (last < this.nextBlock) return;
      const numbers = Array.from({ length: last - this.nextBlock + 1 }, (_, k) => this.nextBlock + k);
      const blocks = await this.rpc.calls<{ transactions: string[] } | null>(numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [`0x${n.toString(16)}`, false] })));
      const now = this.ctx.clock.now();
      const mine: { id: string; hash: string; block: number }[] = [];
      let next = this.nextBlock;
      for (let k = 0; k < numbers.length; k++) {
        const block = blocks[k];
        if (!block) break; // not there on this endpoint yet: next round
        for (const hash of block.transactions) {
          const id = this.watching.has(hash) ? hash : this.aliases.get(hash);
          if (id !== undefined && this.watching.has(id)) mine.push({ id, hash, block: numbers[k]! });
        }
        next = numbers[k]! + 1;
      }
      const reverted = this.c.workload === 'eth-transfer' ? new Set<string>() : await this.reverted(mine.map((m) => m.hash));
      for (const m of mine) {
        const w = this.watching.get(m.id)!;
        this.watching.delete(m.id);
        this.stuck.resolved(w.sender, w.nonce);
        if (reverted.has(m.hash)) this.sink?.failed(m.id, 'ETH_REVERTED');
        else this.sink?.committed(m.id, m.block, now);
      }
      this.nextBlock = next;
      this.confirmedTo = next - 1;
      if (this.sink) await this.stuck.check(now, this.confirmedTo, this.rpc, this.sink);
    } catch (err) {
      if (!(err instanceof TransportError)) this.sink?.log(`confirmation poll failed: ${(err as Error).message}`);
    }
  }

  /** Receipts of mined contract calls: the hashes whose status is 0 (reverted). A value transfer cannot revert. */
  private async reverted(hashes: string[]): Promise<Set<string>> {
    const receipts = await this.rpc.calls<{ status?: string } | null>(hashes.map((h) => ({ method: 'eth_getTransactionReceipt', params: [h] })));
    return new Set(hashes.filter((_, k) => receipts[k]?.status === '0x0'));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.ctx.clock.clearTimeout(this.timer);
    this.heads?.close();
    await this.polling;
    await this.rpc.close();
  }
}
