/**
 * `npm run bench`: runs every benchmark module in sequence on this machine,
 * prints each one's figures and ratios under a title, then a summary table.
 *
 *   node dist/bench/run.js                 all benchmarks
 *   node dist/bench/run.js --only <name>   one benchmark
 *   node dist/bench/run.js --list          names and descriptions
 *
 * Exit code: 0 when every benchmark ran (whatever its figures), 1 if one
 * crashed or overran its time limit, 2 for a usage error.
 *
 * To add a benchmark: write a module exporting a `Benchmark` (see
 * contract.ts) and append it to BENCHMARKS below.
 */
import type { BenchContext, BenchResult, Benchmark } from './contract.js';
import { beaconVsAutocannon } from './beacon-vs-autocannon.js';
import { datasetPrepare } from './dataset-prepare.js';
import { distributed } from './distributed.js';
import { ethereumDevnet } from './ethereum-devnet.js';
import { harness } from './harness.js';
import { infrastructure } from './infrastructure.js';
import { latencyHalfMax } from './latency-half-max.js';
import { networkScaling } from './network-scaling.js';
import { nodeRestart } from './node-restart.js';
import { nodeSaturation } from './node-saturation.js';
import { reconcile } from './reconcile.js';
import { replay } from './replay.js';
import { sequencerFailover } from './sequencer-failover.js';
import { soakBench } from './soak.js';

const BENCHMARKS: readonly Benchmark[] = [nodeSaturation, networkScaling, beaconVsAutocannon, harness, datasetPrepare, ethereumDevnet, infrastructure, replay, nodeRestart, distributed, soakBench, reconcile, sequencerFailover, latencyHalfMax];

const DEFAULT_TIMEOUT_MS = 120_000;
/** After aborting an overrunning benchmark, how long its cleanup may take before the runner moves on. */
const ABORT_GRACE_MS = 15_000;

interface Outcome {
  bench: Benchmark;
  elapsedMs: number;
  result?: BenchResult;
  error?: string;
}

function usage(): string {
  return [
    'usage: node dist/bench/run.js [--only <name>] [--list]',
    '',
    'benchmarks:',
    ...BENCHMARKS.map((b) => `  ${b.name.padEnd(20)} ${b.description}`),
  ].join('\n');
}

function parseArgs(argv: string[]): { only?: string; list: boolean } | string {
  let only: string | undefined;
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') {
      const v = argv[++i];
      if (!v) return '--only needs a benchmark name';
      only = v;
    } else if (a.startsWith('--only=')) {
      only = a.slice('--only='.length);
    } else if (a === '--list') {
      list = true;
    } else if (a === '--help' || a === '-h') {
      return '';
    } else {
      return `unknown argument "${a}"`;
    }
  }
  return only === undefined ? { list } : { only, list };
}

/** Numbers for humans: thousands separators, 3 significant digits below 100. */
function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a === 0) return '0';
  return v.toPrecision(3);
}

