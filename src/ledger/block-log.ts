/**
 * Durable, append-only record log (one file) used to store blocks.
 *
 * Format v2 (every log created since the commit markers):
 *   file header (16 bytes): u32 0x5450534C "TPSL" | u32 version = 2 | u32 0 | u32 crc32(first 12 bytes)
 *   then groups, one per group commit: record frames, then one commit marker
 *   record frame (12 + n): u32 magic 0x54505342 | u32 payloadLength | u32 crc32(payload) | payload
 *   commit marker (24):    u32 0x5450534D "TPSM" | u32 records in the group | u64 file offset of the group's
 *                          first frame | u32 crc32(the group's frames) | u32 crc32(first 20 bytes of the marker)
 * Format v1 (older logs, no header: the file starts with a record frame) holds frames only. A v1 log stays
 * v1 and is appended to without markers; it is read and recovered as before. All integers big-endian.
 *
 * Durability contract:
 *  - append() resolves with the record's index only after its bytes were written AND fdatasync'd
 *    (unless opened with `fsync: false`, meant for benchmarks only). A resolved append survives a crash.
 *  - Appends arriving while a write+fdatasync is in flight are queued and committed together with one
 *    write and one fdatasync (group commit), the group's commit marker in the same write. Indices follow
 *    the order of append() calls.
 *  - If a write or fdatasync fails, the log is poisoned: every queued and later append rejects with
 *    TPSLAB_E_UNAVAILABLE (cause = the I/O error). A failed fsync cannot be retried safely because the
 *    kernel may have dropped the dirty pages; reopening the log (recovery) is the only way forward.
 *  - open() recovers. v2: the log ends after the last commit marker whose group is intact; anything after
 *    it is the last group, never acknowledged (an OS crash may have persisted a later page of it but not an
 *    earlier one), and is truncated. Damage followed by an intact marked group, or by anything valid after
 *    a marker, means an acknowledged group is damaged: open() refuses with TPSLAB_E_LOG_CORRUPT instead of
 *    guessing. v1: a damaged tail is truncated; damage followed by a valid record is refused.
 *    open() also fdatasyncs the file, so records written by a process that crashed before its fsync
 *    (still in the page cache) are durable before we report them.
 *  - One process at a time: `<path>.lock` holds the owner's pid; a lock left by a dead pid is taken over.
 */
