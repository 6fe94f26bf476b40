/**
 * Streams blocks out of bitcoind's `blk*.dat` files. Each file is a sequence of
 * frames `magic (4 bytes) | u32 little-endian length | block`; bitcoind
 * preallocates files, so a run of zero bytes where a magic should be ends the
 * file's data. Anything else that is not a known magic, or a frame cut short,
 * is a TPSLAB_E_DATASET error naming the file and byte offset.
 *
 * Bitcoin Core 28+ obfuscates new block files with an 8-byte key kept in
 * `xor.dat` beside them (byte i of a file is XORed with key[i mod 8]); when
 * that file is there with a non-zero key, blocks are de-obfuscated as read.
 */
import { open, readdir, readFile as readWhole, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TpslabError } from '../errors.js';

/** Network magics as they appear on disk (pchMessageStart). */
export const BLK_MAGICS = {
  mainnet: 'f9beb4d9',
  testnet: '0b110907',
  regtest: 'fabfb5da',
  signet: '0a03cf40',
  testnet4: '1c163f28',
} as const;
export type SourceNetwork = keyof typeof BLK_MAGICS;

const BY_MAGIC = new Map<number, SourceNetwork>(Object.entries(BLK_MAGICS).map(([n, m]) => [Buffer.from(m, 'hex').readUInt32BE(0), n as SourceNetwork]));
/** Larger than any block bitcoind accepts (4 MB of weight), small enough to catch a garbage length. */
export const MAX_BLOCK_BYTES = 32 * 1024 * 1024;
const CHUNK_BYTES = 16 * 1024 * 1024;

export interface RawBlock {
  network: SourceNetwork;
  file: string;
  /** Byte offset of the frame's magic in `file`. */
  offset: number;
  /** Byte offset just after this block: where the next frame starts. */
  nextOffset: number;
  bytes: Buffer;
}

export interface BlkPosition {
  /** Base name of the file. */
  file: string;
  offset: number;
}

/** Input paths to an ordered list of files: a directory gives its blk*.dat files sorted by name; files keep the given order. */
export async function listBlkFiles(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    let st;
    try {
      st = await stat(input);
    } catch (err) {
      throw new TpslabError('TPSLAB_E_DATASET', `input ${input} does not exist or cannot be read (${(err as Error).message}); give blk*.dat files or a directory holding them`, { cause: err });
    }
    if (st.isDirectory()) {
      const names = (await readdir(input)).filter((n) => /^blk\d+\.dat$/.test(n)).sort();
      if (names.length === 0) throw new TpslabError('TPSLAB_E_DATASET', `directory ${input} holds no blk*.dat files`);
      out.push(...names.map((n) => join(input, n)));
    } else out.push(input);
  }
  const seen = new Set<string>();
  for (const f of out) {
    if (seen.has(basename(f))) throw new TpslabError('TPSLAB_E_DATASET', `two inputs are named ${basename(f)}; checkpoints name files by base name, so give each file once`);
    seen.add(basename(f));
  }
  return out;
}

/**
 * Yields every block of `files` in order, starting at `from` (a file's base
 * name and an offset inside it) when given.
 */
export async function* readBlocks(files: readonly string[], from?: BlkPosition): AsyncGenerator<RawBlock> {
  let start = 0;
  if (from) {
    start = files.findIndex((f) => basename(f) === from.file);
    if (start < 0) throw new TpslabError('TPSLAB_E_DATASET', `the checkpoint continues in ${from.file}, which is not among the inputs; give the same inputs as the interrupted run`);
  }
  for (let i = start; i < files.length; i++) {
    yield* readFile(files[i]!, i === start && from ? from.offset : 0);
  }
}

