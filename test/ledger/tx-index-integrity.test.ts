import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { TpslabError } from '../../src/errors.js';
import { INDEX_SHIFT, TxIndex } from '../../src/ledger/tx-index.js';
import { FANOUT, mergeInputs } from '../../src/ledger/tx-merge-plan.js';
import { signTx } from '../../src/protocol/signing.js';
import { NETWORK, SENDERS, commitAll, openSequencer, transfers } from './chain-fixture.js';
import { ENTRY_BYTES, HEADER_BYTES, damageEntry, fill, overwrite, runFiles, tempDir as tempDirIn } from './tx-index-fixture.js';

const tempDir = (t: TestContext): Promise<string> => tempDirIn(t, 'tpslab-tx-integrity-');

/** `p`, or a failure naming `what` after `ms` (a fix that is missing leaves the event unsent). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function quietErrors(t: TestContext): () => string {
  const mock = t.mock.method(console, 'error', () => undefined);
  return () => mock.mock.calls.map((c) => String(c.arguments[0])).join('\n');
}

test('a run whose entries were never written (an OS crash with --no-fsync) is caught at open and the index rebuilt from the block log', async (t) => {
  const dir = await tempDir(t);
  const seq = await openSequencer(dir, { fsync: false });
  const txs = transfers(5);
  await commitAll(seq, txs);
  await seq.close();
  const runs = await runFiles(join(dir, 'txindex'));
  assert.ok(runs.length > 0);
  // The page of entries is zeros; the header, fences and trailer (all the open check read before) are intact.
  await overwrite(join(dir, 'txindex', runs[0]!), HEADER_BYTES, Buffer.alloc(2 * ENTRY_BYTES));
  const errors = quietErrors(t);
  const again = await openSequencer(dir, { fsync: false });
  t.after(() => again.close());
  assert.match(errors(), /transaction index .* is damaged .*do not match their checksum.*rebuilding it from the block log/);
  for (const tx of txs) assert.equal(again.status(tx.id).status, 'committed');
});

test('a damaged block met by a lookup fails that lookup with TPSLAB_E_DATA_DIR, drops the manifest, and the next start rebuilds', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: true });
  const blocks: Buffer[][] = [];
  fill(index, blocks, 1, 3, 200);
  await index.close();
  const runs = await runFiles(dir);
  const id = await damageEntry(join(dir, runs[1]!), 10);
  const errors = quietErrors(t);
  const again = TxIndex.open(dir, { fsync: true }); // with fsync, runs named by the manifest are whole: entries checked when read
  blocks[3]!.forEach((id, i) => assert.equal(again.locate(id), 3 * INDEX_SHIFT + i, 'the newest run (asked first) answers'));
  assert.throws(() => again.locate(id), (err: unknown) => err instanceof TpslabError && err.code === 'TPSLAB_E_DATA_DIR' &&
    /is damaged/.test(err.message) && /rebuilds the index from the block log/.test(err.message));
  assert.match(errors(), /is damaged .*restart the process/);
  assert.equal(existsSync(join(dir, 'manifest.json')), false, 'the next start finds no index');
  fill(again, blocks, 4, 1, 10);
  await again.close();
  assert.equal(existsSync(join(dir, 'manifest.json')), false, 'no manifest written after the damage');
  const third = TxIndex.open(dir, { fsync: true });
  t.after(() => third.close());
  assert.equal(third.indexedHeight, 0, 'empty: ChainStore replays the log into it');
  assert.equal(third.runCount, 0);
});

test('a merge that meets a damaged block marks the index damaged instead of retrying the merge', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: true });
  const blocks: Buffer[][] = [];
  fill(index, blocks, 1, FANOUT - 1, 300);
  await index.close();
  await damageEntry(join(dir, (await runFiles(dir))[0]!), 100);
  const errors = quietErrors(t);
  const again = TxIndex.open(dir, { fsync: true });
  t.after(() => again.close());
  fill(again, blocks, FANOUT, 1, 300); // one more tier-0 run: merging them reads the damaged one
  await again.settle();
  assert.match(errors(), /is damaged .*do not match their checksum/);
  assert.doesNotMatch(errors(), /merging again/);
  assert.equal(existsSync(join(dir, 'manifest.json')), false);
  assert.equal(again.runCount, FANOUT, 'the runs stay as they were');
});

test('a merge of runs around a newer run keeps the runs in order: an id in both is found at its newest location', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: true });
  const x = randomBytes(32);
  index.addBlock(1, [x, ...Array.from({ length: 100 }, () => randomBytes(32))], undefined); // tier 0
  index.addBlock(2, [...Array.from({ length: 9000 }, () => randomBytes(32)), x], undefined); // tier 1, newer
  const blocks: Buffer[][] = [];
  fill(index, blocks, 3, FANOUT - 1, 100); // tier 0: FANOUT of them now, the first older than block 2's run
  await index.settle();
  assert.equal(index.runCount, 1, 'the tier-0 runs and the run between them were merged into one');
  assert.equal(index.locate(x), 2 * INDEX_SHIFT + 9000);
  await index.close();
  const again = TxIndex.open(dir, { fsync: true });
  t.after(() => again.close());
  assert.equal(again.locate(x), 2 * INDEX_SHIFT + 9000);
});

test('merge inputs are consecutive runs: the window of one tier with the fewest ids, with what lies between', () => {
  const runs = (...counts: number[]): { name: string; info: { count: number; minLoc: number; maxLoc: number } }[] =>
    counts.map((count, i) => ({ name: String(i), info: { count, minLoc: 0, maxLoc: 0 } }));
  const names = (rs: { name: string }[] | undefined): string[] | undefined => rs?.map((r) => r.name);
  const small = (n: number): number[] => Array.from({ length: n }, () => 100);
  const from = (a: number, b: number): string[] => Array.from({ length: b - a + 1 }, (_, i) => String(a + i));
  assert.equal(mergeInputs(runs(...small(FANOUT - 1))), undefined);
  assert.deepEqual(names(mergeInputs(runs(40_000, ...small(FANOUT)))), from(1, FANOUT));
  assert.deepEqual(names(mergeInputs(runs(100, 9000, ...small(FANOUT - 1)))), from(0, FANOUT), 'a larger run between them is taken too');
  assert.deepEqual(names(mergeInputs(runs(100, 2_000_000, ...small(FANOUT)))), from(2, FANOUT + 1), 'unless a window without it exists');
  assert.deepEqual(names(mergeInputs(runs(9000, 9000, 100, ...Array.from({ length: FANOUT - 2 }, () => 9000)))), from(0, FANOUT), 'tier 1');
});

test('a failed manifest write is reported, keeps every id answered in the process, and a restart recovers from the last manifest', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  const index = TxIndex.open(dir, { fsync: true });
  const blocks: Buffer[][] = [];
  fill(index, blocks, 1, 2, 100);
  await index.settle();
  // The manifest's temp file name is taken by a directory: its write fails as on a full or read-only disk.
  await mkdir(join(dir, 'manifest.json.tmp'));
  const errors = quietErrors(t);
  fill(index, blocks, 3, 2, 100);
  await index.settle();
  assert.match(errors(), /writing the transaction index in .* failed: .*EISDIR.*the next start re-indexes from the block log \(check the data directory's free space and permissions/);
  for (let h = 1; h <= 4; h++) blocks[h]!.forEach((id, i) => assert.equal(index.locate(id), h * INDEX_SHIFT + i));
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { height: number };
  assert.equal(manifest.height, 2, 'the last manifest written stays true');
  await index.close();
  await rm(join(dir, 'manifest.json.tmp'), { recursive: true });
  const again = TxIndex.open(dir, { fsync: true });
  t.after(() => again.close());
  assert.equal(again.indexedHeight, 2);
  blocks[2]!.forEach((id, i) => assert.equal(again.locate(id), 2 * INDEX_SHIFT + i));
  assert.equal(again.locate(blocks[3]![0]!), undefined, 'blocks 3 and 4 are re-indexed by ChainStore from the log');
  fill(again, blocks, 3, 1, 100);
  await again.settle();
  assert.equal((JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { height: number }).height, 3, 'manifests are written again');
});

test('with the index unwritable mid-run, no committed transaction is lost: the restart re-indexes it from the block log', async (t) => {
  const dir = await tempDir(t);
  const seq = await openSequencer(dir);
  const first = transfers(3);
  await commitAll(seq, first);
  await mkdir(join(dir, 'txindex', 'manifest.json.tmp'));
  const errors = quietErrors(t);
  const later = transfers(3, 3n);
  await commitAll(seq, later);
  await seq.close(); // flushes the index: its manifest write fails
  assert.match(errors(), /writing the transaction index .* failed/);
  await rm(join(dir, 'txindex', 'manifest.json.tmp'), { recursive: true });
  const again = await openSequencer(dir);
  let closed = false;
  t.after(() => (closed ? undefined : again.close()));
  for (const tx of [...first, ...later]) assert.equal(again.status(tx.id).status, 'committed');
  const head = again.durableHeight;
  closed = true;
  await again.close();
  const manifest = JSON.parse(await readFile(join(dir, 'txindex', 'manifest.json'), 'utf8')) as { height: number };
  assert.equal(manifest.height, head, 'the index is whole again up to the log');
});

test('runs of version 1 (no block checksums, no Bloom filter) written by an older tpslab are read, and merged into version 2', async (t) => {
  const dir = join(await tempDir(t), 'txindex');
  await mkdir(dir);
  // A version 1 run as tx-runs.ts wrote it: header, sorted entries, fences, CRC-32 of header and fences, TPSE.
  const ids = Array.from({ length: 300 }, () => randomBytes(32));
  const sorted = ids.map((id, i) => ({ id, loc: INDEX_SHIFT + i })).sort((a, b) => Buffer.compare(a.id, b.id));
  const head = Buffer.alloc(HEADER_BYTES);
  head.write('TPSR', 0, 'latin1');
  head.writeUInt32BE(1, 4);
  head.writeUInt32BE(sorted.length, 8);
  const entries = Buffer.concat(sorted.map(({ id, loc }) => {
    const e = Buffer.alloc(ENTRY_BYTES);
    id.copy(e);
    e.writeDoubleLE(loc, 32);
    return e;
  }));
  const fences = Buffer.concat(sorted.filter((_, i) => i % 64 === 0).map(({ id }) => id.subarray(0, 4)));
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32BE(crc32(fences, crc32(head)), 0);
  trailer.write('TPSE', 4, 'latin1');
  await writeFile(join(dir, '0000000001.run'), Buffer.concat([head, entries, fences, trailer]));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ version: 1, height: 1, next: 2, runs: [{ name: '0000000001.run', count: 300, minLoc: INDEX_SHIFT, maxLoc: INDEX_SHIFT + 299 }] }));
  const index = TxIndex.open(dir, { fsync: true });
  t.after(() => index.close());
  ids.forEach((id, i) => assert.equal(index.locate(id), INDEX_SHIFT + i));
  assert.equal(index.locate(randomBytes(32)), undefined);
  const blocks: Buffer[][] = [];
  fill(index, blocks, 2, FANOUT - 1, 100); // FANOUT tier-0 runs: merged with the old one
  await index.settle();
  assert.equal(index.runCount, 1);
  ids.forEach((id, i) => assert.equal(index.locate(id), INDEX_SHIFT + i));
  const [merged] = await runFiles(dir);
  assert.equal((await readFile(join(dir, merged!))).readUInt32BE(4), 2, 'the merged run is version 2');
});

test('a sequencer whose index meets a damaged block answers that status with TPSLAB_E_DATA_DIR, and its restart rebuilds the index from the log', async (t) => {
  const dir = await tempDir(t);
  const seq = await openSequencer(dir);
  const txs = transfers(5);
  await commitAll(seq, txs);
  await seq.close();
  const runs = await runFiles(join(dir, 'txindex'));
  await damageEntry(join(dir, 'txindex', runs[0]!), 0);
  const errors = quietErrors(t);
  const again = await openSequencer(dir); // fsync on: the runs open (their blocks are checked when read)
  const failures = txs.map((tx) => {
    try {
      return again.status(tx.id).status;
    } catch (err) {
      assert.ok(err instanceof TpslabError && err.code === 'TPSLAB_E_DATA_DIR', String(err));
      return 'damaged';
    }
  });
  await again.close();
  assert.ok(failures.includes('damaged'), `the damaged block was read: ${failures.join(' ')}`);
  assert.ok(failures.every((s) => s === 'committed' || s === 'damaged'), 'no committed transaction is reported unknown');
  assert.match(errors(), /is damaged .*restart the process/);
  const third = await openSequencer(dir);
  let closed = false;
  t.after(() => (closed ? undefined : third.close()));
  for (const tx of txs) assert.equal(third.status(tx.id).status, 'committed'); // from the index rebuilt while replaying
  closed = true;
  await third.close();
  const manifest = JSON.parse(await readFile(join(dir, 'txindex', 'manifest.json'), 'utf8')) as { height: number };
  assert.ok(manifest.height > 0, 'the rebuilt index is named by a manifest again');
});

test('a damaged block met while a block was built threw from the cut timer (a stack, the state ahead of the log); now the sequencer stops with TPSLAB_E_DATA_DIR and seals what ran', async (t) => {
  const dir = await tempDir(t);
  const seq = await openSequencer(dir);
  await commitAll(seq, transfers(5));
  await seq.close();
  const runs = await runFiles(join(dir, 'txindex'));
  const damagedId = await damageEntry(join(dir, 'txindex', runs[0]!), 0);
  const errors = quietErrors(t);
  const again = await openSequencer(dir);
  let closed = false;
  t.after(() => (closed ? undefined : again.close()));
  const [a, b] = [SENDERS[0]!, SENDERS[1]!];
  const pay = (from: typeof a, to: typeof a, deps: Buffer[]) =>
    signTx({ kind: 'transfer', nonce: 5n, fee: 0n, deps, inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [from], NETWORK);
  // Admission stops at the first dependency not yet committed (`first`); building finds it in the block
  // and only then reads the index for the second: after `first` has run on the state.
  const first = pay(a, b, []);
  const dependent = pay(b, a, [first.id, damagedId]);
  const fatal = new Promise<TpslabError>((res) => again.once('fatal', res));
  const committed = new Promise<number>((res) => again.once('commit', ({ block }) => res(block.height)));
  again.submit(first);
  again.submit(dependent);
  const err = await within(fatal, 20_000, 'the fatal event');
  assert.equal(err.code, 'TPSLAB_E_DATA_DIR');
  assert.match(err.message, /transaction index in .*txindex is damaged .*delete .*txindex .*start it again/);
  const height = await within(committed, 20_000, 'the block of what ran');
  assert.deepEqual(again.status(first.id), { status: 'committed', height, index: 0 });
  assert.equal(again.state.height, height, 'the state is the log');
  assert.equal(again.state.getAccount(a.publicKey)!.nonce, 6n);
  assert.equal(again.state.getAccount(b.publicKey)!.nonce, 5n, 'the transaction whose lookup failed did not run');
  assert.equal(again.mempoolSize, 1, 'and is still pending');
  assert.throws(() => again.submit(transfers(1, 6n)[2]!), (e: unknown) => e instanceof TpslabError && e.code === 'TPSLAB_E_UNAVAILABLE' && /transaction index .* is damaged/.test(e.message));
  assert.match(errors(), /is damaged .*restart the process/);
  closed = true;
  await again.close();
});
