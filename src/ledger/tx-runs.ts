/**
 * Sorted runs of the transaction index (tx-index.ts): immutable files of (32-byte id, packed location)
 * entries sorted by id, written once per index flush and merged in size tiers on a worker thread.
 *
 * File (version 2): a 16-byte header (`TPSR`, version, entry count, Bloom filter blocks), the entries
 * (40 bytes each: the id, then the location as a float64 little-endian), the fences (the first 4 bytes
 * of every FENCE_EVERY-th id, so a lookup reads one slice of FENCE_EVERY entries), the CRC-32 of each
 * fence's slice of entries (a *block*: FENCE_EVERY entries, 2.5 KiB), the Bloom filter (tx-run-bloom.ts),
 * then an 8-byte trailer (CRC-32 of the header, fences, block CRCs and filter; `TPSE`). Opening a run
 * reads everything but the entries (about 1.4 bytes an id); the entries are read by lookups (one pread of
 * a block) and merges (sequentially). A run written by an earlier process has each block checked against
 * its CRC the first time it is read, or every block at open when asked (`verify`: after a crash with
 * --no-fsync a run may miss pages); a run this process wrote is not checked (its writer computed the CRCs).
 * Version 1 (no block CRCs, no filter; written before) is still read.
 */
import { closeSync, fdatasyncSync, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { BloomFilter, BLOOM_BLOCK_BYTES } from './tx-run-bloom.js';

export const ENTRY_BYTES = 40;
export const ID_BYTES = 32;
const HEADER_BYTES = 16;
const TRAILER_BYTES = 8;
const FENCE_EVERY = 64;
const MAGIC = 0x54505352; // TPSR
const END_MAGIC = 0x54505345; // TPSE
const VERSION = 2;
const BLOCK_BYTES = FENCE_EVERY * ENTRY_BYTES;
/** Positions a numeric sort key holds besides the id's first 4 bytes (2^32 * 2^21 = 2^53). */
const SORT_KEY_POSITIONS = 2 ** 21;
/** Entries read or written per chunk when merging (160 KiB). */
const CHUNK_ENTRIES = 4096;

/** What the manifest records of a run besides its file name. */
export interface RunInfo {
  count: number;
  /** Lowest and highest packed location in the run (for cutting blocks above a height). */
  minLoc: number;
  maxLoc: number;
}

const fencesFor = (count: number): number => Math.ceil(count / FENCE_EVERY);

/** A run whose entries do not match their block's CRC (pages lost in a crash with --no-fsync, a bad disk). */
export class RunDamagedError extends Error {
  constructor(path: string, block: number) {
    super(`${path}: its entries ${block * FENCE_EVERY}..${(block + 1) * FENCE_EVERY - 1} do not match their checksum`);
    this.name = 'RunDamagedError';
  }
}

/**
 * How a run's entries are checked against their block CRCs: `verify` all at open, `lazy` each block the
 * first time it is read, `trusted` never (this process wrote it).
 */
export type RunCheck = 'verify' | 'lazy' | 'trusted';

/** A run to merge, and whether this process wrote it (its blocks are not checked again). */
export interface MergeInput { path: string; trusted: boolean }

/** An open run: lookups by id. */
export class Run {
  private scratch = Buffer.allocUnsafe(2 * BLOCK_BYTES);
  /** Per block, 1 once checked against its CRC; undefined when none needs checking. */
  private checked: Uint8Array | undefined;

  private constructor(readonly path: string, private fd: number, readonly count: number, private readonly fences: Uint32Array,
    private readonly blockCrcs: Uint32Array | undefined, private readonly bloom: BloomFilter | undefined) {}

  /** Whether every block is known good (written by this process, or checked). */
  get trusted(): boolean {
    return !this.checked;
  }

  /**
   * Opens a run file, checking its header, size, fences, block CRCs, filter and trailer (and its entries as
   * `check` says); throws (with what is wrong) otherwise.
   */
  static open(path: string, check: RunCheck = 'lazy'): Run {
    const fd = openSync(path, 'r');
    let run: Run | undefined;
    try {
      const size = fstatSync(fd).size;
      const head = Buffer.alloc(HEADER_BYTES);
      readSync(fd, head, 0, HEADER_BYTES, 0);
      const count = head.readUInt32BE(8);
      const version = head.readUInt32BE(4);
      if (head.readUInt32BE(0) !== MAGIC || (version !== 1 && version !== VERSION)) throw new Error('not a run file of version 1 or 2');
      const nf = fencesFor(count);
      const bloomBytes = version === 1 ? 0 : head.readUInt32BE(12) * BLOOM_BLOCK_BYTES;
      const tailBytes = nf * 4 * (version === 1 ? 1 : 2) + bloomBytes;
      if (size !== HEADER_BYTES + count * ENTRY_BYTES + tailBytes + TRAILER_BYTES) throw new Error(`size ${size} does not fit ${count} entries`);
      const tail = Buffer.alloc(tailBytes + TRAILER_BYTES);
      readSync(fd, tail, 0, tail.length, HEADER_BYTES + count * ENTRY_BYTES);
      if (tail.readUInt32BE(tailBytes + 4) !== END_MAGIC || tail.readUInt32BE(tailBytes) !== crc32(tail.subarray(0, tailBytes), crc32(head))) {
        throw new Error('its fences, checksums or trailer are damaged');
      }
      const fences = new Uint32Array(nf);
      for (let i = 0; i < nf; i++) fences[i] = tail.readUInt32BE(i * 4);
      let crcs: Uint32Array | undefined;
      let bloom: BloomFilter | undefined;
      if (version !== 1) {
        crcs = new Uint32Array(nf);
        for (let i = 0; i < nf; i++) crcs[i] = tail.readUInt32BE((nf + i) * 4);
        bloom = new BloomFilter(new Uint8Array(tail.subarray(nf * 8, nf * 8 + bloomBytes)));
      }
      run = new Run(path, fd, count, fences, crcs, bloom);
      if (crcs && check !== 'trusted') run.checked = new Uint8Array(nf);
      if (check === 'verify') {
        const buf = Buffer.allocUnsafe(CHUNK_ENTRIES * ENTRY_BYTES);
        for (let from = 0; from < count; from += CHUNK_ENTRIES) run.readEntries(buf, from, Math.min(CHUNK_ENTRIES, count - from));
        run.checked = undefined;
      }
      return run;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /**
   * Reads entries `from` (a multiple of FENCE_EVERY) .. from + n - 1 into `buf`, checking each block not
   * checked yet against its CRC; throws RunDamagedError if one does not match.
   */
  readEntries(buf: Buffer, from: number, n: number): void {
    const bytes = n * ENTRY_BYTES;
    if (readSync(this.fd, buf, 0, bytes, HEADER_BYTES + from * ENTRY_BYTES) !== bytes) throw new Error(`${this.path}: short read`);
    const checked = this.checked;
    if (!checked) return;
    for (let o = 0, blk = from / FENCE_EVERY; o < bytes; o += BLOCK_BYTES, blk++) {
      if (checked[blk]) continue;
      if (crc32(buf.subarray(o, Math.min(bytes, o + BLOCK_BYTES))) !== this.blockCrcs![blk]) throw new RunDamagedError(this.path, blk);
      checked[blk] = 1;
    }
  }

  /** The packed location of `id`, if this run holds it; throws RunDamagedError if the block it reads is damaged. */
  get(id: Buffer): number | undefined {
    if (this.bloom && !this.bloom.mayHold(id)) return undefined;
    const k = id.readUInt32BE(0);
    const f = this.fences;
    let lo = 0;
    let hi = f.length; // first fence >= k
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (f[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    const first = Math.max(0, lo - 1); // the block before may end with ids of this prefix
    let end = lo;
    while (end < f.length && f[end] === k) end++;
    const from = first * FENCE_EVERY;
    const n = Math.min(this.count, end * FENCE_EVERY) - from;
    if (n <= 0) return undefined;
    if (this.scratch.length < n * ENTRY_BYTES) this.scratch = Buffer.allocUnsafe(n * ENTRY_BYTES);
    const b = this.scratch;
    this.readEntries(b, from, n);
    let l = 0;
    let h = n;
    while (l < h) {
      const mid = (l + h) >>> 1;
      const c = b.compare(id, 0, ID_BYTES, mid * ENTRY_BYTES, mid * ENTRY_BYTES + ID_BYTES);
      if (c === 0) return b.readDoubleLE(mid * ENTRY_BYTES + ID_BYTES);
      if (c < 0) l = mid + 1;
      else h = mid;
    }
    return undefined;
  }

  /** Bytes this run keeps in memory for lookups (fences, block CRCs, Bloom filter, which blocks were checked). */
  get memoryBytes(): number {
    return this.fences.byteLength + (this.blockCrcs?.byteLength ?? 0) + (this.bloom?.bits.byteLength ?? 0) + (this.checked?.byteLength ?? 0);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Writes entries to a new run file as they come, in id order; `finish` writes the fences and trailer. */
class RunWriter {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(CHUNK_ENTRIES * ENTRY_BYTES);
  private readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private fill = 0;
  private fences: number[] = [];
  private crcs: number[] = [];
  private readonly bloom: BloomFilter;
  private offset = HEADER_BYTES;
  count = 0;
  minLoc = Infinity;
  maxLoc = -Infinity;

  /** `expected`: how many entries at most will be added (sizes the Bloom filter). */
  constructor(readonly path: string, expected: number) {
    this.bloom = BloomFilter.sizedFor(expected);
    this.fd = openSync(path, 'w');
  }

  /** Appends the 32-byte id at `at` in `src` with its location (word copies: no native call per entry). */
  add(src: DataView, at: number, loc: number): void {
    const key = src.getUint32(at, false);
    if (this.count % FENCE_EVERY === 0) this.fences.push(key);
    this.bloom.add(key, src.getUint32(at + 8, true), src.getUint32(at + 12, true));
    if (loc < this.minLoc) this.minLoc = loc;
    if (loc > this.maxLoc) this.maxLoc = loc;
    const v = this.view;
    const o = this.fill;
    for (let w = 0; w < ID_BYTES; w += 4) v.setUint32(o + w, src.getUint32(at + w, true), true);
    v.setFloat64(o + ID_BYTES, loc, true);
    this.fill += ENTRY_BYTES;
    this.count++;
    if (this.fill === this.buf.length) this.drain();
  }

  /** Writes what is buffered (whole blocks, but for the last drain) and notes the CRC of each block. */
  private drain(): void {
    for (let o = 0; o < this.fill; o += BLOCK_BYTES) this.crcs.push(crc32(this.buf.subarray(o, Math.min(this.fill, o + BLOCK_BYTES))));
    writeSync(this.fd, this.buf, 0, this.fill, this.offset);
    this.offset += this.fill;
    this.fill = 0;
  }

  finish(fsync: boolean): RunInfo {
    try {
      this.drain();
    } catch (err) {
      this.abort();
      throw err;
    }
    const head = Buffer.alloc(HEADER_BYTES);
    head.writeUInt32BE(MAGIC, 0);
    head.writeUInt32BE(VERSION, 4);
    head.writeUInt32BE(this.count, 8);
    head.writeUInt32BE(this.bloom.blocks, 12);
    const nf = this.fences.length;
    const tailBytes = nf * 8 + this.bloom.bits.length;
    const tail = Buffer.allocUnsafe(tailBytes + TRAILER_BYTES);
    this.fences.forEach((f, i) => tail.writeUInt32BE(f, i * 4));
    this.crcs.forEach((c, i) => tail.writeUInt32BE(c, (nf + i) * 4));
    tail.set(this.bloom.bits, nf * 8);
    tail.writeUInt32BE(crc32(tail.subarray(0, tailBytes), crc32(head)), tailBytes);
    tail.writeUInt32BE(END_MAGIC, tailBytes + 4);
    try {
      writeSync(this.fd, tail, 0, tail.length, this.offset);
      writeSync(this.fd, head, 0, HEADER_BYTES, 0);
      if (fsync) fdatasyncSync(this.fd);
    } catch (err) {
      this.abort();
      throw err;
    }
    closeSync(this.fd);
    return { count: this.count, minLoc: this.count ? this.minLoc : 0, maxLoc: this.count ? this.maxLoc : 0 };
  }

  /** Closes and removes the unfinished file (a failed write, say a full disk, leaves nothing behind). */
  abort(): void {
    try {
      closeSync(this.fd);
    } finally {
      rmSync(this.path, { force: true });
    }
  }
}

/**
 * Writes `n` entries given unsorted (ids, packed as ID_BYTES each in `ids`; locations in `locs`) as a
 * run file, sorted by id. The file is not fsync'd: see TxIndex's persist chain.
 */
export function writeRun(path: string, ids: Buffer, locs: Float64Array, n: number): RunInfo {
  const order = sortedOrder(ids, n);
  const src = new DataView(ids.buffer, ids.byteOffset, ids.length);
  const w = new RunWriter(path, n);
  try {
    for (let j = 0; j < n; j++) {
      const i = order[j]!;
      w.add(src, i * ID_BYTES, locs[i]!);
    }
  } catch (err) {
    w.abort();
    throw err;
  }
  return w.finish(false);
}

/** Positions of the first `n` ids packed in `ids`, in id order. */
function sortedOrder(ids: Buffer, n: number): Uint32Array {
  const order = new Uint32Array(n);
  const byId = (a: number, b: number): number => ids.compare(ids, b * ID_BYTES, b * ID_BYTES + ID_BYTES, a * ID_BYTES, a * ID_BYTES + ID_BYTES);
  if (n > SORT_KEY_POSITIONS) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort(byId);
  }
  // A numeric sort of (first 4 bytes, position) keys, then ties of the first 4 bytes (rare) by the whole id.
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = ids.readUInt32BE(i * ID_BYTES) * SORT_KEY_POSITIONS + i;
  keys.sort();
  for (let j = 0; j < n; j++) order[j] = keys[j]! % SORT_KEY_POSITIONS;
  for (let j = 0; j + 1 < n;) {
    let k = j + 1;
    while (k < n && Math.floor(keys[k]! / SORT_KEY_POSITIONS) === Math.floor(keys[j]! / SORT_KEY_POSITIONS)) k++;
    if (k - j > 1) order.subarray(j, k).sort(byId);
    j = k;
  }
  return order;
}

/** Reads a run's entries in order, a chunk at a time (each block checked against its CRC, unless this process wrote the run). */
class RunReader {
  private readonly run: Run;
  readonly count: number;
  readonly buf = Buffer.allocUnsafe(CHUNK_ENTRIES * ENTRY_BYTES);
  readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private next = 0;
  private inBuf = 0;
  /** Byte offset of the current entry in `buf`; -1 when done. */
  at = -1;
  private pos = 0;

  constructor(input: MergeInput) {
    this.run = Run.open(input.path, input.trusted ? 'trusted' : 'lazy'); // checks the file
    this.count = this.run.count;
  }

  advance(): void {
    this.pos++;
    if (this.at >= 0 && this.pos < this.inBuf) {
      this.at += ENTRY_BYTES;
      return;
    }
    const n = Math.min(CHUNK_ENTRIES, this.count - this.next);
    if (n <= 0) {
      this.at = -1;
      return;
    }
    this.run.readEntries(this.buf, this.next, n);
    this.next += n;
    this.inBuf = n;
    this.pos = 0;
    this.at = 0;
  }

  close(): void {
    this.run.close();
  }
}

/** Byte order of two 32-byte ids, 4 bytes at a time. */
function compareIds(a: DataView, at: number, b: DataView, bt: number): number {
  for (let w = 0; w < ID_BYTES; w += 4) {
    const x = a.getUint32(at + w, false);
    const y = b.getUint32(bt + w, false);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Merges runs (oldest first) into one new run file, fsync'd if asked; an id in several runs keeps the
 * newest's location. Entries at or above `belowLoc` are dropped (cutting blocks above a height).
 */
export function mergeRuns(inputs: readonly MergeInput[], output: string, fsync: boolean, belowLoc = Infinity): RunInfo {
  const readers: RunReader[] = [];
  let w: RunWriter | undefined;
  try {
    for (const input of inputs) readers.push(new RunReader(input));
    for (const r of readers) r.advance();
    w = new RunWriter(output, readers.reduce((n, r) => n + r.count, 0));
    for (;;) {
      let best = -1;
      for (let r = 0; r < readers.length; r++) {
        const rd = readers[r]!;
        if (rd.at < 0) continue;
        if (best < 0) {
          best = r;
          continue;
        }
        const b = readers[best]!;
        const c = compareIds(rd.view, rd.at, b.view, b.at);
        if (c < 0) best = r;
        else if (c === 0) { // the same id in an older run: skip it there
          b.advance();
          best = r;
        }
      }
      if (best < 0) break;
      const rd = readers[best]!;
      const loc = rd.view.getFloat64(rd.at + ID_BYTES, true);
      if (loc < belowLoc) w.add(rd.view, rd.at, loc);
      rd.advance();
    }
  } catch (err) {
    w?.abort();
    throw err;
  } finally {
    for (const r of readers) r.close();
  }
  return w.finish(fsync);
}

/** Writes entries already in id order (each `[id, loc]`, `expected` of them at most) as a run file, fsync'd if asked. */
export function writeSortedRun(path: string, entries: Iterable<[Buffer, number]>, expected: number, fsync: boolean): RunInfo {
  const w = new RunWriter(path, expected);
  try {
    for (const [id, loc] of entries) w.add(new DataView(id.buffer, id.byteOffset, ID_BYTES), 0, loc);
  } catch (err) {
    w.abort();
    throw err;
  }
  return w.finish(fsync);
}
