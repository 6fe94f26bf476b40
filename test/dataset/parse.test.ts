// The blk framing and block parser on real blocks: mainnet blocks and a testnet blk file shipped in bitcore-lib (a devDependency),
// cross-checked against bitcore-lib's own parser and against bitcoinjs-lib's getId() and fromOutputScript().
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { address, Block, networks } from 'bitcoinjs-lib';
import { TpslabError } from '../../src/errors.js';
import { fastKeyPairFromSeed, scriptAddress, scriptLabel, seedOfLabel, shardKeyOf } from '../../src/dataset/accounts.js';
import { readBlocks, type RawBlock } from '../../src/dataset/blk-files.js';
import { displayId, parseBlock } from '../../src/dataset/btc-block.js';
import { keyPairFromLabel, signTx } from '../../src/protocol/signing.js';
import { tempDir } from '../testkit/index.js';
import { blkFile, buildChain } from './chain.js';

const require = createRequire(import.meta.url);
const bitcoreDir = join(require.resolve('bitcore-lib'), '..');
interface BitcoreTx { hash: string; inputs: unknown[]; outputs: { satoshis: number }[] }
interface BitcoreBlock { hash: string; transactions: BitcoreTx[] }
const bitcore = require('bitcore-lib') as { Block: { fromBuffer(b: Buffer): BitcoreBlock } };

/** Real mainnet block 357238 (bitcore-lib benchmark data): 369 transactions. */
const block357238 = Buffer.from(JSON.parse(readFileSync(join(bitcoreDir, 'benchmark/block-357238.json'), 'utf8')) as string, 'hex');

async function collect(gen: AsyncGenerator<RawBlock>): Promise<{ blocks: RawBlock[]; error?: TpslabError }> {
  const blocks: RawBlock[] = [];
  try {
    for await (const b of gen) blocks.push(b);
  } catch (err) {
    assert.ok(err instanceof TpslabError, String(err));
    return { blocks, error: err };
  }
  return { blocks };
}

test('mainnet block 357238 parses exactly: 369 transactions, ids, inputs, outputs and values as bitcore-lib and bitcoinjs-lib read them', () => {
  const ours = parseBlock(block357238, 'block 357238');
  const theirs = bitcore.Block.fromBuffer(block357238);
  assert.equal(ours.txs.length, 369);
  assert.equal(displayId(ours.hash), theirs.hash);
  ours.txs.forEach((tx, i) => {
    const ref = theirs.transactions[i]!;
    assert.equal(displayId(tx.txid), ref.hash, `tx ${i} id`);
    assert.equal(tx.ins.length, ref.inputs.length, `tx ${i} inputs`);
    assert.deepEqual(tx.outs.map((o) => Number(o.value)), ref.outputs.map((o) => o.satoshis), `tx ${i} values`);
  });
  assert.equal(ours.txs[0]!.coinbase, true);
  assert.equal(ours.txs.filter((t) => t.coinbase).length, 1);
});

/** Our parser against bitcoinjs-lib's, field by field: ids, inputs (outpoints), outputs (scripts, values), coinbase and segwit flags. */
function assertSameAsBitcoinjs(bytes: Buffer, what: string): number {
  const ours = parseBlock(bytes, what);
  const theirs = Block.fromBuffer(bytes);
  assert.equal(displayId(ours.hash), theirs.getId(), `${what}: block hash`);
  assert.equal(ours.timeSec, theirs.timestamp);
  assert.ok(ours.prevHash.equals(Buffer.from(theirs.prevHash!)));
  const txs = theirs.transactions ?? [];
  assert.equal(ours.txs.length, txs.length, `${what}: transaction count`);
  ours.txs.forEach((tx, i) => {
    const ref = txs[i]!;
    assert.equal(displayId(tx.txid), ref.getId(), `${what}: tx ${i} id`);
    assert.equal(tx.coinbase, ref.isCoinbase(), `${what}: tx ${i} coinbase`);
    assert.equal(tx.segwit, ref.hasWitnesses(), `${what}: tx ${i} segwit`);
    assert.deepEqual(tx.ins.map((x) => [Buffer.from(x.prevTxid).toString('hex'), x.vout]), ref.ins.map((x) => [Buffer.from(x.hash).toString('hex'), x.index]), `${what}: tx ${i} inputs`);
    assert.deepEqual(tx.outs.map((o) => [Buffer.from(o.script).toString('hex'), o.value]), ref.outs.map((o) => [Buffer.from(o.script).toString('hex'), o.value]), `${what}: tx ${i} outputs`);
  });
  return ours.txs.length;
}

