/**
 * Scratch directories under the OS temp directory (or a given parent), each with an owner file
 * ({pid, host}): removed when their process exits however it ends, and, if it was killed with
 * SIGKILL and could not, by the next process of this host that makes one (a beacon's commit store,
 * the overseer's network side, the replay check's index of seen ids).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

/** In each scratch directory: who made it ({pid, host}), so a later process can tell an orphan. */
const OWNER_FILE = 'owner.json';
/** The prefixes scratch directories are made with. */
const SCRATCH_PREFIXES = ['tpslab-commits-', 'tpslab-network-', 'tpslab-replay-check-'];

/** Scratch directories still open, removed when the process exits however it ends. */
const open = new Set<string>();
process.on('exit', () => {
  for (const dir of open) rmSync(dir, { recursive: true, force: true });
});
/** Parents already swept of orphans by this process. */
const swept = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the scratch directories under `dir` whose process is gone without cleaning up: those that
 * name this host and a pid no longer running. A directory without an owner file, or of another
 * host, or of a live process, is left alone. Returns the directories removed.
 */
export function removeStaleScratch(dir = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const host = hostname();
  for (const name of names) {
    if (!SCRATCH_PREFIXES.some((p) => name.startsWith(p))) continue;
    const path = join(dir, name);
    try {
      const owner = JSON.parse(readFileSync(join(path, OWNER_FILE), 'utf8')) as { pid?: unknown; host?: unknown };
      if (owner.host !== host || typeof owner.pid !== 'number' || owner.pid === process.pid || alive(owner.pid)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // No owner file (not ours, or one being made right now), or gone already: leave it.
    }
  }
  return removed;
}

/**
 * Makes a scratch directory `parent/prefix…` (the first one in a parent clears that parent's orphans
 * first). Orphans are recognised by SCRATCH_PREFIXES: a directory of another prefix (tests', benches')
 * is removed at exit but not swept after a SIGKILL.
 */
export function makeScratchDir(prefix: string, parent = tmpdir()): string {
  if (!swept.has(parent)) {
    swept.add(parent);
    removeStaleScratch(parent);
  }
  const dir = mkdtempSync(join(parent, prefix));
  open.add(dir);
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid, host: hostname() }));
  return dir;
}

/** Removes a scratch directory made by makeScratchDir. */
export function removeScratchDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  open.delete(dir);
}
