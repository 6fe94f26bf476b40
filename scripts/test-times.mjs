// A node --test reporter that prints each test file's time, slowest first: the summed durations of
// its top-level tests (its process's start-up and imports not included), and how full the lanes
// were (those sums ÷ lanes × the run's wall time, a lower bound). To refresh the order in
// scripts/run-tests.mjs: npm run build && TPSLAB_TEST_TIMES=/tmp/test-times.txt node scripts/run-tests.mjs
// (or --test-reporter=./scripts/test-times.mjs with node --test). Durations, not event times: node
// passes on a file's events in file order, after the files before it have finished.
export default async function* testTimes(source) {
  const began = Date.now();
  /** file → summed ms of its top-level tests */
  const files = new Map();
  let failed = 0;
  for await (const event of source) {
    const d = event.data;
    if ((event.type !== 'test:pass' && event.type !== 'test:fail') || !d?.file || d.nesting !== 0 || d.name === d.file) continue;
    files.set(d.file, (files.get(d.file) ?? 0) + (d.details?.duration_ms ?? 0));
    if (event.type === 'test:fail' && !d.todo) failed++;
  }
  const wallSec = (Date.now() - began) / 1000;
  const rows = [...files].map(([file, ms]) => ({ file: file.replace(/^.*?dist\//, ''), sec: ms / 1000 })).sort((a, b) => b.sec - a.sec);
  const sum = rows.reduce((s, r) => s + r.sec, 0);
  yield `\n# per-file time (s): its top-level tests' durations summed, slowest first\n`;
  for (const r of rows) yield `${r.sec.toFixed(1).padStart(8)}  ${r.file}\n`;
  const lanes = Number(process.env.TEST_LANES ?? 2);
  yield `# ${rows.length} files, ${failed} failed top-level tests; summed ${sum.toFixed(0)} s over ${wallSec.toFixed(0)} s of wall time: ${lanes} lanes at least ${((100 * sum) / (lanes * wallSec)).toFixed(0)}% full\n`;
}
