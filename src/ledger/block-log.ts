/**
 * Durable, append-only record log (one file) used to store blocks.
 *
 * Frame: u32 magic 0x54505342 | u32 payloadLength | u32 crc32(payload) | payload   (all big-endian)
 *
 * Durability contract:
 *  - append() resolves with the record's index only after its bytes were written AND fdatasync'd
 *    (unless opened with `fsync: false`, meant for benchmarks only). A resolved append survives a crash.
 *  - Appends arriving while a write+fdatasync is in flight are queued and committed together with one
 *    write and one fdatasync (group commit). Indices follow the order of append() calls.
 *  - If a write or fdatasync fails, the log is poisoned: every queued and later append rejects with
 *    TPSLAB_E_UNAVAILABLE (cause = the I/O error). A failed fsync cannot be retried safely because the
 *    kernel may have dropped the dirty pages; reopening the log (recovery) is the only way forward.
 *  - open() recovers: a damaged tail (torn write from a crash) is truncated; damage followed by a valid
 *    record is mid-log corruption and open() refuses with TPSLAB_E_LOG_CORRUPT instead of guessing.
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

export interface BlockLogOptions { fsync?: boolean /* default true; false only for benchmarks */ }
export interface RecoveryReport { records: number; truncatedBytes: number; }

const MAGIC = 0x54505342;
const MAGIC_BYTES = Buffer.from([0x54, 0x50, 0x53, 0x42]);
const HEADER = 12;
export const MAX_PAYLOAD = 64 * 1024 * 1024;
const MAX_BATCH_BYTES = 64 * 1024 * 1024; // a batch holds at least one record, more while under this
const SCAN_CHUNK = 4 * 1024 * 1024;

