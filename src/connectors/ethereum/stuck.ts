/**
 * Stuck nonces. A wallet's transactions mine in nonce order, so one that never
 * mines holds back every later one of its wallet. The beacon keeps, per wallet,
 * the transactions the node accepted and that no block has shown yet; once a
 * wallet's lowest one is older than `stuckAfterMs`, its on-chain nonce (as of
 * the last block the beacon read) says why:
 *
 * - below the lowest, at a nonce whose transaction the node refused: a nonce
 *   gap that nothing will fill; every waiting transaction of the wallet fails
 *   with ETH_NONCE_GAP (counted by code);
 * - above it: another transaction took that nonce (the key is used elsewhere);
 *   the transaction fails with ETH_REPLACED;
 * - equal, and the node no longer has it (dropped from its pool, or lost in a
 *   restart): the same signed bytes are sent again (same hash, so the same id),
 *   and the log says so;
 * - equal, and the node holds it but does not mine it (a fee too low for the
 *   network): replaced once with fees 25% higher when `replacementOf` is given
 *   (replaceStuck), else reported, once per episode, with the number of
 *   transactions it holds back; it may still mine.
 */
import type { ConfirmSink } from '../contract.js';
import type { RpcClient } from './rpc.js';

export interface Waiting {
  id: string;
  acceptedAtMs: number;
}

const CHECK_EVERY_MS = 1000;
const MAX_WALLETS_PER_CHECK = 200;

export class StuckWatch {
  /** Accepted and not yet seen in a block: sender → nonce → tx. */
  private readonly waiting = new Map<number, Map<number, Waiting>>();
  /** Nonces whose transaction the node refused: sender → nonces. */
  private readonly refused = new Map<number, Set<number>>();
  /** Episodes already reported: `${sender}:${nonce}`. */
  private readonly reported = new Set<string>();
  private lastCheckMs = 0;
  /** Wallets found stuck so far (each counted once per stuck nonce). */
  stuckWallets = 0;
  /** Dropped transactions sent again. */
  rebroadcasts = 0;

  constructor(
    private readonly stuckAfterMs: number,
    private readonly addressOf: (sender: number) => string,
    /** The signed bytes of a transaction still awaited. */
    private readonly rawOf: (id: string) => string | undefined,
    /** replaceStuck: signs the replacement of a transaction (higher fees) and returns its bytes. */
    private readonly replacementOf?: (id: string) => string | undefined,
  ) {}
  /** Transactions replaced with a higher fee. */
  replacements = 0;
  private readonly replaced = new Set<string>();

  accepted(sender: number, nonce: number, id: string, nowMs: number): void {
    let m = this.waiting.get(sender);
    if (!m) this.waiting.set(sender, (m = new Map()));
    if (!m.has(nonce)) m.set(nonce, { id, acceptedAtMs: nowMs });
  }

  refusedNonce(sender: number, nonce: number): void {
    let s = this.refused.get(sender);
    if (!s) this.refused.set(sender, (s = new Set()));
    s.add(nonce);
  }

  resolved(sender: number, nonce: number): void {
    const m = this.waiting.get(sender);
    m?.delete(nonce);
    if (m?.size === 0) this.waiting.delete(sender);
  }

