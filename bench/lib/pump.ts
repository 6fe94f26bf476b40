/**
 * Pumping pre-signed transfers into nodes through the harness's load core — one in-process
 * `Beacon` per node URL (src/harness/sourced-run.ts) with the tpslab connector — while
 * watching a process's own /stats until everything accepted is committed: the measuring
 * loop of node-saturation and network-scaling. Bounded in count (the transfers given) and
 * in time (sending stops at the deadline; a transfer unconfirmed `lostAfterMs` after it
 * was due is lost).
 */
import { NodeClient } from '../../src/client/node-client.js';
import type { BeaconConnector, SubmitItem } from '../../src/connectors/contract.js';
import { TxState } from '../../src/harness/beacon.js';
import { startSourced, type SourcedRun } from '../../src/harness/sourced-run.js';
import { tpslabSender } from '../../test/testkit/load.js';
import { getStats, sleep, type Stats } from './common.js';

export interface PumpOptions {
  /** Transfers per request. */
  batch: number;
  /** Transfers sent and not yet committed, at most, over all nodes (the beacons' in-flight cap). */
  maxInFlight: number;
  /** Sending stops after this long even if transfers are left. */
  deadlineMs: number;
  /** A transfer refused as retryable this many times is given up. */
  maxAttempts: number;
}

export interface PumpResult {
  accepted: number;
  refusedFull: number;
  /** Codes of transfers that failed for good, and how many. */
  rejected: Record<string, number>;
  /** Sent, and neither committed nor failed within lostAfterMs. */
  lost: number;
  firstSendMs: number;
  lastAcceptMs: number;
  timedOut: boolean;
}

/**
 * Sends txs[sender * nonces + n] in waves of nonces (every sender's nonce 0, then every
 * sender's nonce 1, …), sender s through urls[s % urls.length]: one beacon per node, as a
 * run spreads its beacons over endpoints. The beacons' in-flight cap (at most one wave per
 * node by default) keeps a sender's later nonces from overtaking earlier ones by much;
 * a retryable refusal (429 mempool full) is resent, same bytes, after the connector's backoff.
 */
export async function pump(
  o: { urls: readonly string[]; network: string; txs: readonly Buffer[]; ids: readonly string[]; senders: number; nonces: number; lostAfterMs: number },
  signal: AbortSignal,
  p: PumpOptions,
): Promise<PumpResult> {
  let accepted = 0;
  let firstSendMs = Number.NaN;
  let lastAcceptMs = Number.NaN;
  /** The connector, its answers counted: first send, acceptances and when the last came. */
  const counted = (c: BeaconConnector): BeaconConnector => ({
    prepare: () => c.prepare(),
    build: (tx) => c.build(tx),
    submit: async (batch: readonly SubmitItem[]) => {
      if (Number.isNaN(firstSendMs)) firstSendMs = performance.now();
      const results = await c.submit(batch);
      let ok = 0;
      for (const r of results) if (r.kind === 'accepted' || r.kind === 'known') ok++;
      if (ok > 0) {
        accepted += ok;
        lastAcceptMs = performance.now();
      }
      return results;
    },
    confirm: (sink, pending) => c.confirm(sink, pending),
    get position() {
      return c.position;
    },
    close: () => c.close(),
  });
  const n = o.urls.length;
  const runs: SourcedRun[] = [];
  const stop = () => void Promise.all(runs.map((r) => r.stop()));
  signal.addEventListener('abort', stop, { once: true });
  try {
    for (let k = 0; k < n; k++) {
      // Node k's senders, in nonce waves.
      const mine = function* () {
        for (let nonce = 0; nonce < o.nonces; nonce++) {
          for (let s = k; s < o.senders; s += n) {
            const i = s * o.nonces + nonce;
            yield { tx: { id: o.ids[i]!, payload: o.txs[i]! }, sender: s };
          }
        }
      };
      const endpoints = [...o.urls.slice(k), ...o.urls.slice(0, k)];
      // Confirmed from this node's commit stream, from its head on.
      const fromHeight = (await new NodeClient(endpoints[0]!).head()).height;
      runs.push(
        await startSourced({
          connector: counted(tpslabSender({ network: o.network, endpoints, fromHeight })),
          txs: mine(),
          maxInFlight: Math.max(p.batch, Math.floor(p.maxInFlight / n)),
          batchMax: p.batch,
          durationMs: p.deadlineMs,
          timeoutMs: o.lostAfterMs,
          retries: p.maxAttempts - 1,
        }),
      );
    }
    const done = await Promise.all(runs.map((r) => r.done));
    const rejected: Record<string, number> = {};
    for (const r of runs) {
      const t = r.beacon.txs;
      for (let i = 0; i < t.size; i++) if (t.state[i] === TxState.Failed) rejected[t.error[i]!] = (rejected[t.error[i]!] ?? 0) + 1;
    }
    const sum = (f: (d: (typeof done)[number]) => number) => done.reduce((a, d) => a + f(d), 0);
    return {
      accepted,
      refusedFull: sum((d) => d.errors.TPSLAB_E_MEMPOOL_FULL ?? 0),
      rejected,
      lost: sum((d) => d.lost),
      firstSendMs,
      lastAcceptMs,
      timedOut: sum((d) => d.sent) < o.txs.length && !signal.aborted,
    };
  } finally {
    signal.removeEventListener('abort', stop);
    await Promise.all(runs.map((r) => r.stop()));
  }
}

