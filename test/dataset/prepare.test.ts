// Preparation end to end on generated blk files: exact figures against an independent model of the rules,
// block ranges, --resume after an interruption (byte-identical output), and bad input that leaves no complete-looking file.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TpslabError } from '../../src/errors.js';
import { decodeHeader, encodeHeader } from '../../src/dataset/format.js';
import { datasetInfo } from '../../src/dataset/info.js';
import { prepareDataset, pathsOf, type PrepareOptions } from '../../src/dataset/prepare.js';
import { openDataset, type DatasetRecord } from '../../src/dataset/reader.js';
import { loadGenesis } from '../../src/ledger/genesis.js';
import { KeyCache, signRecord } from '../../src/dataset/sign.js';
import { decodeTx, txId, verifyTx } from '../../src/protocol/signing.js';
import { runCli, tempDir } from '../testkit/index.js';
import { blkFile, buildChain, type Chain } from './chain.js';

/** What the documented rules give, computed from the chain directly. */
export function expectedFigures(chain: Chain, fromBlock = 0, toBlock = Infinity): { records: number; deps: number; externalSpend: bigint; zeroOutput: number; overflow: number; coinbases: number } {
  const outs = new Map<string, { value: bigint; parentSeq: number | null }>();
  let seq = 0, deps = 0, zeroOutput = 0, overflow = 0, coinbases = 0;
  let external = 0n;
  for (const tx of chain.txs) {
    if (tx.height > toBlock) break;
    const inRange = tx.height >= fromBlock;
    const spent = tx.ins.map((i) => {
      const k = `${i.txid}:${i.vout}`;
      const u = outs.get(k)!;
      outs.delete(k);
      return u;
    });
    const positive = tx.outs.filter((o) => o.value > 0n).length;
    let parentSeq: number | null = null;
    if (tx.coinbase || !inRange || positive === 0) {
      if (inRange && tx.coinbase) coinbases++;
      if (inRange && !tx.coinbase) zeroOutput++;
    } else {
      const parents = [...new Set(spent.filter((u) => u.parentSeq !== null).map((u) => u.parentSeq!))].sort((a, b) => b - a);
      const kept = new Set(parents.slice(0, 16));
      if (parents.length > 16) overflow++;
      deps += kept.size;
      for (const u of spent) if (u.parentSeq === null || !kept.has(u.parentSeq)) external += u.value;
      parentSeq = seq++;
    }
    tx.outs.forEach((o, vout) => {
      if (o.script[0] !== 0x6a) outs.set(`${tx.txid}:${vout}`, { value: o.value, parentSeq });
    });
  }
  return { records: seq, deps, externalSpend: external, zeroOutput, overflow, coinbases };
}

async function allRecords(file: string): Promise<DatasetRecord[]> {
  const ds = await openDataset(file);
  const out: DatasetRecord[] = [];
  for await (const r of ds.records()) out.push(r);
  await ds.close();
  return out.sort((a, b) => a.seq - b.seq);
}

let dir: { path: string; remove(): Promise<void> };
let chain: Chain;
let blkDir: string;
const BLOCKS = 30;

before(async () => {
  dir = await tempDir('tpslab-dataset-');
  chain = buildChain({ blocks: BLOCKS, txsPerBlock: 25, addresses: 60, seed: 3, consolidateAt: 20, zeroOutputAt: 5 });
  blkDir = join(dir.path, 'blocks');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(blkDir);
  writeFileSync(join(blkDir, 'blk00000.dat'), blkFile(chain.blocks.slice(0, 12), 'regtest', 1000));
  writeFileSync(join(blkDir, 'blk00001.dat'), blkFile(chain.blocks.slice(12), 'regtest'));
});
after(() => dir.remove());

const prep = (out: string, o: Partial<PrepareOptions> = {}): ReturnType<typeof prepareDataset> =>
  prepareDataset({ inputs: [blkDir], out: join(dir.path, out), checkpointBlocks: 4, frameBytes: 4096, ...o });

