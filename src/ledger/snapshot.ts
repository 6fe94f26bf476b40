/**
 * State snapshots: the whole ledger state as of a block, so a restart loads
 * the latest snapshot and replays only the log after it.
 *
 * File `<data>/snapshots/<height, 12 digits>.snap`, big-endian:
 *   "TPSNAP\0\0" | u32 version = 1 | u64 height | genesis hash (32) | head block hash (32) | state hash (32)
 *   | u64 fees burned | u64 last block timestamp (ms) | u32 accounts | u32 topics
 *   | accounts: address (32) | u64 balance | u64 nonce
 *   | topics: u8 name length | name | u64 next sequence number | owner (32)
 *   | SHA-256 of everything before (32)
 * Written atomically: a temp file, fsync, rename, fsync of the directory. Checked when loaded: the
 * trailing hash, the genesis, and the block at `height` in the log must carry the same hash and state hash.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccountState, LedgerState, TopicState } from './state.js';

const MAGIC = Buffer.from('TPSNAP\0\0', 'latin1');
const VERSION = 1;
const FIXED = 8 + 4 + 8 + 32 * 3 + 8 + 8 + 4 + 4;
const ACCOUNT_BYTES = 32 + 8 + 8;
/** How many snapshots are kept: the newest, and one to fall back to if it is damaged. */
export const SNAPSHOTS_KEPT = 2;
export const DEFAULT_SNAPSHOT_EVERY_BLOCKS = 1000;
/** Full blocks: a snapshot at least every this many transactions, so the log tail replayed at start-up stays short (replay costs 10–20 µs a transfer: 50,000 ≈ 1 s at most). */
export const DEFAULT_SNAPSHOT_EVERY_TXS = 50_000;

export interface Snapshot {
  height: number;
  genesisHash: Buffer;
  headHash: Buffer;
  stateHash: Buffer;
  feesBurned: bigint;
  lastTimestampMs: number;
  accounts: Map<string, AccountState>;
  topics: Map<string, TopicState>;
}

export const snapshotDir = (dataDir: string): string => join(dataDir, 'snapshots');
const fileName = (height: number): string => `${String(height).padStart(12, '0')}.snap`;

/** Encodes the state as it is now (synchronously: call right after a block is sealed). */
export function encodeSnapshot(state: LedgerState, lastTimestampMs: number): Buffer {
  const { accounts, topics } = state.entries();
  let topicBytes = 0;
  for (const name of topics.keys()) topicBytes += 1 + Buffer.byteLength(name, 'latin1') + 8 + 32;
  const b = Buffer.allocUnsafe(FIXED + accounts.size * ACCOUNT_BYTES + topicBytes + 32);
  let o = MAGIC.copy(b, 0);
  o = b.writeUInt32BE(VERSION, o);
  o = b.writeBigUInt64BE(BigInt(state.height), o);
  o += state.genesis.hash.copy(b, o);
  o += state.headHash.copy(b, o);
  o += state.stateHash.copy(b, o);
  o = b.writeBigUInt64BE(state.feesBurned, o);
  o = b.writeBigUInt64BE(BigInt(lastTimestampMs), o);
  o = b.writeUInt32BE(accounts.size, o);
  o = b.writeUInt32BE(topics.size, o);
  for (const [k, a] of accounts) {
    o += b.write(k, o, 32, 'latin1');
    o = b.writeBigUInt64BE(a.balance, o);
    o = b.writeBigUInt64BE(a.nonce, o);
  }
  for (const [name, t] of topics) {
    o = b.writeUInt8(Buffer.byteLength(name, 'latin1'), o);
    o += b.write(name, o, 'latin1');
    o = b.writeBigUInt64BE(t.nextSeq, o);
    o += t.owner.copy(b, o);
  }
  createHash('sha256').update(b.subarray(0, o)).digest().copy(b, o);
  return b;
}

