/**
 * Whether a process id names a live process. A zombie counts as gone: a role killed after its
 * parent (a `net up --detach`) exited lingers as one until reaped, and in a container whose init
 * does not reap it never is, yet `kill(pid, 0)` still succeeds on it.
 */
import { readFileSync } from 'node:fs';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): trust the signal check
  }
}

/**
 * When a process started, as /proc/<pid>/stat gives it (clock ticks since boot): recorded with a pid, it
 * tells that process from a later one that reused its pid. Undefined where there is no /proc, or the
 * process is gone.
 */
export function processStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is still the process recorded with start time `pidStart` (alive, and its pid not reused since).
 * Without a recorded start (a file from an older tpslab) or without /proc, alive is all that can be told.
 */
export function isSameProcess(p: { pid: number; pidStart?: string | undefined }): boolean {
  if (!isAlive(p.pid)) return false;
  if (p.pidStart === undefined) return true;
  const now = processStartOf(p.pid);
  return now === undefined || now === p.pidStart;
}
