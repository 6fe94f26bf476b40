/**
 * A lock between processes on one machine: a lock file created with O_EXCL that holds the owner's pid and
 * start time. A lock whose owner is gone (or whose pid now names another process) is stale and taken over,
 * so a crashed holder never blocks the next one, by one waiter at a time (under a short guard file, `takeOver`).
 * Waits by polling, up to a deadline.
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import { TpslabError } from '../errors.js';
import { isSameProcess, processStartOf } from './pid-alive.js';

const POLL_MS = 20;
/** An empty lock file older than this lost its writer between create and write: stale. */
const EMPTY_STALE_MS = 2000;
/** A takeover guard older than this lost its waiter (it died between taking and removing it): stale. */
const TAKEOVER_STALE_MS = 5000;

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

/** Whether the lock file at `path`, read as `text`, is stale now. An empty one is stale only once it is old: a holder may have just created it and not yet written its pid. */
async function isStaleLock(path: string, text: string): Promise<boolean> {
  if (text !== '') return isStale(text);
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > EMPTY_STALE_MS;
}

/** For tests: runs just before a stale lock file is removed (a regression test delays one waiter here). */
export const fileLockTestHooks: { beforeStaleRemove?: () => Promise<void> } = {};

/**
 * Removes the stale lock at `path`, under the guard `path.takeover` so that one waiter at a time decides: without
 * it, two waiters could both find it stale, one remove it and take the lock, and the other then remove that new
 * lock and take it too. Under the guard the file is read again and removed only if it is still stale (a lock
 * taken since names a live holder, or is empty and new). False when another waiter holds the guard: wait a poll.
 */
async function takeOver(path: string): Promise<boolean> {
  const guard = `${path}.takeover`;
  try {
    await (await open(guard, 'wx')).close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A waiter that died between taking the guard and removing it left it: stale once old, by mtime.
    const st = await stat(guard).catch(() => undefined);
    if (st !== undefined && Date.now() - st.mtimeMs > TAKEOVER_STALE_MS) await rm(guard, { force: true });
    return false;
  }
  try {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text !== undefined && (await isStaleLock(path, text))) {
      await fileLockTestHooks.beforeStaleRemove?.();
      await rm(path, { force: true });
    }
    return true;
  } finally {
    await rm(guard, { force: true });
  }
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
    // Gone meanwhile: try again at once. Stale: remove it under the takeover guard and try again (one of the waiters wins the O_EXCL create).
    if (text === undefined) continue;
    if ((await isStaleLock(path, text)) && (await takeOver(path))) continue;
    if (Date.now() > deadline) {
      throw new TpslabError('TPSLAB_E_TIMEOUT', `${path} stayed locked for ${timeoutMs} ms (held by ${text.trim() ? `pid ${text.trim().split(' ')[0]}` : 'a process that has not written its pid'}); if no tpslab command is running on this network, remove the file${await stat(`${path}.takeover`).then(() => ` and ${path}.takeover`, () => '')}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
