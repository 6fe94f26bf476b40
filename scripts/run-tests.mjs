// `npm test`: runs the compiled test files (dist/test) as `node --test --test-concurrency=2
// --test-timeout=600000` does, but the slowest files first. The node --test command line sorts the
// files it is given (node 20); run() keeps their order and starts each as a lane frees up, so with
// the long files first the short ones fill in behind them and both lanes end together, instead of
// a 4-minute file starting last and running alone. Files not listed follow in path order.
// Refresh the list from a run with TPSLAB_TEST_TIMES=<file> (scripts/test-times.mjs). Arguments: --list prints the order;
// file paths run only those (in the order given).
import { createWriteStream, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';
import testTimes from './test-times.mjs';

/** Slowest first: summed test durations per file in one full run (shared 2-core machine, 2 lanes, 2026-11-29). */
const SLOWEST = [
  'connectors/replay', // 229 s: the 100,000-transaction replay (issue 12)
  'e2e/nats', // 184 s
  'experiments/find-max', // 153 s
  'e2e/harness', // 144 s
  'e2e/soak', // 116 s: 90 s of load by design
  'e2e/browser', // 85 s
  'e2e/ethereum-connector', // 70 s
  'experiments/sweep', // 59 s
  'e2e/sequencer-failover', // 48 s
  'faults/faults-e2e', // 47 s
  'e2e/network', // 38 s
  'faults/kill-restart-e2e', // 17–44 s (helper's runs)
  'observability/prometheus-server', // 36 s
  'faults/links-e2e', // 30 s
  'infra/lb-run', // 28 s
  'e2e/cli', // 26 s
  'e2e/run-cli-timeout', // 20 s: waits for its timeout on purpose
  'e2e/interrupt', // 25 s
  'experiments/interrupt', // 19 s
  'observability/observability', // 16 s
  'e2e/reconcile-hidden', // 14 s
  'connectors/ethereum-stuck', // 13 s
  'infra/indexer', // 12 s
  'infra/lb', // 11 s
  'e2e/http-connector', // 11 s
  'e2e/net-ops', // 9 s
  'e2e/net-up-genesis', // 7 s
  'e2e/forward-shedding', // 7 s
];

const root = resolve(fileURLToPath(import.meta.url), '../../dist/test');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : []));
}

/** Every compiled test file, the listed slow ones first. */
function ordered() {
  const all = walk(root).map((f) => relative(root, f).replace(/\.test\.js$/, '')).sort();
  const present = new Set(all);
  const first = SLOWEST.filter((f) => present.has(f));
  const firstSet = new Set(first);
  return [...first, ...all.filter((f) => !firstSet.has(f))].map((f) => join(root, `${f}.test.js`));
}

const args = process.argv.slice(2);
if (args.includes('--list')) {
  process.stdout.write(ordered().map((f) => relative(process.cwd(), f)).join('\n') + '\n');
} else {
  const files = args.length > 0 ? args.map((f) => resolve(f)) : ordered();
  const stream = run({ files, concurrency: 2, timeout: 600_000 });
  stream.on('test:fail', (t) => {
    if (!t.todo && !t.skip) process.exitCode = 1;
  });
  // As node --test: spec on a terminal, TAP otherwise.
  stream.compose(process.stdout.isTTY ? new spec() : tap).pipe(process.stdout);
  // TPSLAB_TEST_TIMES=<file>: each file's wall time too (scripts/test-times.mjs), to refresh SLOWEST.
  if (process.env.TPSLAB_TEST_TIMES) stream.compose(testTimes).pipe(createWriteStream(process.env.TPSLAB_TEST_TIMES));
}
