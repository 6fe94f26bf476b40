/**
 * Reading a dataset file: the header, the frame directory (a scan of the
 * 30-byte frame headers, no decompression), and the records, all of them or
 * only those whose sender falls in a shard range. This is the API the replay
 * workload loads from.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { TpslabError } from '../errors.js';
import { ACCOUNT_BYTES, TX_ID_BYTES } from '../protocol/tx.js';
import { shardKeyOf } from './accounts.js';
import { decodeHeader, FRAME_HEADER_BYTES, FRAME_MAGIC, HEADER_BYTES, RECORD_HEADER_BYTES, type DatasetHeader, type RecordMeta } from './format.js';

export interface DatasetRecord extends RecordMeta {
  /** Signed tpslab transaction bytes, ready to submit. */
  tx: Buffer;
  /** The sender's account (first input). */
  sender: Buffer;
  /** The sender's position in the 2^64 shard space. */
  shardKey: bigint;
}

export interface FrameInfo {
  offset: number;
  bucket: number;
  records: number;
  gzipBytes: number;
  firstSeq: number;
  lastSeq: number;
}

/** A half-open range of the 2^64 shard space, as the tracker's allocator hands out (decimal strings or bigints). */
export interface ShardRange {
  start: bigint | string;
  end: bigint | string;
}

export interface Dataset {
  readonly file: string;
  readonly header: DatasetHeader;
  frames(): Promise<FrameInfo[]>;
  /** Records in file order (per sender: nonce order); with `ranges`, only senders inside one of them. */
  records(opts?: { ranges?: readonly ShardRange[] }): AsyncGenerator<DatasetRecord>;
  close(): Promise<void>;
}

/** Offset of the sender (first input account) inside a signed transfer: version, kind, nonce, fee, dep count, deps, input count. */
function senderOf(tx: Buffer): Buffer {
  const at = 1 + 1 + 8 + 8 + 1 + tx[18]! * TX_ID_BYTES + 2;
  return tx.subarray(at, at + ACCOUNT_BYTES);
}

export async function openDataset(file: string, opts: { allowIncomplete?: boolean } = {}): Promise<Dataset> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new TpslabError('TPSLAB_E_DATASET', `cannot open dataset ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(HEADER_BYTES);
    await fh.read(head, 0, HEADER_BYTES, 0);
    const header = decodeHeader(head, file);
    if (!header.complete && !opts.allowIncomplete) throw new TpslabError('TPSLAB_E_DATASET', `${file} is an unfinished preparation; finish it with tpslab dataset prepare --resume`);
    return new DatasetFile(file, fh, size, header);
  } catch (err) {
    await fh.close();
    throw err;
  }
}

class DatasetFile implements Dataset {
  private directory: FrameInfo[] | undefined;

  constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    private readonly size: number,
    readonly header: DatasetHeader,
  ) {}

  async frames(): Promise<FrameInfo[]> {
    if (this.directory) return this.directory;
    const out: FrameInfo[] = [];
    const h = Buffer.alloc(FRAME_HEADER_BYTES);
    let pos = HEADER_BYTES;
    while (pos < this.size) {
      const { bytesRead } = await this.fh.read(h, 0, FRAME_HEADER_BYTES, pos);
      if (bytesRead < FRAME_HEADER_BYTES || !h.subarray(0, 4).equals(FRAME_MAGIC)) {
        throw new TpslabError('TPSLAB_E_DATASET', `${this.file} at byte ${pos}: no frame header (${bytesRead < FRAME_HEADER_BYTES ? 'file ends' : 'bad magic'}); the file is truncated or damaged`, { details: { file: this.file, offset: pos } });
      }
      const f: FrameInfo = { offset: pos, bucket: h.readUInt16BE(4), records: h.readUInt32BE(6), gzipBytes: h.readUInt32BE(10), firstSeq: Number(h.readBigUInt64BE(14)), lastSeq: Number(h.readBigUInt64BE(22)) };
      if (pos + FRAME_HEADER_BYTES + f.gzipBytes > this.size) {
        throw new TpslabError('TPSLAB_E_DATASET', `${this.file} at byte ${pos}: the frame says ${f.gzipBytes} bytes but the file ends first; it is truncated`, { details: { file: this.file, offset: pos } });
      }
      out.push(f);
      pos += FRAME_HEADER_BYTES + f.gzipBytes;
    }
    return (this.directory = out);
  }

  async *records(opts: { ranges?: readonly ShardRange[] } = {}): AsyncGenerator<DatasetRecord> {
    const ranges = opts.ranges?.map((r) => ({ start: BigInt(r.start), end: BigInt(r.end) }));
    const shift = BigInt(64 - this.header.bucketBits);
    const wanted = (b: number): boolean => {
      if (!ranges) return true;
      const lo = BigInt(b) << shift;
      const hi = (BigInt(b) + 1n) << shift;
      return ranges.some((r) => r.start < hi && r.end > lo);
    };
    for (const f of await this.frames()) {
      if (!wanted(f.bucket)) continue;
      const gz = Buffer.alloc(f.gzipBytes);
      await this.fh.read(gz, 0, f.gzipBytes, f.offset + FRAME_HEADER_BYTES);
      let data: Buffer;
      try {
        data = gunzipSync(gz);
      } catch (err) {
        throw new TpslabError('TPSLAB_E_DATASET', `${this.file} at byte ${f.offset}: the frame does not decompress (${(err as Error).message}); the file is damaged`, { cause: err });
      }
      let pos = 0;
      for (let i = 0; i < f.records; i++) {
        if (pos + RECORD_HEADER_BYTES > data.length) throw new TpslabError('TPSLAB_E_DATASET', `${this.file} at byte ${f.offset}: frame holds fewer records than its header says`);
        const len = data.readUInt32BE(pos);
        const tx = data.subarray(pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + len);
        const sender = senderOf(tx);
        const shardKey = shardKeyOf(sender);
        const rec: DatasetRecord = { seq: Number(data.readBigUInt64BE(pos + 4)), height: data.readUInt32BE(pos + 12), timeSec: data.readUInt32BE(pos + 16), depth: data.readUInt32BE(pos + 20), tx, sender, shardKey };
        pos += RECORD_HEADER_BYTES + len;
        if (ranges && !ranges.some((r) => shardKey >= r.start && shardKey < r.end)) continue;
        yield rec;
      }
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
