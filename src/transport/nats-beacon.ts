/**
 * A beacon on another machine: joins a run over NATS, measures its clock
 * offset to the overseer, runs the jobs it is assigned (its share, and any
 * share reassigned from a missing beacon), reports with sequence numbers and
 * resends on request, and beats its heart. If the overseer falls silent it
 * finishes its plan, writes what it would have sent to a file (`tpslab
 * import` loads it) and keeps it to resend when the overseer is heard again.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NoRespondersError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { preciseClock, type Clock } from '../clock.js';
import { TpslabError, asTpslabError } from '../errors.js';
import { createBeacon } from '../harness/beacon-process.js';
import type { Beacon } from '../harness/beacon.js';
import { PROTOCOL_VERSION, type BeaconMessage } from '../harness/messages.js';
import { measureOffset, type ClockOffset } from './clock-sync.js';
import { Liveness } from './liveness.js';
import { REGISTER_SUBJECT, WireMessageSchema, runSubject, type WireMessage } from './nats-messages.js';
import { connectNats, type NatsOptions } from './nats-connect.js';
import { NatsWire, readChunkHeader } from './nats-wire.js';
import { FrameReceiver, FrameSender } from './report-channel.js';
import { decodeFrame, encodeFrame } from './wire-codec.js';

const REQUEST_TIMEOUT_MS = 2000;
const REGISTER_RETRY_MS = 1000;
const CLOCK_ROUNDS = 8;

export interface NatsBeaconOptions extends NatsOptions {
  name: string;
  /** Where results go when the overseer is gone at the end. */
  resultsDir: string;
  /** How long to wait for the overseer (to join a run, and to release it at the end). */
  waitMs: number;
  /** Testing: shift this beacon's clock (ms). */
  clockSkewMs?: number;
  /** Testing: report sequences not published the first time. */
  dropReports?: number[];
  log(line: string): void;
}

export interface NatsBeaconResult {
  runId: string;
  offset: ClockOffset;
  /** Set when the overseer was gone at the end and the results were written. */
  resultsFile?: string;
}