/** The obfuscation key from `xor.dat` beside `path`, or undefined when there is none or it is all zeros. */
export async function xorKeyFor(path: string): Promise<Buffer | undefined> {
  let key: Buffer;
  try {
    key = await readWhole(join(dirname(path), 'xor.dat'));
  } catch {
    return undefined;
  }
  if (key.length !== 8) throw new TpslabError('TPSLAB_E_DATASET', `${join(dirname(path), 'xor.dat')} holds ${key.length} bytes; bitcoind's block obfuscation key is 8 bytes`);
  return key.every((b) => b === 0) ? undefined : key;
}

async function* readFile(path: string, startOffset: number): AsyncGenerator<RawBlock> {
  const xorKey = await xorKeyFor(path);
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new TpslabError('TPSLAB_E_DATASET', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const size = (await fh.stat()).size;
    if (startOffset > size) throw new TpslabError('TPSLAB_E_DATASET', `${path} has ${size} bytes but the checkpoint continues at byte ${startOffset}; the file shrank since the last run`);
    let chunk = Buffer.alloc(0);
    let chunkStart = 0;
    /** Returns `n` bytes at file offset `pos` (fewer at the end of the file). */
    const bytesAt = async (pos: number, n: number): Promise<Buffer> => {
      if (pos < chunkStart || pos + n > chunkStart + chunk.length) {
        const want = Math.min(Math.max(n, CHUNK_BYTES), size - pos);
        const buf = Buffer.allocUnsafe(Math.max(want, 0));
        let got = 0;
        while (got < want) {
          const { bytesRead } = await fh.read(buf, got, want - got, pos + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        chunk = buf.subarray(0, got);
        chunkStart = pos;
        if (xorKey) for (let i = 0; i < got; i++) chunk[i]! ^= xorKey[(pos + i) % 8]!;
      }
      return chunk.subarray(pos - chunkStart, pos - chunkStart + n);
    };
    let pos = startOffset;
    while (pos < size) {
      const head = await bytesAt(pos, 8);
      const magic = head.length >= 4 ? head.readUInt32BE(0) : -1;
      // bitcoind's preallocated tail: zeros on disk, not obfuscated (so after de-obfuscation, the key's bytes).
      const rawZero = head.length > 0 && head.subarray(0, 4).every((b, j) => b === (xorKey ? xorKey[(pos + j) % 8] : 0));
      if (rawZero) break;
      const network = BY_MAGIC.get(magic);
      if (network === undefined) {
        if (head.length < 4) throw truncated(path, pos, `only ${head.length} bytes of a block header remain`);
        throw new TpslabError(
          'TPSLAB_E_DATASET',
          `${path} at byte ${pos}: magic ${head.subarray(0, 4).toString('hex')} is not a Bitcoin network's (${Object.entries(BLK_MAGICS).map(([n, m]) => `${m} ${n}`).join(', ')}); is this a blk*.dat file?`,
          { details: { file: path, offset: pos } },
        );
      }
      if (head.length < 8) throw truncated(path, pos, `only ${head.length} bytes of the 8-byte frame header remain`);
      const length = head.readUInt32LE(4);
      if (length < 81 || length > MAX_BLOCK_BYTES) {
        throw new TpslabError('TPSLAB_E_DATASET', `${path} at byte ${pos}: block length ${length} is outside 81 to ${MAX_BLOCK_BYTES} bytes; the file is damaged`, { details: { file: path, offset: pos } });
      }
      if (pos + 8 + length > size) throw truncated(path, pos, `the frame says ${length} bytes but only ${size - pos - 8} remain`);
      const bytes = Buffer.from(await bytesAt(pos + 8, length));
      yield { network, file: path, offset: pos, nextOffset: pos + 8 + length, bytes };
      pos += 8 + length;
    }
  } finally {
    await fh.close();
  }
}

function truncated(path: string, offset: number, what: string): TpslabError {
  return new TpslabError(
    'TPSLAB_E_DATASET',
    `${path} is truncated at byte ${offset}: ${what}; copy the whole file again (bitcoind may still have been writing it), then run with --resume`,
    { details: { file: path, offset } },
  );
}
