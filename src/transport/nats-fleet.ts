/**
 * The executor over NATS: each assignment is a job run by a beacon that joined.
 * Control goes by acknowledged request; reports come back sequence-checked
 * (nats-overseer.ts). A beacon silent for twice the heartbeat interval is
 * missing: its unfinished jobs' unsent work is split by whole sender ranges
 * among the beacons left (reassign.ts), and the new jobs start at once (their
 * intended times are in the past, so their lag shows). What the missing beacon
 * reported stays counted; reconciliation decides what committed.
 *
 * runScenario sees one beacon per assignment as before: reports of every job
 * of assignment b are merged into beacon b's (counts added; its `done` once
 * every live job of b is done).
 */
import { TpslabError, asTpslabError } from '../errors.js';
import type { Fleet, FleetEvents } from '../harness/fleet.js';
import { PROTOCOL_VERSION, type Assign, type BeaconMessage, type DigestAnswer, type DoneMessage, type OverseerMessage, type ProgressMessage } from '../harness/messages.js';
import { SetDigest } from '../harness/set-digest.js';
import type { BeaconClock } from '../web/contract.js';
import type { WireMessage } from './nats-messages.js';
import type { NatsOverseer } from './nats-overseer.js';
import { splitRange, splitUnsentInSlices, type JobPart } from './reassign.js';

interface Job {
  id: string;
  beacon: number;
  owner: string;
  assign: Assign;
  skip: number;
  /** Max mode: senders another beacon sent from in this run (their nonces are learned from the network). */
  takeover?: boolean;
  ready: boolean;
  dead: boolean;
  /** Dead, and its unsent work is being split (a walk in slices): until its parts exist, its assignment is neither ready nor done. */
  splitting?: boolean;
  last?: ProgressMessage;
  done?: DoneMessage;
}

type Counts = Pick<DoneMessage, 'sent' | 'committed' | 'failed' | 'failures' | 'lost' | 'expired' | 'late' | 'retries'>;
const COUNT_KEYS = ['sent', 'committed', 'failed', 'failures', 'lost', 'expired', 'late', 'retries'] as const;

export interface Reassignment {
  from: string;
  job: string;
  to: string[];
  /** Unsent plan entries moved (0 in max mode, where the sender range is taken over). */
  entries: number;
  /** Max mode: the missing beacon's sender range was taken over for the rest of the run. */
  max?: boolean;
  /** From the missing beacon's last heartbeat to the new jobs acknowledged. */
  tookMs: number;
}

export interface NatsFleetOptions {
  /** Transactions a reassignment's walk takes between two turns of the event loop (default SPLIT_STEPS_PER_TURN, reassign.ts). */
  stepsPerTurn?: number;
}

export class NatsFleet implements Fleet {
  private readonly jobs = new Map<string, Job>();
  private readonly byBeacon = new Map<number, Job[]>();
  private readonly missing = new Set<string>();
  private readonly readySent = new Set<number>();
  private readonly doneSent = new Set<number>();
  private startAtMs: number | undefined;
  private reassignments = 0;
  /** Reconciliation questions to an assignment go to each of its live jobs; the answers are added up. */
  private readonly asked = new Map<string, { jobs: Set<string>; answers: DigestAnswer[] }>();
  readonly reassigned: Reassignment[] = [];
  /** Assignment index → its owner's first send, on the owner's clock. */
  private readonly firstSends = new Map<number, number>();
  /** Assignment index → the last `ready` of its jobs (held back while a job of it is being split). */
  private readonly readies = new Map<number, Extract<BeaconMessage, { type: 'ready' }>>();
  private closed = false;
  /** `stop` was broadcast: it reached only the jobs that existed then, so no job starts after it. */
  private stopped = false;
  /** Splits of lost jobs' unsent work, one walk at a time, first in first out: the first finishes first (interleaved, k splits all ended near k times one). */
  private splits: Promise<void> = Promise.resolve();

