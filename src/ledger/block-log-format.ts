/**
 * The block log's on-disk format (see block-log.ts for the layout): encoding of
 * frames, commit markers and the file header, and the recovery scan that finds
 * where the intact log ends and whether damage before that end is a torn last
 * group (truncate) or corruption of an acknowledged group (refuse).
 */
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { TpslabError } from '../errors.js';

export const MAGIC = 0x54505342; // "TPSB": a record frame
export const MARKER_MAGIC = 0x5450534d; // "TPSM": a commit marker
export const HEADER_MAGIC = 0x5450534c; // "TPSL": the v2 file header
export const FORMAT_VERSION = 2;
export const HEADER = 12;
export const MARKER_BYTES = 24;
export const FILE_HEADER_BYTES = 16;
export const MAX_PAYLOAD = 64 * 1024 * 1024;
const SCAN_CHUNK = 4 * 1024 * 1024;
/** The header walk yields to the event loop this often (a node listening early answers /health meanwhile). */
const WALK_SLICE_MS = 20;
const MAGIC_BYTES = Buffer.from([0x54, 0x50, 0x53, 0x42]);
const MARKER_BYTES_MAGIC = Buffer.from([0x54, 0x50, 0x53, 0x4d]);

/** A record frame's header (magic, length, CRC): written in front of its payload, which is not copied. */
export function encodeFrameHeader(payload: Buffer): Buffer {
  const h = Buffer.allocUnsafe(HEADER);
  h.writeUInt32BE(MAGIC, 0);
  h.writeUInt32BE(payload.length, 4);
  h.writeUInt32BE(crc32(payload), 8);
  return h;
}

/** The commit marker closing a group of `count` frames that starts at `start` and whose bytes have CRC `groupCrc`. */
export function encodeMarker(count: number, start: number, groupCrc: number): Buffer {
  const m = Buffer.allocUnsafe(MARKER_BYTES);
  m.writeUInt32BE(MARKER_MAGIC, 0);
  m.writeUInt32BE(count, 4);
  m.writeBigUInt64BE(BigInt(start), 8);
  m.writeUInt32BE(groupCrc >>> 0, 16);
  m.writeUInt32BE(crc32(m.subarray(0, 20)), 20);
  return m;
}

export function encodeFileHeader(): Buffer {
  const h = Buffer.alloc(FILE_HEADER_BYTES);
  h.writeUInt32BE(HEADER_MAGIC, 0);
  h.writeUInt32BE(FORMAT_VERSION, 4);
  h.writeUInt32BE(crc32(h.subarray(0, 12)), 12);
  return h;
}

/** Buffered positional reads over the file for the recovery scan. */
class ScanReader {
  private buf = Buffer.alloc(0);
  private start = 0;
  constructor(private readonly fh: FileHandle, readonly fileSize: number, private readonly chunk = SCAN_CHUNK) {}
  /** `len` bytes at `pos` (a view; stays valid after later calls), or undefined past EOF. */
  async get(pos: number, len: number): Promise<Buffer | undefined> {
    if (pos + len > this.fileSize) return undefined;
    if (pos < this.start || pos + len > this.start + this.buf.length) {
      this.buf = Buffer.allocUnsafe(Math.min(Math.max(len, this.chunk), this.fileSize - pos));
      this.start = pos;
      await readFully(this.fh, this.buf, pos);
    }
    return this.buf.subarray(pos - this.start, pos - this.start + len);
  }
}

/** The valid frame at `pos` (whole frame bytes), or undefined (bad magic, implausible length, past EOF, bad CRC). */
async function frameAt(r: ScanReader, pos: number): Promise<Buffer | undefined> {
  const hdr = await r.get(pos, HEADER);
  if (!hdr || hdr.readUInt32BE(0) !== MAGIC) return undefined;
  const len = hdr.readUInt32BE(4);
  if (len > MAX_PAYLOAD) return undefined;
  const frame = await r.get(pos, HEADER + len);
  return frame && crc32(frame.subarray(HEADER)) === hdr.readUInt32BE(8) ? frame : undefined;
}

interface Marker { count: number; start: number; groupCrc: number }

/** A commit marker at `pos` whose own checksum holds, or undefined. */
async function markerAt(r: ScanReader, pos: number): Promise<Marker | undefined> {
  const m = await r.get(pos, MARKER_BYTES);
  return m ? parseMarker(m, pos) : undefined;
}

/** The marker in `m` (MARKER_BYTES read at `pos`) if its magic and checksum hold. */
function parseMarker(m: Buffer, pos: number): Marker | undefined {
  if (m.readUInt32BE(0) !== MARKER_MAGIC || crc32(m.subarray(0, 20)) !== m.readUInt32BE(20)) return undefined;
  const start = Number(m.readBigUInt64BE(8));
  if (!Number.isSafeInteger(start) || start > pos) return undefined;
  return { count: m.readUInt32BE(4), start, groupCrc: m.readUInt32BE(16) };
}

