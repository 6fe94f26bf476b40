/**
 * Fault injection for a run: the scenario's `faults:` timeline, played from the beacons' start.
 *
 * It wraps the run's target connector (RunOptions.target) and is an output (RunOptions.outputs):
 * - opening the embedded network, it puts TCP proxies where link faults need them
 *   (fault-links.ts: beacons-nodes, nodes-sequencer, nodes-tracker, sequencer-tracker);
 * - at each fault's time it acts: kill -9 and restart the role after N s, SIGSTOP/SIGCONT,
 *   cut and heal a proxy, set a proxy's delay and jitter, or run a shell command (and its undo);
 * - when the beacons finish it ends what is still on (so reconciliation reads a whole
 *   network), and when the run is finished it works out each fault's recovery time from the
 *   per-second committed counts (recovery.ts) and stores the list (fault-store.ts) — also when
 *   the run fails or is aborted, with what happened until then.
 */
import { exec } from 'node:child_process';
import { promisify } from 'node:util';
import type { Clock } from '../clock.js';
import type { TargetConnector, TargetInfo } from '../connectors/contract.js';
import { TpslabError, asTpslabError } from '../errors.js';
import { allProcesses, readNetworkFile, restartRole, type RoleProcess } from '../ledger/net.js';
import { isSameProcess } from '../ledger/pid-alive.js';
import type { RunOutput } from '../harness/outputs.js';
import type { Fault, Scenario } from '../harness/scenario.js';
import { storeFaults, type FaultRecord } from './fault-store.js';
import { recoveryOf } from './recovery.js';
import { FaultLinks } from './fault-links.js';

const run = promisify(exec);
const COMMAND_TIMEOUT_MS = 60_000;

/** `kill node2`, `latency beacons-nodes 80±10 ms`… */
export function faultLabel(f: Fault): string {
  switch (f.kind) {
    case 'kill':
      return `kill ${f.role} (restart after ${f.restartAfterSec} s)`;
    case 'pause':
      return `pause ${f.role}`;
    case 'partition':
      return `partition ${f.link}${f.role ? ` of ${f.role}` : ''}`;
    case 'latency':
      return `latency ${f.link}${f.role ? ` of ${f.role}` : ''} ${f.delayMs}${f.jitterMs ? `±${f.jitterMs}` : ''} ms`;
    case 'bandwidth':
      return `bandwidth ${f.link}${f.role ? ` of ${f.role}` : ''} ${f.bytesPerSec} B/s`;
    case 'command':
      return `command ${f.run}`;
  }
}

/** When a fault ends, seconds after the start; undefined: it lasts until the run ends. */
function durationOf(f: Fault): number | undefined {
  if (f.kind === 'kill') return f.restartAfterSec;
  return f.durationSec;
}

export class FaultInjector {
  private dir: string | undefined;
  private links: FaultLinks | undefined;
  private timers: unknown[] = [];
  private startMs = 0;
  private readonly records: FaultRecord[];
  /** Undo actions of faults that are on, by index. */
  private active = new Map<number, () => Promise<void>>();
  private committed: number[] = [];
  private log: (line: string) => void = () => {};
  private watchers: ((faults: FaultRecord[]) => void)[] = [];
  /** Set once the beacons finish (or the run fails): no fault begins or is timed to end after that. */
  private ending = false;
  /** Faults being begun or ended right now (a kill's restart takes seconds): the network stays up until they are done. */
  private readonly inflight = new Set<Promise<void>>();
  /** A role's restart under way: a kill or pause of that role waits for it (until then network.json names the dead pid). */
  private readonly restarts = new Map<string, Promise<void>>();

  constructor(
    private readonly faults: readonly Fault[],
    private readonly dbPath: string,
    private readonly clock: Clock,
  ) {
    this.records = faults.map((f, index) => ({ index, kind: f.kind, label: faultLabel(f), plannedAtSec: f.atSec, startSec: null, endSec: null, beforeTps: null, recoverySec: null }));
  }