  constructor(
    private readonly session: NatsOverseer,
    private readonly names: readonly string[],
    private readonly events: FleetEvents,
    private readonly opts: NatsFleetOptions = {},
  ) {}

  private log(line: string): void {
    this.session.o.log(line);
  }

  launch(assigns: readonly Assign[]): void {
    for (const a of assigns) {
      const owner = this.names[a.beacon];
      if (!owner) {
        this.events.failure(new TpslabError('TPSLAB_E_INTERNAL', `assignment ${a.beacon} has no beacon (${this.names.length} joined)`));
        continue;
      }
      const j: Job = { id: `b${a.beacon}`, beacon: a.beacon, owner, assign: a, skip: 0, ready: false, dead: false };
      if (this.missing.has(owner)) {
        // Went missing before its work was sent: give the whole share to the beacons left.
        this.track(j);
        this.reassign(j, owner, this.session.clock.now(), 0);
      } else void this.addJob(j);
    }
  }

  private addJob(j: Job): Promise<void> {
    this.track(j);
    const m: WireMessage = { type: 'control', job: j.id, msg: j.assign, ...(j.skip ? { skip: j.skip } : {}), ...(j.takeover ? { takeover: true } : {}), ...(this.startAtMs !== undefined ? { startAtMs: this.startAtMs } : {}) };
    return this.session.control(j.owner, m).catch((err: unknown) => this.unreachable(j.owner, err));
  }

  broadcast(m: OverseerMessage): void {
    if (m.type === 'start') this.startAtMs = m.atMs;
    if (m.type === 'stop') this.stopped = true;
    for (const owner of this.liveOwners()) {
      this.session.control(owner, { type: 'control', job: '*', msg: m }).catch((err: unknown) => this.unreachable(owner, err));
    }
  }

  /** To every live job of assignment `beacon` (a reassigned share lives in several); their answers are added up. */
  send(beacon: number, m: OverseerMessage): void {
    const jobs = this.jobsOf(beacon).filter((j) => !j.dead);
    if (m.type === 'digest-query') {
      this.asked.set(`${beacon}/${m.query}`, { jobs: new Set(jobs.map((j) => j.id)), answers: [] });
      if (jobs.length === 0) this.answered(beacon, m.query);
    }
    for (const j of jobs) this.session.control(j.owner, { type: 'control', job: j.id, msg: m }).catch((err: unknown) => this.unreachable(j.owner, err));
  }

  private answered(beacon: number, query: number): void {
    const key = `${beacon}/${query}`;
    const a = this.asked.get(key)!;
    if (a.jobs.size > 0) return;
    this.asked.delete(key);
    const n = Math.max(0, ...a.answers.map((x) => x.cells.length));
    const cells = Array.from({ length: n }, (_, k) => {
      const d = new SetDigest();
      const ids: string[] = [];
      let withIds = false;
      for (const x of a.answers) {
        const c = x.cells[k];
        if (!c) continue;
        d.merge(c);
        if (!c.ids) continue;
        withIds = true;
        ids.push(...c.ids);
      }
      return { ...d.toJson(), ...(withIds ? { ids } : {}) };
    });
    this.events.message({ v: PROTOCOL_VERSION, type: 'digest-answer', beacon, query, cells });
  }

  close(): void {
    this.closed = true;
    for (const name of this.names) {
      if (this.missing.has(name)) continue;
      this.session.forget(name);
      this.session.control(name, { type: 'release', reason: 'the run is over' }).catch(() => undefined);
    }
  }

  /** Each assignment's beacon: its name, clock offset to the overseer, and its first send after the start (overseer clock). */
  clocks(): ReadonlyMap<number, BeaconClock> {
    const joined = new Map(this.session.joined().map((j) => [j.name, j]));
    const out = new Map<number, BeaconClock>();
    this.names.forEach((name, beacon) => {
      const j = joined.get(name);
      const first = this.firstSends.get(beacon);
      out.set(beacon, {
        name,
        ...(j ? { clockOffsetMs: j.offsetMs, clockUncertaintyMs: j.uncertaintyMs } : {}),
        ...(j && first !== undefined && this.startAtMs !== undefined ? { firstSendAfterStartMs: first + j.offsetMs - this.startAtMs } : {}),
      });
    });
    return out;
  }

