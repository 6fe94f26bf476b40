import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TpslabError } from '../../src/errors.js';
import { BlockLog } from '../../src/ledger/block-log.js';
import { encodeBlock, makeBlock } from '../../src/protocol/block.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { chainGenesis, openSequencer, transfers } from './chain-fixture.js';

/** Bytes as an older tpslab wrote them: transaction version 1, whose id covered the signatures. */
function asVersion1(tx: SignedTx): SignedTx {
  const bytes = Buffer.from(tx.bytes);
  bytes[0] = 1;
  return { ...tx, bytes };
}

test('a block log written by an older tpslab (version 1 transactions) would replay with other ids: now TPSLAB_E_OLD_FORMAT naming the fix', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tpslab-old-format-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
  const genesis = chainGenesis();
  const log = await BlockLog.open(join(dir, 'blocks.log'), { fsync: false });
  const txs = transfers(1).map(asVersion1);
  await log.append(encodeBlock(makeBlock({ height: 1, prevHash: genesis.hash, timestampMs: genesis.timestampMs + 1, stateHash: Buffer.alloc(32), txs })));
  await log.close();
  await assert.rejects(openSequencer(dir), (err: unknown) => {
    assert.ok(err instanceof TpslabError && err.code === 'TPSLAB_E_OLD_FORMAT', `expected TPSLAB_E_OLD_FORMAT, got ${String(err)}`);
    assert.match((err as Error).message, /transaction version 1 is the old format.*fresh data directory/);
    return true;
  });
});