test('our block parser reads what bitcoinjs-lib reads: real mainnet, testnet and bitcoind test blocks, and a generated segwit chain', () => {
  let n = assertSameAsBitcoinjs(block357238, 'block 357238');
  for (const b of JSON.parse(readFileSync(join(bitcoreDir, 'test/data/bitcoind/blocks.json'), 'utf8')) as { data: string }[]) n += assertSameAsBitcoinjs(Buffer.from(b.data, 'hex'), 'blocks.json');
  const chain = buildChain({ blocks: 6, txsPerBlock: 40, seed: 11 });
  chain.blocks.forEach((bytes, h) => (n += assertSameAsBitcoinjs(bytes, `generated block ${h}`)));
  assert.ok(n > 369 + 200, `${n} transactions compared`);
});

test('every truncation of a real block, and a damaged count, is a TPSLAB_E_DATASET naming the block, never a RangeError or a huge allocation', () => {
  for (let len = 0; len < block357238.length; len += 97) {
    assert.throws(() => parseBlock(block357238.subarray(0, len), 'cut block'), (err: unknown) => err instanceof TpslabError && err.code === 'TPSLAB_E_DATASET' && /^cut block: /.test(err.message));
  }
  const huge = Buffer.from(block357238);
  huge[80] = 0xff; // the transaction count becomes a u64
  huge.fill(0xff, 81, 89);
  assert.throws(() => parseBlock(huge, 'huge count'), (err: unknown) => err instanceof TpslabError && err.code === 'TPSLAB_E_DATASET');
});

test('the five real blocks of bitcoind test data give their stated transaction counts and bitcore-lib ids', () => {
  const blocks = JSON.parse(readFileSync(join(bitcoreDir, 'test/data/bitcoind/blocks.json'), 'utf8')) as { transactions: number; data: string }[];
  assert.equal(blocks.length, 5);
  for (const b of blocks) {
    const bytes = Buffer.from(b.data, 'hex');
    const ours = parseBlock(bytes, 'blocks.json');
    assert.equal(ours.txs.length, b.transactions);
    assert.deepEqual(ours.txs.map((t) => displayId(t.txid)), bitcore.Block.fromBuffer(bytes).transactions.map((t) => t.hash));
  }
});