  private liveOwners(): string[] {
    return this.names.filter((n) => !this.missing.has(n));
  }

  /** A control message was never acknowledged: the beacon counts as missing. */
  private unreachable(name: string, err: unknown): void {
    if (this.missing.has(name)) return;
    this.log(`beacon ${name} did not acknowledge a control message (${(err as Error).message})`);
    this.onMissing(name, Number.NaN);
  }

  onReport(name: string, w: WireMessage): void {
    if (w.type === 'first-send') {
      // The beacon's own share only (a reassigned job starts late by design).
      const j = this.jobs.get(w.job);
      if (j && j.owner === name && j.id === `b${j.beacon}`) this.firstSends.set(j.beacon, w.atMs);
      return;
    }
    if (w.type !== 'report') return;
    const j = this.jobs.get(w.job);
    if (!j || j.owner !== name) return void this.log(`ignored a report from beacon ${name} for job ${w.job}, which is not its`);
    if (j.dead) return; // declared missing: its work moved on, later reports would count twice
    const m = w.msg;
    if (m.type === 'ready') {
      j.ready = true;
      this.maybeReady(j.beacon, m);
    } else if (m.type === 'progress') {
      j.last = m;
      this.events.message({ ...m, beacon: j.beacon, ...this.sum(j.beacon), inFlight: this.inFlight(j.beacon), height: this.height(j.beacon, m.height) });
    } else if (m.type === 'done') {
      j.done = m;
      this.maybeDone(j.beacon);
    } else if (m.type === 'digest-answer') {
      const a = this.asked.get(`${j.beacon}/${m.query}`);
      if (!a?.jobs.delete(j.id)) return;
      a.answers.push(m);
      this.answered(j.beacon, m.query);
    } else if (m.type === 'error') this.events.message({ ...m, beacon: j.beacon, message: `(on ${name}) ${m.message}` });
    else if (m.type === 'outcomes') this.events.message({ ...m, beacon: j.beacon });
    else this.events.message({ ...m, beacon: j.beacon, line: `(${name}) ${m.line}` });
  }

  private jobsOf(beacon: number): Job[] {
    return this.byBeacon.get(beacon) ?? [];
  }

  private track(j: Job): void {
    this.jobs.set(j.id, j);
    // Indexed by assignment: every report sums its assignment's jobs (a scan of all jobs was quadratic in beacons).
    const list = this.byBeacon.get(j.beacon);
    if (list) list.push(j);
    else this.byBeacon.set(j.beacon, [j]);
  }

  /** Counts of assignment b: every job's latest (a dead job's last report stays counted). */
  private sum(beacon: number): Counts & { errors: Record<string, number> } {
    const t: Counts & { errors: Record<string, number> } = { sent: 0, committed: 0, failed: 0, failures: 0, lost: 0, expired: 0, late: 0, retries: 0, errors: {} };
    for (const j of this.jobsOf(beacon)) {
      const x = j.done ?? j.last;
      if (!x) continue;
      for (const k of COUNT_KEYS) t[k] += x[k];
      for (const [code, n] of Object.entries(x.errors)) t.errors[code] = (t.errors[code] ?? 0) + n;
    }
    return t;
  }

  private inFlight(beacon: number): number {
    return this.jobsOf(beacon).reduce((n, j) => n + (j.dead || j.done ? 0 : (j.last?.inFlight ?? 0)), 0);
  }

  private height(beacon: number, h: number): number {
    return Math.max(h, ...this.jobsOf(beacon).map((j) => j.last?.height ?? 0));
  }

  private maybeReady(beacon: number, m: Extract<BeaconMessage, { type: 'ready' }>): void {
    this.readies.set(beacon, m);
    const jobs = this.jobsOf(beacon);
    if (this.readySent.has(beacon) || jobs.some((j) => (!j.dead && !j.ready) || j.splitting)) return;
    this.readySent.add(beacon);
    this.events.message({ ...m, beacon });
  }