test('a generated chain becomes a dataset whose figures are exact: records, deps, genesis sum = external spends, left-out transactions', async () => {
  const r = await prep('full.tpsds');
  const want = expectedFigures(chain);
  const s = r.header.stats;
  assert.equal(s.blocks, BLOCKS);
  assert.equal(s.btcTxs, chain.txs.length);
  assert.equal(s.records, want.records);
  assert.equal(s.deps, want.deps);
  assert.equal(s.coinbases, want.coinbases);
  assert.equal(s.zeroOutputTxs, 1);
  assert.equal(s.zeroOutputTxs, want.zeroOutput);
  assert.equal(s.depsOverflowTxs, 1, 'the 20-parent consolidation keeps 16 deps');
  assert.equal(s.depsOverflowTxs, want.overflow);
  assert.equal(BigInt(s.externalSpend), want.externalSpend);
  assert.equal(r.header.toBlock, BLOCKS - 1);
  assert.equal(r.header.sourceNetwork, 'regtest');
  assert.equal(r.header.ledgerNetwork, 'btc-regtest');

  const genesis = await loadGenesis(r.genesisFile);
  assert.equal(genesis.hash.toString('hex'), r.header.genesisHash);
  assert.equal(genesis.accounts.reduce((t, a) => t + a.balance, 0n), want.externalSpend, 'genesis funds exactly the external spends');

  const records = await allRecords(r.out);
  assert.deepEqual(records.map((x) => x.seq), [...records.keys()], 'every seq once');
  const ids = new Map<string, number>();
  const nonces = new Map<string, bigint>();
  const keys = new KeyCache();
  for (const rec of records) {
    // The record is an unsigned body; its seeds sign it, and its id is the body's hash.
    const tx = decodeTx(signRecord(rec, r.header.ledgerNetwork, keys).bytes);
    verifyTx(tx, r.header.ledgerNetwork);
    assert.ok(tx.id.equals(txId(rec.body)));
    assert.equal(tx.body.kind, 'transfer');
    if (tx.body.kind !== 'transfer') continue;
    for (const d of tx.body.deps) assert.ok((ids.get(d.toString('hex')) ?? Infinity) < rec.seq, 'deps point to earlier records');
    ids.set(tx.id.toString('hex'), rec.seq);
    const sender = tx.body.inputs[0]!.account.toString('hex');
    assert.equal(tx.body.nonce, nonces.get(sender) ?? 0n, 'per-sender nonces count up in dataset order');
    nonces.set(sender, tx.body.nonce + 1n);
    const inSum = tx.body.inputs.reduce((t, e) => t + e.amount, 0n);
    assert.equal(inSum, tx.body.outputs.reduce((t, e) => t + e.amount, 0n));
  }

  const info = await datasetInfo(r.out, 4);
  assert.equal(info.records, want.records);
  assert.equal(info.deps, want.deps);
  assert.equal(info.shards.reduce((t, x) => t + x.records, 0), want.records);
  assert.ok(info.depth.max >= 2 && info.depth.max === r.header.stats.maxDepth);
  assert.equal(info.fanOut['16-63'] + info.fanOut['64+'], 0);
  assert.ok(info.fanIn['2'] + info.fanIn['3'] > 0);
  assert.equal(existsSync(pathsOf(r.out).partial), false);
});

test('a shard range reads only its senders, the ranges together give every record once, and ordered reads come in dataset order', async () => {
  const file = join(dir.path, 'full.tpsds');
  const all = await allRecords(file);
  const ds = await openDataset(file);
  const half = 1n << 63n;
  const low: DatasetRecord[] = [];
  const high: DatasetRecord[] = [];
  for await (const r of ds.records({ ranges: [{ start: 0n, end: half }] })) low.push(r);
  for await (const r of ds.records({ ranges: [{ start: half.toString(), end: (1n << 64n).toString() }] })) high.push(r);
  await ds.close();
  assert.ok(low.every((r) => r.shardKey < half) && high.every((r) => r.shardKey >= half));
  const ds2 = await openDataset(file);
  const ordered: number[] = [];
  for await (const r of ds2.records({ ordered: true })) ordered.push(r.seq);
  const orderedLow: DatasetRecord[] = [];
  for await (const r of ds2.records({ ordered: true, ranges: [{ start: 0n, end: half }] })) orderedLow.push(r);
  await ds2.close();
  assert.deepEqual(ordered, all.map((r) => r.seq), 'ordered: every record in dataset order');
  assert.deepEqual(orderedLow.map((r) => r.seq), low.map((r) => r.seq).sort((a, b) => a - b), 'ordered within a range');
  assert.equal(low.length + high.length, all.length);
  assert.ok(low.length > 0 && high.length > 0);
});

test('--from-block and --to-block: earlier blocks fund genesis, later ones are not read; figures match the model', async () => {
  const r = await prep('range.tpsds', { fromBlock: 10, toBlock: 19 });
  const want = expectedFigures(chain, 10, 19);
  const s = r.header.stats;
  assert.equal(r.header.fromBlock, 10);
  assert.equal(r.header.toBlock, 19);
  assert.equal(s.blocks, 10);
  assert.equal(s.blocksBeforeRange, 10);
  assert.equal(s.records, want.records);
  assert.equal(s.deps, want.deps);
  assert.equal(BigInt(s.externalSpend), want.externalSpend);
  const records = await allRecords(r.out);
  assert.ok(records.every((x) => x.height >= 10 && x.height <= 19));
});

