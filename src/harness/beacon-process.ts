/**
 * The beacon side of the local transport: a child process forked by the
 * overseer, speaking over the IPC channel (structured clone). Validates every
 * message it receives; reports its own failures as `error` messages.
 */
import { preciseClock } from '../clock.js';
import { connectorFor } from '../connectors/index.js';
import { TpslabError, asTpslabError } from '../errors.js';
import { describeZodError } from '../zod-errors.js';
import { Beacon } from './beacon.js';
import type { Clock } from '../clock.js';
import { PROTOCOL_VERSION, parseOverseerMessage, type Assign, type BeaconMessage } from './messages.js';

export function runBeaconOverIpc(): Promise<void> {
  if (!process.send) throw new Error('tpslab beacon --ipc must be started by an overseer (no IPC channel)');
  /** Resolves once the message is written to the channel (large `done` messages take a while). */
  const send = (m: BeaconMessage): Promise<void> =>
    new Promise((resolve) => {
      process.send!(m, undefined, {}, () => resolve());
    });
  let beacon: Beacon | undefined;
  let index = -1;
  /** After `done` the beacon stays to answer reconciliation queries, until the overseer's `stop` (or its going away). */
  let finished = false;
  return new Promise((resolve) => {
    const fail = (err: unknown): void => {
      const e = asTpslabError(err, 'TPSLAB_E_BEACON');
      void send({ v: PROTOCOL_VERSION, type: 'error', beacon: index, code: e.code, message: e.message });
    };
    process.on('message', (raw: unknown) => {
      try {
        const m = parseOverseerMessage(raw);
        if (m.type === 'assign') {
          index = m.beacon;
          beacon = createBeacon(m, send);
          beacon.prepare().catch(fail);
          beacon.done.then(() => void (finished = true), fail);
        } else if (m.type === 'start') {
          if (!beacon) throw new Error('start before assign');
          beacon.start(m.atMs);
        } else if (m.type === 'digest-query') {
          if (!beacon || !finished) throw new Error('a digest query before the beacon finished');
          void send(beacon.answer(m));
        } else if (beacon && !finished) void beacon.stop();
        else {
          beacon?.release();
          resolve();
        }
      } catch (err) {
        fail(err);
      }
    });
    // Ctrl-C reaches the whole process group: the overseer decides, and asks this beacon to stop.
    process.on('SIGINT', () => {});
    // Killed by the overseer: exit through process.exit so the commit store's scratch directory is removed.
    process.on('SIGTERM', () => process.exit(143));
    // The overseer went away: nothing left to report to.
    process.on('disconnect', () => process.exit(0));
  });
}

/** A beacon with the connector its assignment names, its configuration checked by the connector's own schema. */
export function createBeacon(m: Assign, send: (m: BeaconMessage) => Promise<void> | void, clock: Clock = preciseClock, opts: { takeover?: boolean } = {}): Beacon {
  const def = connectorFor(m.connector.kind);
  const parsed = def.beaconSchema.safeParse(m.connector.config);
  if (!parsed.success) throw new TpslabError('TPSLAB_E_CONNECTOR', `the ${m.connector.kind} connector refused its beacon configuration: ${describeZodError(parsed.error, 'config')}`);
  const log = (line: string): void => void send({ v: PROTOCOL_VERSION, type: 'log', beacon: m.beacon, line });
  const connector = def.createBeacon(parsed.data, { beacon: m.beacon, clock, confirmation: { method: m.confirmation.method, pollIntervalMs: m.confirmation.pollIntervalMs, timeoutMs: m.confirmation.timeoutMs }, log, ...(opts.takeover ? { takeover: true } : {}) });
  return new Beacon(m, send, connector, clock);
}
