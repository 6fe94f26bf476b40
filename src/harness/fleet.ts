/**
 * The executor: the beacons' lifecycle. Here beacons are child processes on
 * this machine, spoken to over the IPC channel; every message received is
 * validated and handed on as an event. Knows nothing of networks or outputs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TpslabError, asTpslabError } from '../errors.js';
import type { BeaconClock } from '../web/contract.js';
import { PROTOCOL_VERSION, parseBeaconMessage, type Assign, type BeaconMessage, type OverseerMessage } from './messages.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../cli/main.js');

export interface FleetEvents {
  message(m: BeaconMessage): void;
  /** A beacon failed, exited early, or sent a message that does not validate. */
  failure(e: TpslabError): void;
}

export interface Fleet {
  /** Starts one beacon per assignment. */
  launch(assigns: readonly Assign[]): void;
  broadcast(m: OverseerMessage): void;
  /** Sends to assignment `beacon` only (reconciliation queries); its answer comes back as a message. */
  send(beacon: number, m: OverseerMessage): void;
  /** Beacons that finished (sent `done`) are asked to stop and not waited for; the rest are killed. */
  close(): void;
  /** Beacons across machines: assignment index → its beacon's name, clock offset and first send (stored with its row). */
  clocks?(): ReadonlyMap<number, BeaconClock>;
}

/** Beacons as child processes of this one (`tpslab beacon --ipc`). */
export class LocalFleet implements Fleet {
  private readonly children: ChildProcess[] = [];
  private readonly byBeacon = new Map<number, ChildProcess>();
  private readonly finished = new Set<number>();

  constructor(private readonly events: FleetEvents) {}

  launch(assigns: readonly Assign[]): void {
    for (const a of assigns) {
      const child = fork(CLI, ['beacon', '--ipc'], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      this.children.push(child);
      this.byBeacon.set(a.beacon, child);
      child.on('message', (raw: unknown) => {
        let m: BeaconMessage;
        try {
          m = parseBeaconMessage(raw);
        } catch (err) {
          return this.events.failure(asTpslabError(err, 'TPSLAB_E_BEACON'));
        }
        if (m.type === 'done') this.finished.add(m.beacon);
        this.events.message(m);
      });
      child.on('exit', (code, sig) => {
        if (!this.finished.has(a.beacon)) this.events.failure(new TpslabError('TPSLAB_E_BEACON', `beacon ${a.beacon} exited (${sig ?? code}) before finishing`));
      });
      send(child, a);
    }
  }

  broadcast(m: OverseerMessage): void {
    for (const c of this.children) send(c, m);
  }

  send(beacon: number, m: OverseerMessage): void {
    const child = this.byBeacon.get(beacon);
    if (child) send(child, m);
    else this.events.failure(new TpslabError('TPSLAB_E_INTERNAL', `no beacon ${beacon} to send a ${m.type} message to`));
  }

  close(): void {
    for (const [beacon, c] of this.byBeacon) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      // A finished beacon waits for this stop (it answers reconciliation queries until then) and removes its scratch files.
      if (this.finished.has(beacon) && c.connected) send(c, { v: PROTOCOL_VERSION, type: 'stop', reason: 'the run is over' });
      else c.kill('SIGTERM');
    }
  }
}

function send(child: ChildProcess, m: OverseerMessage): void {
  if (child.connected) child.send(m);
}
