/**
 * A lock between processes on one machine: a lock file created with O_EXCL that holds the owner's pid and
 * start time. A lock whose owner is gone (or whose pid now names another process) is stale and taken over,
 * so a crashed holder never blocks the next one. Waits by polling, up to a deadline.
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import { TpslabError } from '../errors.js';
import { isSameProcess, processStartOf } from './pid-alive.js';

const POLL_MS = 20;
/** An empty lock file older than this lost its writer between create and write: stale. */
const EMPTY_STALE_MS = 2000;

/** What a lock file holds: `pid start`, the start being /proc's (or `-` where there is none). */
function ownerText(): string {
  return `${process.pid} ${processStartOf(process.pid) ?? '-'}\n`;
}

function isStale(text: string): boolean {
  const [pid, start] = text.trim().split(' ');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return true; // torn or empty: its writer died between create and write
  return !isSameProcess({ pid: n, pidStart: start === '-' ? undefined : start });
}

/** Takes the lock at `path` (waiting up to `timeoutMs`), runs `fn`, and gives the lock back. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(ownerText());
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = await readFile(path, 'utf8').catch(() => undefined);
    // Gone meanwhile: try again at once. Stale: remove it and try again (one of the waiters wins the O_EXCL create).
    // A holder may have just created it and not yet written its pid: empty is stale only once it is old.
    if (text === undefined) continue;
    const stale = text === '' ? Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0) > EMPTY_STALE_MS : isStale(text);
    // Read again just before removing: another waiter may have removed the stale file and taken the lock since.
    if (stale && (await readFile(path, 'utf8').catch(() => undefined)) === text) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new TpslabError('TPSLAB_E_TIMEOUT', `${path} stayed locked for ${timeoutMs} ms (held by ${text.trim() ? `pid ${text.trim().split(' ')[0]}` : 'a process that has not written its pid'}); if no tpslab command is running on this network, remove the file`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
