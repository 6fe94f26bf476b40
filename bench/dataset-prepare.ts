/**
 * dataset-prepare: `tpslab dataset prepare` next to its parts, on the same bytes in one run.
 *
 * (a) Parsing: real mainnet block 357238 (bitcore-lib's benchmark data) and a
 *     generated chain, parsed by bitcoinjs-lib with getId() per transaction
 *     (the peer) and by our parseBlock (our own reader + node:crypto txids).
 * (b) The whole preparation of the generated chain (blk file → dataset file
 *     and genesis), in MB and transactions per CPU-second (one thread does the
 *     work, so that is per core) and per wall second, next to what bounds it
 *     now that it signs nothing: deriving the public key of every new account
 *     (one key derivation per new Bitcoin address).
 * (c) Ed25519 signatures per CPU-second: what the replay beacons pay instead,
 *     one per input.
 * Rates are per CPU-second of this process (process.cpuUsage), which other
 * jobs on a shared machine disturb much less than wall-clock rates.
 */
import { createHash, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Block } from 'bitcoinjs-lib';
import { publicKeyOfSeed } from '../src/dataset/accounts.js';
import { parseBlock } from '../src/dataset/btc-block.js';
import { prepareDataset } from '../src/dataset/prepare.js';
import { keyPairFromLabel } from '../src/protocol/signing.js';
import { blkFile, buildChain } from '../test/dataset/chain.js';
import type { BenchContext, BenchResult, Benchmark } from './contract.js';

const MEASURE_MS = 1_500;
const BLOCKS = 80;
const TXS_PER_BLOCK = 250;
/** The goal of issue 12: the whole preparation, per core. */
const GOAL_MB_PER_CPU_SEC = 40;

/** CPU milliseconds (user + system) of this process since `from`. */
function cpuMsSince(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
}

/** Units of `step()` per CPU-second, repeating it for about MEASURE_MS of wall time. */
function perCpuSec(step: () => number): number {
  let units = 0;
  const wall = performance.now();
  const cpu = process.cpuUsage();
  while (performance.now() - wall < MEASURE_MS) units += step();
  return units / (cpuMsSince(cpu) / 1000);
}

/** MB of `blocks` per CPU-second through `fn`. */
function rate(blocks: readonly Buffer[], fn: (b: Buffer) => void): number {
  return perCpuSec(() => {
    let bytes = 0;
    for (const b of blocks) {
      fn(b);
      bytes += b.length;
    }
    return bytes / 1e6;
  });
}

const peer = (b: Buffer): void => {
  for (const tx of Block.fromBuffer(b).transactions ?? []) tx.getId();
};
const ours = (b: Buffer): void => {
  parseBlock(b, 'bench');
};

function signsPerCpuSec(): number {
  const key = keyPairFromLabel('bench-signer');
  const msg = Buffer.alloc(180, 7);
  return perCpuSec(() => {
    for (let i = 0; i < 100; i++) sign(null, msg, key.privateKeyObject);
    return 100;
  });
}

function keysPerCpuSec(): number {
  let n = 0;
  return perCpuSec(() => {
    for (let i = 0; i < 100; i++) publicKeyOfSeed(createHash('sha256').update(`bench-key-${n++}`).digest());
    return 100;
  });
}

export const datasetPrepare: Benchmark = {
  name: 'dataset-prepare',
  description: 'dataset preparation MB per CPU-second next to bitcoinjs-lib parsing the same blocks, to key derivation (its bound) and to Ed25519 signing (the beacons\' cost)',
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
      const cpu = process.cpuUsage();
      const r = await prepareDataset({ inputs: [join(dir, 'blk00000.dat')], out: join(dir, 'bench.tpsds') });
      const cpuSec = cpuMsSince(cpu) / 1000;
      const prepMbCpu = r.runInputBytes / 1e6 / cpuSec;
      const prepMbWall = r.runInputBytes / 1e3 / r.elapsedMs;
      const prepTxCpu = r.runRecords / cpuSec;
      const keys = keysPerCpuSec();
      const signs = signsPerCpuSec();
      const keyShare = r.runKeysDerived / keys / cpuSec;
      return {
        rows: [
          { metric: 'bitcoinjs-lib parse + getId, block 357238', value: realPeer, unit: 'MB/cpu-s' },
          { metric: 'parseBlock (ours, node:crypto txids), block 357238', value: realOurs, unit: 'MB/cpu-s' },
          { metric: 'bitcoinjs-lib parse + getId, generated chain', value: genPeer, unit: 'MB/cpu-s' },
          { metric: 'parseBlock, generated chain', value: genOurs, unit: 'MB/cpu-s' },
          { metric: 'prepare, generated chain', value: prepMbCpu, unit: 'MB/cpu-s' },
          { metric: 'prepare, generated chain', value: prepTxCpu, unit: 'tx/cpu-s' },
          { metric: 'prepare, generated chain (wall clock)', value: prepMbWall, unit: 'MB/s' },
          { metric: 'public keys derived by the preparation', value: r.runKeysDerived, unit: 'keys' },
          { metric: 'public key derivation, one core', value: keys, unit: 'keys/cpu-s' },
          { metric: 'Ed25519 signatures, one core', value: signs, unit: 'sig/cpu-s' },
        ],
        ratios: [
          { label: 'parseBlock ÷ bitcoinjs-lib getId, real block', value: realOurs / realPeer },
          { label: 'prepare ÷ bitcoinjs-lib parse, generated chain (MB/cpu-s)', value: prepMbCpu / genPeer, note: 'the whole preparation against parsing alone with the peer' },
          { label: 'key derivation share of the preparation CPU', value: keyShare, note: 'deriving each new account\'s public key; the rest: UTXO state in SQLite, GC, encoding, gzip, parsing' },
          { label: `prepare MB/cpu-s ÷ the goal of ${GOAL_MB_PER_CPU_SEC} MB/s per core`, value: prepMbCpu / GOAL_MB_PER_CPU_SEC },
        ],
        notes: [`${r.runRecords} transactions, ${r.header.stats.deps} deps, ${r.header.stats.inputBytes} input bytes; the preparation signs nothing (the replay beacons sign, one signature per input)`],
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