  /** Looks at wallets whose lowest waiting transaction is older than stuckAfterMs; `atBlock` is the last block read. */
  async check(nowMs: number, atBlock: number, rpc: RpcClient, sink: ConfirmSink): Promise<void> {
    if (nowMs - this.lastCheckMs < CHECK_EVERY_MS) return;
    this.lastCheckMs = nowMs;
    const candidates: { sender: number; nonce: number; tx: Waiting }[] = [];
    for (const [sender, m] of this.waiting) {
      const nonce = Math.min(...m.keys());
      const tx = m.get(nonce)!;
      if (nowMs - tx.acceptedAtMs > this.stuckAfterMs) candidates.push({ sender, nonce, tx });
      if (candidates.length >= MAX_WALLETS_PER_CHECK) break;
    }
    if (candidates.length === 0) return;
    const block = `0x${atBlock.toString(16)}`;
    const answers = await rpc.batchOnce(candidates.flatMap((c) => [
      { method: 'eth_getTransactionCount', params: [this.addressOf(c.sender), block] },
      { method: 'eth_getTransactionByHash', params: [c.tx.id] },
    ]));
    const resend: { id: string; raw: string }[] = [];
    candidates.forEach((c, k) => {
      const a = answers[2 * k];
      const known = answers[2 * k + 1];
      if (!a || a.error || !known || known.error) return;
      const raw = this.judge(c.sender, c.nonce, c.tx, Number(a.result), known.result !== null, nowMs, sink);
      if (raw) resend.push({ id: c.tx.id, raw });
    });
    if (resend.length === 0) return;
    const again = await rpc.batchOnce(resend.map((r) => ({ method: 'eth_sendRawTransaction', params: [r.raw] })));
    again.forEach((a, k) => {
      if (a.error) sink.log(`sending ${resend[k]!.id} again was refused: ${a.error.message}`);
    });
  }

  /** Says what holds the wallet back; returns the bytes to send again when the node dropped the transaction. */
  private judge(sender: number, nonce: number, tx: Waiting, chainNonce: number, nodeHasIt: boolean, nowMs: number, sink: ConfirmSink): string | undefined {
    const address = this.addressOf(sender);
    const m = this.waiting.get(sender)!;
    if (chainNonce > nonce) {
      this.resolved(sender, nonce);
      sink.log(`wallet ${address}: nonce ${nonce} was taken by another transaction (the chain is at nonce ${chainNonce}); ${tx.id} failed (ETH_REPLACED)`);
      sink.failed(tx.id, 'ETH_REPLACED');
      return undefined;
    }
    const key = `${sender}:${chainNonce}`;
    if (chainNonce < nonce && this.refused.get(sender)?.has(chainNonce)) {
      const held = [...m.values()];
      this.waiting.delete(sender);
      this.stuckWallets++;
      sink.log(`wallet ${address} is stuck: the node refused its nonce ${chainNonce}, so its ${held.length} waiting transaction${held.length === 1 ? '' : 's'} (nonces ${nonce}..) cannot mine; failed (ETH_NONCE_GAP)`);
      for (const h of held) sink.failed(h.id, 'ETH_NONCE_GAP');
      return undefined;
    }
    if (chainNonce === nonce && !nodeHasIt) {
      const raw = this.rawOf(tx.id);
      if (!raw) return undefined;
      tx.acceptedAtMs = nowMs; // give it stuckAfterMs again
      this.rebroadcasts++;
      sink.log(`wallet ${address}: the node no longer has ${tx.id} (nonce ${nonce}; dropped from its pool), which holds back ${m.size} transaction${m.size === 1 ? '' : 's'}; sent the same bytes again`);
      return raw;
    }
    if (chainNonce === nonce && this.replacementOf && !this.replaced.has(tx.id)) {
      const raw = this.replacementOf(tx.id);
      if (!raw) return undefined;
      this.replaced.add(tx.id);
      this.replacements++;
      tx.acceptedAtMs = nowMs;
      sink.log(`wallet ${address}: ${tx.id} (nonce ${nonce}) is in the node's pool but not mined after ${this.stuckAfterMs} ms, holding back ${m.size} transaction${m.size === 1 ? '' : 's'}; replaced with fees 25% higher (same id)`);
      return raw;
    }
    if (this.reported.has(key)) return undefined;
    this.reported.add(key);
    this.stuckWallets++;
    const why = chainNonce < nonce ? `waits for nonce ${chainNonce}, which this beacon has not had accepted` : `its transaction ${tx.id} at nonce ${nonce} is in the node's pool but not mined (a fee too low for the network?)`;
    sink.log(`wallet ${address} is stuck: ${why}; ${m.size} transaction${m.size === 1 ? '' : 's'} held back`);
    return undefined;
  }
}