export async function runNatsBeacon(o: NatsBeaconOptions): Promise<NatsBeaconResult> {
  const base = preciseClock;
  const skew = o.clockSkewMs ?? 0;
  const clock: Clock = { now: () => base.now() + skew, setTimeout: base.setTimeout, clearTimeout: base.clearTimeout };
  const nc = await connectNats({ ...o, name: `tpslab-beacon-${o.name}` });
  try {
    return await new NatsBeaconSession(nc, o, clock).run();
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

class NatsBeaconSession {
  private readonly wire: NatsWire;
  private runId = '';
  private offset: ClockOffset = { offsetMs: 0, uncertaintyMs: 0, rounds: 0 };
  private readonly jobs = new Map<string, Beacon>();
  private sender!: FrameSender;
  private startAtMs: number | undefined;
  private overseerGone = false;
  private released!: (reason: string) => void;
  private readonly releasedP = new Promise<string>((r) => (this.released = r));
  private readonly prepared = new Set<string>();
  private readonly started = new Set<string>();
  /** Jobs whose beacon finished (sent `done`). */
  private finished = 0;

  constructor(
    nc: NatsConnection,
    private readonly o: NatsBeaconOptions,
    private readonly clock: Clock,
  ) {
    this.wire = new NatsWire(nc);
  }

  /** Overseer time to this beacon's clock. */
  private local(overseerMs: number): number {
    return overseerMs - this.offset.offsetMs;
  }

  async run(): Promise<NatsBeaconResult> {
    const { runId, heartbeatMs } = await this.register();
    this.runId = runId;
    this.sender = new FrameSender((h, chunk) => this.wire.publishChunk(runSubject(runId, 'report', this.o.name), h, chunk), this.wire.maxChunkBytes);
    for (const s of this.o.dropReports ?? []) this.sender.dropOnce.add(s);
    const control = new FrameReceiver({
      deliver: (frame) => this.onControl(decodeFrame(frame, WireMessageSchema, 'the overseer')),
      askResend: () => undefined, // control chunks are acknowledged one by one: the overseer resends what we did not ack
      clock: this.clock,
      resendAfterMs: heartbeatMs,
    });
    this.wire.nc.subscribe(runSubject(runId, 'ctl', this.o.name), {
      callback: (err, msg) => {
        if (err) return;
        try {
          control.onChunk(readChunkHeader(msg), msg.data);
          msg.respond(encodeFrame({ type: 'ack' }));
        } catch (e) {
          this.o.log(`bad control message: ${(e as Error).message}`);
        }
      },
    });
    this.offset = await measureOffset(() => this.clock.now(), async (t0) => {
      const r = await this.wire.request(runSubject(runId, 'clock'), { type: 'clock', name: this.o.name, t0 }, REQUEST_TIMEOUT_MS, 'the overseer');
      if (r.type !== 'clock-reply') throw new TpslabError('TPSLAB_E_WIRE', `the overseer answered a clock probe with "${r.type}"`);
      return r.t1;
    }, CLOCK_ROUNDS);
    this.o.log(`joined run ${runId} as ${this.o.name}; clock offset to the overseer ${fmt(this.offset.offsetMs)} ms ± ${this.offset.uncertaintyMs.toFixed(2)} ms`);

    // Heartbeats both ways: ours carry the last report sequence, so a lost last report is noticed.
    const overseer = new Liveness(this.clock, heartbeatMs, () => {
      this.overseerGone = true;
      this.o.log(`the overseer is silent (more than ${2 * heartbeatMs} ms); finishing the plan and keeping the results`);
    });
    this.wire.nc.subscribe(runSubject(runId, 'hb', 'overseer'), {
      callback: () => {
        if (this.overseerGone) this.o.log('the overseer is back');
        this.overseerGone = false;
        overseer.seen('overseer');
      },
    });
    overseer.seen('overseer');
    overseer.start();
    let beat: unknown;
    const heartbeat = (): void => {
      this.wire.publish(runSubject(runId, 'hb', 'beacon'), { type: 'heartbeat', name: this.o.name, lastSeq: this.sender.lastSeq, nowMs: this.clock.now() });
      beat = this.clock.setTimeout(heartbeat, heartbeatMs);
    };
    heartbeat();

    await this.wire.request(runSubject(runId, 'hello'), { type: 'hello', name: this.o.name, ...this.offset }, REQUEST_TIMEOUT_MS, 'the overseer');
    let resultsFile: string | undefined;
    let goneSinceMs: number | undefined;
    try {
      // Until released. When the jobs are done and the overseer is gone, write the results once
      // and keep them for resending until it comes back (or --wait passes).
      for (;;) {
        const reason = await Promise.race([this.releasedP, timeout(this.clock, heartbeatMs).then(() => undefined)]);
        if (reason !== undefined) {
          this.o.log(`released by the overseer (${reason})`);
          break;
        }
        goneSinceMs = this.overseerGone ? (goneSinceMs ?? this.clock.now()) : undefined;
        if (this.jobs.size === 0 && goneSinceMs !== undefined && this.clock.now() - goneSinceMs > this.o.waitMs) {
          throw new TpslabError('TPSLAB_E_NATS', `the overseer of run ${runId} went silent before assigning work and did not come back within ${this.o.waitMs / 1000} s`);
        }
        if (this.jobs.size > 0 && this.finished === this.jobs.size && this.overseerGone && !resultsFile) {
          resultsFile = await this.writeResults();
          this.o.log(`the overseer is gone: results written to ${resultsFile} (load them with "tpslab import ${resultsFile}"); resending if it comes back within ${this.o.waitMs / 1000} s`);
          const r = await Promise.race([this.releasedP, timeout(this.clock, this.o.waitMs).then(() => undefined)]);
          this.o.log(r !== undefined ? `released by the overseer (${r})` : 'the overseer did not come back');
          break;
        }
      }
    } finally {
      this.clock.clearTimeout(beat);
      overseer.stop();
      for (const b of this.jobs.values()) {
        await b.stop().catch(() => undefined);
        b.release();
      }
    }
    return { runId: this.runId, offset: this.offset, ...(resultsFile ? { resultsFile } : {}) };
  }

  private async register(): Promise<{ runId: string; heartbeatMs: number }> {
    const deadline = this.clock.now() + this.o.waitMs;
    let said = false;
    for (;;) {
      try {
        const r = await this.wire.request(REGISTER_SUBJECT, { type: 'register', name: this.o.name }, REQUEST_TIMEOUT_MS, 'the overseer');
        if (r.type === 'welcome') return r;
        if (r.type === 'refused') throw new TpslabError('TPSLAB_E_NATS', `the overseer refused beacon ${this.o.name}: ${r.reason}`);
        throw new TpslabError('TPSLAB_E_WIRE', `the overseer answered a registration with "${r.type}"`);
      } catch (err) {
        if (!(err instanceof NoRespondersError || err instanceof TimeoutError || (err as Error).name === 'RequestError')) throw err;
        if (this.clock.now() > deadline) throw new TpslabError('TPSLAB_E_NATS', `no overseer answered on ${this.o.url} within ${this.o.waitMs / 1000} s; start "tpslab overseer --nats ${this.o.url}" (or raise --wait)`);
        if (!said) this.o.log(`waiting for an overseer on ${this.o.url} …`);
        said = true;
        await timeout(this.clock, REGISTER_RETRY_MS);
      }
    }
  }

  private report(job: string, m: BeaconMessage): void {
    this.sender.send(encodeFrame({ type: 'report', job, msg: m }));
  }

  private onControl(m: WireMessage): void {
    if (m.type === 'resend') return this.sender.resend(m.fromSeq);
    if (m.type === 'release') return this.released(m.reason);
    if (m.type !== 'control') return;
    const msg = m.msg;
    if (msg.type === 'assign') {
      if (this.jobs.has(m.job)) return;
      try {
        const b: Beacon = createBeacon(msg, (x) => {
          // The overseer stores when each beacon really started (its report row): tell it before `done`.
          if (x.type === 'done' && b.firstSendMs !== undefined) this.sender.send(encodeFrame({ type: 'first-send', job: m.job, atMs: b.firstSendMs }));
          this.report(m.job, x);
        }, this.clock, { takeover: m.takeover === true });
        if (m.skip) b.skipFirst(m.skip);
        this.jobs.set(m.job, b);
        b.prepare()
          .then(() => {
            this.prepared.add(m.job);
            const startAt = m.startAtMs ?? this.startAtMs;
            if (startAt !== undefined) this.startJob(m.job, startAt);
          })
          .catch((err: unknown) => this.fail(m.job, msg.beacon, err));
        void b.done.then(() => this.finished++);
      } catch (err) {
        this.fail(m.job, msg.beacon, err);
      }
    } else if (msg.type === 'digest-query') {
      const b = this.jobs.get(m.job);
      if (b) this.report(m.job, b.answer(msg));
      else this.o.log(`a reconciliation question for job ${m.job}, which is not this beacon's`);
    } else if (msg.type === 'start') {
      this.startAtMs = msg.atMs;
      this.o.log(`starting at ${new Date(msg.atMs).toISOString()} overseer time (${new Date(this.local(msg.atMs)).toISOString()} on this clock)`);
      for (const job of this.prepared) this.startJob(job, msg.atMs);
    } else {
      for (const b of this.jobs.values()) void b.stop();
    }
  }

  /** Starts a prepared job once, at the run's start instant (overseer time) on this clock. */
  private startJob(job: string, atMs: number): void {
    if (this.started.has(job)) return;
    this.started.add(job);
    this.jobs.get(job)!.start(this.local(atMs));
  }

  private fail(job: string, beacon: number, err: unknown): void {
    const e = asTpslabError(err, 'TPSLAB_E_BEACON');
    this.report(job, { v: PROTOCOL_VERSION, type: 'error', beacon, code: e.code, message: e.message });
  }

  private async writeResults(): Promise<string> {
    const dir = resolve(this.o.resultsDir);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `tpslab-beacon-${this.runId}-${this.o.name}.jsonl`);
    const lines = this.sender.frames.map((f) => Buffer.from(f).toString('utf8'));
    await writeFile(file, `${lines.join('\n')}\n`);
    return file;
  }
}

function timeout(clock: Clock, ms: number): Promise<void> {
  return new Promise((r) => clock.setTimeout(r, ms));
}

function fmt(ms: number): string {
  return `${ms >= 0 ? '+' : ''}${ms.toFixed(2)}`;
}
