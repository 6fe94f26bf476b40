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