function table(header: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((s, c) => (rightAlign[c] ? s.padStart(widths[c]!) : s.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function printResult(r: BenchResult, indent = '  '): void {
  const pad = (s: string) => s.split('\n').map((l) => indent + l).join('\n');
  console.log(pad(table(['metric', 'value', 'unit'], r.rows.map((x) => [x.metric, fmt(x.value), x.unit]), [false, true, false])));
  for (const q of r.ratios ?? []) {
    console.log(`${indent}ratio  ${q.label} = ${fmt(q.value)}${q.note ? `\n${indent}       ${q.note}` : ''}`);
  }
  for (const n of r.notes ?? []) console.log(`${indent}note   ${n}`);
}

async function runOne(bench: Benchmark, onAbortable: (abort: (why: string) => void) => void): Promise<Outcome> {
  const controller = new AbortController();
  const ctx: BenchContext = { signal: controller.signal, log: (line) => console.log(`  · ${line}`) };
  const limit = bench.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  let overran: string | undefined;
  const abort = (why: string) => {
    if (controller.signal.aborted) return;
    overran = why;
    controller.abort(new Error(why));
  };
  onAbortable(abort);
  const limitTimer = setTimeout(() => abort(`exceeded its ${limit / 1000} s limit`), limit);
  const running = Promise.resolve().then(() => bench.run(ctx));
  // After an abort the module gets ABORT_GRACE_MS to clean up and settle.
  const graceLost = new Promise<'lost'>((resolve) => {
    controller.signal.addEventListener('abort', () => setTimeout(() => resolve('lost'), ABORT_GRACE_MS).unref(), { once: true });
  });
  try {
    const r = await Promise.race([running, graceLost]);
    if (r === 'lost') return { bench, elapsedMs: elapsed(), error: `${overran}; did not stop within ${ABORT_GRACE_MS / 1000} s of being aborted` };
    if (overran) return { bench, elapsedMs: elapsed(), result: r, error: overran };
    return { bench, elapsedMs: elapsed(), result: r };
  } catch (err) {
    const e = err as Error;
    const msg = overran ? `${overran} (${e.message})` : (e.stack ?? String(err));
    return { bench, elapsedMs: elapsed(), error: msg };
  } finally {
    clearTimeout(limitTimer);
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    if (args) console.error(`error: ${args}\n`);
    console.error(usage());
    return args ? 2 : 0;
  }
  if (args.list) {
    console.log(usage());
    return 0;
  }
  const selected = args.only === undefined ? BENCHMARKS : BENCHMARKS.filter((b) => b.name === args.only);
  if (selected.length === 0) {
    console.error(`error: no benchmark named "${args.only}"\n`);
    console.error(usage());
    return 2;
  }

  // Ctrl-C: abort the running benchmark so it stops its nodes; a second one exits at once.
  let abortCurrent: ((why: string) => void) | undefined;
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('\ninterrupted: stopping the running benchmark (Ctrl-C again to exit now)');
    abortCurrent?.('interrupted');
  });

  console.log(`tpslab benchmarks — node ${process.version}, ${process.platform}/${process.arch}`);
  console.log('Figures are from this machine in this run; compare the ratios, not the absolute numbers.');
  const outcomes: Outcome[] = [];
  for (const bench of selected) {
    if (interrupted) break;
    console.log(`\n=== ${bench.name}: ${bench.description} ===`);
    const o = await runOne(bench, (a) => (abortCurrent = a));
    abortCurrent = undefined;
    outcomes.push(o);
    if (o.result) printResult(o.result);
    if (o.error) console.log(`  CRASHED after ${(o.elapsedMs / 1000).toFixed(1)} s: ${o.error}`);
    else console.log(`  (${(o.elapsedMs / 1000).toFixed(1)} s)`);
  }

  console.log('\n=== summary ===');
  const rows: string[][] = [];
  for (const o of outcomes) {
    if (!o.result) {
      rows.push([o.bench.name, 'CRASHED', '', '']);
      continue;
    }
    for (const r of o.result.rows) rows.push([o.bench.name, r.metric, fmt(r.value), r.unit]);
    for (const q of o.result.ratios ?? []) rows.push([o.bench.name, `ratio: ${q.label}`, fmt(q.value), '×']);
    if (o.error) rows.push([o.bench.name, 'CRASHED (partial figures above)', '', '']);
  }
  console.log(table(['benchmark', 'metric', 'value', 'unit'], rows, [false, false, true, false]));
  const crashed = outcomes.filter((o) => o.error).length;
  const total = outcomes.reduce((a, o) => a + o.elapsedMs, 0);
  console.log(`\n${outcomes.length - crashed} of ${outcomes.length} benchmarks ran in ${(total / 1000).toFixed(1)} s${crashed ? `; ${crashed} crashed` : ''}.`);
  return crashed || interrupted ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