  /** The target, wrapped: proxies set up on open, beacons sent through them, everything healed on close. */
  wrap(inner: TargetConnector): TargetConnector {
    return new Proxy(inner, {
      get: (t, prop, recv) => {
        if (prop === 'open') return (log: (l: string) => void) => this.open(t, log);
        if (prop === 'beaconConfig') return (share: Parameters<TargetConnector['beaconConfig']>[0]) => this.rewrite(t.beaconConfig(share));
        if (prop === 'close') return () => this.close().finally(() => t.close());
        const v = Reflect.get(t, prop, recv) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  }

  /** The output that plays the timeline and judges recovery. */
  get output(): RunOutput {
    return {
      started: ({ startMs }) => this.schedule(startMs),
      second: (row) => void (this.committed[row.second] = row.committed),
      finishing: () => void this.endAll('the beacons finished'),
      finished: (runId) => this.judge(runId),
      // A failed or interrupted run keeps its timeline too: what began, when, and what it ended.
      failed: (runId, _error, status) => {
        void this.endAll(status === 'aborted' ? 'the run was interrupted' : 'the run failed');
        this.judge(runId);
      },
    };
  }

  private async open(t: TargetConnector, log: (line: string) => void): Promise<TargetInfo> {
    this.log = log;
    const info = await t.open(log);
    const needsNetwork = this.faults.some((f) => f.kind !== 'command');
    if (!needsNetwork) return info;
    this.dir = (t as { networkDir?: string }).networkDir;
    if (!this.dir) throw new TpslabError('TPSLAB_E_CONNECTOR', `faults ${this.faults.filter((f) => f.kind !== 'command').map((f) => f.kind).join(', ')} need the embedded network (target.kind tpslab without network or endpoints)`);
    this.links = await FaultLinks.setUp(this.dir, this.faults, info, this.clock, log);
    return info;
  }

  private rewrite(config: unknown): unknown {
    return this.links ? this.links.rewrite(config) : config;
  }

  private schedule(startMs: number): void {
    this.startMs = startMs;
    this.faults.forEach((f, i) => {
      this.timers.push(this.clock.setTimeout(() => this.track(this.begin(i)), Math.max(0, startMs + f.atSec * 1000 - this.clock.now())));
    });
  }

  private nowSec(): number {
    return +((this.clock.now() - this.startMs) / 1000).toFixed(3);
  }

  /** The role's process as network.json records it, checked to be that process still (not a pid reused since). */
  private async processOf(role: string): Promise<RoleProcess> {
    const p = allProcesses(await readNetworkFile(this.dir!)).find((x) => x.id === role);
    if (!p) throw new TpslabError('TPSLAB_E_USAGE', `no role "${role}" in the network`);
    if (!isSameProcess(p)) {
      throw new TpslabError('TPSLAB_E_UNAVAILABLE', `${role} (pid ${p.pid} in ${this.dir}/network.json) is not running: it exited, or its pid now names another process, which is not signalled`);
    }
    return p;
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async begin(i: number): Promise<void> {
    const f = this.faults[i]!;
    const rec = this.records[i]!;
    if (f.kind === 'kill' || f.kind === 'pause') {
      await this.restarts.get(f.role);
      if (this.ending) return; // the beacons finished meanwhile: not begun, like the faults whose time had not come
    }
    rec.startSec = this.nowSec();
    try {
      let undo: () => Promise<void>;
      switch (f.kind) {
        case 'kill': {
          process.kill((await this.processOf(f.role)).pid, 'SIGKILL');
          undo = () => {
            const restarted = restartRole(this.dir!, f.role).then(() => {});
            this.restarts.set(f.role, restarted.catch(() => {}));
            return restarted;
          };
          break;
        }
        case 'pause': {
          const p = await this.processOf(f.role);
          process.kill(p.pid, 'SIGSTOP');
          undo = async () => void (isSameProcess(p) && process.kill(p.pid, 'SIGCONT'));
          break;
        }
        case 'partition': {
          const ps = this.links!.proxies(f.link, f.role);
          for (const p of ps) p.setPartitioned(true);
          undo = async () => ps.forEach((p) => p.setPartitioned(false));
          break;
        }
        case 'latency': {
          const ps = this.links!.proxies(f.link, f.role);
          for (const p of ps) p.setLatency(f.delayMs, f.jitterMs);
          undo = async () => ps.forEach((p) => p.setLatency(0, 0));
          break;
        }
        case 'bandwidth': {
          const ps = this.links!.proxies(f.link, f.role);
          for (const p of ps) p.setBandwidth(f.bytesPerSec);
          undo = async () => ps.forEach((p) => p.setBandwidth(0));
          break;
        }
        case 'command': {
          await this.shell(f.run);
          undo = async () => void (f.undo && (await this.shell(f.undo)));
          break;
        }
      }
      this.active.set(i, undo);
      this.log(`fault ${i + 1} at ${rec.startSec.toFixed(1)} s: ${rec.label}`);
      this.changed();
      const d = durationOf(f);
      if (d !== undefined && !this.ending) this.timers.push(this.clock.setTimeout(() => this.track(this.end(i)), d * 1000));
    } catch (err) {
      rec.error = asTpslabError(err).message;
      this.log(`fault ${i + 1} (${rec.label}) could not be injected: ${rec.error}`);
      this.changed();
    }
  }

  private async end(i: number): Promise<void> {
    const undo = this.active.get(i);
    if (!undo) return;
    this.active.delete(i);
    const rec = this.records[i]!;
    rec.endSec = this.nowSec();
    this.changed();
    try {
      await undo();
      this.log(`fault ${i + 1} ended at ${rec.endSec.toFixed(1)} s: ${rec.label}`);
    } catch (err) {
      rec.error = asTpslabError(err).message;
      this.log(`fault ${i + 1} (${rec.label}) could not be ended: ${rec.error}`);
    }
  }

  private async shell(command: string): Promise<void> {
    const r = await run(command, { timeout: COMMAND_TIMEOUT_MS, env: { ...process.env, TPSLAB_NETWORK_DIR: this.dir ?? '' } });
    const out = `${r.stdout}${r.stderr}`.trim();
    if (out) this.log(`  ${out.split('\n').join('\n  ')}`);
  }

  private pendingEnd: Promise<void> | undefined;

  /** Ends every fault still on and cancels the ones not begun. */
  private endAll(why: string): Promise<void> {
    this.ending = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers = [];
    const on = [...this.active.keys()];
    if (on.length) this.log(`${why}: ending ${on.length} fault${on.length === 1 ? '' : 's'} still on`);
    // Keeps waiting for ends begun earlier and for faults being begun or ended on their own timers (a
    // restart after kill -9 under way: the network was torn down under it, and the restarted node,
    // a child of this process, kept `tpslab run` alive after its summary), then ends what they turned on.
    this.pendingEnd = Promise.all([this.pendingEnd, ...on.map((i) => this.end(i)), ...this.inflight])
      .then(() => Promise.all([...this.active.keys()].map((i) => this.end(i))))
      .then(() => {});
    return this.pendingEnd;
  }

  private judge(runId: string): void {
    for (const r of this.records) {
      if (r.startSec === null) continue;
      const rec = recoveryOf({ committed: Array.from(this.committed, (c) => c ?? 0), startSec: r.startSec, endSec: r.endSec ?? this.committed.length });
      r.beforeTps = rec.beforeTps;
      r.recoverySec = rec.recoverySec;
      this.log(`fault ${r.index + 1} ${r.label}: ${r.startSec.toFixed(1)}–${r.endSec === null ? 'end' : `${r.endSec.toFixed(1)} s`}, ${rec.recoverySec === null ? (rec.beforeTps === null ? 'no committed rate before it to recover to' : 'committed TPS did not come back within 10%') : `recovered in ${rec.recoverySec.toFixed(1)} s`}${rec.beforeTps !== null ? ` (before: ${rec.beforeTps.toFixed(1)} tx/s)` : ''}`);
    }
    this.changed();
    try {
      storeFaults(this.dbPath, runId, this.records);
    } catch (err) {
      this.log(`the faults could not be stored: ${asTpslabError(err).message}`);
    }
  }

  /** Calls `fn` with a copy of the timeline whenever a fault begins or ends, and once recovery is judged (the live dashboard). */
  watch(fn: (faults: FaultRecord[]) => void): void {
    this.watchers.push(fn);
  }

  private changed(): void {
    const copy = this.records.map((r) => ({ ...r }));
    for (const w of this.watchers) w(copy);
  }

  /** The faults as recorded (times and recovery filled in once the run is finished). */
  get results(): readonly FaultRecord[] {
    return this.records;
  }

  private async close(): Promise<void> {
    await this.endAll('the run is closing');
    await this.pendingEnd;
    await this.links?.close();
    this.links = undefined;
  }
}

/** Run options that inject the scenario's faults; empty without faults. */
export function faultRunOptions(s: Scenario, dbPath: string, clock: Clock): { target?: (t: TargetConnector) => TargetConnector; outputs?: RunOutput[]; injector?: FaultInjector } {
  if (!s.faults?.length) return {};
  const injector = new FaultInjector(s.faults, dbPath, clock);
  return { target: (t) => injector.wrap(t), outputs: [injector.output], injector };
}
