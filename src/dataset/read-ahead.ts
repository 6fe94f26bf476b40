/**
 * Blocks read and parsed ahead of the conversion, so the key derivation
 * workers (key-deriver.ts) derive a block's new accounts while earlier blocks
 * convert. Errors are not thrown early: a read or parse error waits in the
 * queue until the conversion reaches that block, so what is converted and
 * checkpointed before it is exactly what a run without read-ahead converts.
 */
import type { RawBlock } from './blk-files.js';
import { parseBlock, type BtcBlock } from './btc-block.js';

export interface AheadBlock {
  /** Undefined when reading failed (then `error` says why). */
  raw?: RawBlock;
  block?: BtcBlock;
  /** Why this block could not be read or parsed; thrown by the consumer when it gets here. */
  error?: unknown;
  /** Resolves when the block's new keys are derived (undefined: nothing was sent). */
  ready?: Promise<void>;
}

export interface ReadAheadOptions {
  /** Number of the first block `blocks` yields. */
  firstBlock: number;
  /** Blocks after this are not parsed: the consumer stops at the first one. */
  toBlock: number;
  /** At most this many blocks, and about this many bytes, are held ahead. */
  maxBlocks: number;
  maxBytes: number;
  /** Called for each parsed block up to toBlock; what it returns is the block's `ready`. */
  onParsed?: (block: BtcBlock, raw: RawBlock, number: number) => Promise<void> | undefined;
}

export async function* readAhead(blocks: AsyncIterable<RawBlock>, o: ReadAheadOptions): AsyncGenerator<AheadBlock> {
  const it = blocks[Symbol.asyncIterator]();
  const queue: AheadBlock[] = [];
  let heldBytes = 0;
  let number = o.firstBlock;
  let ended = false;
  const fill = async (): Promise<void> => {
    while (!ended && (queue.length === 0 || (queue.length < o.maxBlocks && heldBytes < o.maxBytes))) {
      let next: IteratorResult<RawBlock>;
      try {
        next = await it.next();
      } catch (error) {
        queue.push({ error });
        ended = true;
        break;
      }
      if (next.done) {
        ended = true;
        break;
      }
      const raw = next.value;
      const n = number++;
      if (n > o.toBlock) {
        queue.push({ raw });
        ended = true;
        break;
      }
      let block: BtcBlock;
      try {
        block = parseBlock(raw.bytes, `${raw.file} at byte ${raw.offset}`);
      } catch (error) {
        queue.push({ raw, error });
        ended = true;
        break;
      }
      const ready = o.onParsed?.(block, raw, n);
      ready?.catch(() => {}); // awaited (and thrown) by the consumer when it reaches the block
      queue.push({ raw, block, ready });
      heldBytes += raw.bytes.length;
    }
  };
  try {
    for (;;) {
      await fill();
      const item = queue.shift();
      if (!item) return;
      if (item.raw && item.block) heldBytes -= item.raw.bytes.length;
      yield item;
    }
  } finally {
    await it.return?.();
  }
}
