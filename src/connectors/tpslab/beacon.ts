/**
 * The beacon side of the `tpslab` connector: deterministic account keys,
 * nonces per sender (learned from the network unless the accounts are fresh),
 * Ed25519-signed transfers or topic messages, binary batches to `/v1/txs` with
 * failover, and confirmations from the commit stream or status polls. A
 * replay brings the dataset's own signed transactions (`source`) instead.
 */
import { TpslabError } from '../../errors.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../../protocol/signing.js';
import type { TxBody } from '../../protocol/tx.js';
import type { BeaconConnector, BeaconContext, BuiltTx, ConfirmSink, PendingView, PlannedTx, SourcedTx, SubmitItem, SubmitResult } from '../contract.js';
import { BeaconClient, allOk, requestTimeoutFor, type SubmitOutcome } from './client.js';
import { Confirmer } from './confirm.js';
import { replaySource } from './replay-source.js';
import type { TpslabBeaconConfig } from './schema.js';

/** A resend refused with one of these means the first send got in: wait for its commit. */
const ALREADY_IN = new Set(['TPSLAB_E_DUPLICATE', 'TPSLAB_E_NONCE_PENDING', 'TPSLAB_E_NONCE_TOO_LOW']);
const MEMPOOL_FULL_BACKOFF_MS = 1000;
/** One shared answer for the common case (hot path: one per transaction). */
const ACCEPTED: SubmitResult = Object.freeze({ kind: 'accepted' });
const acceptedBySize = new Map<number, readonly SubmitResult[]>();

/** A whole batch of `n` accepted: one shared, frozen answer per size. */
function allAccepted(n: number): readonly SubmitResult[] {
  let a = acceptedBySize.get(n);
  if (!a) {
    a = Object.freeze(new Array<SubmitResult>(n).fill(ACCEPTED));
    if (acceptedBySize.size < 1024) acceptedBySize.set(n, a);
  }
  return a;
}
const MAX_BACKOFF_MS = 2000;

export class TpslabBeacon implements BeaconConnector {
  private readonly keys = new Map<number, KeyPair>();
  private readonly nextNonce = new Map<number, bigint>();
  readonly client: BeaconClient;
  private confirmer: Confirmer | undefined;

  constructor(
    private readonly c: TpslabBeaconConfig,
    private readonly ctx: BeaconContext,
  ) {
    this.client = new BeaconClient(c.endpoints, { requestTimeoutMs: requestTimeoutFor(ctx.confirmation.timeoutMs), connections: c.connections, pipelining: c.pipelining });
  }

  get position(): number {
    return this.confirmer?.height ?? this.c.fromHeight;
  }

  private key(account: number): KeyPair {
    let k = this.keys.get(account);
    if (!k) this.keys.set(account, (k = keyPairFromLabel(`${this.c.keySeed}:${account}`)));
    return k;
  }

  async prepare(): Promise<void> {
    // A replay's nonces are in its dataset; fresh accounts start at 0, unless taken over mid-run.
    if ((this.c.freshAccounts && !this.ctx.takeover) || this.c.workload.kind === 'replay') return;
    const { start, end } = this.c.accounts;
    const accounts = Array.from({ length: end - start }, (_, k) => start + k);
    const nonces = await this.client.nonces(accounts.map((a) => this.key(a).address));
    accounts.forEach((a, k) => this.nextNonce.set(a, nonces[k]!));
  }

  source(): AsyncIterator<SourcedTx> | undefined {
    return this.c.workload.kind === 'replay' ? replaySource(this.c.workload) : undefined;
  }

  build(tx: PlannedTx): BuiltTx {
    const w = this.c.workload;
    if (w.kind === 'replay') throw new TpslabError('TPSLAB_E_INTERNAL', 'a replay beacon sends its dataset (source), it builds nothing');
    const nonce = this.nextNonce.get(tx.sender) ?? 0n;
    this.nextNonce.set(tx.sender, nonce + 1n);
    const sender = this.key(tx.sender);
    const common = { nonce, fee: BigInt(w.fee), deps: [] };
    let body: TxBody;
    if (w.kind === 'transfer') {
      const amount = BigInt(w.amount);
      body = { kind: 'transfer', ...common, inputs: [{ account: sender.publicKey, amount }], outputs: [{ account: this.key(tx.target).publicKey, amount }] };
    } else {
      const payload = Buffer.alloc(w.payloadBytes, tx.index % 251);
      body = { kind: 'message', ...common, from: sender.publicKey, topic: w.topics[tx.target % w.topics.length]!, payload };
    }
    const signed = signTx(body, [sender], this.c.network);
    return { id: signed.id.toString('hex'), payload: signed.bytes };
  }

  async submit(batch: readonly SubmitItem[]): Promise<readonly SubmitResult[]> {
    const payloads = new Array<Buffer>(batch.length);
    // The framed batch's size in the same pass (u32 count, then u32 length and bytes per transaction: batchSize).
    let size = 4;
    for (let k = 0; k < batch.length; k++) size += 4 + (payloads[k] = batch[k]!.tx.payload as Buffer).length;
    const outcomes = await this.client.submit(payloads, size);
    if (outcomes === allOk(batch.length)) return allAccepted(batch.length);
    const pipelined = this.client.pipelined;
    return outcomes.map((o, k) => toResult(o, batch[k]!.attempt, pipelined));
  }

  async confirm(sink: ConfirmSink, pending: PendingView): Promise<void> {
    const { method, pollIntervalMs } = this.ctx.confirmation;
    this.confirmer = new Confirmer({ method, pollIntervalMs, clock: this.ctx.clock }, this.client, sink, pending);
    await this.confirmer.open(this.c.fromHeight);
  }

  async close(): Promise<void> {
    this.confirmer?.close();
    await this.client.close();
  }
}

/**
 * The node's coded answer as the harness's per-transaction result. `pipelined`: the batch may have
 * been sent twice by the HTTP client (its connection closed with it in the pipeline), so a first
 * attempt answered DUPLICATE (these very bytes are already in) is known too.
 */
export function toResult(o: SubmitOutcome, attempt: number, pipelined = false): SubmitResult {
  if (o.ok) return ACCEPTED;
  const e: TpslabError = o.error;
  if ((attempt > 1 && ALREADY_IN.has(e.code)) || (pipelined && e.code === 'TPSLAB_E_DUPLICATE')) return { kind: 'known' };
  if (e.retryable) {
    // The node's Retry-After when it sent one (a 429), else a fixed wait for a full mempool, else backoff.
    const afterMs = o.retryAfterMs ?? (e.code === 'TPSLAB_E_MEMPOOL_FULL' ? MEMPOOL_FULL_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt));
    return { kind: 'retry', code: e.code, afterMs, message: e.message };
  }
  return { kind: 'rejected', code: e.code, message: e.message };
}
