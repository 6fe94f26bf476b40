/**
 * A node's side of replicated ordering (several sequencers, one leader at a time): transactions go to the
 * leader, found by asking every sequencer and by NOT_LEADER hints; what a lost leader accepted and did not
 * commit is sent again, same bytes, to the leader of the next term (its mempool went with it). A forward
 * waiting on a leader that does not answer (paused, cut off) is dropped as soon as another sequencer leads
 * a newer term (the lease moved), and sent there with the same ids. A feed that delivers nothing while
 * another sequencer is ahead is replaced.
 */
import type { Clock } from '../clock.js';
import { TpslabError, isErrorCode, type ErrorCode } from '../errors.js';
import type { SignedTx } from '../protocol/tx.js';
import type { BlockFeed } from './block-feed.js';
import { fetchLeader, postBatch, type SubmitAnswer } from './sequencer-client.js';

/** How often a node asks who leads (a sequencer still answering the previous ask is skipped). */
const LEADER_POLL_MS = 200;
const LEADER_POLL_TIMEOUT_MS = 1000;
/** The least time one attempt gets near the forward's deadline. */
const MIN_ATTEMPT_MS = 100;
/** A feed silent this long while another sequencer is ahead is replaced. */
const FEED_STALL_MS = 1000;
/** A forward slower than this is logged (the submitter may have given up on it meanwhile). */
const SLOW_FORWARD_MS = 3000;

/** The first few ids, short, for a log line that says which transactions a path dropped or delayed. */
function someIds(txs: readonly SignedTx[]): string {
  const ids = txs.slice(0, 50).map((tx) => tx.id.toString('hex').slice(0, 16));
  return txs.length > 50 ? `${ids.join(' ')} …` : ids.join(' ');
}

export interface Pending {
  atMs: number;
  tx: SignedTx;
  /** Term of the leader that accepted it (0: single sequencer, or not known). */
  term: number;
}

export interface Waiting {
  tx: SignedTx;
  resolve: (r: TpslabError | undefined) => void;
  /** The node's failure mark when it was forwarded (ChainService.failureMark). */
  failureMark?: number;
}

/** What the forwarder needs of its node. */
export interface ForwardHost {
  /** Forwarded and accepted, not yet seen committed or failed. */
  readonly pending: Map<string, Pending>;
  /** Records an accepted (or already pending) transaction under `term`, unless committed or failed here. Does not throw. */
  track(tx: SignedTx, term: number, atMs: number, failureMark?: number): void;
  /** Whether the transaction is in a block here; false when that cannot be told (the node has stopped). */
  isIndexed(idKey: string): boolean;
  /** A resent transaction the leader refused for good. */
  fail(tx: SignedTx, code: ErrorCode, message: string): void;
  /** This node's applied height. */
  height(): number;
  readonly feed: BlockFeed;
  closed(): boolean;
}

/** An attempt dropped because another sequencer leads a newer term than the one it was sent under. */
class LeaderMoved extends Error {}

export class LeaderForwarder {
  private submitIdx = 0;
  /** Highest leader term seen; pending transactions accepted under an older one are sent again. */
  private knownTerm = 0;
  private resending = false;
  private timer: unknown;
  /** Sequencers asked who leads whose answer has not come yet (a paused one answers nothing). */
  private readonly asking = new Set<number>();
  /** Told the index of each newly learned leader: posts to another sequencer are dropped. */
  private readonly onNewLeader = new Set<(leaderIdx: number) => void>();

  constructor(
    private readonly urls: readonly string[],
    private readonly requestTimeoutMs: number,
    private readonly batchMax: number,
    private readonly clock: Clock,
    private readonly host: ForwardHost,
  ) {}

  start(): void {
    this.timer = this.clock.setTimeout(() => {
      this.pollLeader();
      if (!this.host.closed()) this.start();
    }, LEADER_POLL_MS);
  }

  close(): void {
    this.clock.clearTimeout(this.timer);
  }

