/**
 * A/B of a beacon's CPU per transaction between builds: beacon-vs-autocannon's beacon (open mode,
 * batches of 200, a schedule far denser than it can send, everything lost after 1 s) on a virtual
 * clock, with an in-process submit (each batch encoded into a reused body and answered "all
 * accepted"; no sockets). Each tick moves the clock TICK_VIRTUAL_MS, so the beacon holds about what
 * the bench's holds (about 1 M in flight); timers run back to back. Every run does the same work
 * (the same sends and losses), so its CPU compares builds; on a shared machine that is far steadier
 * than the bench's rates, whose sockets and scheduler dominate. Runs alternate A B A B …, each in
 * a fresh process that imports that checkout's own `dist/`.
 *
 *   node dist/bench/beacon-cpu-ab.js --trees /path/to/base,. [--rounds 3] [--virtual-ms 4000] [--unique-ids]
 *
 * `--unique-ids`: every transaction gets its own id (as in a real run), not one of the POOL signed
 * ones' (as in beacon-vs-autocannon): the beacon's id index and settled rows then grow as they do
 * in a run. Making each id (64 hex digits) is in both trees' figures alike.
 *
 * Every tree must be built (`npm run build`). Not part of `npm run bench`: a tool for commits that
 * change a beacon's hot path (src/harness/beacon*.ts).
 */
import { execFileSync } from 'node:child_process';
import { basename, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const NETWORK = 'tpslab-dev-sink0000';
const TXS = 8_000_000;
const POOL = 4_000;
const ACCOUNTS = 1_000;
const BATCH = 200;
/** Virtual milliseconds per millisecond of timer delay: about 1 M transactions per virtual second, as the bench's beacon sends. */
const TICK_VIRTUAL_MS = 12.8;

type Timer = { at: number; fn: () => void };

/** Timers run back to back; each moves the clock to its due time. */
class VirtualClock {
  private t = 1_800_000_000_000;
  private seq = 0;
  private readonly timers = new Map<number, Timer>();
  private pumping = false;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, delayMs: number): number {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, delayMs) * TICK_VIRTUAL_MS, fn });
    this.kick();
    return id;
  }
  clearTimeout(id: unknown): void {
    this.timers.delete(id as number);
  }
  private kick(): void {
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(() => this.pump());
  }
  private pump(): void {
    this.pumping = false;
    let next: [number, Timer] | undefined;
    for (const e of this.timers) if (!next || e[1].at < next[1].at) next = e;
    if (!next) return;
    this.timers.delete(next[0]);
    this.t = Math.max(this.t, next[1].at);
    next[1].fn();
    if (this.timers.size > 0) this.kick();
  }
}