test('--resume after an interrupted run (a truncated blk file) writes the identical file, and extending with a later --to-block equals a run straight to it', async () => {
  const full = readFileSync(join(dir.path, 'full.tpsds'));
  const fullGenesis = readFileSync(join(dir.path, 'full.tpsds.genesis.json'));
  const cut = join(dir.path, 'cut');
  const { mkdirSync, copyFileSync } = await import('node:fs');
  mkdirSync(cut);
  copyFileSync(join(blkDir, 'blk00000.dat'), join(cut, 'blk00000.dat'));
  const second = readFileSync(join(blkDir, 'blk00001.dat'));
  writeFileSync(join(cut, 'blk00001.dat'), second.subarray(0, Math.floor(second.length * 0.6)));
  const out = join(dir.path, 'resumed.tpsds');
  const err = await prepareDataset({ inputs: [cut], out, checkpointBlocks: 4, frameBytes: 4096 }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof TpslabError);
  assert.equal(err.code, 'TPSLAB_E_DATASET');
  assert.match(err.message, /blk00001\.dat is truncated at byte \d+/);
  assert.equal(existsSync(out), false, 'no file at the output name until it is complete');
  assert.ok(existsSync(pathsOf(out).partial));

  const again = await prepareDataset({ inputs: [cut], out, checkpointBlocks: 4 }).then(() => undefined, (e: unknown) => e);
  assert.equal((again as TpslabError).code, 'TPSLAB_E_USAGE', 'without --resume an unfinished preparation is not overwritten');

  writeFileSync(join(cut, 'blk00001.dat'), second);
  await prepareDataset({ inputs: [cut], out, checkpointBlocks: 4, frameBytes: 4096, resume: true });
  assert.ok(readFileSync(out).equals(full), 'resumed file equals the uninterrupted one byte for byte');
  assert.ok(readFileSync(`${out}.genesis.json`).equals(fullGenesis));

  const part = await prep('ext.tpsds', { toBlock: 14 });
  assert.equal(part.header.toBlock, 14);
  const shrink = await prep('ext.tpsds', { resume: true, toBlock: 10 }).then(() => undefined, (e: unknown) => e);
  assert.match((shrink as TpslabError).message, /already converted blocks up to 14; --to-block 10 cannot shrink it/);
  assert.ok(existsSync(join(dir.path, 'ext.tpsds')), 'a refused extension leaves the finished file in place');
  const ext = await prep('ext.tpsds', { resume: true });
  assert.equal(ext.header.toBlock, BLOCKS - 1);
  assert.deepEqual(ext.header.stats, JSON.parse(JSON.stringify((await datasetInfo(join(dir.path, 'full.tpsds'))).header.stats)));
  const recordHex = (r: DatasetRecord): string => Buffer.concat([r.body, ...r.seeds]).toString('hex');
  assert.deepEqual((await allRecords(ext.out)).map(recordHex), (await allRecords(join(dir.path, 'full.tpsds'))).map(recordHex));
});

test('an interrupt (abort signal) between checkpoints rolls back to the last one, and --resume then writes the identical file', async () => {
  const full = readFileSync(join(dir.path, 'full.tpsds'));
  const out = join(dir.path, 'aborted.tpsds');
  const abort = new AbortController();
  let seen = 0;
  const err = await prep('aborted.tpsds', { signal: abort.signal, progressIntervalMs: 0, onProgress: (p) => { if (++seen === 10) abort.abort(); assert.ok(p.block >= 0); } }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof TpslabError);
  assert.match(err.message, /interrupted at block 10; the last checkpoint is at block 8: run again with --resume/);
  assert.equal(existsSync(out), false);
  await prep('aborted.tpsds', { resume: true });
  assert.ok(readFileSync(out).equals(full));

  // Checkpoints by input size as well (every ~100 KB here): interrupted, resumed, the same records as any other run.
  const sized = (o: Partial<PrepareOptions>): ReturnType<typeof prepareDataset> => prep('sized.tpsds', { checkpointBlocks: 1000, checkpointBytes: 100_000, ...o });
  const abort2 = new AbortController();
  let n = 0;
  const e2 = await sized({ signal: abort2.signal, progressIntervalMs: 0, onProgress: () => { if (++n === 17) abort2.abort(); } }).then(() => undefined, (e: unknown) => e);
  assert.match((e2 as TpslabError).message, /interrupted at block 17; the last checkpoint is at block (?!0;)\d+/);
  await sized({ resume: true });
  const straight = await prepareDataset({ inputs: [blkDir], out: join(dir.path, 'sized-straight.tpsds'), checkpointBlocks: 1000, checkpointBytes: 100_000, frameBytes: 4096 });
  assert.ok(readFileSync(join(dir.path, 'sized.tpsds')).equals(readFileSync(straight.out)), 'byte-triggered checkpoints resume to the identical file too');
});