  /**
   * Posts to sequencer `idx`. Dropped (LeaderMoved) as soon as another sequencer is learned to lead a newer
   * term: a paused or cut-off leader answers nothing, and waiting out the timeout would hold commits.
   */
  private async post(idx: number, txs: readonly SignedTx[], timeoutMs: number): Promise<SubmitAnswer> {
    const moved = new AbortController();
    const watch = (leaderIdx: number): void => {
      if (leaderIdx !== idx) moved.abort();
    };
    this.onNewLeader.add(watch);
    try {
      return await postBatch(this.urls[idx]!, txs, timeoutMs, moved.signal);
    } catch (err) {
      if (moved.signal.aborted) throw new LeaderMoved(`term ${this.knownTerm} leads at ${this.urls[this.submitIdx]}`, { cause: err });
      throw err;
    } finally {
      this.onNewLeader.delete(watch);
    }
  }

  /**
   * Sends to the leader, following NOT_LEADER hints, moving on from unreachable sequencers and from a leader
   * whose lease moved, for up to the request timeout in all; then UNAVAILABLE (retryable). Same ids on every
   * attempt: a transaction that reached a leader twice is refused as a duplicate.
   */
  async forward(batch: Waiting[]): Promise<void> {
    const startMs = this.clock.now();
    const deadline = startMs + this.requestTimeoutMs;
    let hops = 0;
    let moves = 0;
    let todo = batch;
    let why = 'no sequencer answered';
    while (todo.length > 0) {
      const idx = this.submitIdx;
      const url = this.urls[idx]!;
      const retry: Waiting[] = [];
      let moved = false;
      try {
        const answer = await this.post(idx, todo.map((w) => w.tx), Math.max(MIN_ATTEMPT_MS, deadline - this.clock.now()));
        if (answer.term !== undefined) this.learnTerm(answer.term, idx);
        const now = this.clock.now();
        todo.forEach((w, i) => {
          const e = answer.results[i]?.error;
          if (e?.code === 'TPSLAB_E_NOT_LEADER') {
            why = e.message;
            const hinted = e.details?.leaderUrl ? this.urls.indexOf(e.details.leaderUrl.replace(/\/+$/, '')) : -1;
            if (this.submitIdx === idx) this.submitIdx = hinted >= 0 && hinted !== idx ? hinted : (idx + 1) % this.urls.length;
            hops++;
            retry.push(w);
          } else {
            // A duplicate is pending at the leader (an earlier forward whose answer was lost, another node's):
            // tracked like an accepted one, so it is resent if that leader goes. Nobody else may hold it.
            // Without a term (the answering sequencer stepped down meanwhile), it is resent to the next leader.
            if (!e || e.code === 'TPSLAB_E_DUPLICATE') this.host.track(w.tx, answer.term ?? 0, now, w.failureMark);
            w.resolve(e ? new TpslabError(isErrorCode(e.code) ? e.code : 'TPSLAB_E_REMOTE', e.message) : undefined);
          }
        });
      } catch (err) {
        moved = err instanceof LeaderMoved;
        why = `${url}: ${moved ? (err as Error).message : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message)}`;
        if (moved) {
          moves++;
          console.log(`node: forward of ${todo.length} to ${url} dropped after ${this.clock.now() - startMs} ms (${(err as Error).message}); sending there: ${someIds(todo.map((w) => w.tx))}`);
        } else if (this.submitIdx === idx) this.submitIdx = (idx + 1) % this.urls.length;
        retry.push(...todo);
      }
      todo = retry;
      if (todo.length === 0 || this.clock.now() > deadline || this.host.closed()) break;
      if (!moved) await new Promise((r) => setTimeout(r, 50));
    }
    const tookMs = this.clock.now() - startMs;
    if (todo.length > 0) console.log(`node: forward gave up on ${todo.length} of ${batch.length} transactions after ${tookMs} ms (${why}): ${someIds(todo.map((w) => w.tx))}`);
    else if (tookMs > SLOW_FORWARD_MS) console.log(`node: forward of ${batch.length} transactions took ${tookMs} ms (${hops} NOT_LEADER answers, ${moves} leader moves): ${someIds(batch.map((w) => w.tx))}`);
    const e = new TpslabError('TPSLAB_E_UNAVAILABLE', `no sequencer leader took the transaction (${why}); retry the same transaction`);
    for (const w of todo) w.resolve(e);
  }