test('the real testnet blk file: one whole block read with its 22 transactions, then an error naming the file and the byte offset of the truncated one', async () => {
  const file = join(bitcoreDir, 'test/data/blk86756-testnet.dat');
  const expected = JSON.parse(readFileSync(join(bitcoreDir, 'test/data/blk86756-testnet.json'), 'utf8')) as { header: { hash: string }; transactions: { hash: string }[] };
  const { blocks, error } = await collect(readBlocks([file]));
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0]!.network, 'testnet');
  const parsed = parseBlock(blocks[0]!.bytes, 'testnet block');
  assert.equal(displayId(parsed.hash), expected.header.hash);
  assert.deepEqual(parsed.txs.map((t) => displayId(t.txid)), expected.transactions.map((t) => t.hash));
  assert.ok(error, 'the truncated second block is an error');
  assert.equal(error.code, 'TPSLAB_E_DATASET');
  assert.match(error.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is truncated at byte ${blocks[0]!.nextOffset}`));
  assert.equal(error.details?.offset, blocks[0]!.nextOffset);
});

test('segwit transaction ids equal bitcoinjs-lib getId() on a generated chain, and witnesses do not change them', () => {
  const chain = buildChain({ blocks: 4, txsPerBlock: 20, seed: 7 });
  let segwit = 0;
  chain.blocks.forEach((bytes, h) => {
    const ours = parseBlock(bytes, `block ${h}`);
    const ids = chain.txs.filter((t) => t.height === h).map((t) => t.txid);
    assert.deepEqual(ours.txs.map((t) => displayId(t.txid)), ids);
    segwit += ours.txs.filter((t) => t.segwit).length;
  });
  assert.ok(segwit > 10, `the chain has segwit transactions (${segwit})`);
});

test('script → account: addresses as bitcoinjs-lib encodes them, a script hash otherwise, keys from keyPairFromLabel', () => {
  const block = parseBlock(block357238, 'block 357238');
  let withAddress = 0;
  let without = 0;
  for (const tx of block.txs) {
    for (const o of tx.outs) {
      let ref: string | undefined;
      try {
        ref = address.fromOutputScript(o.script, networks.bitcoin);
      } catch {
        ref = undefined;
      }
      assert.equal(scriptAddress(o.script, networks.bitcoin), ref);
      if (ref) withAddress++;
      else without++;
      const label = scriptLabel(o.script, networks.bitcoin);
      assert.ok(ref ? label === ref : label.startsWith('script:'));
    }
  }
  assert.ok(withAddress > 500 && without > 0, `${withAddress} outputs with an address, ${without} without`);
  // Our base58check against bitcoinjs-lib's on the edges: leading zero bytes (leading "1"s), all 0xff, other networks' versions.
  for (const hash of [Buffer.alloc(20), Buffer.concat([Buffer.alloc(3), Buffer.alloc(17, 0x5a)]), Buffer.alloc(20, 0xff)]) {
    for (const network of [networks.bitcoin, networks.testnet, networks.regtest]) {
      const p2pkh = Buffer.concat([Buffer.from([0x76, 0xa9, 0x14]), hash, Buffer.from([0x88, 0xac])]);
      const p2sh = Buffer.concat([Buffer.from([0xa9, 0x14]), hash, Buffer.from([0x87])]);
      assert.equal(scriptAddress(p2pkh, network), address.toBase58Check(hash, network.pubKeyHash));
      assert.equal(scriptAddress(p2sh, network), address.toBase58Check(hash, network.scriptHash));
    }
  }
  const kp = keyPairFromLabel('1BitcoinEaterAddressDontSendf59kuE');
  assert.equal(typeof shardKeyOf(kp.publicKey), 'bigint');
  assert.equal(shardKeyOf(kp.publicKey), kp.publicKey.readBigUInt64BE(0));
});

test('blk input: zero preallocation tail, xor.dat obfuscation; bad magic, a garbage length, a missing file', async () => {
  const dir = await tempDir('tpslab-blk-');
  try {
    const chain = buildChain({ blocks: 2, txsPerBlock: 1 });
    const good = blkFile(chain.blocks, 'regtest', 4096);
    const okPath = join(dir.path, 'blk00000.dat');
    writeFileSync(okPath, good);
    const ok = await collect(readBlocks([okPath]));
    assert.equal(ok.error, undefined);
    assert.equal(ok.blocks.length, 2, 'the zero tail ends the file');

    const bad = Buffer.from(good);
    bad.write('deadbeef', 0, 'hex');
    const badPath = join(dir.path, 'blk00001.dat');
    writeFileSync(badPath, bad);
    const r1 = await collect(readBlocks([badPath]));
    assert.equal(r1.error?.code, 'TPSLAB_E_DATASET');
    assert.match(r1.error.message, /blk00001\.dat at byte 0: magic deadbeef is not a Bitcoin network's/);

    const longLen = Buffer.from(good);
    longLen.writeUInt32LE(0x7fffffff, 4);
    writeFileSync(badPath, longLen);
    const r2 = await collect(readBlocks([badPath]));
    assert.match(r2.error!.message, /block length 2147483647 is outside/);

    const xorDir = join(dir.path, 'xor');
    mkdirSync(xorDir);
    const key = Buffer.from('0123456789abcdef', 'hex');
    writeFileSync(join(xorDir, 'xor.dat'), key);
    const xored = good.map((b, i) => b ^ key[i % 8]!);
    xored.fill(0, good.length - 4096); // the preallocated tail is raw zeros on disk
    writeFileSync(join(xorDir, 'blk00000.dat'), xored);
    const obfuscated = await collect(readBlocks([join(xorDir, 'blk00000.dat')]));
    assert.equal(obfuscated.error, undefined, 'Bitcoin Core 28+ obfuscated files are read through xor.dat');
    assert.deepEqual(obfuscated.blocks.map((b) => b.bytes.toString('hex')), ok.blocks.map((b) => b.bytes.toString('hex')));

    const r3 = await collect(readBlocks([join(dir.path, 'blk99999.dat')]));
    assert.equal(r3.error?.code, 'TPSLAB_E_DATASET');
    assert.match(r3.error.message, /cannot open .*blk99999\.dat/);
  } finally {
    await dir.remove();
  }
});

test('the fast key derivation gives keyPairFromLabel\'s keys and signatures', () => {
  for (const label of ['1BitcoinEaterAddressDontSendf59kuE', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', 'script:00ff']) {
    const ref = keyPairFromLabel(label);
    const fast = fastKeyPairFromSeed(seedOfLabel(label));
    assert.ok(fast.publicKey.equals(ref.publicKey), label);
    assert.equal(fast.address, ref.address);
    const body = { kind: 'transfer' as const, nonce: 0n, fee: 0n, deps: [], inputs: [{ account: ref.publicKey, amount: 5n }], outputs: [{ account: ref.publicKey, amount: 5n }] };
    assert.ok(signTx(body, [fast], 'n').bytes.equals(signTx(body, [ref], 'n').bytes));
  }
});