  private maybeDone(beacon: number): void {
    const jobs = this.jobsOf(beacon);
    if (this.doneSent.has(beacon) || jobs.some((j) => (!j.dead && !j.done) || j.splitting)) return;
    this.doneSent.add(beacon);
    const done = jobs.filter((j) => j.done).map((j) => j.done!);
    const outcomes = done.flatMap((d) => d.outcomes ?? []);
    this.events.message({
      v: PROTOCOL_VERSION,
      type: 'done',
      beacon,
      ...this.sum(beacon),
      inFlight: 0,
      committedDigest: done.reduce((t, d) => t.merge(d.committedDigest), new SetDigest()).toJson(),
      ...(done.some((d) => d.outcomes) ? { outcomes } : {}),
    });
  }

  /** A beacon fell silent: reassign the unsent work of its unfinished jobs. */
  onMissing(name: string, silentMs: number): void {
    if (this.missing.has(name) || !this.names.includes(name)) return;
    this.missing.add(name);
    this.session.forget(name);
    const began = this.session.clock.now();
    const lost = [...this.jobs.values()].filter((j) => j.owner === name && !j.dead && !j.done);
    this.log(`beacon ${name} is missing (${Number.isNaN(silentMs) ? 'unreachable' : `silent ${Math.round(silentMs)} ms`}); ${lost.length ? `reassigning ${lost.length} unfinished job${lost.length === 1 ? '' : 's'}` : 'it had finished its work'}`);
    // If it is alive after all (a long stall), it stops rather than send what is now another beacon's.
    this.session.control(name, { type: 'release', reason: 'declared missing; its work was reassigned' }).catch(() => undefined);
    // Reconciliation questions to its jobs will not be answered: what they saw committed is unknown (it shows as unexpected).
    for (const [key, a] of this.asked) {
      for (const j of a.jobs) if (this.jobs.get(j)?.owner === name) a.jobs.delete(j);
      const [beacon, query] = key.split('/').map(Number);
      this.answered(beacon!, query!);
    }
    for (const j of lost) this.reassign(j, name, began, silentMs);
  }

  /** Marks job j dead and moves its unsent plan entries to the beacons left, by sender range. */
  private reassign(j: Job, name: string, began: number, silentMs: number): void {
    if (this.closed) return;
    if (this.stopped) {
      j.dead = true;
      return this.unplaced(j, name);
    }
    const survivors = this.liveOwners();
    if (survivors.length === 0) {
      this.events.failure(noBeaconLeft(name));
      return;
    }
    j.dead = true;
    if (j.assign.mode !== 'open') {
      // Max mode: its senders are taken over, whole sub-ranges, for the rest of the run's duration.
      const parts = splitRange(j.assign, survivors.length);
      const first = this.reassignments;
      const to = parts.map((_, k) => survivors[(first + k) % survivors.length]!);
      const acks = parts.map((p, k) => this.addJob({ id: `${j.id}.r${++this.reassignments}`, beacon: j.beacon, owner: to[k]!, assign: p, skip: 0, takeover: true, ready: false, dead: false }));
      const leftMs = this.startAtMs === undefined ? j.assign.maxDurationMs : Math.max(0, this.startAtMs + j.assign.maxDurationMs - this.session.clock.now());
      void Promise.all(acks).then(() => {
        const r: Reassignment = { from: name, job: j.id, to, entries: 0, max: true, tookMs: this.session.clock.now() - began + (Number.isNaN(silentMs) ? 0 : silentMs) };
        this.reassigned.push(r);
        const ranges = parts.map((p, k) => `${to[k]} (${p.accounts.start}..${p.accounts.end - 1})`).join(', ');
        this.log(`job ${j.id}: max-mode senders ${j.assign.accounts.start}..${j.assign.accounts.end - 1} of ${name} taken over by ${ranges} for the remaining ${(leftMs / 1000).toFixed(1)} s, ${r.tookMs.toFixed(0)} ms after its last heartbeat`);
      });
    } else {
      // Walked in slices (a described share walks the whole run: seconds for a long one), so heartbeats and
      // reports are handled meanwhile; until the parts exist, `splitting` keeps the assignment from looking done.
      j.splitting = true;
      this.splits = this.splits.then(() => this.split(j, name, began, silentMs));
    }
    this.maybeDone(j.beacon);
  }

