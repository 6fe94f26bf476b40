/**
 * Small helpers shared by the benchmarks: bounded requests, sleeps that end
 * on abort, a node's /stats and CPU counters, and the tmpfs check.
 */
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';

/** One request's time limit unless a benchmark says otherwise. */
export const REQUEST_TIMEOUT_MS = 30_000;
const TMPFS_MAGIC = 0x01021994;

export interface Stats {
  mempool: number;
  blocks: number;
  head?: { height: number };
  tx: { accepted: number; rejected: number; committed: number; failed: number; failedByCode: Record<string, number>; rejectedByCode: Record<string, number> };
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;

/**
 * A number ≥ 0 from the environment variable `name` (a bench's knob; whole unless `fraction`), or
 * `fallback` when unset or empty; anything else stops the bench with an error naming the variable
 * and what it expects.
 */
export function envNumber(name: string, fallback: number, fraction?: boolean): number;
export function envNumber(name: string, fallback?: number, fraction?: boolean): number | undefined;
export function envNumber(name: string, fallback?: number, fraction = false): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (!fraction && !Number.isSafeInteger(n))) {
    throw new Error(`${name}=${v}: expected ${fraction ? 'a number' : 'a whole number'} ≥ 0 (unset it for the default${fallback === undefined ? '' : `, ${fallback}`})`);
  }
  return n;
}

/**
 * A signal for one request: aborted by `parent` or after `ms`. `done()` detaches
 * it (AbortSignal.any would keep a listener on the long-lived parent per request).
 */
export function requestSignal(parent: AbortSignal, ms: number): { signal: AbortSignal; done(): void } {
  const c = new AbortController();
  const onAbort = () => c.abort(parent.reason);
  const timer = setTimeout(() => c.abort(new Error(`request timed out after ${ms} ms`)), ms);
  if (parent.aborted) c.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: c.signal,
    done: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function getStats(url: string, parent: AbortSignal): Promise<Stats> {
  const r = requestSignal(parent, REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(`${url}/stats`, { signal: r.signal });
    if (!res.ok) throw new Error(`GET ${url}/stats answered HTTP ${res.status}`);
    return (await res.json()) as Stats;
  } finally {
    r.done();
  }
}

/** A node process's CPU seconds (user + system, all its threads), from its Prometheus metrics. */
export async function getCpuSeconds(url: string, parent: AbortSignal): Promise<number> {
  const r = requestSignal(parent, REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(`${url}/metrics`, { signal: r.signal });
    const text = await res.text();
    const m = /^process_cpu_seconds_total(?:\{[^}]*\})? ([0-9.eE+-]+)$/m.exec(text);
    return m ? Number(m[1]) : Number.NaN;
  } finally {
    r.done();
  }
}

/** A note when the temp directory is tmpfs (fsync is free there), else undefined. */
export async function tmpfsNote(): Promise<string | undefined> {
  try {
    const fs = await statfs(tmpdir());
    if (fs.type === TMPFS_MAGIC) return `${tmpdir()} is tmpfs: fsync costs nothing there, so "fsync on" is not a durable-disk figure (point TMPDIR at a disk)`;
  } catch {
    // statfs unsupported: no note
  }
  return undefined;
}
