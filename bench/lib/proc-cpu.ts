/**
 * CPU time of other processes from /proc/<pid>/stat (Linux): utime + stime,
 * in clock ticks of `getconf CLK_TCK` (100 when it cannot be asked).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticks: number | undefined;

/** Clock ticks per second of /proc times. */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
      ticks = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** User + system CPU seconds the process `pid` has used so far (its own threads, not its children). */
export function procCpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is in parentheses and may hold spaces: count fields after the last ')'.
  const after = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // after[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(after[11]);
  const stime = Number(after[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot read CPU times from /proc/${pid}/stat`);
  return (utime + stime) / clockTicks();
}

/** CPU seconds of several processes, read one after another (NaN for one that is gone). */
export function procCpuMany(pids: readonly number[]): number[] {
  return pids.map((pid) => {
    try {
      return procCpuSeconds(pid);
    } catch {
      return Number.NaN;
    }
  });
}

/** This process's CPU seconds so far (user + system). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
