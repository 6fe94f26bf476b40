/**
 * Load for tests and benchmarks, through the harness's one load core: a `Beacon` in this
 * process (src/harness/sourced-run.ts) with the `tpslab` connector, sending transactions
 * signed here. `LoadLoop` is a small, bounded, paced load for tests that break a network
 * while it runs.
 */
import WebSocket from 'ws';
import { preciseClock } from '../../src/clock.js';
import { NodeClient } from '../../src/client/node-client.js';
import type { BeaconConnector, BeaconContext, SourcedTx } from '../../src/connectors/contract.js';
import { TpslabBeacon } from '../../src/connectors/tpslab/beacon.js';
import { TxState } from '../../src/harness/beacon.js';
import { startSourced, type SourcedRun } from '../../src/harness/sourced-run.js';
import type { StreamEventJson } from '../../src/protocol/api.js';
import { signTx, type KeyPair } from '../../src/protocol/signing.js';

/**
 * The tpslab connector's beacon side for transactions built outside it (a source): it submits
 * to `endpoints[0]` (failing over in order) and confirms from that endpoint's commit stream,
 * from the block after `fromHeight`.
 */
export function tpslabSender(o: { network: string; endpoints: string[]; fromHeight: number; log?: (line: string) => void; confirmation?: BeaconContext['confirmation'] }): BeaconConnector {
  return new TpslabBeacon(
    {
      network: o.network,
      endpoints: o.endpoints,
      keySeed: 'unused: the transactions come signed',
      accounts: { start: 0, end: 1 },
      freshAccounts: true,
      workload: { kind: 'transfer', amount: 1, fee: 0 },
      fromHeight: o.fromHeight,
    },
    { beacon: 0, clock: preciseClock, confirmation: o.confirmation ?? { method: 'stream', pollIntervalMs: 500 }, log: o.log ?? (() => undefined) },
  );
}

export interface LoadOptions {
  network: string;
  /** Senders: transfers go round-robin over them, 1 unit to the next account. */
  accounts: KeyPair[];
  /** Nodes to submit to, in failover order; the first also gives the commit stream. */
  endpoints: string[];
  maxTxs: number;
  /** Sending stops after this long (what is left is not sent). */
  durationMs: number;
  /** Paced: transaction k is due k / ratePerSec seconds after the start. Default 50. */
  ratePerSec?: number;
}

/** A transaction not committed this long after its due time is lost (the connector's requests time out sooner). */
const LOSS_TIMEOUT_MS = 10_000;

/**
 * A paced, bounded transfer load. A retryable refusal (the sequencer is down, a node is
 * gone) is resent with the same bytes, failing over between endpoints; a transaction not
 * committed 10 s after its due time is lost. `heights` comes from a separate subscription to
 * the first endpoint's stream, to check that no block is skipped or repeated.
 */
export class LoadLoop {
  readonly heights: number[] = [];
  private run_: SourcedRun | undefined;
  private ws: WebSocket | undefined;

  constructor(private readonly opts: LoadOptions) {}

  /** Subscribes at the first endpoint's next height and starts sending. */
  async open(): Promise<void> {
    const o = this.opts;
    const head = await new NodeClient(o.endpoints[0]!).head();
    await this.watchHeights(head.height + 1);
    const rate = o.ratePerSec ?? 50;
    this.run_ = await startSourced({
      connector: tpslabSender({ network: o.network, endpoints: o.endpoints, fromHeight: head.height, confirmation: { method: 'stream', pollIntervalMs: 500, timeoutMs: LOSS_TIMEOUT_MS } }),
      txs: transfers(o.network, o.accounts, o.maxTxs, rate),
      // A few transactions per sender at most, well within what a node buffers ahead of a nonce.
      maxInFlight: o.accounts.length * 4,
      batchMax: 50,
      batchDelayMs: 5,
      durationMs: o.durationMs,
      timeoutMs: LOSS_TIMEOUT_MS,
      retries: 30,
      // The beacon's log lines (a transaction refused after it was counted lost) say where a load stalls.
      onMessage: (m) => {
        if (m.type === 'log') console.log(`load: ${m.line}`);
      },
    });
  }

  private watchHeights(from: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${this.opts.endpoints[0]!.replace(/^http/, 'ws')}/v1/stream?from=${from}`);
      this.ws = ws;
      ws.on('open', () => resolve());
      ws.on('error', reject);
      ws.on('message', (data) => {
        const ev = JSON.parse(data.toString()) as StreamEventJson;
        if (ev.type === 'block') this.heights.push(ev.height);
      });
    });
  }

  private get beaconRun(): SourcedRun {
    if (!this.run_) throw new Error('LoadLoop: call open() first');
    return this.run_;
  }

  /** The beacon sending the load (its per-transaction states, for diagnostics). */
  get beacon(): SourcedRun['beacon'] {
    return this.beaconRun.beacon;
  }

  /** Id → height of every transaction seen committed so far, in send order. */
  get committed(): Map<string, number> {
    const t = this.beaconRun.beacon.txs;
    const out = new Map<string, number>();
    for (let i = 0; i < t.size; i++) if (t.state[i] === TxState.Committed) out.set(t.id[i]!, t.height[i]!);
    return out;
  }

  /** Resolves once everything sent is committed, failed or lost (sending stops at durationMs); its final counts. */
  async run(): Promise<{ sent: number; committed: number; failed: number; lost: number; errors: Record<string, number> }> {
    return this.beaconRun.done;
  }

  close(): void {
    void this.run_?.stop();
    this.ws?.terminate();
  }
}

/** maxTxs transfers round-robin over the senders (nonce k / senders), signed as they are pulled, transaction k due at k / rate s. */
function* transfers(network: string, accounts: readonly KeyPair[], maxTxs: number, ratePerSec: number): Generator<SourcedTx> {
  for (let k = 0; k < maxTxs; k++) {
    const s = k % accounts.length;
    const from = accounts[s]!;
    const to = accounts[(s + 1) % accounts.length]!;
    const nonce = BigInt(Math.floor(k / accounts.length));
    const tx = signTx({ kind: 'transfer', nonce, fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [from], network);
    yield { tx: { id: tx.id.toString('hex'), payload: tx.bytes }, sender: s, intendedOffsetMs: (k * 1000) / ratePerSec };
  }
}
