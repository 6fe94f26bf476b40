// A node --test reporter that prints each test file's wall time, slowest first, and how full the
// lanes were (the files' summed time ÷ lanes × the run's wall time). To refresh the order in
// scripts/test-files.mjs:
//   npm run build && node --test --test-concurrency=2 --test-timeout=600000 \
//     --test-reporter=spec --test-reporter-destination=stderr \
//     --test-reporter=./scripts/test-times.mjs --test-reporter-destination=stdout $(node scripts/test-files.mjs)
// A file's time runs from when the runner starts it to its last event (node 20 passes a file's
// events on when the file's process ends).
export default async function* testTimes(source) {
  const began = Date.now();
  /** file → [startMs, lastEventMs] */
  const files = new Map();
  let failed = 0;
  for await (const event of source) {
    const file = event.data?.file;
    if (!file) continue;
    const now = Date.now();
    const span = files.get(file);
    if (span) span[1] = now;
    else files.set(file, [now, now]);
    if (event.type === 'test:fail' && event.data.nesting === 0 && event.data.name !== file) failed++;
  }
  const wallMs = Date.now() - began;
  const rows = [...files].map(([file, [start, end]]) => ({ file: file.replace(/^.*?dist\//, ''), sec: (end - start) / 1000, startSec: (start - began) / 1000 }));
  rows.sort((a, b) => b.sec - a.sec);
  const sum = rows.reduce((s, r) => s + r.sec, 0);
  yield `\n# per-file wall time (s), slowest first; started at (s)\n`;
  for (const r of rows) yield `${r.sec.toFixed(1).padStart(8)}  ${r.startSec.toFixed(0).padStart(5)}  ${r.file}\n`;
  const lanes = Number(process.env.TEST_LANES ?? 2);
  yield `# ${rows.length} files, ${failed} failed top-level tests; summed ${sum.toFixed(0)} s over ${(wallMs / 1000).toFixed(0)} s of wall time: ${lanes} lanes ${((100 * sum) / (lanes * (wallMs / 1000))).toFixed(0)}% full\n`;
}