import { constants as fsc } from 'node:fs';
import { link, open as fsOpen, readFile, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { TpslabError } from '../errors.js';
import { isAlive } from './pid-alive.js';
import {
  FILE_HEADER_BYTES, HEADER, MAGIC, MARKER_BYTES, MAX_PAYLOAD, encodeFileHeader, encodeFrameHeader, encodeMarker, readFully, scanLog, type Checkpoint,
} from './block-log-format.js';

export type { Checkpoint } from './block-log-format.js';

export { MAX_PAYLOAD } from './block-log-format.js';
export interface BlockLogOptions {
  fsync?: boolean /* default true; false only for benchmarks */;
  /** Where the log ended at a group boundary before (see `checkpoint`): open walks that part by headers only. */
  checkpoint?: Checkpoint;
}
export interface RecoveryReport { records: number; truncatedBytes: number; }

const MAX_BATCH_BYTES = 64 * 1024 * 1024; // a batch holds at least one record, more while under this

/** A queued record: its frame header and its payload (the caller's buffer, not copied: it must not change until written). */
interface Pending { header: Buffer; payload: Buffer; resolve: (index: number) => void; reject: (err: unknown) => void; }

export class BlockLog {
  private offsets: Float64Array; // offsets[i] = file offset of record i's frame (durable records only)
  private count: number;
  private size: number;          // durable file size = end of the last durable frame
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private poisoned: unknown = undefined;
  private closing: Promise<void> | undefined;
  private readonly reads = new Set<Promise<unknown>>();

  private constructor(
    private readonly path: string,
    private readonly fh: FileHandle,
    private readonly lockPath: string,
    private readonly fsync: boolean,
    /** 2: groups end with commit markers; 1: an older log, appended to without markers. */
    readonly version: 1 | 2,
    scan: { offsets: Float64Array; count: number; size: number },
    readonly recovery: RecoveryReport,
  ) {
    this.offsets = scan.offsets;
    this.count = scan.count;
    this.size = scan.size;
  }

  static async open(path: string, options: BlockLogOptions = {}): Promise<BlockLog> {
    const fsync = options.fsync ?? true;
    const lockPath = `${path}.lock`;
    await acquireLock(lockPath);
    let fh: FileHandle | undefined;
    try {
      try {
        fh = await fsOpen(path, fsc.O_RDWR | fsc.O_CREAT, 0o644);
      } catch (err) {
        throw new TpslabError('TPSLAB_E_DATA_DIR', `Cannot open block log ${path}: ${(err as Error).message}`, { cause: err });
      }
      const fileSize = (await fh.stat()).size;
      const scan = await scanLog(fh, fileSize, options.checkpoint);
      if (scan.corruptEvidenceAt !== undefined) {
        throw new TpslabError('TPSLAB_E_LOG_CORRUPT',
          `Block log ${path} is corrupt at byte offset ${scan.size} (record ${scan.count}), but acknowledged data ` +
          `follows at offset ${scan.corruptEvidenceAt}, so this is not a torn tail from a crash. Do NOT delete or truncate ` +
          `the file: stop the node, keep the file for inspection, and restore the log from a replica or backup.`,
          { details: { path, offset: scan.size, record: scan.count, nextValidOffset: scan.corruptEvidenceAt } });
      }
      // A torn tail, or a torn last group (never acknowledged): cut it.
      if (scan.size < fileSize) await fh.truncate(scan.size);
      let version = scan.version;
      if (scan.size === 0) { // a new (or empty) log is written in the current format
        await writeFully(fh, encodeFileHeader(), 0);
        scan.size = FILE_HEADER_BYTES;
        version = 2;
      }
      if (fsync) {
        await fh.datasync();          // make what we report durable, and the truncation too
        await syncDir(dirname(path)); // the file's directory entry (it may have just been created)
      }
      return new BlockLog(path, fh, lockPath, fsync, version, scan,
        { records: scan.count, truncatedBytes: fileSize - Math.min(fileSize, scan.size) });
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(lockPath).catch(() => undefined);
      throw err;
    }
  }

  /** Number of durable records. */
  get length(): number { return this.count; }
  /** Durable file size in bytes. */
  get sizeBytes(): number { return this.size; }
  /** Where the durable log ends now (a group boundary): pass it to a later open() to skip reading the history (v2 only). */
  get checkpoint(): Checkpoint | undefined { return this.version === 2 ? { records: this.count, bytes: this.size } : undefined; }
  /** Frame offsets of records [from, records) (a copy): saved with a checkpoint, they spare the next open the header walk. */
  offsetsOf(records: number, from = 0): Float64Array { return this.offsets.slice(from, Math.min(records, this.count)); }

  /** Resolves with the record's index once it is written and fdatasync'd. `payload` is written as it is then: do not change it before. */
  append(payload: Buffer): Promise<number> {
    if (this.closing || this.poisoned !== undefined) return Promise.reject(this.unavailable());
    if (!Buffer.isBuffer(payload)) return Promise.reject(new TypeError('BlockLog.append expects a Buffer'));
    if (payload.length > MAX_PAYLOAD) {
      return Promise.reject(new TpslabError('TPSLAB_E_TOO_LARGE',
        `Block log record of ${payload.length} bytes exceeds the ${MAX_PAYLOAD}-byte limit.`));
    }
    const header = encodeFrameHeader(payload);
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ header, payload, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  /**
   * Writes queued frames in batches: one write + one fdatasync per batch. The batch's headers, payloads and
   * commit marker go out in one writev, not copied into one buffer first (that was two copies of every block).
   */
  private async flushLoop(): Promise<void> {
    await Promise.resolve(); // let appends issued in the same tick join the first batch
    while (this.queue.length > 0) {
      let take = 0;
      let bytes = 0;
      while (take < this.queue.length && (take === 0 || bytes + HEADER + this.queue[take]!.payload.length <= MAX_BATCH_BYTES)) {
        bytes += HEADER + this.queue[take]!.payload.length;
        take++;
      }
      const batch = this.queue.splice(0, take);
      let groupBytes: number;
      try {
        const parts: Buffer[] = [];
        let crc = 0;
        for (const p of batch) {
          parts.push(p.header, p.payload);
          crc = crc32(p.payload, crc32(p.header, crc));
        }
        // v2: the group's commit marker goes in the same write; recovery keeps the group only if it is intact.
        if (this.version === 2) parts.push(encodeMarker(batch.length, this.size, crc));
        groupBytes = this.version === 2 ? bytes + MARKER_BYTES : bytes;
        await writeAll(this.fh, parts, groupBytes, this.size);
        if (this.fsync) await this.fh.datasync();
      } catch (err) {
        // Poison: the file's state past `size` is unknown and a retried fsync may falsely succeed.
        this.poisoned = err;
        for (const p of [...batch, ...this.queue.splice(0)]) p.reject(this.unavailable());
        break;
      }
      const groupEnd = this.size + groupBytes;
      let at = this.size;
      for (const p of batch) {
        if (this.count === this.offsets.length) {
          const grown = new Float64Array(this.offsets.length * 2);
          grown.set(this.offsets);
          this.offsets = grown;
        }
        this.offsets[this.count++] = at;
        at += HEADER + p.payload.length;
      }
      this.size = groupEnd;
      batch.forEach((p, i) => p.resolve(this.count - batch.length + i));
    }
    this.flushing = undefined;
  }

  /** Reads durable record `index`. */
  read(index: number): Promise<Buffer> {
    return this.readRange(index, index + 1).then((r) => r[0]!);
  }

  /**
   * Reads durable records [from, toExclusive) with one read of their span. The returned buffers are views
   * into that one span buffer (holding any of them keeps the whole span alive).
   */
  readRange(from: number, toExclusive: number): Promise<Buffer[]> {
    if (this.closing) return Promise.reject(this.unavailable());
    const n = this.count;
    if (!Number.isInteger(from) || !Number.isInteger(toExclusive) || from < 0 || toExclusive > n || from > toExclusive) {
      return Promise.reject(new TpslabError('TPSLAB_E_NOT_FOUND',
        `Block log records [${from}, ${toExclusive}) are out of range: the log holds ${n} records (0..${n - 1}).`));
    }
    const p = this.doReadRange(from, toExclusive);
    this.reads.add(p);
    void p.finally(() => this.reads.delete(p)).catch(() => undefined);
    return p;
  }

  private async doReadRange(from: number, to: number): Promise<Buffer[]> {
    if (from === to) return [];
    const start = this.offsets[from]!;
    const end = to < this.count ? this.offsets[to]! : this.size;
    const span = Buffer.allocUnsafe(end - start);
    await readFully(this.fh, span, start);
    const out: Buffer[] = [];
    for (let i = from; i < to; i++) {
      const off = this.offsets[i]! - start;
      const frameEnd = (i + 1 < to ? this.offsets[i + 1]! : end) - start; // a commit marker may sit in between
      const len = off + HEADER <= frameEnd ? span.readUInt32BE(off + 4) : -1;
      const payload = span.subarray(off + HEADER, off + HEADER + Math.max(0, len));
      // Detect bit rot / outside tampering of durable records rather than returning bad bytes.
      if (len < 0 || off + HEADER + len > frameEnd || span.readUInt32BE(off) !== MAGIC || span.readUInt32BE(off + 8) !== crc32(payload)) {
        throw new TpslabError('TPSLAB_E_LOG_CORRUPT',
          `Block log ${this.path}: record ${i} at byte offset ${start + off} failed its checksum on read. ` +
          `Do not delete the file; restore the log from a replica or backup.`, { details: { path: this.path, record: i } });
      }
      out.push(payload);
    }
    return out;
  }

  /** Waits for in-flight appends and reads, then closes the file and releases the lock. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.flushing) await this.flushing;
      await Promise.allSettled([...this.reads]);
      try {
        await this.fh.close();
      } finally {
        await unlink(this.lockPath).catch(() => undefined);
      }
    })();
    return this.closing;
  }

  private unavailable(): TpslabError {
    if (this.poisoned !== undefined) {
      return new TpslabError('TPSLAB_E_UNAVAILABLE',
        `Block log ${this.path} failed to write or fsync and no longer accepts appends; restart to recover.`,
        { cause: this.poisoned });
    }
    return new TpslabError('TPSLAB_E_UNAVAILABLE', `Block log ${this.path} is closed.`);
  }
}

/** Writes `parts` back to back at `position` (`total` bytes): one writev, and the rest (if it wrote less) from one copy. */
async function writeAll(fh: FileHandle, parts: Buffer[], total: number, position: number): Promise<void> {
  const { bytesWritten } = await fh.writev(parts, position);
  if (bytesWritten < total) await writeFully(fh, Buffer.concat(parts, total).subarray(bytesWritten), position + bytesWritten);
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buf.length;) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be fsync'd there
  const dh = await fsOpen(dir, 'r');
  try { await dh.sync(); } finally { await dh.close(); }
}

/** Creates `lockPath` holding our pid atomically (write a temp file, then link it into place). */
async function acquireLock(lockPath: string): Promise<void> {
  const tmp = `${lockPath}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, `${process.pid}\n`, { flag: 'wx' });
  } catch (err) {
    throw new TpslabError('TPSLAB_E_DATA_DIR', `Cannot create lock file next to ${lockPath}: ${(err as Error).message}`, { cause: err });
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, lockPath);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const text = await readFile(lockPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined; // released meanwhile: just retry
        throw e;
      });
      if (text === undefined) continue;
      const pid = Number.parseInt(text, 10);
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new TpslabError('TPSLAB_E_DATA_DIR',
          `The block log is in use by another process (pid ${pid}${pid === process.pid ? ', this process' : ''}) ` +
          `holding ${lockPath}. Stop it first; if no tpslab process is running, delete ${lockPath}.`,
          { details: { lockPath, pid } });
      }
      await unlink(lockPath).catch(() => undefined); // stale (dead pid or garbage): take it over
    }
  } catch (err) {
    if (err instanceof TpslabError) throw err;
    throw new TpslabError('TPSLAB_E_DATA_DIR', `Cannot take lock ${lockPath}: ${(err as Error).message}`, { cause: err });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