export interface WatchedPump {
  p: PumpResult;
  /** The last /stats seen at `statsUrl`. */
  last: Stats;
  maxMempool: number;
  /** performance.now() of the poll that saw every accepted transfer settled; NaN if the deadline came first. */
  completeAt: number;
}

/** While transfers are still being sent, /stats is polled this often (only for the peak mempool): each poll is the measured process's work too. */
const POLL_WHILE_PUMPING_MS = 250;

/**
 * Pumps (see `pump`) while polling `statsUrl`'s /stats (every POLL_WHILE_PUMPING_MS
 * while sending, then every `pollMs`) until committed + failed since `before`
 * reaches the number of transfers accepted, or `commitDeadlineMs` after the
 * start. The end can only be seen once sending has ended (the count is known
 * then), so polling faster before that would only add the polls' own cost to the
 * process measured: at 20 ms, 50 requests a second. Throws the signal's reason
 * when aborted.
 */
export async function pumpAndWatch(o: {
  statsUrl: string;
  before: Stats;
  urls: readonly string[];
  network: string;
  txs: readonly Buffer[];
  /** The transfers' ids (hex), as the commit stream names them. */
  ids: readonly string[];
  senders: number;
  nonces: number;
  signal: AbortSignal;
  pump: PumpOptions;
  commitDeadlineMs: number;
  pollMs: number;
}): Promise<WatchedPump> {
  const { before, signal } = o;
  let maxMempool = 0;
  let target = Number.POSITIVE_INFINITY; // accepted transfers, known once pumping ends
  let completeAt = Number.NaN;
  let last = before;
  const stopWatching = new AbortController();
  /** Aborted when sending ends: wakes the watcher from its slower wait to poll at once. */
  const pumped = new AbortController();
  const whilePumping = AbortSignal.any([stopWatching.signal, pumped.signal]);
  const onAbort = () => stopWatching.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const watchStart = performance.now();
  const watcher = (async () => {
    while (!stopWatching.signal.aborted) {
      const s = await getStats(o.statsUrl, stopWatching.signal);
      last = s;
      maxMempool = Math.max(maxMempool, s.mempool);
      const settled = s.tx.committed - before.tx.committed + (s.tx.failed - before.tx.failed);
      if (settled >= target) {
        completeAt = performance.now();
        return;
      }
      if (performance.now() - watchStart > o.commitDeadlineMs) return;
      if (target === Number.POSITIVE_INFINITY) await sleep(Math.max(o.pollMs, POLL_WHILE_PUMPING_MS), whilePumping);
      else await sleep(o.pollMs, stopWatching.signal);
    }
  })();
  // Held until awaited below, so a failed poll during pumping is not an unhandled rejection.
  watcher.catch(() => undefined);
  let p: PumpResult;
  try {
    p = await pump({ ...o, lostAfterMs: o.commitDeadlineMs }, signal, o.pump);
    target = p.accepted;
    pumped.abort();
    await watcher;
  } catch (err) {
    stopWatching.abort();
    await watcher.catch(() => undefined);
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (signal.aborted) throw signal.reason;
  return { p, last, maxMempool, completeAt };
}
