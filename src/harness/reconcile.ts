/**
 * Reconciliation: what the beacons saw committed, against what the network
 * committed from the run's accounts in the run's block range.
 * - missing: a beacon reported it committed, but it is not in those blocks (must be 0);
 * - unexpected: the network committed it, but no beacon saw it committed
 *   (typically recorded as lost after the confirmation timeout, or failed after a lost answer).
 */
import { Pool } from 'undici';
import { TpslabError } from '../errors.js';
import { decodeBlock } from '../protocol/block.js';
import { senderOf } from '../protocol/tx.js';
import type { Reconciliation } from '../web/contract.js';

/** `missingIds`/`unexpectedIds` hold a few ids of each kind, for the report. */
export type { Reconciliation };

export async function reconcile(opts: {
  endpoint: string;
  fromHeight: number;
  toHeight: number;
  /** Public keys (hex) of the run's accounts. */
  senders: ReadonlySet<string>;
  /** Ids (hex) the beacons saw committed. */
  beaconIds: ReadonlySet<string>;
}): Promise<Reconciliation> {
  const pool = new Pool(opts.endpoint, { connections: 8 });
  const network = new Set<string>();
  try {
    let next = opts.fromHeight + 1;
    const worker = async (): Promise<void> => {
      while (next <= opts.toHeight) {
        const h = next++;
        const res = await pool.request({ method: 'GET', path: `/v1/blocks/${h}?format=binary` });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode !== 200) throw new TpslabError('TPSLAB_E_REMOTE', `reading block ${h} from ${opts.endpoint} answered HTTP ${res.statusCode}: ${body.toString().slice(0, 200)}`);
        for (const tx of decodeBlock(body).txs) if (opts.senders.has(senderOf(tx.body).toString('hex'))) network.add(tx.id.toString('hex'));
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    await pool.close();
  }
  const missingIds: string[] = [];
  let matched = 0;
  for (const id of opts.beaconIds) {
    if (network.has(id)) matched++;
    else missingIds.push(id);
  }
  const unexpectedIds = [...network].filter((id) => !opts.beaconIds.has(id));
  return {
    fromHeight: opts.fromHeight,
    toHeight: opts.toHeight,
    networkCommitted: network.size,
    beaconCommitted: opts.beaconIds.size,
    matched,
    missing: missingIds.length,
    unexpected: unexpectedIds.length,
    missingIds: missingIds.slice(0, 10),
    unexpectedIds: unexpectedIds.slice(0, 10),
  };
}