interface Pending { frame: Buffer; resolve: (index: number) => void; reject: (err: unknown) => void; }

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
      const scan = await scanLog(fh, fileSize);
      if (scan.size < fileSize) {
        const corruptAt = await findValidFrameAfter(fh, scan.size, fileSize);
        if (corruptAt !== undefined) {
          throw new TpslabError('TPSLAB_E_LOG_CORRUPT',
            `Block log ${path} is corrupt at byte offset ${scan.size} (record ${scan.count}), but a valid record ` +
            `follows at offset ${corruptAt}, so this is not a torn tail from a crash. Do NOT delete or truncate ` +
            `the file: stop the node, keep the file for inspection, and restore the log from a replica or backup.`,
            { details: { path, offset: scan.size, record: scan.count, nextValidOffset: corruptAt } });
        }
        await fh.truncate(scan.size); // torn tail: a crash interrupted the last (never acknowledged) write
      }
      if (fsync) {
        await fh.datasync();          // make what we report durable, and the truncation too
        await syncDir(dirname(path)); // the file's directory entry (it may have just been created)
      }
      return new BlockLog(path, fh, lockPath, fsync, scan,
        { records: scan.count, truncatedBytes: fileSize - scan.size });
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

  /** Resolves with the record's index once it is written and fdatasync'd. */
  append(payload: Buffer): Promise<number> {
    if (this.closing || this.poisoned !== undefined) return Promise.reject(this.unavailable());
    if (!Buffer.isBuffer(payload)) return Promise.reject(new TypeError('BlockLog.append expects a Buffer'));
    if (payload.length > MAX_PAYLOAD) {
      return Promise.reject(new TpslabError('TPSLAB_E_TOO_LARGE',
        `Block log record of ${payload.length} bytes exceeds the ${MAX_PAYLOAD}-byte limit.`));
    }
    const frame = Buffer.allocUnsafe(HEADER + payload.length);
    frame.writeUInt32BE(MAGIC, 0);
    frame.writeUInt32BE(payload.length, 4);
    frame.writeUInt32BE(crc32(payload), 8);
    payload.copy(frame, HEADER);
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ frame, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  /** Writes queued frames in batches: one write + one fdatasync per batch. */
  private async flushLoop(): Promise<void> {
    await Promise.resolve(); // let appends issued in the same tick join the first batch
    while (this.queue.length > 0) {
      let take = 0;
      let bytes = 0;
      while (take < this.queue.length && (take === 0 || bytes + this.queue[take]!.frame.length <= MAX_BATCH_BYTES)) {
        bytes += this.queue[take]!.frame.length;
        take++;
      }
      const batch = this.queue.splice(0, take);
      try {
        const buf = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((p) => p.frame), bytes);
        await writeFully(this.fh, buf, this.size);
        if (this.fsync) await this.fh.datasync();
      } catch (err) {
        // Poison: the file's state past `size` is unknown and a retried fsync may falsely succeed.
        this.poisoned = err;
        for (const p of [...batch, ...this.queue.splice(0)]) p.reject(this.unavailable());
        break;
      }
      for (const p of batch) {
        if (this.count === this.offsets.length) {
          const grown = new Float64Array(this.offsets.length * 2);
          grown.set(this.offsets);
          this.offsets = grown;
        }
        this.offsets[this.count] = this.size;
        this.size += p.frame.length;
        p.resolve(this.count++);
      }
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
      const frameEnd = (i + 1 < to ? this.offsets[i + 1]! : end) - start;
      const payload = span.subarray(off + HEADER, frameEnd);
      // Detect bit rot / outside tampering of durable records rather than returning bad bytes.
      if (span.readUInt32BE(off) !== MAGIC || span.readUInt32BE(off + 4) !== payload.length || span.readUInt32BE(off + 8) !== crc32(payload)) {
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

/** Buffered positional reads over the file for the recovery scan. */
class ScanReader {
  private buf = Buffer.alloc(0);
  private start = 0;
  constructor(private readonly fh: FileHandle, readonly fileSize: number) {}
  /** `len` bytes at `pos` (a view; stays valid after later calls), or undefined past EOF. */
  async get(pos: number, len: number): Promise<Buffer | undefined> {
    if (pos + len > this.fileSize) return undefined;
    if (pos < this.start || pos + len > this.start + this.buf.length) {
      this.buf = Buffer.allocUnsafe(Math.min(Math.max(len, SCAN_CHUNK), this.fileSize - pos));
      this.start = pos;
      await readFully(this.fh, this.buf, pos);
    }
    return this.buf.subarray(pos - this.start, pos - this.start + len);
  }
}

/** Length of the valid frame at `pos`, or -1 if there is none (bad magic, implausible length, past EOF, bad CRC). */
async function frameAt(r: ScanReader, pos: number): Promise<number> {
  const hdr = await r.get(pos, HEADER);
  if (!hdr || hdr.readUInt32BE(0) !== MAGIC) return -1;
  const len = hdr.readUInt32BE(4);
  const crc = hdr.readUInt32BE(8);
  if (len > MAX_PAYLOAD) return -1;
  const payload = await r.get(pos + HEADER, len);
  return payload && crc32(payload) === crc ? HEADER + len : -1;
}

async function scanLog(fh: FileHandle, fileSize: number): Promise<{ offsets: Float64Array; count: number; size: number }> {
  const r = new ScanReader(fh, fileSize);
  let offsets = new Float64Array(1024);
  let count = 0;
  let pos = 0;
  for (let len: number; pos < fileSize && (len = await frameAt(r, pos)) > 0; pos += len) {
    if (count === offsets.length) {
      const grown = new Float64Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
    }
    offsets[count++] = pos;
  }
  return { offsets, count, size: pos };
}

/** Offset of the first valid frame starting after `bad`, if any. */
async function findValidFrameAfter(fh: FileHandle, bad: number, fileSize: number): Promise<number | undefined> {
  const r = new ScanReader(fh, fileSize);
  for (let pos = bad + 1; pos + HEADER <= fileSize;) {
    const chunk = (await r.get(pos, Math.min(SCAN_CHUNK, fileSize - pos)))!;
    const hit = chunk.indexOf(MAGIC_BYTES);
    if (hit < 0) { pos += Math.max(1, chunk.length - 3); continue; } // keep 3 bytes overlap for a split magic
    if ((await frameAt(r, pos + hit)) > 0) return pos + hit;
    pos += hit + 1;
  }
  return undefined;
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buf.length;) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buf.length;) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new TpslabError('TPSLAB_E_INTERNAL', `Unexpected end of file while reading at ${position + done}.`);
    done += bytesRead;
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}
