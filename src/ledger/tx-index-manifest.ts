/**
 * `manifest.json` of the transaction index (tx-index.ts): the run files that make up the index and how
 * far it is whole. Replaced atomically (a temporary file, fsync'd if asked, renamed into place, then the
 * directory fsync'd), and only after the runs it names are on disk.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { datasyncPath, datasyncPathSync } from './fsync.js';
import type { RunInfo } from './tx-runs.js';

export const MANIFEST = 'manifest.json';

export interface Manifest { version: 1; height: number; next: number; runs: (RunInfo & { name: string })[] }

/** The file name of run number `n`. */
export const runName = (n: number): string => `${String(n).padStart(10, '0')}.run`;

/** The manifest in `dir`, or undefined if there is none; throws if it is damaged (the index is then rebuilt). */
export function readManifest(dir: string): Manifest | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST), 'utf8');
  } catch {
    return undefined;
  }
  const m = JSON.parse(text) as Manifest; // a parse error: damaged, rebuilt
  if (m.version !== 1 || !Number.isSafeInteger(m.height) || !Number.isSafeInteger(m.next) || !Array.isArray(m.runs)) {
    throw new Error(`${MANIFEST} is not a version 1 manifest`);
  }
  return m;
}

/** Replaces the manifest on the calling thread (at open, and when cutting blocks above a height). */
export function writeManifestSync(dir: string, m: Manifest, fsync: boolean): void {
  const path = join(dir, MANIFEST);
  writeFileSync(`${path}.tmp`, JSON.stringify(m));
  if (fsync) datasyncPathSync(`${path}.tmp`);
  renameSync(`${path}.tmp`, path);
  if (fsync) datasyncPathSync(dir);
}

/** Writes the manifest's temporary file and renames it into place; the caller fsyncs the directory after its own checks. */
export async function replaceManifest(dir: string, m: Manifest, fsync: boolean): Promise<void> {
  const path = join(dir, MANIFEST);
  await writeFile(`${path}.tmp`, JSON.stringify(m));
  if (fsync) await datasyncPath(`${path}.tmp`);
  await rename(`${path}.tmp`, path);
}