  /** Dead job j's turn in the queue of splits: walks its unsent work among the beacons live now and places the parts; never rejects (a failure fails the run). */
  private async split(j: Job, name: string, began: number, silentMs: number): Promise<void> {
    try {
      const sentBefore = j.skip + (j.last?.sent ?? 0);
      const parts = this.closed || this.stopped ? undefined : await splitUnsentInSlices(j.assign, sentBefore, this.liveOwners().length, { ...(this.opts.stepsPerTurn ? { stepsPerTurn: this.opts.stepsPerTurn } : {}), cancelled: () => this.closed || this.stopped });
      j.splitting = false;
      if (parts) this.place(j, name, parts, began, silentMs);
      else if (!this.closed) this.unplaced(j, name);
    } catch (err) {
      j.splitting = false;
      this.events.failure(asTpslabError(err, 'TPSLAB_E_INTERNAL'));
    }
  }

  /** The run was stopped before dead job j's unsent work was placed: it stays unsent (the counts say what was sent), and its assignment can finish. */
  private unplaced(j: Job, name: string): void {
    this.log(`job ${j.id}: the run was stopped before the unsent work of ${name} was moved; it stays unsent`);
    this.maybeDone(j.beacon);
  }

  /** Starts the parts of dead job j's unsent work on the beacons live now (some may have gone missing during the walk). */
  private place(j: Job, name: string, parts: JobPart[], began: number, silentMs: number): void {
    if (this.closed) return;
    if (this.stopped) return this.unplaced(j, name);
    const survivors = this.liveOwners();
    if (survivors.length === 0 && parts.length > 0) {
      this.events.failure(noBeaconLeft(name));
      return;
    }
    const first = this.reassignments;
    const to = parts.map((_, k) => survivors[(first + k) % survivors.length]!);
    const acks = parts.map((p, k) => this.addJob({ id: `${j.id}.r${++this.reassignments}`, beacon: j.beacon, owner: to[k]!, assign: p.assign, skip: p.skip, ready: false, dead: false }));
    const entries = parts.reduce((n, p) => n + p.entries - p.skip, 0);
    void Promise.all(acks).then(() => {
      const r: Reassignment = { from: name, job: j.id, to, entries, tookMs: this.session.clock.now() - began + (Number.isNaN(silentMs) ? 0 : silentMs) };
      this.reassigned.push(r);
      this.log(`job ${j.id}: ${entries} unsent transaction${entries === 1 ? '' : 's'} of ${name} moved to ${to.join(', ') || 'nobody (all sent)'} by sender range, ${r.tookMs.toFixed(0)} ms after its last heartbeat`);
    });
    // With no part to place and no ready seen (its beacon left before the start, having sent nothing, or its share was empty), nothing else would say ready: 0 transactions.
    const ready = this.readies.get(j.beacon) ?? (parts.length === 0 ? { v: PROTOCOL_VERSION, type: 'ready' as const, beacon: j.beacon, txs: 0, prepareMs: 0 } : undefined);
    if (ready) this.maybeReady(j.beacon, ready);
    this.maybeDone(j.beacon);
  }
}

/** Every beacon is missing: the run cannot go on. */
function noBeaconLeft(name: string): TpslabError {
  return new TpslabError(
    'TPSLAB_E_BEACON',
    `beacon ${name} is missing and no beacon is left to take over its work; check the beacons' hosts and their connection to the NATS server, then run again (more beacons let the run survive losing one)`,
  );
}
