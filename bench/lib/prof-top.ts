/**
 * Reads `.cpuprofile` files (bench/lib/cpu-prof.ts, `node --cpu-prof`) and prints where the
 * samples fell: self time per function and per file, and the total time under each of a few
 * named functions (inclusive), as percentages of the profile.
 *
 *   node dist/bench/lib/prof-top.js FILE.cpuprofile [--top 30] [--under name1,name2] [--window window.json]
 *
 * `--window` keeps only the samples inside `{ fromUs, toUs }` (CLOCK_MONOTONIC µs, as
 * bench/net-cpu-ab.ts writes it next to the profiles).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function short(url: string): string {
  const i = url.lastIndexOf('/dist/');
  if (i >= 0) return url.slice(i + 6);
  const m = url.lastIndexOf('node_modules/');
  if (m >= 0) return url.slice(m + 13);
  return url.replace(/^file:\/\//, '') || '(native)';
}

function main(): void {
  const argv = process.argv.slice(2);
  const file = argv[0];
  if (!file) throw new Error('usage: prof-top FILE.cpuprofile [--top N] [--under a,b]');
  const top = Number(argv[argv.indexOf('--top') + 1] ?? 30) || 30;
  const under = argv.includes('--under') ? argv[argv.indexOf('--under') + 1]!.split(',') : [];
  const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const win = argv.includes('--window') ? (JSON.parse(readFileSync(argv[argv.indexOf('--window') + 1]!, 'utf8')) as { fromUs: number; toUs: number }) : undefined;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let t = prof.startTime;
  prof.samples.forEach((id, i) => {
    t += prof.timeDeltas[i] ?? 0;
    if (win && (t < win.fromUs || t > win.toUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  });
  let total = 0;
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    total += us;
    const name = n.callFrame.functionName || '(anonymous)';
    const key = `${name}  ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    files.set(short(n.callFrame.url), (files.get(short(n.callFrame.url)) ?? 0) + us);
    const seen = new Set<string>();
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      const f = byId.get(p)!.callFrame.functionName;
      if (under.includes(f) && !seen.has(f)) {
        seen.add(f);
        incl.set(f, (incl.get(f) ?? 0) + us);
      }
    }
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const idle = [...fn].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${pct(idle)} idle; busy ${((total - idle) / 1e6).toFixed(2)} s`);
  console.log('-- self time by function');
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
  console.log('-- self time by file');
  for (const [k, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)}  ${k}`);
  if (under.length) {
    console.log('-- inclusive');
    for (const f of under) console.log(`${pct(incl.get(f) ?? 0)}  ${f}`);
  }
}

main();
