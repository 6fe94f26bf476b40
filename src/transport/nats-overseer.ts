/**
 * The overseer's end of NATS: a session with its own run id (subjects
 * `tpslab.run.<id>.…`), the lobby where beacons register, probe the clock and
 * say hello, heartbeats both ways, and per beacon the sequence-checked report
 * stream and the acknowledged control channel. `fleet()` turns the beacons that
 * joined into a Fleet for runScenario (nats-fleet.ts).
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { preciseClock, type Clock } from '../clock.js';
import { TpslabError } from '../errors.js';
import type { Fleet, FleetEvents } from '../harness/fleet.js';
import { Liveness } from './liveness.js';
import { REGISTER_SUBJECT, WireMessageSchema, runSubject, type WireMessage } from './nats-messages.js';
import { connectNats, type NatsOptions } from './nats-connect.js';
import { NatsFleet } from './nats-fleet.js';
import { ControlSender, NatsWire, readChunkHeader } from './nats-wire.js';
import { FrameReceiver } from './report-channel.js';
import { decodeFrame } from './wire-codec.js';

export interface JoinedBeacon {
  name: string;
  offsetMs: number;
  uncertaintyMs: number;
  rounds: number;
}

export interface NatsOverseerOptions extends NatsOptions {
  heartbeatMs: number;
  log(line: string): void;
  clock?: Clock;
}

interface Peer {
  name: string;
  joined?: JoinedBeacon;
  control: ControlSender;
  reports: FrameReceiver;
}

export class NatsOverseer {
  readonly runId = randomBytes(6).toString('hex');
  readonly wire: NatsWire;
  readonly clock: Clock;
  private readonly peers = new Map<string, Peer>();
  private readonly subs: Subscription[] = [];
  private accepting = true;
  private beat: unknown;
  private readonly liveness: Liveness;
  private onReport: (name: string, m: WireMessage) => void = () => {};
  /** Before the fleet exists (between the lobby closing and the launch), missing beacons are kept for it. */
  private readonly missingEarly = new Map<string, number>();
  private onMissing: (name: string, silentMs: number) => void = (name, silentMs) => void this.missingEarly.set(name, silentMs);
  private joinedChanged: () => void = () => {};
  private fleetRef: NatsFleet | undefined;
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(
    nc: NatsConnection,
    readonly o: NatsOverseerOptions,
  ) {
    this.wire = new NatsWire(nc);
    this.clock = o.clock ?? preciseClock;
    this.liveness = new Liveness(this.clock, o.heartbeatMs, (name, silentMs) => {
      const p = this.peers.get(name);
      if (p && this.accepting) {
        // Not assigned yet: it simply leaves the lobby.
        this.peers.delete(name);
        this.o.log(`beacon ${name} left before the start (silent ${Math.round(silentMs)} ms)`);
        this.joinedChanged();
      } else this.onMissing(name, silentMs);
    });
  }

  static async open(o: NatsOverseerOptions): Promise<NatsOverseer> {
    const nc = await connectNats({ ...o, name: 'tpslab-overseer' });
    const s = new NatsOverseer(nc, o);
    s.listen();
    return s;
  }

  get heartbeatMs(): number {
    return this.o.heartbeatMs;
  }

  private listen(): void {
    const id = this.runId;
    const bad = (e: Error, subject: string): void => this.o.log(`ignored a bad message on ${subject}: ${e.message}`);
    // One overseer answers each registration (queue group), so two overseers on one server do not share a beacon.
    this.subs.push(this.wire.serve(REGISTER_SUBJECT, (m) => (m.type === 'register' ? this.register(m.name) : undefined), bad, 'tpslab-overseers'));
    this.subs.push(this.wire.serve(runSubject(id, 'clock'), (m) => (m.type === 'clock' ? { type: 'clock-reply', t0: m.t0, t1: this.clock.now() } : undefined), bad));
    this.subs.push(
      this.wire.serve(runSubject(id, 'hello'), (m) => {
        if (m.type !== 'hello') return undefined;
        const p = this.peers.get(m.name);
        if (!p) return { type: 'refused', reason: `beacon ${m.name} did not register with run ${id}` };
        p.joined = { name: m.name, offsetMs: m.offsetMs, uncertaintyMs: m.uncertaintyMs, rounds: m.rounds };
        this.liveness.seen(m.name);
        this.o.log(`beacon ${m.name} joined: clock offset ${m.offsetMs >= 0 ? '+' : ''}${m.offsetMs.toFixed(2)} ms ± ${m.uncertaintyMs.toFixed(2)} ms (${m.rounds} round trips)`);
        this.joinedChanged();
        return { type: 'ack' };
      }, bad),
    );
    this.subs.push(
      this.wire.serve(runSubject(id, 'hb', 'beacon'), (m) => {
        if (m.type !== 'heartbeat') return undefined;
        const p = this.peers.get(m.name);
        if (!p || !this.liveness.watching(m.name)) return undefined;
        this.liveness.seen(m.name);
        p.reports.onHeartbeat(m.lastSeq);
        return undefined;
      }, bad),
    );
    this.subs.push(
      this.wire.nc.subscribe(runSubject(id, 'report', '*'), {
        callback: (err, msg) => {
          if (err) return;
          const name = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
          const p = this.peers.get(name);
          if (!p) return;
          try {
            p.reports.onChunk(readChunkHeader(msg), msg.data);
          } catch (e) {
            bad(e as Error, msg.subject);
          }
        },
      }),
    );
    const heartbeat = (): void => {
      this.wire.publish(runSubject(id, 'hb', 'overseer'), { type: 'heartbeat', name: 'overseer', lastSeq: -1, nowMs: this.clock.now() });
      this.beat = this.clock.setTimeout(heartbeat, this.o.heartbeatMs);
    };
    heartbeat();
    this.liveness.start();
  }

  private register(name: string): WireMessage {
    if (!this.accepting) return { type: 'refused', reason: `run ${this.runId} has started; start another overseer for a new run` };
    if (this.peers.has(name)) return { type: 'refused', reason: `another beacon named ${name} joined run ${this.runId}; give each beacon its own --name` };
    const control = new ControlSender(this.wire, runSubject(this.runId, 'ctl', name), `beacon ${name}`, this.o.heartbeatMs * 2);
    const reports = new FrameReceiver({
      deliver: (frame) => {
        try {
          this.onReport(name, decodeFrame(frame, WireMessageSchema, `beacon ${name}`));
        } catch (e) {
          this.o.log(`ignored a bad report from beacon ${name}: ${(e as Error).message}`);
        }
      },
      askResend: (fromSeq) => {
        this.o.log(`reports from beacon ${name}: gap at sequence ${fromSeq}, asking again`);
        this.control(name, { type: 'resend', fromSeq }).catch(() => undefined);
      },
      clock: this.clock,
      resendAfterMs: this.o.heartbeatMs,
    });
    this.peers.set(name, { name, control, reports });
    this.liveness.seen(name);
    return { type: 'welcome', runId: this.runId, heartbeatMs: this.o.heartbeatMs };
  }

  /** Beacons that said hello, in the order they did. */
  joined(): JoinedBeacon[] {
    return [...this.peers.values()].flatMap((p) => (p.joined ? [p.joined] : []));
  }

  /**
   * Waits for `count` beacons; after `timeoutMs`, goes on with at least `min`, else fails naming
   * who is missing. Closes the lobby: later beacons are refused.
   */
  async waitForBeacons(count: number, min: number, timeoutMs: number): Promise<JoinedBeacon[]> {
    const deadline = this.clock.now() + timeoutMs;
    this.o.log(`run ${this.runId}: waiting for ${count} beacon${count === 1 ? '' : 's'} on ${this.o.url} (start them with "tpslab beacon --nats ${this.o.url}")`);
    while (this.joined().length < count && this.clock.now() < deadline) {
      await new Promise<void>((r) => {
        this.joinedChanged = r;
        this.clock.setTimeout(r, Math.min(1000, Math.max(1, deadline - this.clock.now())));
      });
    }
    const joined = this.joined().slice(0, count);
    if (joined.length < min) {
      for (const p of this.peers.values()) void this.control(p.name, { type: 'release', reason: 'too few beacons joined; the run is cancelled' }, p).catch(() => undefined);
      throw new TpslabError('TPSLAB_E_NATS', `${joined.length} of ${count} beacons joined run ${this.runId} within ${timeoutMs / 1000} s (at least ${min} needed); ${describeMissing(joined.map((j) => j.name), [...this.peers.values()].filter((p) => !p.joined).map((p) => p.name), count)}`);
    }
    if (joined.length < count) this.o.log(`going on with ${joined.length} of ${count} beacons (--min-beacons ${min}); ${describeMissing(joined.map((j) => j.name), [], count)}`);
    this.accepting = false;
    for (const p of [...this.peers.values()]) {
      if (!joined.some((j) => j.name === p.name)) {
        this.peers.delete(p.name);
        this.liveness.forget(p.name);
        void this.control(p.name, { type: 'release', reason: 'not needed for this run' }, p).catch(() => undefined);
      }
    }
    return joined;
  }

  /** Sends a control message to a beacon; resolves once acknowledged. */
  control(name: string, m: WireMessage, peer = this.peers.get(name)): Promise<void> {
    if (!peer) return Promise.reject(new TpslabError('TPSLAB_E_BEACON', `no beacon named ${name} in run ${this.runId}`));
    const p = peer.control.send(m);
    const tracked = p.catch(() => undefined).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    return p;
  }

  /** Gaps in report sequences noticed so far, per beacon. */
  gaps(): Record<string, number> {
    return Object.fromEntries([...this.peers.values()].map((p) => [p.name, p.reports.gaps]));
  }

  /** The executor for runScenario: assign index i goes to `names[i]`. */
  fleet(names: readonly string[]): (events: FleetEvents) => Fleet {
    return (events) => {
      const f = new NatsFleet(this, names, events);
      this.fleetRef = f;
      this.onReport = (name, m) => f.onReport(name, m);
      this.onMissing = (name, silentMs) => f.onMissing(name, silentMs);
      for (const [name, silentMs] of this.missingEarly) f.onMissing(name, silentMs);
      return f;
    };
  }

  /** Every joined beacon's clock offset, report gaps noticed, and the reassignments: for the end of the run. */
  describe(): string {
    const lines = [`beacons over NATS (run ${this.runId}):`];
    for (const j of this.joined()) {
      lines.push(`  ${j.name}: clock offset ${j.offsetMs >= 0 ? '+' : ''}${j.offsetMs.toFixed(2)} ms ± ${j.uncertaintyMs.toFixed(2)} ms, report gaps re-requested ${this.peers.get(j.name)?.reports.gaps ?? 0}`);
    }
    for (const r of this.fleetRef?.reassigned ?? []) {
      const what = r.max ? 'max-mode senders' : `${r.entries} unsent`;
      lines.push(`  reassigned: ${what} of ${r.from} (job ${r.job}) to ${r.to.join(', ') || 'nobody'} in ${r.tookMs.toFixed(0)} ms from its last heartbeat`);
    }
    return lines.join('\n');
  }

  forget(name: string): void {
    this.liveness.forget(name);
  }

  async close(): Promise<void> {
    this.liveness.stop();
    // Let releases and other control messages in flight be acknowledged (bounded).
    await Promise.race([Promise.all([...this.pending]), new Promise((r) => setTimeout(r, 4 * this.o.heartbeatMs).unref())]);
    this.clock.clearTimeout(this.beat);
    for (const s of this.subs) s.unsubscribe();
    await this.wire.nc.drain().catch(() => undefined);
  }
}

/** "missing: beacon-2, beacon-3" when names follow one `<prefix>-<index>` pattern; else who registered without finishing the clock check. */
export function describeMissing(joined: readonly string[], unfinished: readonly string[], count: number): string {
  const parts: string[] = [];
  const m = joined.map((n) => /^(.*?)-?(\d+)$/.exec(n));
  if (joined.length > 0 && m.every((x) => x && x[1] === m[0]![1])) {
    const prefix = m[0]![1]!;
    const sep = joined[0]!.startsWith(`${prefix}-`) ? '-' : '';
    const have = new Set(m.map((x) => Number(x![2])));
    const first = Math.min(...have) === 1 ? 1 : 0;
    const absent: string[] = [];
    for (let i = first; absent.length + have.size < count && i < first + count * 2; i++) if (!have.has(i)) absent.push(`${prefix}${sep}${i}`);
    parts.push(`missing: ${absent.join(', ')}`);
  } else parts.push(`${count - joined.length} missing`);
  if (joined.length) parts.push(`joined: ${joined.join(', ')}`);
  if (unfinished.length) parts.push(`registered but did not finish the clock check: ${unfinished.join(', ')}`);
  return parts.join('; ');
}
