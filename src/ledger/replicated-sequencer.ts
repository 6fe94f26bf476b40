/**
 * A sequencer in replicated ordering (`tpslab sequencer --nats`): several of them share one JetStream
 * stream (ordering-log.ts) and one lease (lease.ts).
 *
 * - Follower: applies every block of the stream to its own chain (local log, index, state), serves reads
 *   and the block feed to nodes, refuses transactions with TPSLAB_E_NOT_LEADER naming the leader.
 * - Taking over (won the lease): catches up to the stream's last entry, then appends a marker with that
 *   entry as the expected last sequence. Once the marker is in, any append by the previous leader fails.
 * - Leader: cuts blocks (sequencer.ts) and appends each with the expected last sequence before it
 *   commits. A refused append, or a lease it could not renew, makes it step down: it stops cutting,
 *   resigns the lease, reopens its chain from its local log (dropping blocks that never reached the
 *   stream) and follows the stream again. Transactions it held are resent by the nodes.
 */
import { EventEmitter } from 'node:events';
import type { NatsConnection } from '@nats-io/transport-node';
import { systemClock, type Clock } from '../clock.js';
import { TpslabError } from '../errors.js';
import type { Block } from '../protocol/block.js';
import type { SignedTx } from '../protocol/tx.js';
import { connectNats, type NatsOptions } from '../transport/nats-connect.js';
import type { RecoveryReport } from './block-log.js';
import type { StageSink } from './chain-service.js';
import type { ReplayProgress, StartupReport } from './chain-store.js';
import type { Genesis } from './genesis.js';
import { LeaderLease, kvLeaseStore } from './lease.js';
import type { OrderingStats } from './ordering-metrics.js';
import { OrderingLog, isFenced, type LogEntry } from './ordering-log.js';
import { DEFAULT_SEQUENCER_OPTIONS, Sequencer, type SequencerConfig, type TxStatus } from './sequencer.js';
import type { HeadInfo, LedgerService, LedgerServiceEvents } from './service.js';
import type { LedgerState, TxEffect } from './state.js';

export interface ReplicatedOptions {
  nats: NatsOptions;
  /** This sequencer's name in the lease (unique among the network's sequencers). */
  sequencerId: string;
  /** How long a lease lasts without renewal; a follower takes over this long after the last renewal it saw. */
  leaseMs: number;
  /** Stream and lease bucket replicas: 3 on a three-server cluster. */
  replicas: number;
  requestTimeoutMs?: number;
}

export interface LeaderInfo {
  term: number;
  id: string;
  url: string;
  /** True when this sequencer is the leader. */
  self: boolean;
}

/** How long opening the ordering log is retried (a cluster still electing, a stream being created). */
const OPEN_RETRY_MS = 30_000;
/** How often a follower checks that it keeps up with the stream. */
const FOLLOWER_CHECK_MS = 1000;

type Mode = 'follower' | 'taking-over' | 'leader' | 'stepping-down' | 'closed';

export class ReplicatedSequencer extends EventEmitter<LedgerServiceEvents> implements LedgerService {
  readonly role = 'sequencer' as const;
  private mode: Mode = 'follower';
  private leadingTerm: number | undefined;
  /** Expected last sequence of the next append while leading. */
  private nextSeq = 0;
  /** Last stream entry applied (or appended) here. */
  private appliedSeq = 0;
  private follower: { stop(): Promise<void> } | undefined;
  private transition: Promise<void> = Promise.resolve();
  private lease: LeaderLease | undefined;
  private fatal: TpslabError | undefined;
  /** Appends the stream refused (a newer leader had appended): how often this process was fenced out. */
  appendsRefused = 0;
  /** Terms this process won. */
  termsLed = 0;
  /** Times this process stopped leading (append refused or failed, lease lost). */
  stepDowns = 0;
  private watchdogTimer: unknown;
  private watchedSeq = -1;

