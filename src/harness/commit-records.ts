/**
 * The commit store's file format, shared by the store (commit-store.ts) and its hashing thread
 * (commit-hash-worker.ts): records of u32 id length, f64 height, u32 sender, then the id (UTF-8),
 * little-endian, appended whole.
 */
import { readSync } from 'node:fs';

export const HEADER_BYTES = 16;
const READ_BYTES = 1 << 18;

/**
 * Visits the records in the file's bytes [from, to) (both on record boundaries): the id is
 * buf[start, end). Returns the offset after the last whole record.
 */
export function readRecords(fd: number, from: number, to: number, visit: (buf: Buffer, start: number, end: number, height: number, sender: number) => void): number {
  let buf = Buffer.allocUnsafe(READ_BYTES);
  let pos = from;
  while (pos < to) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, to - pos), pos);
    if (n === 0) break;
    let at = 0;
    while (at + HEADER_BYTES <= n) {
      const len = buf.readUInt32LE(at);
      if (at + HEADER_BYTES + len > n) break;
      visit(buf, at + HEADER_BYTES, at + HEADER_BYTES + len, buf.readDoubleLE(at + 4), buf.readUInt32LE(at + 12));
      at += HEADER_BYTES + len;
    }
    if (at === 0) {
      // A record longer than the buffer: read again with room for it. Shorter reads end inside a record.
      if (n < buf.length) throw new Error(`the commit store's file ends inside a record at byte ${pos} (expected data up to ${to})`);
      buf = Buffer.allocUnsafe(Math.max(buf.length * 2, HEADER_BYTES + buf.readUInt32LE(0)));
    }
    pos += at;
  }
  return pos;
}
