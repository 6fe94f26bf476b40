/**
 * Many simulated beacons on one NATS connection, for the `distributed` bench:
 * each registers with the overseer, says hello (no clock probes: the lobby's
 * cost is not what is measured), beats its heart, acknowledges every control
 * chunk, answers `assign` with `ready`, and from the start instant publishes one
 * sequence-numbered progress report per second with three encoded HdrHistograms
 * of realistic content, then `done`. It speaks the real wire protocol
 * (src/transport), so the overseer cannot tell it from real beacons.
 *
 * Run as a child process (its CPU is not the overseer's):
 *   node dist/bench/lib/sim-beacons.js <nats-url> <count> <seconds> <records-per-second>
 * Prints "registered N" once every beacon said hello, "done" at the end.
 */
import { beaconSecond } from './beacon-second.js';
import { PROTOCOL_VERSION, type BeaconMessage } from '../../src/harness/messages.js';
import { createRng } from '../../src/harness/rng.js';
import { connectNats } from '../../src/transport/nats-connect.js';
import { REGISTER_SUBJECT, WireMessageSchema, runSubject } from '../../src/transport/nats-messages.js';
import { SetDigest } from '../../src/harness/set-digest.js';
import { NatsWire, readChunkHeader } from '../../src/transport/nats-wire.js';
import { FrameSender } from '../../src/transport/report-channel.js';
import { decodeFrame, encodeFrame } from '../../src/transport/wire-codec.js';

/** Distinct beacon-seconds of histograms, shared by all simulated beacons (the cost depends on content, not identity). */
const DISTINCT = 16;
const REGISTER_CONCURRENCY = 32;

interface Sim {
  name: string;
  beacon: number;
  job?: string;
  sender: FrameSender;
}

async function main(): Promise<void> {
  const [url, countArg, secondsArg, recordsArg] = process.argv.slice(2);
  const count = Number(countArg);
  const seconds = Number(secondsArg);
  const records = Number(recordsArg);
  const rng = createRng(1, 'bench-sim-beacons');
  const pool = Array.from({ length: DISTINCT }, () => beaconSecond(rng, records));
  const nc = await connectNats({ url: url!, name: 'tpslab-bench-sim-beacons' });
  const wire = new NatsWire(nc);
  const sims: Sim[] = [];
  let runId = '';
  let heartbeatMs = 1000;
  let next = 0;
  const register = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const name = `sim-${i}`;
      const w = await wire.request(REGISTER_SUBJECT, { type: 'register', name }, 10_000, 'the overseer');
      if (w.type !== 'welcome') throw new Error(`sim-${i}: ${JSON.stringify(w)}`);
      runId = w.runId;
      heartbeatMs = w.heartbeatMs;
      const sim: Sim = { name, beacon: -1, sender: new FrameSender((h, chunk) => wire.publishChunk(runSubject(runId, 'report', name), h, chunk), wire.maxChunkBytes) };
      sims[i] = sim;
      await wire.request(runSubject(runId, 'hello'), { type: 'hello', name, offsetMs: 0, uncertaintyMs: 0, rounds: 1 }, 10_000, 'the overseer');
    }
  };
  // Heartbeats from the first registration on, or the overseer declares the early ones missing.
  const beat = setInterval(() => {
    for (const s of sims) if (s) wire.publish(runSubject(runId, 'hb', 'beacon'), { type: 'heartbeat', name: s.name, lastSeq: s.sender.lastSeq, nowMs: Date.now() });
  }, 200);
  await Promise.all(Array.from({ length: REGISTER_CONCURRENCY }, register));
  const byName = new Map(sims.map((s) => [s.name, s]));
  let startAtMs: number | undefined;
  let released = 0;
  const report = (s: Sim, m: BeaconMessage): void => void s.sender.send(encodeFrame({ type: 'report', job: s.job!, msg: m }));
  nc.subscribe(runSubject(runId, 'ctl', '*'), {
    callback: (err, msg) => {
      if (err) return;
      const s = byName.get(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
      if (!s) return;
      msg.respond(encodeFrame({ type: 'ack' }));
      if (readChunkHeader(msg).parts !== 1) return;
      const w = decodeFrame(msg.data, WireMessageSchema, 'the overseer');
      if (w.type === 'resend') s.sender.resend(w.fromSeq);
      else if (w.type === 'release') released++;
      else if (w.type === 'control' && w.msg.type === 'assign' && s.job === undefined) {
        s.job = w.job;
        s.beacon = w.msg.beacon;
        report(s, { v: PROTOCOL_VERSION, type: 'ready', beacon: s.beacon, txs: 0, prepareMs: 0 });
      } else if (w.type === 'control' && w.msg.type === 'start') startAtMs ??= w.msg.atMs;
    },
  });
  process.stdout.write(`registered ${count}\n`);
  while (startAtMs === undefined) await new Promise((r) => setTimeout(r, 5));
  // One progress report per beacon per second, all just after the second ends (as real beacons do).
  const counts = { sent: 0, committed: 0, failed: 0, failures: 0, lost: 0, expired: 0, late: 0, retries: 0 };
  for (let k = 0; k < seconds; k++) {
    const wait = startAtMs + (k + 1) * 1000 + 2 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    counts.sent += records;
    counts.committed += records;
    for (const s of sims) {
      if (s.job === undefined) continue;
      report(s, { v: PROTOCOL_VERSION, type: 'progress', beacon: s.beacon, second: k, ...counts, inFlight: 0, errors: {}, ...pool[(s.beacon + k) % DISTINCT]!, height: k + 1 });
    }
  }
  for (const s of sims) if (s.job !== undefined) report(s, { v: PROTOCOL_VERSION, type: 'done', beacon: s.beacon, ...counts, inFlight: 0, errors: {}, committedDigest: new SetDigest().toJson() });
  // Until the overseer releases every beacon (bounded), keep beating hearts and answering resends.
  const deadline = Date.now() + 30_000 + heartbeatMs;
  while (released < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  clearInterval(beat);
  await nc.drain();
  process.stdout.write('done\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`sim-beacons: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
