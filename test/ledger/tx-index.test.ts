import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TpslabError } from '../../src/errors.js';
import { TxIndex } from '../../src/ledger/tx-index.js';
import type { Sequencer, TxStatus } from '../../src/ledger/sequencer.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { SENDERS, commitAll, createTopic, message, openSequencer, transfers } from './chain-fixture.js';

async function tempData(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tpslab-tx-index-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
  return dir;
}

/** A chain with transfers from every sender, then a topic with messages: returns the committed txs. */
async function buildChain(dir: string): Promise<SignedTx[]> {
  const seq = await openSequencer(dir);
  const txs = transfers(6);
  await commitAll(seq, txs);
  const topicTxs = [createTopic(SENDERS[0]!, 'chat', 6n), ...[7n, 8n, 9n, 10n, 11n].map((n) => message(SENDERS[0]!, 'chat', n))];
  for (const tx of topicTxs) await commitAll(seq, [tx]); // one block each: several topic blocks
  await seq.close();
  return [...txs, ...topicTxs];
}

function statuses(seq: Sequencer, txs: readonly SignedTx[]): TxStatus[] {
  return txs.map((tx) => seq.status(tx.id));
}

test('committed transaction ids are answered from the on-disk index after a restart, and resubmitting one is a duplicate', async (t) => {
  const dir = await tempData(t);
  const txs = await buildChain(dir);
  const seq = await openSequencer(dir);
  t.after(() => seq.close());
  const after = statuses(seq, txs);
  for (const s of after) assert.equal(s.status, 'committed');
  const positions = after.map((s) => (s.status === 'committed' ? s.height * 1e6 + s.index : -1));
  assert.deepEqual([...positions].sort((a, b) => a - b), positions, 'locations follow submission order per sender batch');
  assert.throws(() => seq.submit(txs[3]!), (err: unknown) => err instanceof TpslabError && err.code === 'TPSLAB_E_DUPLICATE' && /committed/.test(err.message));
  // Topic lookups come from the index too.
  const firstMsg = after[txs.length - 5]!;
  const lastMsg = after[txs.length - 1]!;
  assert.ok(firstMsg.status === 'committed' && lastMsg.status === 'committed');
  assert.equal(seq.heightOfTopicSeq('chat', 0n), firstMsg.height);
  assert.equal(seq.heightOfTopicSeq('chat', 4n), lastMsg.height);
  assert.equal(seq.heightOfTopicSeq('nope', 0n), undefined);
  const block = await seq.readBlock(lastMsg.height);
  assert.deepEqual(seq.effectsOf(block), [{ topic: 'chat', seq: 4n }]);
});

test('a deleted transaction index is rebuilt from the block log at start-up', async (t) => {
  const dir = await tempData(t);
  const txs = await buildChain(dir);
  const first = await openSequencer(dir);
  const before = statuses(first, txs);
  await first.close();
  await rm(join(dir, 'txindex'), { recursive: true, force: true });
  const seq = await openSequencer(dir);
  t.after(() => seq.close());
  assert.deepEqual(statuses(seq, txs), before);
  const third = before[txs.length - 3] as { status: 'committed'; height: number };
  assert.equal(seq.heightOfTopicSeq('chat', 2n), third.height);
});

test('an index ahead of the block log (blocks lost with --no-fsync) is cut back to the log', async (t) => {
  const dir = await tempData(t);
  const txs = await buildChain(dir);
  const index = TxIndex.open(join(dir, 'txindex'), { fsync: true });
  const head = index.indexedHeight;
  const ghost = transfers(1, 100n)[0]!;
  index.addBlock(head + 1, [ghost.id], new Map([['chat', 99n]]));
  await index.close();
  const seq = await openSequencer(dir);
  t.after(() => seq.close());
  assert.equal(seq.durableHeight, head);
  assert.deepEqual(seq.status(ghost.id), { status: 'unknown' });
  assert.equal(seq.status(txs[0]!.id).status, 'committed');
  assert.notEqual(seq.heightOfTopicSeq('chat', 99n), head + 1);
});