/** One run in this process against `tree`'s build; prints `{ sent, lost, cpuS }`. */
async function child(tree: string, virtualMs: number, uniqueIds: boolean): Promise<void> {
  const imp = (p: string): Promise<Record<string, any>> => import(pathToFileURL(resolve(tree, 'dist', p)).href); // eslint-disable-line @typescript-eslint/no-explicit-any
  const { Beacon } = await imp('src/harness/beacon.js');
  const { PROTOCOL_VERSION, parseOverseerMessage } = await imp('src/harness/messages.js');
  const { keyPairFromLabel, signTx } = await imp('src/protocol/signing.js');
  const { encodeBatch } = await imp('src/protocol/batch.js');
  const clock = new VirtualClock();
  const offsetsMs = new Float64Array(TXS);
  const senders = new Uint32Array(TXS);
  const targets = new Uint32Array(TXS);
  for (let i = 0; i < TXS; i++) {
    offsetsMs[i] = (i * 1000) / TXS;
    senders[i] = i % ACCOUNTS;
    targets[i] = (i + 1) % ACCOUNTS;
  }
  const keySeed = `tpslab:${NETWORK}:1`;
  const config = { network: NETWORK, endpoints: ['http://127.0.0.1:9'], keySeed, accounts: { start: 0, end: ACCOUNTS }, freshAccounts: true, workload: { kind: 'transfer', amount: 1, fee: 0 }, fromHeight: 0 };
  const assign = parseOverseerMessage({
    v: PROTOCOL_VERSION, type: 'assign', runId: 'beacon-cpu-ab', beacon: 0, connector: { kind: 'tpslab', config },
    accounts: { start: 0, end: ACCOUNTS }, sign: 'live', mode: 'open', offsetsMs, senders, targets, maxDurationMs: 0, maxInFlight: TXS,
    batchMax: BATCH, batchDelayMs: 5, confirmation: { method: 'poll', timeoutMs: 1000, retries: 0, pollIntervalMs: 3_600_000 }, collectOutcomes: false,
  });
  const keys = Array.from({ length: ACCOUNTS }, (_, k) => keyPairFromLabel(`${keySeed}:${k}`));
  const built = Array.from({ length: POOL }, (_, i) => {
    const from = keys[i % ACCOUNTS];
    const to = keys[(i + 1) % ACCOUNTS];
    const tx = signTx({ kind: 'transfer', nonce: BigInt(Math.floor(i / ACCOUNTS)), fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [from], NETWORK);
    return { id: (tx.id as Buffer).toString('hex'), payload: tx.bytes as Buffer };
  });
  const body = Buffer.allocUnsafeSlow(1 << 16);
  const accepted = Object.freeze(new Array(BATCH).fill(Object.freeze({ kind: 'accepted' })));
  const connector = {
    position: 0,
    prepare: async () => {},
    build: (tx: { index: number }) => {
      const b = built[tx.index % POOL]!;
      return uniqueIds ? { id: b.id.slice(0, 48) + tx.index.toString(16).padStart(16, '0'), payload: b.payload } : b;
    },
    submit: async (items: readonly { tx: { payload: unknown } }[]) => {
      encodeBatch(items.map((x) => x.tx.payload), body);
      await new Promise((r) => setImmediate(r));
      return items.length === BATCH ? accepted : accepted.slice(0, items.length);
    },
    confirm: async () => {},
    close: async () => {},
  };
  let done: { sent: number; lost: number } | undefined;
  const beacon = new Beacon(assign, (m: { type: string; sent: number; lost: number }) => void (m.type === 'done' && (done = m)), connector, clock);
  await beacon.prepare();
  const startMs = clock.now();
  const cpu0 = process.cpuUsage();
  beacon.start(startMs);
  while (clock.now() < startMs + virtualMs) await new Promise((r) => setTimeout(r, 5));
  await beacon.stop();
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ sent: done?.sent, lost: done?.lost, cpuS: (cpu.user + cpu.system) / 1e6 }));
}

function main(): void {
  const { values } = parseArgs({ options: { trees: { type: 'string' }, rounds: { type: 'string', default: '3' }, 'virtual-ms': { type: 'string', default: '4000' }, 'unique-ids': { type: 'boolean', default: false }, child: { type: 'string' } } });
  const unique = values['unique-ids'] ? ['--unique-ids'] : [];
  const virtualMs = Number(values['virtual-ms']);
  if (values.child) {
    void child(values.child, virtualMs, values['unique-ids']).then(() => process.exit(0));
    return;
  }
  const trees = (values.trees ?? '').split(',').filter(Boolean).map((t) => resolve(t));
  if (trees.length === 0) throw new Error('--trees: one or more checkouts, comma-separated, each built (npm run build)');
  const self = fileURLToPath(import.meta.url);
  for (let r = 1; r <= Number(values.rounds); r++) {
    const cells = trees.map((tree) => {
      const out = JSON.parse(execFileSync(process.execPath, [self, '--child', tree, '--virtual-ms', String(virtualMs), ...unique], { encoding: 'utf8' }).trim().split('\n').at(-1)!) as { sent: number; lost: number; cpuS: number };
      return `${basename(tree)}: ${out.cpuS.toFixed(2)} CPU-s for ${out.sent} sent, ${out.lost} lost (${Math.round(out.sent / out.cpuS)} tx/CPU-s)`;
    });
    console.log(`round ${r}  ${cells.join('  |  ')}`);
  }
}

main();
