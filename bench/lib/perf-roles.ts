/**
 * Where the network's CPU went, by role: reads a `net-cpu-ab.ts --perf` directory (perf.data and
 * pids.json), runs `perf script`, and counts each sample's own frame by role (sequencer, tracker,
 * node1…), thread (main: the event loop; thr: any other: verify threads, V8's compiler and GC,
 * libuv) and category (crypto, sqlite, kernel, JavaScript, V8 builtins, GC, compiler, …).
 *
 *   node dist/bench/lib/perf-roles.js DIR [--symbols node1,sequencer] [--top 40] [--inclusive node1,sequencer]
 *
 * `--inclusive`: for those roles' main threads (needs call stacks: net-cpu-ab records them), the
 * share of on-CPU samples with each of our functions (dist/src) anywhere in the stack, and of a few
 * libraries and native parts (SQLite statements, GC, file writes, fetch, fastify, ws): where the
 * event loop's CPU went, callees included. Unlike `--prof`, this counts CPU, not wall time.
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
  const inclusive = argv.includes('--inclusive') ? argv[argv.indexOf('--inclusive') + 1]!.split(',') : [];
  const pids = JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as { sequencer: number; tracker: number; nodes: number[] };
  const role = new Map<number, string>([[pids.sequencer, 'sequencer'], [pids.tracker, 'tracker'], ...pids.nodes.map((p, i): [number, string] => [p, `node${i + 1}`])]);
  const out = execFileSync('perf', ['script', '-i', join(dir, 'perf.data'), '-F', 'pid,tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  const samples: Counts = new Map();
  const cats = new Map<string, Counts>();
  const syms = new Map<string, Counts>();
  const all: Counts = new Map();
  let cur: { pid: number; tid: number } | undefined;
  let first = false;
  const incl = new Map<string, { samples: number; under: Counts }>();
  let stack: Set<string> | undefined; // labels in the current sample's stack, when its role is asked for
  const endSample = (): void => {
    if (!cur || !stack) return;
    const e = incl.get(role.get(cur.pid)!)!;
    e.samples++;
    for (const l of stack) add(e.under, l);
    stack = undefined;
  };
  for (const line of out.split('\n')) {
    const head = /^\s*(\d+)\/(\d+)\s*$/.exec(line);
    if (head) {
      endSample();
      cur = { pid: Number(head[1]), tid: Number(head[2]) };
      first = true;
      const r = role.get(cur.pid);
      if (r && inclusive.includes(r) && cur.pid === cur.tid) {
        if (!incl.has(r)) incl.set(r, { samples: 0, under: new Map() });
        stack = new Set();
      }
      continue;
    }
    if (stack) {
      const f = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
      const label = f ? inclusiveLabel(f[1]!.replace(/\+0x[0-9a-f]+$/, '')) : undefined;
      if (label) stack.add(label);
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
  endSample();
  for (const [r, e] of incl) {
    console.log(`== ${r}, main thread, inclusive (${e.samples} samples): share of samples with it in the stack`);
    for (const [l, v] of sorted(e.under).slice(0, top)) console.log(`     ${pct(v, e.samples).padStart(6)}  ${l}`);
  }
}

/** What a stack frame counts under for --inclusive: our functions by name and place, a few native parts and libraries by name. */
function inclusiveLabel(sym: string): string | undefined {
  const js = /^JS:[*^~+]?(\S*) .*\/dist\/(src\/\S+?):(\d+)/.exec(sym);
  if (js) return `${js[1] || '(anonymous)'} ${js[2]}:${js[3]}`;
  if (sym === 'Statement::JS_run' || sym === 'Database::JS_exec') return '[sqlite statements]';
  if (/Scavenger::|MarkCompactCollector::|Heap::CollectGarbage/.test(sym)) return '[gc on the event loop]';
  if (/^(vfs_write|do_writev|vfs_writev)$/.test(sym)) return '[kernel: write/writev]';
  if (/^(ksys_read|vfs_read|do_readv)$/.test(sym)) return '[kernel: read]';
  if (sym.includes('deps/undici')) return '[fetch (undici)]';
  if (sym.includes('node_modules/fastify/')) return '[fastify]';
  if (sym.includes('node_modules/ws/')) return '[ws]';
  return undefined;
}

main();