test('the real testnet blk file (a whole block, then a truncated one): an error naming the file and offset, then --resume once the file is whole', async () => {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const real = readFileSync(join(require.resolve('bitcore-lib'), '..', 'test/data/blk86756-testnet.dat'));
  const file = join(dir.path, 'testnet', 'blk86756.dat');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir.path, 'testnet'));
  writeFileSync(file, real);
  const out = join(dir.path, 'testnet.tpsds');
  const firstEnd = 8 + real.readUInt32LE(4);
  const err = await prepareDataset({ inputs: [file], out }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof TpslabError);
  assert.equal(err.code, 'TPSLAB_E_DATASET');
  assert.ok(err.message.includes(`${file} is truncated at byte ${firstEnd}`), err.message);
  assert.equal(existsSync(out), false);
  writeFileSync(file, real.subarray(0, firstEnd)); // the whole file, as a fresh copy would be
  const r = await prepareDataset({ inputs: [file], out, resume: true });
  assert.equal(r.header.sourceNetwork, 'testnet');
  assert.equal(r.header.stats.blocks, 1);
  assert.equal(r.header.stats.btcTxs, 22);
  assert.equal(r.header.stats.coinbases, 1);
  assert.equal(r.header.stats.unknownInputTxs, 21, 'it spends outputs of blocks the input does not hold');
  assert.equal(r.header.stats.records, 0);
  assert.equal(r.header.firstBlockHash, '000000000b99b16390660d79fcc138d2ad0c89a0d044c4201a02bdf1f61ffa11');
});

test('a damaged dataset file: truncated, a corrupt frame, an unfinished one; each a coded error naming the file and offset', async () => {
  const full = readFileSync(join(dir.path, 'full.tpsds'));
  const cut = join(dir.path, 'damaged-cut.tpsds');
  writeFileSync(cut, full.subarray(0, full.length - 100));
  const ds = await openDataset(cut);
  const e1 = await ds.frames().then(() => undefined, (e: unknown) => e);
  await ds.close();
  assert.equal((e1 as TpslabError).code, 'TPSLAB_E_DATASET');
  assert.match((e1 as TpslabError).message, /damaged-cut\.tpsds at byte \d+: the frame says \d+ bytes but the file ends first/);

  const corrupt = Buffer.from(full);
  corrupt.fill(0x55, 4096 + 30 + 20, 4096 + 30 + 60); // inside the first frame's deflate data
  const bad = join(dir.path, 'damaged-frame.tpsds');
  writeFileSync(bad, corrupt);
  const ds2 = await openDataset(bad);
  const e2 = await (async () => {
    for await (const _ of ds2.records()) void _;
  })().then(() => undefined, (e: unknown) => e);
  await ds2.close();
  assert.match((e2 as TpslabError).message, /damaged-frame\.tpsds at byte 4096: the frame does not decompress/);

  const unfinished = Buffer.from(full);
  encodeHeader({ ...decodeHeader(full, 'full'), complete: false }).copy(unfinished, 0);
  const ub = join(dir.path, 'unfinished.tpsds');
  writeFileSync(ub, unfinished);
  const e3 = await openDataset(ub).then(() => undefined, (e: unknown) => e);
  assert.match((e3 as TpslabError).message, /unfinished preparation/);
});

test('a format 1 dataset (signed records, ids over the signed bytes) and its preparation state would be read as unsigned bodies: now TPSLAB_E_OLD_FORMAT saying prepare again', async () => {
  const old = Buffer.from(readFileSync(join(dir.path, 'full.tpsds')));
  old.writeUInt32BE(1, 8);
  const file = join(dir.path, 'format1.tpsds');
  writeFileSync(file, old);
  const e = await openDataset(file).then(() => undefined, (err: unknown) => err);
  assert.equal((e as TpslabError).code, 'TPSLAB_E_OLD_FORMAT');
  assert.match((e as TpslabError).message, /format1\.tpsds is dataset format 1 .*prepare it again/);

  const { default: Database } = await import('better-sqlite3');
  const state = pathsOf(join(dir.path, 'format1-prep.tpsds')).state;
  const db = new Database(state);
  db.exec('CREATE TABLE utxo (op BLOB PRIMARY KEY, seed BLOB NOT NULL, amount INTEGER NOT NULL, parent_seq INTEGER, parent_id BLOB, depth INTEGER NOT NULL) WITHOUT ROWID');
  db.close();
  const e2 = await prep('format1-prep.tpsds', { resume: true }).then(() => undefined, (err: unknown) => err);
  assert.equal((e2 as TpslabError).code, 'TPSLAB_E_OLD_FORMAT');
  assert.match((e2 as TpslabError).message, /older tpslab .*delete it/);
});

