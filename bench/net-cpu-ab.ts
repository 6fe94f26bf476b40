/**
 * A/B of the reference network's CPU per committed transfer, per role, between
 * builds: the same pre-signed transfers pumped (network-scaling's pass: one
 * in-process beacon per node) into an n-node network started from each
 * checkout's own `dist/src/ledger/net.js` in turn, in the order A B B A A B …,
 * so a drift in the machine's load falls on both. CPU per transfer is much
 * steadier than TPS on a shared machine: it is the figure to compare.
 *
 *   node dist/bench/net-cpu-ab.js --trees /work/wt/base,. [--rounds 2] [--nodes 3]
 *        [--senders 2000] [--nonces 10] [--warmup-nonces 0] [--prof DIR] [--perf DIR]
 *
 * `--warmup-nonces K` pumps every sender's first K nonces into each new network, unmeasured,
 * before the window (as network-scaling does), so the window sees warm processes.
 *
 * Every tree must be built (`npm run build`). `--prof DIR` samples every network
 * process's CPU (bench/lib/cpu-prof.ts) and writes the profiles under
 * DIR/<tree>-<pass>/<role>-<id>-<pid>.cpuprofile, with window.json: the measured window,
 * which `bench/lib/prof-top.ts --window` cuts them to. Those profiles sample the main thread's
 * wall time; `--perf DIR` records on-CPU samples of every thread (perf record, see perfHooks),
 * which is what CPU per transfer counts. At the end it measures one Ed25519 verification's CPU
 * in this process and prints, per tree, issue 15's ratio in its per-CPU-second form
 * (verification CPU ÷ network CPU per transfer). Not part of `npm run bench`: a tool for
 * commits that change the network's hot paths.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { netUp as NetUp, stopProcesses as StopProcesses } from '../src/ledger/net.js';
import { measureVerify, verifySet } from './lib/verify.js';
import { NETWORK, networkPass, per1k, prepare, tps, type NetLauncher, type PassResult, type WindowHooks } from './network-scaling.js';

const PROF_PRELOAD = fileURLToPath(new URL('./lib/cpu-prof.js', import.meta.url));
/** How long the closing verification yardstick runs. */
const VERIFY_MS = 1_500;

