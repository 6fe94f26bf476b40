import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { INDEX_SHIFT, TxIndex } from '../../src/ledger/tx-index.js';
import { SENDERS, commitAll, createTopic, message, openSequencer, transfers } from './chain-fixture.js';
import { fill, tempDir as tempDirIn } from './tx-index-fixture.js';

const tempDir = (t: TestContext): Promise<string> => tempDirIn(t, 'tpslab-tx-runs-');

function assertAll(index: TxIndex, blocks: Buffer[][], upTo: number): void {
  for (let h = 1; h < blocks.length; h++) {
    blocks[h]!.forEach((id, i) => assert.equal(index.locate(id), h <= upTo ? h * INDEX_SHIFT + i : undefined, `block ${h} id ${i}`));
  }
}

test('runs merged in tiers on the worker thread answer every id, also after a restart, and no other', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: true });
  const blocks: Buffer[][] = [];
  fill(index, blocks, 1, 64, 1500); // 64 runs of 1,500: tier 0 merges, then tier 1
  await index.settle();
  assert.ok(index.runCount < 10, `runs were merged (${index.runCount} left)`);
  assertAll(index, blocks, 64);
  for (let i = 0; i < 200; i++) assert.equal(index.locate(randomBytes(32)), undefined);
  assert.equal(index.indexedHeight, 64);
  await index.close();
  const files = (await readdir(dir)).filter((f) => f.endsWith('.run'));
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { height: number; runs: { name: string }[] };
  assert.deepEqual(files.sort(), manifest.runs.map((r) => r.name).sort(), 'merged inputs are deleted, every file is named');
  const again = TxIndex.open(dir, { fsync: true });
  t.after(() => again.close());
  assert.equal(again.indexedHeight, 64);
  assertAll(again, blocks, 64);
});

test('files of a flush or merge cut short (not named by the manifest) are deleted at open', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: true });
  const blocks: Buffer[][] = [];
  fill(index, blocks, 1, 3, 100);
  await index.close();
  await writeFile(join(dir, '0000009999.run'), randomBytes(1000));
  await writeFile(join(dir, 'manifest.json.tmp'), '{"version":1');
  const again = TxIndex.open(dir, { fsync: true });
  t.after(() => again.close());
  assert.equal(existsSync(join(dir, '0000009999.run')), false);
  assert.equal(existsSync(join(dir, 'manifest.json.tmp')), false);
  assertAll(again, blocks, 3);
});

