/**
 * Resident memory of this process and every process it started (beacons, the network's roles),
 * sampled from /proc (Linux). For the soak test and `npm run bench -- --only soak`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

export interface RssSample {
  /** ms since the sampler started. */
  tMs: number;
  rssBytes: number;
}

/** Every descendant pid of `root` (children of all its threads, recursively). */
export function descendants(root: number): number[] {
  const out: number[] = [];
  const walk = (pid: number): void => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      return; // gone meanwhile
    }
    for (const tid of tasks) {
      let text: string;
      try {
        text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of text.split(' ')) {
        const child = Number(c);
        if (child > 0) {
          out.push(child);
          walk(child);
        }
      }
    }
  };
  walk(root);
  return out;
}

/** VmRSS of `pid` in bytes, or undefined once it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A process's command line, its arguments joined by NUL ('' once it is gone). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** A readable name for a tpslab process: "beacon 1234", "replica node1", "sequencer", "tracker"; else its command line. */
export function processName(pid: number): string {
  const args = cmdline(pid).split('\0').filter(Boolean);
  if (args.length === 0) return `pid ${pid}`;
  const main = args.findIndex((a) => a.endsWith('main.js'));
  if (main < 0) return args.map((a) => basename(a)).join(' ').slice(0, 60);
  const command = args[main + 1] ?? '?';
  if (command === 'beacon') return `beacon ${pid}`;
  const data = args.indexOf('--data');
  return data > 0 ? `${command} ${basename(args[data + 1] ?? '')}` : `${command} ${pid}`;
}

/** Samples this process ("overseer") and its descendants every `everyMs` until stopped. */
export class RssSampler {
  readonly series = new Map<string, RssSample[]>();
  private readonly names = new Map<number, string>();
  private readonly began = performance.now();
  private timer: NodeJS.Timeout | undefined;

  start(everyMs: number): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    return this;
  }

  stop(): Map<string, RssSample[]> {
    clearInterval(this.timer);
    return this.series;
  }

  sample(): void {
    const tMs = performance.now() - this.began;
    this.add('overseer', tMs, process.memoryUsage().rss);
    for (const pid of descendants(process.pid)) {
      const rss = rssOf(pid);
      if (rss === undefined) continue;
      let name = this.names.get(pid);
      if (name === undefined) this.names.set(pid, (name = processName(pid)));
      this.add(name, tMs, rss);
    }
  }

  private add(name: string, tMs: number, rssBytes: number): void {
    let s = this.series.get(name);
    if (!s) this.series.set(name, (s = []));
    s.push({ tMs, rssBytes });
  }
}

/** Least-squares slope of RSS over time, bytes per minute (0 with fewer than 2 samples). */
export function slopeBytesPerMin(samples: readonly RssSample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mt = samples.reduce((a, s) => a + s.tMs, 0) / n;
  const mr = samples.reduce((a, s) => a + s.rssBytes, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.tMs - mt) * (s.rssBytes - mr);
    den += (s.tMs - mt) ** 2;
  }
  return den > 0 ? (num / den) * 60_000 : 0;
}

/** Samples with `fromMs` <= tMs < `toMs`. */
export function between(samples: readonly RssSample[], fromMs: number, toMs: number): RssSample[] {
  return samples.filter((s) => s.tMs >= fromMs && s.tMs < toMs);
}
