/**
 * Where the network's CPU went, by role: reads a `net-cpu-ab.ts --perf` directory (perf.data and
 * pids.json), runs `perf script`, and counts each sample's own frame by role (sequencer, tracker,
 * node1…), thread (main: the event loop; thr: any other: verify threads, V8's compiler and GC,
 * libuv) and category (crypto, sqlite, kernel, JavaScript, V8 builtins, GC, compiler, …).
 *
 *   node dist/bench/lib/perf-roles.js DIR [--symbols node1,sequencer] [--top 40]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Counts = Map<string, number>;
const add = (m: Counts, k: string, n = 1): void => void m.set(k, (m.get(k) ?? 0) + n);
const sorted = (m: Counts): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);

function category(sym: string, dso: string): string {
  if (/^(fe_|ge_|sc_|x25519|ed25519|ossl_|OSSL|OPENSSL|EVP|sha256|SHA256|BN_|CRYPTO_|ERR_|evp_)/.test(sym) || dso.includes('libcrypto')) return 'crypto';
  if (/sqlite/i.test(sym) || /^(pcache|btree|pager|wal|vdbe|Statement::)/.test(sym) || dso.includes('better_sqlite')) return 'sqlite';
  if (dso.includes('kernel')) return 'kernel';
  if (sym.startsWith('JS:') || dso.includes('[JIT]') || dso.includes('perf-')) return 'js';
  if (sym.startsWith('Builtins_')) return 'v8-builtins';
  if (/(Scavenger|Heap|Mark|Sweep|GC|Evacuat|MemoryChunk|PagedSpace|NewSpace|Remembered|SlotSet|Concurrent)/.test(sym)) return 'v8-gc';
  if (sym.includes('compiler::') || /maglev|turbofan/i.test(sym)) return 'v8-compiler';
  if (sym.startsWith('v8::')) return 'v8-other';
  if (sym.includes('node::') || sym.startsWith('uv_') || sym.includes('uv__')) return 'node/uv';
  if (dso.includes('libc')) return 'libc';
  return 'other';
}

function main(): void {
  const argv = process.argv.slice(2);
  const dir = argv[0];
  if (!dir) throw new Error('usage: perf-roles DIR [--symbols role1,role2] [--top N]');
  const want = argv.includes('--symbols') ? argv[argv.indexOf('--symbols') + 1]!.split(',') : [];
  const top = argv.includes('--top') ? Number(argv[argv.indexOf('--top') + 1]) : 40;
  const pids = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as { sequencer: number; tracker: number; nodes: number[] };
  const role = new Map<number, string>([[pids.sequencer, 'sequencer'], [pids.tracker, 'tracker'], ...pids.nodes.map((p, i): [number, string] => [p, `node${i + 1}`])]);
  const out = execFileSync('perf', ['script', '-i', join(dir, 'perf.data'), '-F', 'pid,tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  const samples: Counts = new Map();
  const cats = new Map<string, Counts>();
  const syms = new Map<string, Counts>();
  const all: Counts = new Map();
  let cur: { pid: number; tid: number } | undefined;
  let first = false;
  for (const line of out.split('\n')) {
    const head = /^\s*(\d+)\/(\d+)\s*$/.exec(line);
    if (head) {
      cur = { pid: Number(head[1]), tid: Number(head[2]) };
      first = true;
      continue;
    }
    if (!cur || !first) continue;
    const frame = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
    if (!frame) continue;
    first = false; // only the sample's own frame (self time)
    const sym = frame[1]!.replace(/\+0x[0-9a-f]+$/, '');
    const r = role.get(cur.pid) ?? String(cur.pid);
    const c = category(sym, frame[2]!);
    add(samples, r);
    add(all, c);
    if (!cats.has(r)) cats.set(r, new Map());
    if (!syms.has(r)) syms.set(r, new Map());
    add(cats.get(r)!, `${cur.pid === cur.tid ? 'main' : 'thr'}:${c}`);
    add(syms.get(r)!, sym);
  }
  const total = [...samples.values()].reduce((a, n) => a + n, 0);
  const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`;
  for (const [r, n] of sorted(samples)) {
    console.log(`== ${r}: ${n} samples (${pct(n, total)} of all)`);
    console.log(`   ${sorted(cats.get(r)!).slice(0, 14).map(([k, v]) => `${k} ${pct(v, n)}`).join(', ')}`);
    if (want.includes(r)) for (const [s, v] of sorted(syms.get(r)!).slice(0, top)) console.log(`     ${pct(v, n).padStart(6)}  ${s.slice(0, 140)}`);
  }
  console.log(`== all roles: ${sorted(all).map(([k, v]) => `${k} ${pct(v, total)}`).join(', ')}`);
}

main();
