/**
 * A lock between processes on one machine: a lock file created with O_EXCL that holds the owner's pid and
 * start time. A lock whose owner is gone (or whose pid now names another process) is stale and taken over,
 * so a crashed holder never blocks the next one, by one waiter at a time (under a short guard file, `takeOver`).
 * Waits by polling, up to a deadline.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TpslabError } from '../errors.js';
import { isAlive, isSameProcess, processStartOf } from './pid-alive.js';

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

/** Whether the lock file at `path`, read as `text`, is stale now. An empty one is stale only once it is old: a holder may have just created it and not yet written its pid. */
async function isStaleLock(path: string, text: string): Promise<boolean> {
  if (text !== '') return isStale(text);
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > EMPTY_STALE_MS;
}

/** For tests: run just before a stale lock file, or a dead waiter's takeover guard, is removed (regression tests delay one waiter there). */
export const fileLockTestHooks: { beforeStaleRemove?: () => Promise<void>; beforeDeadGuardRemove?: () => Promise<void> } = {};

/** Errors of link() that mean the file system has no hard links (or not here). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV']);

/** `link(from, to)`, with a file system that cannot hard-link told as such (a coded error naming the directory) rather than a raw errno. */
async function hardLink(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!NO_HARD_LINKS.has(code)) throw err;
    throw new TpslabError('TPSLAB_E_DATA_DIR', `cannot hard-link ${from} to ${to} (${code}): a stale lock in ${dirname(to)} is taken over with hard links, which its file system does not allow (FAT, some network shares) or this user may not make (a file of another user); put that directory on a local file system, or run as its owner`, { cause: err });
  }
}

/** Takes the takeover guard: written whole under a name of its own, then linked into place (never seen empty, unlike an O_EXCL create). */
async function takeGuard(guard: string): Promise<boolean> {
  const tmp = `${guard}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, ownerText(), { flag: 'wx' });
  try {
    await hardLink(tmp, guard);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Removes the takeover guard a waiter that died holding it left (`text`, naming a process gone), and only that
 * one: removed by age, two waiters could both find it stale, one remove it and take the guard anew, and the other
 * then remove that live guard, so both would decide on the lock at once. The remover first claims the dead guard
 * by hard-linking it to a name made from its text (one claimant: the link fails if that name exists), reads the
 * claim to check that it linked the dead guard and not one taken since, and only then removes it: no other waiter
 * can claim it meanwhile, and its owner is dead. (A remover that dies between claiming and removing leaves both:
 * takers then time out naming them, rather than risk two holders.)
 */
async function removeDeadGuard(guard: string, text: string): Promise<void> {
  const claim = `${guard}.gone-${text.trim().replace(/[^0-9A-Za-z]+/g, '-') || 'empty'}`;
  try {
    await hardLink(guard, claim);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT') return; // another waiter claimed it, or it is gone
    throw err;
  }
  try {
    if ((await readFile(claim, 'utf8').catch(() => undefined)) === text) await rm(guard, { force: true });
  } finally {
    await rm(claim, { force: true });
  }
}

/**
 * Removes the stale lock at `path`, under the guard `path.takeover` so that one waiter at a time decides: without
 * it, two waiters could both find it stale, one remove it and take the lock, and the other then remove that new
 * lock and take it too. Under the guard the file is read again and removed only if it is still stale (a lock
 * taken since names a live holder, or is empty and new). False when another waiter holds the guard: wait a poll.
 */
async function takeOver(path: string): Promise<boolean> {
  const guard = `${path}.takeover`;
  if (!(await takeGuard(guard))) {
    // A waiter that died between taking the guard and giving it back left it: stale once its owner is gone (an
    // empty one, from an older tpslab, once old), and removed by one waiter only.
    const text = await readFile(guard, 'utf8').catch(() => undefined);
    if (text !== undefined && (await isStaleLock(guard, text))) {
      await fileLockTestHooks.beforeDeadGuardRemove?.();
      await removeDeadGuard(guard, text);
    }
    return false;
  }
  try {
    await sweepDeadGuardTmps(guard);
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

/** Names in the directory of `guard` that start with `guard.` and match `tail`. */
async function guardFiles(guard: string, tail: RegExp): Promise<string[]> {
  const prefix = `${basename(guard)}.`;
  const names = await readdir(dirname(guard)).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(prefix) && tail.test(n.slice(prefix.length))).map((n) => join(dirname(guard), n));
}

/** Removes the guard's temporary files (`<guard>.<pid>-<hex>`) left by waiters that died between writing and removing them (under the guard: one sweeper). */
async function sweepDeadGuardTmps(guard: string): Promise<void> {
  for (const tmp of await guardFiles(guard, /^\d+-[0-9a-f]+$/)) {
    const pid = Number(/\.(\d+)-[0-9a-f]+$/.exec(tmp)![1]);
    if (pid !== process.pid && !isAlive(pid)) await rm(tmp, { force: true });
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
      const left = [...(await stat(`${path}.takeover`).then(() => [`${path}.takeover`], () => [])), ...(await guardFiles(`${path}.takeover`, /^gone-/))];
      throw new TpslabError('TPSLAB_E_TIMEOUT', `${path} stayed locked for ${timeoutMs} ms (held by ${text.trim() ? `pid ${text.trim().split(' ')[0]}` : 'a process that has not written its pid'}); if no tpslab command is running on this network, remove the file${left.length ? ` and ${left.join(' and ')}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
