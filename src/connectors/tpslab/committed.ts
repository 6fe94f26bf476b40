/**
 * What the network committed from the run's accounts in a block range, read
 * from binary blocks: the tpslab connector's answer for reconciliation.
 */
import { Pool } from 'undici';
import { TpslabError } from '../../errors.js';
import { decodeBlock, type Block } from '../../protocol/block.js';
import { senderOf } from '../../protocol/tx.js';
import type { VisitCommitted } from '../contract.js';

const READERS = 8;

/** Reads blocks (fromHeight, toHeight] in binary, READERS at a time, handing each to `onBlock` with its height. */
export async function forEachBlock(opts: { endpoint: string; fromHeight: number; toHeight: number }, onBlock: (block: Block, height: number) => void): Promise<void> {
  const pool = new Pool(opts.endpoint, { connections: READERS });
  try {
    let next = opts.fromHeight + 1;
    const worker = async (): Promise<void> => {
      while (next <= opts.toHeight) {
        const h = next++;
        const res = await pool.request({ method: 'GET', path: `/v1/blocks/${h}?format=binary` });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode !== 200) throw new TpslabError('TPSLAB_E_REMOTE', `reading block ${h} from ${opts.endpoint} answered HTTP ${res.statusCode}: ${body.toString().slice(0, 200)}`);
        onBlock(decodeBlock(body), h);
      }
    };
    await Promise.all(Array.from({ length: READERS }, worker));
  } finally {
    await pool.close();
  }
}

/** Visits (id hex, height, sender number) of transactions in blocks (fromHeight, toHeight] whose sender is in `senders` (public key hex → its number). */
export async function committedFromBlocks(opts: { endpoint: string; fromHeight: number; toHeight: number; senders: ReadonlyMap<string, number> }, visit: VisitCommitted): Promise<void> {
  await forEachBlock(opts, (block, h) => {
    for (const tx of block.txs) {
      const sender = opts.senders.get(senderOf(tx.body).toString('hex'));
      if (sender !== undefined) visit(tx.id.toString('hex'), h, sender);
    }
  });
}
