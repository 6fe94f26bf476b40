/**
 * A node's memory of failures the sequencer streamed: forgotten when a resend through it is accepted, when the
 * sequencer says it was taken again (`retaken`), or when its block is applied. The feed and a submit's answer come
 * on different sockets: a failure streamed after the resend was sent (it was dropped again) must not be erased by
 * that resend's answer. The feed's events are handed to the node directly (onText, as its BlockFeed does).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { serveLedger } from '../../src/ledger/node.js';
import { Replica } from '../../src/ledger/replica.js';
import { Sequencer } from '../../src/ledger/sequencer.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { chainGenesis, transfers } from './chain-fixture.js';
import { tempDir } from './tx-index-fixture.js';
import { standInSequencer } from './stand-in-sequencer.js';

type Internals = { onText(text: string): void; hasFailed(idKey: string): boolean };
const failed = (tx: SignedTx, message: string): string => JSON.stringify({ type: 'failed', id: tx.id.toString('hex'), code: 'TPSLAB_E_PREDECESSOR_REFUSED', message });

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; !check(); i++) {
    assert.ok(i < 1000, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('regression: a resend\'s answer erased a failure streamed after the resend was sent; now only a failure older than the resend is forgotten', async (t) => {
  // A stand-in sequencer on 127.0.0.1 that accepts every transaction, answering only when released.
  const sequencer = await standInSequencer({ hold: true });
  const replica = await Replica.open(await tempDir(t, 'tpslab-replica-failures-'), chainGenesis(), { sequencerUrl: sequencer.url, fsync: false, requestTimeoutMs: 5000 });
  t.after(async () => {
    while (sequencer.release());
    await replica.close();
    await sequencer.close();
  });
  t.mock.method(console, 'log', () => undefined); // the block feed's reconnect lines (the stand-in serves none)
  const node = replica as unknown as Internals;
  const [newer, older] = transfers(1) as [SignedTx, SignedTx];

  for (const [tx, streamedAgain] of [[newer, true], [older, false]] as const) {
    node.onText(failed(tx, 'dropped')); // dropped for now: the client sends it again through this node
    assert.equal(replica.status(tx.id).status, 'failed');
    const answer = replica.submitMany([tx]);
    const before = sequencer.received;
    await until('the resend at the sequencer', () => sequencer.received > before);
    if (streamedAgain) node.onText(failed(tx, 'dropped again')); // taken, then dropped again: the feed is faster than the answer
    assert.ok(sequencer.release());
    assert.deepEqual(await answer, [undefined]);
    if (streamedAgain) assert.deepEqual(replica.status(tx.id), { status: 'failed', code: 'TPSLAB_E_PREDECESSOR_REFUSED', message: 'dropped again' }, 'the newer failure stays');
    else assert.deepEqual(replica.status(tx.id), { status: 'pending' }, 'the failure the resend answered is forgotten');
  }
});

test('a failure a node remembers is forgotten when the transaction\'s block is applied there (forgetFailuresOf)', async (t) => {
  const dir = await tempDir(t, 'tpslab-replica-failures-commit-');
  const seq = await Sequencer.open(join(dir, 'seq'), chainGenesis(), { blockIntervalMs: 2, fsync: false }, systemClock, 'sequencer');
  const served = await serveLedger(seq, { dataDir: join(dir, 'seq'), verifyThreads: 0 });
  const replica = await Replica.open(join(dir, 'node'), chainGenesis(), { sequencerUrl: served.url, fsync: false });
  t.after(async () => {
    await replica.close();
    await served.close();
  });
  t.mock.method(console, 'log', () => undefined);
  const node = replica as unknown as Internals;
  const [tx] = transfers(1) as [SignedTx];
  node.onText(failed(tx, 'dropped')); // then sent again through another node: no `retaken` reaches this one
  assert.ok(node.hasFailed(tx.idKey));
  assert.deepEqual(await seq.submitMany([tx]), [undefined]);
  await until('the block at the node', () => replica.status(tx.id).status === 'committed');
  assert.equal(node.hasFailed(tx.idKey), false, 'its failure is forgotten with the block');
});
