/**
 * One beacon in this process, sending transactions built beforehand: the harness's load
 * core for benchmarks and tests that bring their own transactions (pre-signed transfers at
 * a node's saturation, a bounded load while a test kills a process). It is the same
 * `Beacon` a run uses — batching, in-flight cap, retries with the same bytes, failover,
 * confirmation tracking and loss timers — given the transactions through the connector's
 * `source()` (as a replay gives its dataset), so there is no second submit/track loop.
 */
import { preciseClock, type Clock } from '../clock.js';
import type { BeaconConnector, SourcedTx } from '../connectors/contract.js';
import { Beacon } from './beacon.js';
import { assignment } from './assignment.js';
import type { BeaconMessage, DoneMessage } from './messages.js';

export interface SourcedRunOptions {
  /** The network's beacon side (its `source`, if any, is replaced by `txs`). */
  connector: BeaconConnector;
  /** What to send, in order (a sender's transactions in its nonce order); each with its intended offset or, without one, as fast as maxInFlight allows. */
  txs: Iterable<SourcedTx> | AsyncIterable<SourcedTx>;
  /** Unconfirmed transactions at most (in flight or waiting to be resent). */
  maxInFlight: number;
  /** Transactions per request at most. */
  batchMax: number;
  /** How long a partial batch waits for more (only while more is due soon). */
  batchDelayMs?: number;
  /** Nothing new is sent after this long; what is left is left unsent. */
  durationMs: number;
  /** A transaction not confirmed this long after its intended time is lost. */
  timeoutMs: number;
  /** Retryable refusals are resent (same bytes) at most this many times. */
  retries: number;
  clock?: Clock;
  /** Every message the beacon would send an overseer (progress each second, log lines, errors, done). */
  onMessage?: (m: BeaconMessage) => void;
}

export interface SourcedRun {
  /** The beacon; its `txs` ledger holds every transaction's state, attempts, commit height and time. */
  beacon: Beacon;
  /** The beacon's final counts, once everything sent is committed, failed or lost (or after `stop`). */
  done: Promise<DoneMessage>;
  /** Stops sending and tracking now; `done` resolves with what was seen. */
  stop(): Promise<void>;
}

/** The connector with `txs` as its source; everything else is the connector's own. */
function sourcing(c: BeaconConnector, txs: SourcedRunOptions['txs']): BeaconConnector {
  return {
    prepare: () => c.prepare(),
    build: (tx) => c.build(tx),
    source: () => (Symbol.asyncIterator in txs ? txs[Symbol.asyncIterator]() : toAsync(txs[Symbol.iterator]())),
    submit: (batch) => c.submit(batch),
    confirm: (sink, pending) => c.confirm(sink, pending),
    get position() {
      return c.position;
    },
    close: () => c.close(),
  };
}

function toAsync<T>(it: Iterator<T>): AsyncIterator<T> {
  return {
    next: () => Promise.resolve(it.next()),
    return: () => Promise.resolve(it.return?.() ?? { done: true as const, value: undefined }),
  };
}

/** Prepares the connector, starts the beacon at once, and resolves when it is running. */
export async function startSourced(o: SourcedRunOptions): Promise<SourcedRun> {
  const clock = o.clock ?? preciseClock;
  let resolveDone!: (m: DoneMessage) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<DoneMessage>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  // A caller that never awaits `done` (it stopped early) must not see an unhandled rejection.
  done.catch(() => undefined);
  const send = (m: BeaconMessage): void => {
    o.onMessage?.(m);
    if (m.type === 'done') resolveDone(m);
    else if (m.type === 'error') rejectDone(new Error(`${m.code}: ${m.message}`));
  };
  const beacon = new Beacon(
    assignment({
      runId: 'sourced',
      connector: { kind: 'sourced', config: {} },
      mode: 'max',
      maxDurationMs: o.durationMs,
      maxInFlight: o.maxInFlight,
      batchMax: o.batchMax,
      batchDelayMs: o.batchDelayMs ?? 0,
      // The method is the connector's (it was built with it); the beacon uses the timeout and retries.
      confirmation: { method: 'stream', timeoutMs: o.timeoutMs, retries: o.retries, pollIntervalMs: 1000 },
    }),
    send,
    sourcing(o.connector, o.txs),
    clock,
  );
  await beacon.prepare();
  beacon.start(clock.now());
  return { beacon, done, stop: () => beacon.stop() };
}
