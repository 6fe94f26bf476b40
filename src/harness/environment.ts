/**
 * Where a run happened: stored with every run in results.db so that two results can be
 * compared knowing what they ran on. Everything here is plain JSON.
 */
import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from '../clock.js';

export interface Environment {
  hostname: string;
  os: { platform: string; release: string; arch: string };
  /** `count` is the parallelism available to this process (os.availableParallelism()). */
  cpus: { model: string; count: number };
  memoryBytes: number;
  nodeVersion: string;
  tpslabVersion: string;
  /** HEAD of the git checkout tpslab runs from; absent when not run from a checkout. */
  gitCommit?: string;
  /** ISO 8601 time at which the environment was collected (the run's start). */
  startedAt: string;
}

export interface CollectEnvironmentOptions {
  clock?: Clock;
  /** How long `git rev-parse` may take before the commit is left out. */
  gitTimeoutMs?: number;
}

const DEFAULT_GIT_TIMEOUT_MS = 2000;

/** The directory holding tpslab's package.json: walk up from this module (dist/src/harness or src/harness). */
async function findPackageRoot(): Promise<{ root: string; version: string } | undefined> {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tpslab' && typeof pkg.version === 'string') return { root: dir, version: pkg.version };
    } catch {
      // not here (or unreadable): keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, windowsHide: true }, (err, stdout) => {
      resolve(err ? undefined : stdout);
    });
  });
}

/**
 * The commit of tpslab's own checkout, if it is one. The top level of the repository must
 * be the package root, so a tpslab installed under node_modules of some other repository
 * does not report that repository's commit.
 */
async function gitCommit(root: string, timeoutMs: number): Promise<string | undefined> {
  const out = await run('git', ['rev-parse', '--show-toplevel', 'HEAD'], root, timeoutMs);
  if (out === undefined) return undefined;
  const [top, head] = out.trim().split(/\r?\n/);
  if (!top || !head || !/^[0-9a-f]{40,64}$/.test(head)) return undefined;
  try {
    if ((await realpath(top)) !== (await realpath(root))) return undefined;
  } catch {
    return undefined;
  }
  return head;
}

export async function collectEnvironment(opts: CollectEnvironmentOptions = {}): Promise<Environment> {
  const clock = opts.clock ?? systemClock;
  const startedAt = new Date(clock.now()).toISOString();
  const pkg = await findPackageRoot();
  const commit = pkg ? await gitCommit(pkg.root, opts.gitTimeoutMs ?? DEFAULT_GIT_TIMEOUT_MS) : undefined;
  const cpuList = os.cpus();
  const env: Environment = {
    hostname: os.hostname(),
    os: { platform: os.platform(), release: os.release(), arch: os.arch() },
    cpus: { model: cpuList[0]?.model.trim() || 'unknown', count: os.availableParallelism() },
    memoryBytes: os.totalmem(),
    nodeVersion: process.version,
    tpslabVersion: pkg?.version ?? 'unknown',
    startedAt,
  };
  if (commit !== undefined) env.gitCommit = commit;
  return env;
}
