/**
 * Whether a process id names a live process, and the same one as recorded. A zombie counts as gone: a role
 * killed after its parent (a `net up --detach`) exited lingers as one until reaped, and in a container whose init
 * does not reap it never is, yet `kill(pid, 0)` still succeeds on it.
 */
import { readFileSync } from 'node:fs';

/** What /proc/<pid>/stat says of a process. */
export interface ProcStat {
  /** The state letter: R, S, D, T (stopped), Z (zombie), … */
  state: string;
  /** When it started (clock ticks since boot): recorded with a pid, it tells that process from a later one that reused its pid. */
  start: string;
}

/** /proc/<pid>/stat, read once: undefined where there is no /proc, or the process is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime 22.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', start: fields[19] ?? '' };
}

/** Whether `kill(pid, 0)` finds a process (a zombie included). */
function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

export function isAlive(pid: number): boolean {
  // No /proc (not Linux): trust the signal check.
  return signalable(pid) && procStat(pid)?.state !== 'Z';
}

/** When a process started, as /proc/<pid>/stat gives it; undefined where there is no /proc, or the process is gone. */
export function processStartOf(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/**
 * Whether `pid` is still the process recorded with start time `pidStart` (alive, and its pid not reused since).
 * Without a recorded start (a file from an older tpslab) or without /proc, alive is all that can be told.
 */
export function isSameProcess(p: { pid: number; pidStart?: string | undefined }): boolean {
  if (!signalable(p.pid)) return false;
  const s = procStat(p.pid);
  if (s === undefined) return true; // no /proc (or gone since the signal check, as the old two reads had it)
  return s.state !== 'Z' && (p.pidStart === undefined || s.start === p.pidStart);
}