interface Args {
  trees: string[];
  rounds: number;
  nodes: number;
  senders: number;
  nonces: number;
  warmupNonces: number;
  prof: string | undefined;
  perf: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { trees: ['.'], rounds: 2, nodes: 3, senders: 2000, nonces: 10, warmupNonces: 0, prof: undefined, perf: undefined };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--trees') a.trees = v.split(',').filter(Boolean);
    else if (k === '--prof') a.prof = resolve(v);
    else if (k === '--perf') a.perf = resolve(v);
    else if (k === '--warmup-nonces') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`--warmup-nonces must be a whole number >= 0, got "${v}"`);
      a.warmupNonces = n;
    }    else if (k === '--rounds' || k === '--nodes' || k === '--senders' || k === '--nonces') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${k} must be a whole number >= 1, got "${v}"`);
      a[k.slice(2) as 'rounds' | 'nodes' | 'senders' | 'nonces'] = n;
    } else throw new Error(`unknown argument "${k}"; see the header of bench/net-cpu-ab.ts`);
  }
  return a;
}

async function launcherOf(tree: string): Promise<NetLauncher> {
  const mod = (await import(pathToFileURL(resolve(tree, 'dist/src/ledger/net.js')).href)) as { netUp: typeof NetUp; stopProcesses: typeof StopProcesses };
  return { netUp: mod.netUp, stopProcesses: mod.stopProcesses };
}

const ms = (cpu: number, p: PassResult): string => (per1k(cpu, p) * 1000).toFixed(1);

function line(tree: string, p: PassResult): string {
  const nodes = p.nodeCpu.reduce((x, c) => x + c, 0);
  return (
    `${tree.padEnd(12)} ${Math.round(tps(p)).toString().padStart(6)} tx/s  CPU ms per 1k tx: sequencer ${ms(p.seqCpu, p)}, ` +
    `nodes ${p.nodeCpu.map((c) => ms(c, p)).join('/')}, tracker ${ms(p.trackerCpu, p)}, network ${ms(p.seqCpu + nodes + p.trackerCpu, p)}, client ${ms(p.clientCpu, p)}`
  );
}

/**
 * `perf record` (on-CPU samples of every thread, kernel included) of the network's processes over
 * the window, to DIR/perf.data with DIR/pids.json naming the roles; the processes run with
 * --perf-basic-prof so JavaScript frames have names. Read with bench/lib/perf-roles.ts (by role,
 * thread and category), or `perf report -i DIR/perf.data --sort pid,sym --no-children` (by thread).
 */
function perfHooks(dir: string): WindowHooks {
  let child: ChildProcess | undefined;
  return {
    start(pids) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(resolve(dir, 'pids.json'), `${JSON.stringify({ sequencer: pids[0], tracker: pids[1], nodes: pids.slice(2) })}\n`);
      child = spawn('perf', ['record', '-q', '-F', '499', '-g', '-o', resolve(dir, 'perf.data'), '-p', pids.join(',')], { stdio: 'inherit' });
    },
    async end() {
      if (!child) return;
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGINT');
      await exited;
    },
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const names = args.trees.map((t) => basename(resolve(t)));
  const launchers = await Promise.all(args.trees.map(launcherOf));
  const signal = new AbortController().signal;
  const log = (s: string) => console.log(s);
  const shared = prepare({ log }, args.senders, args.nonces, args.warmupNonces);
  const results: PassResult[][] = args.trees.map(() => []);
  const baseOptions = process.env.NODE_OPTIONS;
  let pass = 0;
  for (let r = 0; r < args.rounds; r++) {
    const order = args.trees.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      pass++;
      if (args.prof) {
        const dir = resolve(args.prof, `${names[i]}-${pass}`);
        mkdirSync(dir, { recursive: true });
        process.env.NODE_OPTIONS = `${baseOptions ?? ''} --import ${PROF_PRELOAD}`.trim();
        process.env.TPSLAB_CPU_PROF_DIR = dir;
        log(`profiles of pass ${pass} in ${dir}`);
      }
      const hooks = args.perf ? perfHooks(resolve(args.perf, `${names[i]}-${pass}`)) : undefined;
      if (args.perf) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --perf-basic-prof`.trim();
      const quiet = { log: (s: string) => (args.prof || args.perf ? log(`  ${s}`) : undefined), signal };
      const p = await networkPass(args.nodes, shared, quiet, launchers[i]!, hooks);
      delete process.env.TPSLAB_CPU_PROF_DIR;
      if (baseOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = baseOptions;
      results[i]!.push(p);
      if (args.prof && p.monoUs) writeFileSync(resolve(args.prof, `${names[i]}-${pass}`, 'window.json'), `${JSON.stringify({ fromUs: p.monoUs[0], toUs: p.monoUs[1] })}\n`);
      log(line(names[i]!, p));
      for (const n of p.notes) log(`  note: ${n}`);
    }
  }
  log('\nsummed over passes (CPU ms per 1k committed transfers):');
  const sums = results.map((ps) =>
    ps.slice(1).reduce(
      (a, p) => ({ ...a, committed: a.committed + p.committed, windowMs: a.windowMs + p.windowMs, seqCpu: a.seqCpu + p.seqCpu, trackerCpu: a.trackerCpu + p.trackerCpu, clientCpu: a.clientCpu + p.clientCpu, nodeCpu: a.nodeCpu.map((c, k) => c + p.nodeCpu[k]!) }),
      ps[0]!,
    ),
  );
  sums.forEach((p, i) => log(line(names[i]!, p)));
  /** CPU-seconds per 1,000 committed transfers, every network process. */
  const network = (p: PassResult) => per1k(p.seqCpu + p.nodeCpu.reduce((x, c) => x + c, 0) + p.trackerCpu, p);
  // Issue 15's ratio in its per-CPU-second form: the one verification a transfer needs ÷ the network's CPU per transfer.
  const verify = measureVerify(verifySet(NETWORK), VERIFY_MS);
  log(`one Ed25519 verification: ${(1e6 / verify.perCpuSecond).toFixed(1)} µs of CPU (${Math.round(verify.perCpuSecond)} per CPU-second, in this process)`);
  for (const [i, p] of sums.entries()) {
    log(`${names[i]}: verification CPU ÷ network CPU per transfer = ${(1000 / verify.perCpuSecond / network(p)).toFixed(3)} (issue 15's goal: at least 0.5)`);
  }
  for (let i = 1; i < sums.length; i++) {
    const a = sums[0]!;
    const b = sums[i]!;
    log(
      `${names[i]} ÷ ${names[0]}: network CPU per tx ${(network(b) / network(a)).toFixed(3)}, sequencer ${(per1k(b.seqCpu, b) / per1k(a.seqCpu, a)).toFixed(3)}, ` +
        `nodes ${(per1k(b.nodeCpu.reduce((x, c) => x + c, 0), b) / per1k(a.nodeCpu.reduce((x, c) => x + c, 0), a)).toFixed(3)}, TPS ${(tps(b) / tps(a)).toFixed(3)}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