export interface Scan {
  version: 1 | 2;
  offsets: Float64Array;
  count: number;
  /** End of the intact log: after the last intact marked group (v2), or the last valid frame (v1). */
  size: number;
  /** Set when the bytes after `size` cannot be a torn tail: the offset of the evidence that they were acknowledged. */
  corruptEvidenceAt?: number;
}

/**
 * Where a v2 log ended at a group boundary earlier: `records` records in its first `bytes` bytes; with
 * `offsets` (saved next to it), where each of those records' frames starts, so opening need not walk
 * their headers (one read a record: on a cold page cache, one disk read a block).
 */
export interface Checkpoint { records: number; bytes: number; offsets?: Float64Array }

/**
 * Reads the file: what is intact, and whether the rest is a torn tail or corruption. With a checkpoint
 * that still fits the file, the part before it is walked by frame headers only (its payload CRCs are
 * checked when records are read), so opening does not read the whole history; the rest is scanned fully.
 */
export async function scanLog(fh: FileHandle, fileSize: number, checkpoint?: Checkpoint): Promise<Scan> {
  const r = new ScanReader(fh, fileSize);
  const head = await r.get(0, FILE_HEADER_BYTES);
  const isV2 = fileSize === 0 || (head !== undefined && head.readUInt32BE(0) === HEADER_MAGIC);
  if (isV2 && head) {
    const version = head.readUInt32BE(4);
    if (crc32(head.subarray(0, 12)) !== head.readUInt32BE(12) || version !== FORMAT_VERSION) {
      throw new TpslabError('TPSLAB_E_LOG_CORRUPT',
        `block log header is damaged or of an unknown version (${version}; this tpslab reads versions 1 and ${FORMAT_VERSION})`);
    }
  }
  const offsets = new Offsets();
  if (!isV2) {
    let pos = 0;
    for (let f; pos < fileSize && (f = await frameAt(r, pos)); pos += f.length) offsets.push(pos);
    const after = pos < fileSize ? await findValid(r, pos, [MAGIC_BYTES]) : undefined;
    return { version: 1, offsets: offsets.array, count: offsets.count, size: pos, ...(after !== undefined ? { corruptEvidenceAt: after } : {}) };
  }
  let size = fileSize === 0 ? 0 : FILE_HEADER_BYTES;
  let durableCount = 0;
  if (checkpoint && checkpoint.bytes > FILE_HEADER_BYTES && checkpoint.bytes <= fileSize &&
    ((checkpoint.offsets && checkOffsets(fh, checkpoint, checkpoint.offsets, offsets)) || (await walkHeaders(fh, fileSize, checkpoint, offsets)))) {
    size = checkpoint.bytes;
    durableCount = checkpoint.records;
  }
  let pos = size;
  let groupCrc = 0;
  let groupCount = 0;
  while (pos < fileSize) {
    const f = await frameAt(r, pos);
    if (f) {
      offsets.push(pos);
      groupCrc = crc32(f, groupCrc);
      groupCount++;
      pos += f.length;
      continue;
    }
    const m = await markerAt(r, pos);
    if (!m || m.start !== size || m.count !== groupCount || m.groupCrc !== groupCrc >>> 0 || groupCount === 0) break;
    pos += MARKER_BYTES;
    size = pos;
    durableCount = offsets.count;
    groupCrc = 0;
    groupCount = 0;
  }
  offsets.count = durableCount;
  const scan: Scan = { version: 2, offsets: offsets.array, count: durableCount, size };
  if (size < fileSize) {
    const evidence = await acknowledgedAfter(r, size);
    if (evidence !== undefined) scan.corruptEvidenceAt = evidence;
  }
  return scan;
}

/**
 * Walks frame and marker headers up to the checkpoint; true if they chain exactly to it with the right count.
 * One 24-byte synchronous read a record (a buffered window would read most of the payloads it skips: blocks
 * are tens of KiB), yielding to the event loop every WALK_SLICE_MS, so its cost per block stays a few µs.
 */
async function walkHeaders(fh: FileHandle, fileSize: number, cp: Checkpoint, offsets: Offsets): Promise<boolean> {
  const b = Buffer.allocUnsafe(MARKER_BYTES);
  let pos = FILE_HEADER_BYTES;
  let lastWasMarker = false;
  let sliceStart = Date.now();
  while (pos < cp.bytes) {
    const n = Math.min(MARKER_BYTES, fileSize - pos);
    if (n < HEADER || readSync(fh.fd, b, 0, n, pos) !== n) break;
    if (b.readUInt32BE(0) === MAGIC && b.readUInt32BE(4) <= MAX_PAYLOAD) {
      offsets.push(pos);
      pos += HEADER + b.readUInt32BE(4);
      lastWasMarker = false;
    } else if (n === MARKER_BYTES && parseMarker(b, pos)) {
      pos += MARKER_BYTES;
      lastWasMarker = true;
    } else break;
    if (Date.now() - sliceStart >= WALK_SLICE_MS) {
      await new Promise((r) => setImmediate(r));
      sliceStart = Date.now();
    }
  }
  if (pos === cp.bytes && lastWasMarker && offsets.count === cp.records) return true;
  offsets.count = 0; // does not fit this file: scan it all
  return false;
}

