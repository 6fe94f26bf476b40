/**
 * What the sweep and find-max tests share: a temp directory per test file with a helper writing
 * experiment files into it, the two stores of one results.db opened and closed together, and the
 * CLI started in the background (to interrupt it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { ExperimentStore } from '../../src/experiments/experiment-store.js';
import { ResultsStore } from '../../src/harness/store.js';
import { CLI, tempDir } from '../testkit/index.js';

export interface ExperimentDir {
  /** The directory's path (set once the file's `before` hook ran). */
  readonly path: string;
  /** Writes `text` to `name` in the directory; returns its path. */
  file(name: string, text: string): Promise<string>;
}

/** A temp directory created before the file's tests and removed after them. */
export function experimentDir(prefix: string): ExperimentDir {
  let dir: { path: string; remove(): Promise<void> } | undefined;
  before(async () => {
    dir = await tempDir(prefix);
  });
  after(async () => {
    await dir?.remove();
  });
  return {
    get path() {
      return dir!.path;
    },
    async file(name, text) {
      const f = join(dir!.path, name);
      await writeFile(f, text);
      return f;
    },
  };
}

/** Opens results.db's run and experiment stores, runs `fn`, closes both. */
export function withStores<T>(db: string, fn: (runs: ResultsStore, experiments: ExperimentStore) => T): T {
  const runs = ResultsStore.open(db, { mustExist: true });
  try {
    const experiments = ExperimentStore.open(db, { mustExist: true });
    try {
      return fn(runs, experiments);
    } finally {
      experiments.close();
    }
  } finally {
    runs.close();
  }
}

export interface BackgroundCli {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts the CLI without waiting for it (the caller kills it on failure). */
export function startCli(args: string[]): BackgroundCli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
  };
}