/** Decodes and checks a snapshot file's bytes; throws an Error saying what is wrong. */
export function decodeSnapshot(b: Buffer): Snapshot {
  if (b.length < FIXED + 32 || !b.subarray(0, 8).equals(MAGIC)) throw new Error('not a tpslab snapshot (bad magic or too short)');
  const body = b.subarray(0, b.length - 32);
  if (!createHash('sha256').update(body).digest().equals(b.subarray(b.length - 32))) throw new Error('its SHA-256 does not match (damaged)');
  const version = b.readUInt32BE(8);
  if (version !== VERSION) throw new Error(`unknown snapshot version ${version}`);
  let o = 12;
  const height = Number(b.readBigUInt64BE(o)); o += 8;
  const genesisHash = Buffer.from(b.subarray(o, o + 32)); o += 32;
  const headHash = Buffer.from(b.subarray(o, o + 32)); o += 32;
  const stateHash = Buffer.from(b.subarray(o, o + 32)); o += 32;
  const feesBurned = b.readBigUInt64BE(o); o += 8;
  const lastTimestampMs = Number(b.readBigUInt64BE(o)); o += 8;
  const accountCount = b.readUInt32BE(o); o += 4;
  const topicCount = b.readUInt32BE(o); o += 4;
  if (o + accountCount * ACCOUNT_BYTES > body.length) throw new Error('truncated account table');
  const accounts = new Map<string, AccountState>();
  for (let i = 0; i < accountCount; i++, o += ACCOUNT_BYTES) {
    accounts.set(b.toString('latin1', o, o + 32), { balance: b.readBigUInt64BE(o + 32), nonce: b.readBigUInt64BE(o + 40) });
  }
  const topics = new Map<string, TopicState>();
  for (let i = 0; i < topicCount; i++) {
    const len = b.readUInt8(o);
    const name = b.toString('latin1', o + 1, o + 1 + len);
    o += 1 + len;
    topics.set(name, { nextSeq: b.readBigUInt64BE(o), owner: Buffer.from(b.subarray(o + 8, o + 40)) });
    o += 40;
  }
  if (o !== body.length) throw new Error('length does not match its tables');
  return { height, genesisHash, headHash, stateHash, feesBurned, lastTimestampMs, accounts, topics };
}

/** Writes a snapshot atomically (temp file, fsync, rename, fsync of the directory), then prunes old ones. */
export async function writeSnapshot(dataDir: string, height: number, bytes: Buffer, fsync: boolean): Promise<string> {
  const dir = snapshotDir(dataDir);
  await mkdir(dir, { recursive: true });
  const path = join(dir, fileName(height));
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  if (fsync && process.platform !== 'win32') {
    const dh = await open(dir, 'r');
    try { await dh.sync(); } finally { await dh.close(); }
  }
  const old = (await listSnapshots(dataDir)).slice(SNAPSHOTS_KEPT);
  for (const h of old) await rm(join(dir, fileName(h)), { force: true });
  // Temp files left by a crash in the middle of an earlier write.
  for (const n of await readdir(dir)) if (n.endsWith('.snap.tmp') && n !== `${fileName(height)}.tmp`) await rm(join(dir, n), { force: true });
  return path;
}

/** Heights of the snapshots in the data directory, newest first. */
export async function listSnapshots(dataDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(snapshotDir(dataDir));
  } catch {
    return [];
  }
  return names.filter((n) => /^\d{12}\.snap$/.test(n)).map((n) => Number(n.slice(0, 12))).sort((a, b) => b - a);
}

export function readSnapshotFile(dataDir: string, height: number): Promise<Buffer> {
  return readFile(join(snapshotDir(dataDir), fileName(height)));
}

export function snapshotPath(dataDir: string, height: number): string {
  return join(snapshotDir(dataDir), fileName(height));
}

/**
 * The newest snapshot usable for start-up: at most `maxHeight` (what the log and the index both hold),
 * whole, of this genesis, and matching the log's block at its height (hash and state hash). Every
 * snapshot passed over is explained in `notes`; undefined means a full replay.
 */
export async function pickSnapshot(
  dataDir: string,
  genesisHash: Buffer,
  maxHeight: number,
  blockAt: (height: number) => Promise<{ hash: Buffer; stateHash: Buffer }>,
  notes: string[],
): Promise<Snapshot | undefined> {
  for (const height of await listSnapshots(dataDir)) {
    const path = snapshotPath(dataDir, height);
    if (height > maxHeight || height === 0) {
      notes.push(`snapshot ${path} is at height ${height}, beyond the ${maxHeight} blocks the log and index hold: skipped`);
      continue;
    }
    try {
      const snap = decodeSnapshot(await readSnapshotFile(dataDir, height));
      if (snap.height !== height) throw new Error(`it says height ${snap.height}, its name ${height}`);
      if (!snap.genesisHash.equals(genesisHash)) throw new Error('it belongs to another genesis');
      const block = await blockAt(height);
      if (!block.hash.equals(snap.headHash) || !block.stateHash.equals(snap.stateHash)) {
        throw new Error(`its head or state hash differs from block ${height} in the log`);
      }
      return snap;
    } catch (err) {
      notes.push(`snapshot ${path} is unusable (${(err as Error).message}): falling back to ${'an older snapshot or a full replay'}`);
    }
  }
  return undefined;
}