/** Frames spot-checked when saved offsets are taken instead of a header walk. */
const OFFSET_PROBES = 16;

/**
 * Takes saved frame offsets for the checkpoint if they fit the file: increasing from the file header, the
 * last frame ending at the marker that ends at the checkpoint, and OFFSET_PROBES frames spread over them
 * holding a frame header whose frame ends before the next offset. Payload CRCs are checked on read, as
 * after a walk: offsets that are wrong elsewhere make those reads fail with TPSLAB_E_LOG_CORRUPT.
 */
function checkOffsets(fh: FileHandle, cp: Checkpoint, saved: Float64Array, offsets: Offsets): boolean {
  const n = cp.records;
  if (n === 0 || saved.length !== n || saved[0] !== FILE_HEADER_BYTES) return false;
  for (let i = 1; i < n; i++) if (!(saved[i]! >= saved[i - 1]! + HEADER)) return false;
  const b = Buffer.allocUnsafe(MARKER_BYTES);
  const frameEnd = (i: number): number | undefined => {
    if (readSync(fh.fd, b, 0, HEADER, saved[i]!) !== HEADER || b.readUInt32BE(0) !== MAGIC) return undefined;
    const len = b.readUInt32BE(4);
    return len <= MAX_PAYLOAD ? saved[i]! + HEADER + len : undefined;
  };
  const lastEnd = frameEnd(n - 1);
  if (lastEnd === undefined || lastEnd + MARKER_BYTES !== cp.bytes) return false;
  if (readSync(fh.fd, b, 0, MARKER_BYTES, lastEnd) !== MARKER_BYTES || !parseMarker(b, lastEnd)) return false;
  const probes = Math.min(OFFSET_PROBES, n - 1);
  for (let k = 0; k < probes; k++) {
    const i = Math.floor((k * (n - 1)) / probes);
    const end = frameEnd(i);
    if (end === undefined || end > saved[i + 1]!) return false;
  }
  offsets.array = new Float64Array(Math.max(1024, n * 2));
  offsets.array.set(saved);
  offsets.count = n;
  return true;
}

/**
 * After the intact end of a v2 log: an acknowledged group beyond it proves corruption. That is a marker
 * whose group CRC-checks, or anything valid (frame or marker) following a marker: the next group is only
 * written once the previous one's fdatasync returned. Returns the offset of that evidence, if any.
 */
async function acknowledgedAfter(r: ScanReader, end: number): Promise<number | undefined> {
  for (let pos = end; ;) {
    const at = await findValid(r, pos, [MARKER_BYTES_MAGIC]);
    if (at === undefined) return undefined;
    const m = (await markerAt(r, at))!;
    if (m.start >= end && m.count > 0 && (await groupCrcOf(r, m.start, at)) === m.groupCrc) return m.start;
    const later = await findValid(r, at + MARKER_BYTES, [MAGIC_BYTES, MARKER_BYTES_MAGIC]);
    if (later !== undefined) return later;
    pos = at + 1;
  }
}

async function groupCrcOf(r: ScanReader, start: number, end: number): Promise<number | undefined> {
  const bytes = await r.get(start, end - start);
  return bytes ? crc32(bytes) >>> 0 : undefined;
}

/** Offset of the first valid frame or marker (of the magics given) starting at or after `from`, if any. */
async function findValid(r: ScanReader, from: number, magics: Buffer[]): Promise<number | undefined> {
  let best: number | undefined;
  for (const magic of magics) {
    for (let pos = from; pos + 4 <= r.fileSize && (best === undefined || pos < best);) {
      const chunk = (await r.get(pos, Math.min(SCAN_CHUNK, r.fileSize - pos)))!;
      const hit = chunk.indexOf(magic);
      if (hit < 0) { pos += Math.max(1, chunk.length - 3); continue; } // keep 3 bytes overlap for a split magic
      const valid = magic === MAGIC_BYTES ? await frameAt(r, pos + hit) : await markerAt(r, pos + hit);
      if (valid) { best = pos + hit; break; }
      pos += hit + 1;
    }
  }
  return best;
}

class Offsets {
  array = new Float64Array(1024);
  count = 0;
  push(offset: number): void {
    if (this.count === this.array.length) {
      const grown = new Float64Array(this.array.length * 2);
      grown.set(this.array);
      this.array = grown;
    }
    this.array[this.count++] = offset;
  }
}

export async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buf.length;) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new TpslabError('TPSLAB_E_INTERNAL', `Unexpected end of file while reading at ${position + done}.`);
    done += bytesRead;
  }
}