test('an index process killed mid-flush or mid-merge reopens whole up to its indexed height', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  // A child writes blocks of ids derived from their height (so this process can check them) until killed.
  const mod = new URL('../../src/ledger/tx-index.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { createHash } from 'node:crypto';
    const { TxIndex } = await import(${JSON.stringify(mod)});
    const index = TxIndex.open(${JSON.stringify(dir)}, { fsync: true });
    const id = (h, i) => createHash('sha256').update(h + ':' + i).digest();
    for (let h = 1; h <= 100000; h++) {
      index.batch(() => index.addBlock(h, Array.from({ length: 500 }, (_, i) => id(h, i)), undefined));
      if (h === 30) console.log('going');
      await new Promise((r) => setImmediate(r));
    }`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  await new Promise((r) => setTimeout(r, 300 + Math.random() * 300));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const index = TxIndex.open(dir, { fsync: true });
  t.after(() => index.close());
  const { createHash } = await import('node:crypto');
  const height = index.indexedHeight;
  assert.ok(height >= 1, `indexed up to ${height}`);
  for (let h = 1; h <= height; h += Math.max(1, Math.floor(height / 60))) {
    for (const i of [0, 250, 499]) assert.equal(index.locate(createHash('sha256').update(`${h}:${i}`).digest()), h * INDEX_SHIFT + i, `block ${h} id ${i}`);
  }
});

test('cutting blocks above a height drops them from merged runs too', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: true });
  const blocks: Buffer[][] = [];
  fill(index, blocks, 1, 12, 3000);
  await index.settle();
  index.truncateAbove(7);
  assert.equal(index.indexedHeight, 7);
  assertAll(index, blocks, 7);
  await index.close();
  const again = TxIndex.open(dir, { fsync: true });
  t.after(() => again.close());
  assert.equal(again.indexedHeight, 7);
  assertAll(again, blocks, 7);
});

test('cutting blocks while a merge of the runs that hold them is running does not bring them back', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: true });
  const blocks: Buffer[][] = [];
  for (let h = 1; h <= 8; h++) fill(index, blocks, h, 1, 8000); // eight tier-0 runs: the open below merges them
  await index.close(); // stops the merge started by the eighth
  const again = TxIndex.open(dir, { fsync: true });
  t.after(() => again.close());
  again.truncateAbove(2);
  assertAll(again, blocks, 2);
  await again.settle();
  assertAll(again, blocks, 2);
  await again.close();
  const third = TxIndex.open(dir, { fsync: true });
  t.after(() => third.close());
  assertAll(third, blocks, 2);
});

test('a damaged run (torn file) is set aside with a warning and the index is rebuilt from the block log', async (t) => {
  const dir = await tempDir(t);
  const seq = await openSequencer(dir);
  const txs = transfers(5);
  await commitAll(seq, txs);
  await seq.close();
  const runs = (await readdir(join(dir, 'txindex'))).filter((f) => f.endsWith('.run'));
  assert.ok(runs.length > 0);
  await truncate(join(dir, 'txindex', runs[0]!), 30);
  const again = await openSequencer(dir);
  t.after(() => again.close());
  for (const tx of txs) assert.equal(again.status(tx.id).status, 'committed');
});

test('a txindex.sqlite of an older tpslab is converted at open (ids and topics) and deleted', async (t) => {
  const dir = await tempDir(t);
  const seq = await openSequencer(dir);
  const txs = transfers(4);
  await commitAll(seq, txs);
  const topicTxs = [createTopic(SENDERS[0]!, 'chat', 4n), message(SENDERS[0]!, 'chat', 5n), message(SENDERS[0]!, 'chat', 6n)];
  for (const tx of topicTxs) await commitAll(seq, [tx]);
  const all = [...txs, ...topicTxs];
  const before = all.map((tx) => seq.status(tx.id));
  const chatHeight = seq.heightOfTopicSeq('chat', 1n);
  const head = seq.durableHeight;
  await seq.close();
  // The old layout, as tx-index.ts wrote it before the runs.
  await rm(join(dir, 'txindex'), { recursive: true });
  const db = new Database(join(dir, 'txindex.sqlite'));
  db.exec(`CREATE TABLE txs (id BLOB PRIMARY KEY, loc INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE topic_blocks (height INTEGER NOT NULL, topic TEXT NOT NULL, start_seq BLOB NOT NULL, PRIMARY KEY (height, topic)) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);`);
  all.forEach((tx, i) => {
    const s = before[i]!;
    assert.equal(s.status, 'committed');
    if (s.status === 'committed') db.prepare('INSERT INTO txs VALUES (?, ?)').run(tx.id, s.height * INDEX_SHIFT + s.index);
  });
  const seqKey = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(16, '0'), 'hex');
  db.prepare('INSERT INTO topic_blocks VALUES (?, ?, ?)').run(chatHeight!, 'chat', seqKey(1n));
  db.prepare('INSERT INTO meta VALUES (?, ?)').run('indexed_height', head);
  db.close();
  const again = await openSequencer(dir);
  t.after(() => again.close());
  assert.equal(existsSync(join(dir, 'txindex.sqlite')), false, 'the old file is gone');
  assert.deepEqual(all.map((tx) => again.status(tx.id)), before);
  assert.equal(again.heightOfTopicSeq('chat', 1n), chatHeight);
  const manifest = JSON.parse(await readFile(join(dir, 'txindex', 'manifest.json'), 'utf8')) as { height: number; runs: { count: number }[] };
  assert.equal(manifest.height, head);
  assert.equal(manifest.runs[0]!.count, all.length, 'the ids came from the old file');
});

test('an index behind the block log (its last flushes lost in a crash) is filled in from the log at open', async (t) => {
  const dir = await tempDir(t);
  const seq = await openSequencer(dir);
  const first = transfers(3);
  await commitAll(seq, first);
  const behind = seq.durableHeight;
  const later = transfers(3, 3n);
  await commitAll(seq, later);
  await seq.close();
  const index = TxIndex.open(join(dir, 'txindex'), { fsync: true });
  index.truncateAbove(behind); // as if the flushes after `behind` never reached the manifest
  await index.close();
  const again = await openSequencer(dir);
  t.after(() => again.close());
  assert.ok(again.durableHeight > behind, 'the later transfers are in later blocks');
  for (const tx of [...first, ...later]) assert.equal(again.status(tx.id).status, 'committed'); // from the index: replay re-added them
});

test('a manifest that does not parse (torn by an OS crash with --no-fsync) empties the index, to be rebuilt from the log', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: false });
  const blocks: Buffer[][] = [];
  fill(index, blocks, 1, 3, 100);
  await index.close();
  await writeFile(join(dir, 'manifest.json'), '{"version":1,"hei');
  const again = TxIndex.open(dir, { fsync: false });
  t.after(() => again.close());
  assert.equal(again.indexedHeight, 0);
  assert.equal(again.runCount, 0);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.run')), []);
});

test('a flush that cannot write its run (a full disk, say) throws, stages nothing twice when its blocks are added again, and leaves no file', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: true });
  t.after(() => index.close());
  const blocks: Buffer[][] = [];
  fill(index, blocks, 1, 2, 100);
  await index.settle();
  // The next run's file name is taken by a directory: its write fails as a full disk's would.
  const names = (await readdir(dir)).filter((f) => f.endsWith('.run')).sort();
  const next = `${String(Number(names.at(-1)!.slice(0, 10)) + 1).padStart(10, '0')}.run`;
  await mkdir(join(dir, next));
  const ids = Array.from({ length: 100 }, () => randomBytes(32));
  assert.throws(() => index.addBlock(3, ids, undefined));
  assert.equal(index.indexedHeight, 2, 'the failed block is not counted');
  assert.equal(index.locate(ids[0]!), undefined);
  // ChainStore adds the same block again at its next flush.
  blocks[3] = ids;
  index.addBlock(3, ids, undefined);
  await index.settle();
  assertAll(index, blocks, 3);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { height: number; runs: { count: number }[] };
  assert.equal(manifest.height, 3);
  assert.equal(manifest.runs.reduce((n, r) => n + r.count, 0), 300, 'each id written once, not staged twice');
});

test('ids given as latin1 keys (SignedTx.idKey, what ChainStore queues) are indexed as their bytes', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: false });
  t.after(() => index.close());
  const ids = Array.from({ length: 50 }, () => randomBytes(32));
  index.addBlock(1, ids.map((id) => id.toString('latin1')), undefined);
  ids.forEach((id, i) => assert.equal(index.locate(id), INDEX_SHIFT + i));
  assert.equal(index.locate(randomBytes(32)), undefined);
});
