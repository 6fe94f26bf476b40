/**
 * dataset-prepare: `tpslab dataset prepare` next to its parts, on the same bytes in one run.
 *
 * (a) Parsing: real mainnet block 357238 (bitcore-lib's benchmark data) and a
 *     generated chain, parsed by bitcoinjs-lib with getId() per transaction
 *     (the peer) and by our parseBlock (bitcoinjs-lib + node:crypto txids).
 * (b) The whole preparation of the generated chain (blk file → dataset file
 *     and genesis), in MB/s and tx/s, next to Ed25519 signatures per second on
 *     one core: every converted transaction needs one signature per input
 *     account, so signing bounds the rate.
 */
import { sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Block } from 'bitcoinjs-lib';
import { parseBlock } from '../src/dataset/btc-block.js';
import { prepareDataset } from '../src/dataset/prepare.js';
import { keyPairFromLabel } from '../src/protocol/signing.js';
import { blkFile, buildChain } from '../test/dataset/chain.js';
import type { BenchContext, BenchResult, Benchmark } from './contract.js';

const PARSE_MS = 1_500;
const BLOCKS = 80;
const TXS_PER_BLOCK = 250;

/** MB/s of `fn` applied to `blocks` repeatedly for about PARSE_MS. */
function rate(blocks: readonly Buffer[], fn: (b: Buffer) => void): number {
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < PARSE_MS) {
    for (const b of blocks) {
      fn(b);
      bytes += b.length;
    }
  }
  return bytes / 1e6 / ((performance.now() - start) / 1000);
}

const peer = (b: Buffer): void => {
  for (const tx of Block.fromBuffer(b).transactions ?? []) tx.getId();
};
const ours = (b: Buffer): void => {
  parseBlock(b, 'bench');
};

function signsPerSec(): number {
  const key = keyPairFromLabel('bench-signer');
  const msg = Buffer.alloc(180, 7);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < PARSE_MS) {
    sign(null, msg, key.privateKeyObject);
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

export const datasetPrepare: Benchmark = {
  name: 'dataset-prepare',
  description: 'dataset preparation MB/s and tx/s next to bitcoinjs-lib parsing the same blocks and to Ed25519 signing',
  timeoutMs: 180_000,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const require = createRequire(import.meta.url);
    const real = Buffer.from(JSON.parse(await readFile(join(require.resolve('bitcore-lib'), '..', 'benchmark/block-357238.json'), 'utf8')) as string, 'hex');
    ctx.log(`generating ${BLOCKS} blocks of ${TXS_PER_BLOCK} transactions`);
    const chain = buildChain({ blocks: BLOCKS, txsPerBlock: TXS_PER_BLOCK, addresses: 20_000, seed: 42 });
    const realPeer = rate([real], peer);
    const realOurs = rate([real], ours);
    const genPeer = rate(chain.blocks, peer);
    const genOurs = rate(chain.blocks, ours);
    const dir = await mkdtemp(join(tmpdir(), 'tpslab-bench-dataset-'));
    try {
      const blk = blkFile(chain.blocks, 'regtest');
      await writeFile(join(dir, 'blk00000.dat'), blk);
      ctx.log(`preparing ${(blk.length / 1e6).toFixed(1)} MB`);
      const r = await prepareDataset({ inputs: [join(dir, 'blk00000.dat')], out: join(dir, 'bench.tpsds') });
      const prepMbs = r.runInputBytes / 1e3 / r.elapsedMs;
      const prepTxs = (r.runRecords * 1000) / r.elapsedMs;
      const signs = signsPerSec();
      const inputsPerTx = 2; // the generator draws 1-3 inputs, uniformly
      return {
        rows: [
          { metric: 'bitcoinjs-lib parse + getId, block 357238', value: realPeer, unit: 'MB/s' },
          { metric: 'parseBlock (node:crypto txids), block 357238', value: realOurs, unit: 'MB/s' },
          { metric: 'bitcoinjs-lib parse + getId, generated chain', value: genPeer, unit: 'MB/s' },
          { metric: 'parseBlock, generated chain', value: genOurs, unit: 'MB/s' },
          { metric: 'prepare, generated chain', value: prepMbs, unit: 'MB/s' },
          { metric: 'prepare, generated chain', value: prepTxs, unit: 'tx/s' },
          { metric: 'Ed25519 signatures, one core', value: signs, unit: 'sig/s' },
        ],
        ratios: [
          { label: 'parseBlock ÷ bitcoinjs-lib getId, real block', value: realOurs / realPeer },
          { label: 'prepare MB/s ÷ bitcoinjs-lib parse MB/s, generated chain', value: prepMbs / genPeer, note: 'the whole preparation against parsing alone' },
          { label: 'prepare tx/s ÷ (signatures/s ÷ inputs per tx)', value: prepTxs / (signs / inputsPerTx), note: 'share of the signing bound reached (1 = signing is all it does)' },
        ],
        notes: [`${r.runRecords} transactions, ${r.header.stats.deps} deps, ${r.header.stats.inputBytes} input bytes`],
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