  private constructor(
    private inner: Sequencer,
    private readonly log: OrderingLog,
    private readonly nc: NatsConnection,
    private readonly dataDir: string,
    private readonly config: SequencerConfig,
    private readonly opts: ReplicatedOptions,
    private readonly clock: Clock,
  ) {
    super();
    this.attach(inner);
  }

  /** Opens the local chain and the ordering log, and starts following it; `start` joins the election. */
  static async open(dataDir: string, genesis: Genesis, config: SequencerConfig, opts: ReplicatedOptions, onReplay?: ReplayProgress, clock: Clock = systemClock): Promise<ReplicatedSequencer> {
    const nc = await connectNats({ ...opts.nats, name: opts.nats.name ?? `tpslab sequencer ${opts.sequencerId}` });
    let log: OrderingLog | undefined;
    // A fresh cluster may still be electing, or busy creating the stream for another sequencer: retry a while.
    const deadline = clock.now() + OPEN_RETRY_MS;
    while (!log) {
      try {
        log = await OrderingLog.open(nc, genesis, { replicas: opts.replicas, requestTimeoutMs: opts.requestTimeoutMs ?? 2000 });
      } catch (err) {
        if (err instanceof TpslabError || clock.now() > deadline) {
          await nc.close();
          throw err instanceof TpslabError ? err : new TpslabError('TPSLAB_E_NATS', `cannot set up the ordering log on NATS at ${opts.nats.url}: ${(err as Error).message}; is JetStream enabled on every server (nats-server -js) and the cluster up?`, { cause: err });
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    // A block is one stream message: never larger than the server takes.
    const sized: SequencerConfig = { ...config, blockMaxBytes: Math.min(config.blockMaxBytes ?? DEFAULT_SEQUENCER_OPTIONS.blockMaxBytes, log.maxMessageBytes) };
    const inner = await Sequencer.open(dataDir, genesis, sized, clock, 'sequencer', onReplay);
    const seq = new ReplicatedSequencer(inner, log, nc, dataDir, sized, opts, clock);
    try {
      await seq.checkLocalLog();
      await seq.startFollowing();
    } catch (err) {
      await inner.close();
      await nc.close();
      throw err;
    }
    return seq;
  }

  /**
   * A follower whose consumer went quiet while the stream moved on (its server died, a stream leader
   * changed) is restarted from its own height: checked every second.
   */
  private scheduleWatchdog(): void {
    this.watchdogTimer = this.clock.setTimeout(() => {
      void this.checkFollower().finally(() => {
        if (this.mode !== 'closed' && !this.fatal) this.scheduleWatchdog();
      });
    }, FOLLOWER_CHECK_MS);
  }

  private async checkFollower(): Promise<void> {
    if (this.mode !== 'follower') return;
    const last = await this.log.lastSeq().catch(() => undefined);
    const stalled = last !== undefined && this.appliedSeq < last && this.appliedSeq === this.watchedSeq;
    this.watchedSeq = this.appliedSeq;
    if (!stalled) return;
    await this.queue(async () => {
      if (this.mode !== 'follower') return;
      console.error(`sequencer ${this.opts.sequencerId}: following stalled at entry ${this.appliedSeq} of ${last}; following again`);
      await this.follower?.stop();
      this.follower = undefined;
      await this.followAgain();
    });
  }

  /** Joins the election, announcing `url` as where the leader takes transactions. */
  start(url: string): void {
    this.scheduleWatchdog();
    const lease = new LeaderLease(kvLeaseStore(this.log.kv), { id: this.opts.sequencerId, url }, this.opts.leaseMs, {
      elected: (term) => void this.queue(() => this.takeOver(term)),
      lost: (reason) => void this.queue(() => this.stepDown(`lease lost: ${reason}`)),
    }, this.clock);
    this.lease = lease;
    lease.eligible = true;
    lease.start();
  }

  private sink: StageSink | undefined;
  /** Stage durations of the inner sequencer (the one after a step-down too), for `tpslab_stage_seconds`. */
  get stageSink(): StageSink | undefined {
    return this.sink;
  }
  set stageSink(sink: StageSink | undefined) {
    this.sink = sink;
    this.inner.stageSink = sink;
  }

  private attach(s: Sequencer): void {
    s.stageSink = this.sink;
    s.on('commit', (c) => this.emit('commit', c));
    s.on('failed', (f) => this.emit('failed', f));
    s.on('retaken', (r) => this.emit('retaken', r));
    s.on('fatal', (e) => this.die(e));
  }

  private queue(step: () => Promise<void>): Promise<void> {
    this.transition = this.transition.then(step).catch((err: unknown) => this.die(new TpslabError('TPSLAB_E_UNAVAILABLE', `replicated ordering failed: ${(err as Error).message}`, { cause: err })));
    return this.transition;
  }

  private die(err: TpslabError): void {
    if (this.fatal) return;
    this.fatal = err;
    this.lease?.close().catch(() => {});
    this.emit('fatal', err);
  }

  /** The local log must be a prefix of the stream: a sequencer never keeps a block the stream lacks. */
  private async checkLocalLog(): Promise<void> {
    const local = this.inner.state.height;
    if (local === 0) return;
    const last = await this.log.lastSeq();
    const e = last > 0 ? await this.log.get(last) : undefined;
    if (!e || e.height < local) {
      throw new TpslabError('TPSLAB_E_LOG_CORRUPT', `the local log in ${this.dataDir} is at block ${local}, the ordering log ${this.log.stream} only at ${e?.height ?? 0}; start this sequencer on an empty --data directory`);
    }
  }

  private async startFollowing(): Promise<void> {
    const from = await this.log.seqAfterHeight(this.inner.state.height);
    this.appliedSeq = from - 1;
    this.follower = await this.log.follow(from, (e) => this.onEntry(e));
  }

  /** startFollowing, retried while NATS is unreachable or electing (a cluster that lost a server). */
  private async followAgain(): Promise<void> {
    for (;;) {
      try {
        await this.startFollowing();
        return;
      } catch (err) {
        if (this.mode === 'closed' || this.fatal || (err instanceof TpslabError && err.code === 'TPSLAB_E_LOG_CORRUPT')) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private onEntry(e: LogEntry): void {
    if (this.fatal || e.seq <= this.appliedSeq || (this.mode !== 'follower' && this.mode !== 'taking-over')) return;
    if (e.kind === 'block' && e.height > this.inner.state.height) {
      try {
        this.inner.applyFollowed(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
      } catch (err) {
        this.die(new TpslabError('TPSLAB_E_LOG_CORRUPT', `block ${e.height} of the ordering log does not apply here: ${(err as Error).message}; start this sequencer on an empty --data directory`, { cause: err }));
        return;
      }
    }
    this.appliedSeq = e.seq;
  }

  private async takeOver(term: number): Promise<void> {
    if (this.mode !== 'follower' || !this.lease?.holding) return;
    this.mode = 'taking-over';
    try {
      for (let attempt = 0; ; attempt++) {
        const last = await this.log.lastSeq();
        const deadline = this.clock.now() + Math.max(5000, this.opts.leaseMs * 4);
        while (this.appliedSeq < last) {
          if (!this.lease.holding || this.fatal) throw new Error('lost the lease while catching up');
          if (this.clock.now() > deadline) throw new Error(`did not catch up to entry ${last} of the ordering log in time`);
          await new Promise((r) => setTimeout(r, 2));
        }
        await this.follower?.stop();
        this.follower = undefined;
        await this.inner.settled();
        const marker = new TextEncoder().encode(JSON.stringify({ term, id: this.opts.sequencerId }));
        try {
          this.appliedSeq = await this.log.append('marker', this.inner.state.height, marker, this.appliedSeq, this.msgId(term, 'marker'));
          break;
        } catch (err) {
          if (!isFenced(err) || attempt >= 5) throw err;
          // Fenced by the last blocks of the previous leader: catch up and try again. Fenced by another
          // sequencer's marker for this term or a later one: that one leads. (Two can win one lease term:
          // the bucket's compare-and-set raced under a NATS server restart with nats-server 2.9.10.)
          const rival = await this.markerSince(this.appliedSeq + 1, term);
          if (rival) throw new Error(`sequencer ${rival.id} took term ${rival.term} first`, { cause: err });
          this.follower = await this.log.follow(this.appliedSeq + 1, (e) => this.onEntry(e));
        }
      }
      if (!this.lease.holding) throw new Error('lost the lease while taking over');
    } catch (err) {
      console.error(`sequencer ${this.opts.sequencerId}: could not take over term ${term}: ${(err as Error).message}; following`);
      this.mode = 'follower';
      await this.lease.resign();
      await this.follower?.stop();
      this.follower = undefined;
      await this.followAgain();
      this.lease.eligible = true;
      return;
    }
    this.nextSeq = this.appliedSeq;
    this.leadingTerm = term;
    this.termsLed++;
    this.mode = 'leader';
    this.inner.replicateTo({
      append: (block, encoded) => this.appendBlock(term, block, encoded),
      failed: (err) => {
        if (this.leadingTerm !== term) return;
        if (isFenced(err)) this.appendsRefused++;
        console.error(`sequencer ${this.opts.sequencerId}: ${isFenced(err) ? 'append refused by the ordering log' : 'append failed'} in term ${term} (${(err as Error).message}): stepping down`);
        void this.queue(() => this.stepDown(`append failed: ${(err as Error).message}`));
      },
    });
    console.log(`sequencer ${this.opts.sequencerId}: leader for term ${term} from block ${this.inner.state.height + 1} (ordering log entry ${this.appliedSeq})`);
  }

  private async appendBlock(term: number, block: Block, encoded: Buffer): Promise<void> {
    const expect = this.nextSeq++;
    for (;;) {
      try {
        this.appliedSeq = Math.max(this.appliedSeq, await this.log.append('block', block.height, encoded, expect, this.msgId(term, String(block.height))));
        return;
      } catch (err) {
        // Unknown outcome (timeout, reconnecting to another server, a stream leader being elected): the same
        // message id makes a retry safe. Retried while the lease holds; without it, the next leader decides.
        if (isFenced(err) || this.leadingTerm !== term || !this.lease?.holding) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * An append's message id: `<term>:<sequencer id>:<block height or 'marker'>`. Unique to this leadership,
   * so the stream's duplicate check (and a retry finding its own entry) never takes another sequencer's
   * entry for ours, even when two sequencers believed they won the same term.
   */
  private msgId(term: number, what: string): string {
    return `${term}:${this.opts.sequencerId}:${what}`;
  }

  /** The first marker from `fromSeq` on that claims `term` or a later one for another sequencer, if any. */
  private async markerSince(fromSeq: number, term: number): Promise<{ id: string; term: number } | undefined> {
    const last = await this.log.lastSeq();
    for (let seq = fromSeq; seq <= last; seq++) {
      const e = await this.log.get(seq);
      if (e?.kind !== 'marker') continue;
      const m = JSON.parse(new TextDecoder().decode(e.data)) as { id: string; term: number };
      if (m.term >= term && m.id !== this.opts.sequencerId) return m;
    }
    return undefined;
  }

  private isClosed(): boolean {
    return this.mode === 'closed';
  }

  private async stepDown(reason: string): Promise<void> {
    if (this.mode !== 'leader') return;
    this.mode = 'stepping-down';
    this.stepDowns++;
    this.leadingTerm = undefined;
    const held = this.inner.mempoolSize;
    this.inner.halt(reason);
    await this.lease?.resign();
    await this.inner.settled();
    // Back to what is in the local log: blocks cut but never appended are dropped with the state they made.
    const old = this.inner;
    if (this.isClosed()) return;
    old.removeAllListeners();
    await old.close();
    if (this.isClosed()) return;
    this.inner = await Sequencer.open(this.dataDir, old.genesis, this.config, this.clock, 'sequencer');
    this.attach(this.inner);
    this.mode = 'follower';
    await this.followAgain();
    console.log(`sequencer ${this.opts.sequencerId}: stepped down (${reason}); ${held} transactions in its mempool dropped; following from block ${this.inner.state.height + 1}`);
    if (this.lease) this.lease.eligible = true;
  }

  /** Counters of leadership for /metrics (ordering-metrics.ts). */
  get orderingStats(): OrderingStats {
    return {
      termsLed: this.termsLed,
      stepDowns: this.stepDowns,
      appendsRefused: this.appendsRefused,
      leaseRenewFailures: this.lease?.renewFailures ?? 0,
      term: this.lease?.newestTerm ?? 0,
      leading: this.mode === 'leader',
    };
  }

  // ---- LedgerService, delegated to the chain this process holds ----

  get leader(): LeaderInfo | undefined {
    const v = this.lease?.leader;
    return v ? { term: v.term, id: v.id, url: v.url, self: this.mode === 'leader' } : undefined;
  }
  /** The term this process leads (answers to nodes carry it), or undefined. */
  get leaderTerm(): number | undefined {
    return this.mode === 'leader' ? this.leadingTerm : undefined;
  }
  get genesis(): Genesis {
    return this.inner.genesis;
  }
  get state(): LedgerState {
    return this.inner.state;
  }
  get recovery(): RecoveryReport {
    return this.inner.recovery;
  }
  get startup(): StartupReport {
    return this.inner.startup;
  }
  get durableHeight(): number {
    return this.inner.durableHeight;
  }
  get durableHead(): HeadInfo {
    return this.inner.durableHead;
  }
  get mempoolSize(): number {
    return this.inner.mempoolSize;
  }
  get logSizeBytes(): number {
    return this.inner.logSizeBytes;
  }
  get unavailableReason(): string | undefined {
    if (this.fatal) return this.fatal.message;
    return this.mode === 'closed' ? 'shutting down' : this.inner.unavailableReason;
  }

  async submitMany(txs: readonly SignedTx[]): Promise<(TpslabError | undefined)[]> {
    if (this.mode !== 'leader') {
      const l = this.leader;
      const e = new TpslabError('TPSLAB_E_NOT_LEADER', `sequencer ${this.opts.sequencerId} is not the leader (${this.mode}); ${l ? `the leader is ${l.id} at ${l.url} (term ${l.term})` : 'no leader is known yet: retry shortly'}`, {
        details: l ? { leaderUrl: l.url, leaderId: l.id, term: l.term } : {},
      });
      return txs.map(() => e);
    }
    return this.inner.submitMany(txs);
  }
  status(id: Buffer): TxStatus {
    return this.inner.status(id);
  }
  readBlock(height: number): Promise<Block> {
    return this.inner.readBlock(height);
  }
  readEncodedBlock(height: number): Promise<Buffer> {
    return this.inner.readEncodedBlock(height);
  }
  effectsOf(block: Block): TxEffect[] {
    return this.inner.effectsOf(block);
  }
  heightOfTopicSeq(topic: string, seq: bigint): number | undefined {
    return this.inner.heightOfTopicSeq(topic, seq);
  }

  async close(): Promise<void> {
    if (this.mode === 'closed') return;
    const wasLeader = this.mode === 'leader';
    this.mode = 'closed';
    this.clock.clearTimeout(this.watchdogTimer);
    this.inner.halt('shutting down');
    await this.lease?.close();
    await this.follower?.stop();
    await this.transition.catch(() => {});
    if (wasLeader) await this.inner.settled().catch(() => {});
    await this.inner.close();
    await this.nc.close();
  }
}
