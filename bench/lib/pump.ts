/**
 * Pumping pre-signed transfers into nodes as binary batches, in per-sender
 * nonce order, while watching a process's own /stats until everything
 * accepted is committed: the measuring loop of node-saturation and
 * network-scaling. Bounded in count (the transfers given) and in time.
 */
import type { BatchResultJson } from '../../src/protocol/api.js';
import { encodeBatch } from '../../src/protocol/batch.js';
import { getStats, requestSignal, sleep, type Stats } from './common.js';

export interface PumpOptions {
  /** Transfers per request. */
  batch: number;
  /** Requests in flight at most. */
  concurrency: number;
  /** Pumping stops after this long even if transfers are left. */
  deadlineMs: number;
  requestTimeoutMs: number;
  /** A transfer refused as retryable this many times is given up. */
  maxAttempts: number;
}

type BatchAnswer = Pick<BatchResultJson, 'results'>;

export interface PumpResult {
  accepted: number;
  refusedFull: number;
  rejected: Record<string, number>;
  abandoned: number;
  firstSendMs: number;
  lastAcceptMs: number;
  timedOut: boolean;
}

/**
 * Sends txs[sender * nonces + n] in per-sender nonce order: a transfer becomes
 * eligible once its predecessor (same sender) was accepted. Requests go to
 * `urls` round-robin, one batch each. Retryable refusals are resent after
 * Retry-After; a final refusal abandons the sender's later nonces.
 */
export async function pump(urls: readonly string[], txs: readonly Buffer[], senders: number, nonces: number, signal: AbortSignal, o: PumpOptions): Promise<PumpResult> {
  const total = senders * nonces;
  const deadline = performance.now() + o.deadlineMs;
  const ready: number[] = [];
  let readyHead = 0;
  for (let s = 0; s < senders; s++) ready.push(s * nonces);
  const retry: { idx: number; at: number }[] = [];
  const attempts = new Uint16Array(total);
  const rejected: Record<string, number> = {};
  let settled = 0; // accepted, or given up (with the later nonces of its sender)
  let accepted = 0;
  let refusedFull = 0;
  let abandoned = 0;
  let firstSendMs = Number.NaN;
  let lastAcceptMs = Number.NaN;
  let requests = 0;
  const inFlight = new Set<Promise<void>>();
  let wake: (() => void) | undefined;

  const accept = (idx: number) => {
    accepted++;
    settled++;
    lastAcceptMs = performance.now();
    if ((idx % nonces) + 1 < nonces) ready.push(idx + 1);
  };
  const giveUp = (idx: number, code: string) => {
    rejected[code] = (rejected[code] ?? 0) + 1;
    const later = nonces - (idx % nonces) - 1;
    abandoned += later;
    settled += 1 + later;
  };
  const refuse = (idx: number, code: string, delayMs: number) => {
    if (code === 'TPSLAB_E_MEMPOOL_FULL') refusedFull++;
    if (++attempts[idx]! >= o.maxAttempts) giveUp(idx, `${code} (after ${o.maxAttempts} attempts)`);
    else retry.push({ idx, at: performance.now() + delayMs });
  };

  const send = async (batch: number[]): Promise<void> => {
    if (Number.isNaN(firstSendMs)) firstSendMs = performance.now();
    const url = urls[requests++ % urls.length]!;
    let res: Response;
    let answer: BatchAnswer | undefined;
    const r = requestSignal(signal, o.requestTimeoutMs);
    try {
      res = await fetch(`${url}/v1/txs`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: encodeBatch(batch.map((i) => txs[i]!)),
        signal: r.signal,
      });
      const text = await res.text();
      try {
        answer = JSON.parse(text) as BatchAnswer;
      } catch {
        answer = undefined;
      }
    } catch (err) {
      if (signal.aborted) return;
      // Connection trouble on loopback: resend the whole batch shortly (ids that got in come back DUPLICATE).
      for (const idx of batch) refuse(idx, `network error: ${(err as Error).message}`, 250);
      return;
    } finally {
      r.done();
    }
    const retryAfterS = Number(res.headers.get('retry-after'));
    const delayMs = Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : 200;
    if ((res.status === 200 || res.status === 429) && answer?.results?.length === batch.length) {
      answer.results.forEach((r, j) => {
        const idx = batch[j]!;
        if ('status' in r) accept(idx);
        else if (r.error.code === 'TPSLAB_E_DUPLICATE' && attempts[idx]! > 0) accept(idx); // an earlier attempt got in
        else if (r.error.retryable) refuse(idx, r.error.code, delayMs);
        else giveUp(idx, r.error.code);
      });
    } else if (res.status === 429 || res.status >= 500) {
      for (const idx of batch) refuse(idx, `HTTP ${res.status}`, delayMs);
    } else {
      const code = (answer as { error?: { code?: string } } | undefined)?.error?.code ?? `HTTP ${res.status}`;
      for (const idx of batch) giveUp(idx, code);
    }
  };

  let timedOut = false;
  while (settled < total) {
    if (signal.aborted) break;
    const now = performance.now();
    if (now > deadline) {
      timedOut = true;
      break;
    }
    for (let i = 0; i < retry.length; ) {
      if (retry[i]!.at <= now) {
        ready.push(retry[i]!.idx);
        retry.splice(i, 1);
      } else i++;
    }
    while (inFlight.size < o.concurrency && readyHead < ready.length) {
      const batch = ready.slice(readyHead, readyHead + o.batch);
      readyHead += batch.length;
      const p: Promise<void> = send(batch).finally(() => {
        inFlight.delete(p);
        wake?.();
      });
      inFlight.add(p);
    }
    if (readyHead > 50_000) {
      ready.splice(0, readyHead);
      readyHead = 0;
    }
    if (settled >= total) break;
    const nextRetry = retry.reduce((m, r) => Math.min(m, r.at), Number.POSITIVE_INFINITY);
    if (inFlight.size === 0 && readyHead >= ready.length && !Number.isFinite(nextRetry)) {
      throw new Error(`pump stalled with ${total - settled} transfers unsettled and nothing to send (a bug in the benchmark)`);
    }
    // Wait for an answer, the next retry, the deadline or an abort, whichever comes first.
    await new Promise<void>((resolve) => {
      const ms = Math.max(0, Math.min(nextRetry, deadline) - performance.now());
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
      wake = finish;
    });
  }
  await Promise.allSettled([...inFlight]);
  return { accepted, refusedFull, rejected, abandoned, firstSendMs, lastAcceptMs, timedOut };
}

export interface WatchedPump {
  p: PumpResult;
  /** The last /stats seen at `statsUrl`. */
  last: Stats;
  maxMempool: number;
  /** performance.now() of the poll that saw every accepted transfer settled; NaN if the deadline came first. */
  completeAt: number;
}

/**
 * Pumps (see `pump`) while polling `statsUrl`'s /stats every `pollMs` from the
 * start until committed + failed since `before` reaches the number of
 * transfers accepted, or `commitDeadlineMs` after the start. Throws the
 * signal's reason when aborted.
 */
export async function pumpAndWatch(o: {
  statsUrl: string;
  before: Stats;
  urls: readonly string[];
  txs: readonly Buffer[];
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
      await sleep(o.pollMs, stopWatching.signal);
    }
  })();
  // Held until awaited below, so a failed poll during pumping is not an unhandled rejection.
  watcher.catch(() => undefined);
  let p: PumpResult;
  try {
    p = await pump(o.urls, o.txs, o.senders, o.nonces, signal, o.pump);
    target = p.accepted;
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