  private learnTerm(term: number, leaderIdx: number): void {
    if (term <= this.knownTerm) return;
    console.log(`node: leader term ${term} at ${this.urls[leaderIdx]} (was ${this.knownTerm}); ${this.host.pending.size} pending`);
    this.knownTerm = term;
    this.submitIdx = leaderIdx;
    for (const moved of this.onNewLeader) moved(leaderIdx);
    void this.resendPending();
  }

  /**
   * Asks every sequencer who leads (the newest term wins) and how far it is, each answer taken as it comes:
   * one that does not answer (paused) delays nothing, and is not asked again until it has. A feed that
   * delivers nothing while another sequencer is ahead (its sequencer paused or cut off) is dropped for the next one.
   */
  private pollLeader(): void {
    this.urls.forEach((u, i) => {
      if (this.asking.has(i)) return;
      this.asking.add(i);
      void fetchLeader(u, LEADER_POLL_TIMEOUT_MS).then((a) => {
        const idx = a.leader ? this.urls.indexOf(a.leader.url.replace(/\/+$/, '')) : -1;
        if (a.leader && idx >= 0) this.learnTerm(a.leader.term, idx);
        const feed = this.host.feed;
        if ((a.height ?? 0) > this.host.height() && this.clock.now() - feed.lastFeedMs > FEED_STALL_MS) {
          feed.lastFeedMs = this.clock.now();
          feed.reconnect(); // to the next sequencer
        }
      }, () => undefined).finally(() => this.asking.delete(i));
    });
    void this.resendPending();
  }

  /**
   * Sends again, to the leader of the newest term, what an older leader accepted and did not commit (its
   * mempool is gone). Same bytes, same ids: a duplicate is refused, so nothing runs twice.
   */
  private async resendPending(): Promise<void> {
    if (this.resending || this.host.closed()) return;
    const term = this.knownTerm;
    const stale: Pending[] = [];
    try {
      for (const [k, p] of this.host.pending) {
        if (p.term >= term) continue;
        if (this.host.isIndexed(k)) this.host.pending.delete(k);
        else stale.push(p);
      }
    } catch (err) {
      // Called without waiting (void): thrown on, an unhandled rejection would end the process.
      console.log(`node: resend for term ${term} could not check which pending transactions are committed: ${(err as Error).message}`);
      return;
    }
    if (stale.length === 0) return;
    this.resending = true;
    const idx = this.submitIdx;
    const url = this.urls[idx]!;
    try {
      for (let i = 0; i < stale.length; i += this.batchMax) {
        // A newer leader learned between two parts: the rest goes to it, from the next poll.
        if (this.submitIdx !== idx || this.knownTerm !== term) return;
        const part = stale.slice(i, i + this.batchMax);
        const answer = await this.post(idx, part.map((p) => p.tx), this.requestTimeoutMs);
        if (answer.term === undefined || answer.term < term) {
          console.log(`node: resend of ${stale.length} to ${url} for term ${term}: answered as term ${answer.term ?? 'none'} (${answer.results[0]?.error?.code ?? 'ok'}); later`);
          return; // not the leader of that term: later
        }
        const codes: Record<string, number> = {};
        part.forEach((p, j) => {
          const e = answer.results[j]?.error;
          codes[e?.code ?? 'ok'] = (codes[e?.code ?? 'ok'] ?? 0) + 1;
          if (!e || e.code === 'TPSLAB_E_DUPLICATE') p.term = answer.term!;
          else if (!(isErrorCode(e.code) && new TpslabError(e.code, '').retryable)) {
            console.log(`node: resent ${p.tx.id.toString('hex').slice(0, 16)} refused for good by term ${answer.term}: ${e.code} ${e.message}`);
            this.host.fail(p.tx, isErrorCode(e.code) ? e.code : 'TPSLAB_E_REMOTE', e.message);
          }
        });
        console.log(`node: resent ${part.length} to ${url} (term ${answer.term}): ${JSON.stringify(codes)}`);
      }
    } catch (err) {
      // The leader is not reachable yet: the next poll tries again.
      console.log(`node: resend of ${stale.length} to ${url} for term ${term} failed: ${(err as Error).message}`);
    } finally {
      this.resending = false;
    }
  }
}
