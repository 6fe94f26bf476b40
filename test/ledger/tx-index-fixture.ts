/**
 * Shared by the transaction index's tests: a temporary directory per test, blocks of random ids, and
 * the damage an OS crash or a bad disk leaves in a run file (tx-runs.ts's layout: a 16-byte header,
 * then 40-byte entries of a 32-byte id and an 8-byte location).
 */
import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TxIndex } from '../../src/ledger/tx-index.js';

export const HEADER_BYTES = 16;
export const ENTRY_BYTES = 40;

/** A fresh directory, removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'tpslab-tx-index-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
  return dir;
}

/** Blocks from..from+n-1 of `perBlock` random ids each (kept in `blocks[height]`), one run each. */
export function fill(index: TxIndex, blocks: Buffer[][], from: number, n: number, perBlock: number): void {
  for (let h = from; h < from + n; h++) {
    const ids = Array.from({ length: perBlock }, () => randomBytes(32));
    blocks[h] = ids;
    index.addBlock(h, ids, undefined);
  }
}

/** The run files of an index directory, oldest first. */
export async function runFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.run')).sort();
}

/** Overwrites `bytes` at `offset` of a file in place (what a crash that lost a page leaves). */
export async function overwrite(path: string, offset: number, bytes: Buffer): Promise<void> {
  const f = await open(path, 'r+');
  try {
    await f.write(bytes, 0, bytes.length, offset);
  } finally {
    await f.close();
  }
}

/** The id of entry `i` of a run file, and flips a bit of that entry's location (the id still leads a lookup to its block). */
export async function damageEntry(path: string, i: number): Promise<Buffer> {
  const at = HEADER_BYTES + i * ENTRY_BYTES;
  const entry = (await readFile(path)).subarray(at, at + ENTRY_BYTES);
  const id = Buffer.from(entry.subarray(0, 32));
  await overwrite(path, at + 32, Buffer.from([entry[32]! ^ 1]));
  return id;
}