test('bad input through the CLI: missing input, bad magic, blocks out of order; coded errors and no output file', async () => {
  const out = join(dir.path, 'bad.tpsds');
  const missing = await runCli(['dataset', 'prepare', '--in', join(dir.path, 'nope'), '--out', out]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /error TPSLAB_E_DATASET: input .*nope does not exist/);

  const garbage = join(dir.path, 'garbage.dat');
  writeFileSync(garbage, Buffer.from('not a blk file at all, just text'));
  const bad = await runCli(['dataset', 'prepare', '--in', garbage, '--out', out]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /TPSLAB_E_DATASET: .*garbage\.dat at byte 0: magic 6e6f7420/);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(pathsOf(out).partial) || existsSync(pathsOf(out).state), false, 'a fresh run that checkpointed nothing leaves nothing behind');

  const swapped = join(dir.path, 'swapped.dat');
  writeFileSync(swapped, blkFile([chain.blocks[0]!, chain.blocks[2]!, chain.blocks[1]!], 'regtest'));
  const out2 = join(dir.path, 'swapped.tpsds');
  const order = await runCli(['dataset', 'prepare', '--in', swapped, '--out', out2]);
  assert.equal(order.code, 1);
  assert.match(order.stderr, /TPSLAB_E_DATASET: .*swapped\.dat at byte \d+: block [0-9a-f]{64} does not extend the previous block/);
  assert.equal(existsSync(out2), false);

  const badNet = await runCli(['dataset', 'prepare', '--in', blkDir, '--out', join(dir.path, 'net.tpsds'), '--network', 'has space']);
  assert.equal(badNet.code, 2);
  assert.match(badNet.stderr, /TPSLAB_E_USAGE: --network "has space" must be/);

  const info = await runCli(['dataset', 'info', join(dir.path, 'nope.tpsds')]);
  assert.equal(info.code, 1);
  assert.match(info.stderr, /TPSLAB_E_DATASET: cannot open dataset/);
  const notDataset = await runCli(['dataset', 'info', garbage]);
  assert.match(notDataset.stderr, /TPSLAB_E_DATASET: .*is not a tpslab dataset/);
});

test('the CLI prepares and describes a dataset', async () => {
  const out = join(dir.path, 'cli.tpsds');
  const r = await runCli(['dataset', 'prepare', '--in', blkDir, '--out', out, '--to-block', '9', '--network', 'replay-test']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*cli\.tpsds: blocks 0\.\.9, \d+ transactions/);
  const info = await runCli(['dataset', 'info', out, '--shards', '4']);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /regtest → ledger network "replay-test"/);
  assert.match(info.stdout, /shards \(4 even ranges/);
  const json = await runCli(['dataset', 'info', out, '--json']);
  assert.equal((JSON.parse(json.stdout) as { records: number }).records, expectedFigures(chain, 0, 9).records);
});

test('--jobs: key derivation on worker threads writes the same dataset and genesis, byte for byte, as one thread', async () => {
  const one = await prep('jobs1.tpsds', { jobs: 1 });
  const three = await prep('jobs3.tpsds', { jobs: 3 });
  assert.equal(one.runKeysDerivedByWorkers, 0, 'jobs 1 derives on the converting thread');
  assert.ok(three.runKeysDerivedByWorkers > 0, `the workers derived keys (${three.runKeysDerivedByWorkers} of ${three.runKeysDerived})`);
  assert.ok(readFileSync(three.out).equals(readFileSync(one.out)), 'the dataset files are identical');
  assert.ok(readFileSync(three.genesisFile).equals(readFileSync(one.genesisFile)), 'the genesis files are identical');
  const bad = await prep('jobs0.tpsds', { jobs: 0 }).then(() => undefined, (e: unknown) => e);
  assert.equal((bad as TpslabError).code, 'TPSLAB_E_USAGE');
  assert.match((bad as TpslabError).message, /--jobs 0 must be a whole number of threads, 1 or more/);
});
