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
import { decodeHeader, FRAME_HEADER_BYTES, FRAME_MAGIC, HEADER_BYTES, RECORD_HEADER_BYTES, SEED_BYTES, type DatasetHeader, type RecordMeta } from './format.js';

export interface DatasetRecord extends RecordMeta {
  /** The unsigned transfer body (canonical encoding); its id is its SHA-256 (`txId`). Sign it with `signRecord`. */
  body: Buffer;
  /** The Ed25519 seed of each input's key, in input order. */
  seeds: Buffer[];
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

export interface RecordsOptions {
  ranges?: readonly ShardRange[];
  ordered?: boolean;
}

interface Cursor {
  frames: FrameInfo[];
  next: number;
  recs: DatasetRecord[];
  at: number;
}

/** A binary min-heap of cursors by the seq of their current record. */
class SeqHeap {
  constructor(private readonly items: Cursor[]) {
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  get size(): number {
    return this.items.length;
  }

  top(): Cursor {
    return this.items[0]!;
  }

  /** The top's key grew: restore the order. */
  fix(): void {
    this.down(0);
  }

  pop(): void {
    const last = this.items.pop()!;
    if (this.items.length > 0) {
      this.items[0] = last;
      this.down(0);
    }
  }

  private key(i: number): number {
    const c = this.items[i]!;
    return c.recs[c.at]!.seq;
  }

  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.key(l) < this.key(m)) m = l;
      if (r < n && this.key(r) < this.key(m)) m = r;
      if (m === i) return;
      [this.items[i], this.items[m]] = [this.items[m]!, this.items[i]!];
      i = m;
    }
  }
}

export interface Dataset {
  readonly file: string;
  readonly header: DatasetHeader;
  frames(): Promise<FrameInfo[]>;
  /**
   * Records of the senders inside `ranges` (all without it). In file order by default (per
   * sender: nonce order); `ordered` merges them into dataset order (seq), holding one
   * decoded frame per bucket read.
   */
  records(opts?: RecordsOptions): AsyncGenerator<DatasetRecord>;
  close(): Promise<void>;
}

/** Offset of the input count inside a transfer body: version, kind, nonce, fee, dep count, deps. */
function inputCountAt(body: Buffer): number {
  return 1 + 1 + 8 + 8 + 1 + body[18]! * TX_ID_BYTES;
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

  async *records(opts: RecordsOptions = {}): AsyncGenerator<DatasetRecord> {
    const ranges = opts.ranges?.map((r) => ({ start: BigInt(r.start), end: BigInt(r.end) }));
    const shift = BigInt(64 - this.header.bucketBits);
    const wanted = (b: number): boolean => {
      if (!ranges) return true;
      const lo = BigInt(b) << shift;
      const hi = (BigInt(b) + 1n) << shift;
      return ranges.some((r) => r.start < hi && r.end > lo);
    };
    const keep = (r: DatasetRecord): boolean => !ranges || ranges.some((x) => r.shardKey >= x.start && r.shardKey < x.end);
    const frames = (await this.frames()).filter((f) => wanted(f.bucket));
    if (!opts.ordered) {
      for (const f of frames) for (const r of await this.decode(f)) if (keep(r)) yield r;
      return;
    }
    // Ordered: merge the buckets' frame sequences (each already in seq order) by seq, one decoded frame per bucket at a time.
    const byBucket = new Map<number, FrameInfo[]>();
    for (const f of frames) {
      const list = byBucket.get(f.bucket);
      if (list) list.push(f);
      else byBucket.set(f.bucket, [f]);
    }
    const cursors: Cursor[] = [];
    for (const list of byBucket.values()) {
      const c: Cursor = { frames: list, next: 0, recs: [], at: 0 };
      if (await this.advance(c, keep)) cursors.push(c);
    }
    const heap = new SeqHeap(cursors);
    while (heap.size > 0) {
      const c = heap.top();
      yield c.recs[c.at]!;
      c.at++;
      if (c.at < c.recs.length || (await this.advance(c, keep))) heap.fix();
      else heap.pop();
    }
  }

  /** Loads the cursor's next frame with records that pass `keep`; false when its frames are used up. */
  private async advance(c: Cursor, keep: (r: DatasetRecord) => boolean): Promise<boolean> {
    while (c.next < c.frames.length) {
      c.recs = (await this.decode(c.frames[c.next++]!)).filter(keep);
      c.at = 0;
      if (c.recs.length > 0) return true;
    }
    return false;
  }

  private async decode(f: FrameInfo): Promise<DatasetRecord[]> {
    const gz = Buffer.alloc(f.gzipBytes);
    await this.fh.read(gz, 0, f.gzipBytes, f.offset + FRAME_HEADER_BYTES);
    let data: Buffer;
    try {
      data = gunzipSync(gz);
    } catch (err) {
      throw new TpslabError('TPSLAB_E_DATASET', `${this.file} at byte ${f.offset}: the frame does not decompress (${(err as Error).message}); the file is damaged`, { cause: err });
    }
    const out: DatasetRecord[] = [];
    let pos = 0;
    for (let i = 0; i < f.records; i++) {
      if (pos + RECORD_HEADER_BYTES > data.length) throw new TpslabError('TPSLAB_E_DATASET', `${this.file} at byte ${f.offset}: frame holds fewer records than its header says`);
      const len = data.readUInt32BE(pos);
      const body = data.subarray(pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + len);
      const at = inputCountAt(body);
      if (len < at + 2 + ACCOUNT_BYTES || pos + RECORD_HEADER_BYTES + len > data.length) throw new TpslabError('TPSLAB_E_DATASET', `${this.file} at byte ${f.offset}: record ${i} of the frame is cut short; the file is damaged`);
      const sender = body.subarray(at + 2, at + 2 + ACCOUNT_BYTES);
      const seeds: Buffer[] = [];
      let s = pos + RECORD_HEADER_BYTES + len;
      for (let k = body.readUInt16BE(at); k > 0; k--, s += SEED_BYTES) seeds.push(data.subarray(s, s + SEED_BYTES));
      if (s > data.length) throw new TpslabError('TPSLAB_E_DATASET', `${this.file} at byte ${f.offset}: record ${i} of the frame is cut short; the file is damaged`);
      out.push({ seq: Number(data.readBigUInt64BE(pos + 4)), height: data.readUInt32BE(pos + 12), timeSec: data.readUInt32BE(pos + 16), depth: data.readUInt32BE(pos + 20), body, seeds, sender, shardKey: shardKeyOf(sender) });
      pos = s;
    }
    return out;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
