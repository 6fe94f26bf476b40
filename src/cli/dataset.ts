import type { Command } from 'commander';
import { datasetInfo, formatInfo } from '../dataset/info.js';
import { defaultPrepareJobs, prepareDataset } from '../dataset/prepare.js';
import { parseIntOption } from './common.js';

interface PrepareCliOptions {
  in: string[];
  out: string;
  fromBlock?: number;
  toBlock?: number;
  resume?: boolean;
  network?: string;
  checkpointBlocks?: number;
  jobs?: number;
  quiet?: boolean;
}

export function registerDataset(program: Command): void {
  const dataset = program.command('dataset').description('turn bitcoind blk*.dat files into a replay dataset of tpslab transfers, and describe one');
  dataset
    .command('prepare')
    .description('stream blk*.dat files into one compressed dataset file plus the genesis file that funds it (<out>.genesis.json); see docs/dataset.md')
    .requiredOption('--in <paths...>', 'blk*.dat files (in this order) or directories (their blk*.dat files by name); blocks must be in chain order')
    .requiredOption('--out <file>', 'dataset file to write; work goes to <out>.partial and <out>.state until it is complete')
    .option('--from-block <n>', 'first block to convert, counted from the first block of the input (the height when it starts at the genesis block); earlier blocks are read for their outputs only', parseIntOption('--from-block', 0, 2 ** 31))
    .option('--to-block <n>', 'last block to convert (inclusive); default: to the end of the input', parseIntOption('--to-block', 0, 2 ** 31))
    .option('--resume', 'continue an interrupted preparation from its last checkpoint, or extend a finished one to a later --to-block')
    .option('--network <id>', 'network id the transactions are signed for and the genesis names (default: btc-<source network>, e.g. btc-mainnet)')
    .option('--checkpoint-blocks <n>', 'blocks between checkpoints (what --resume goes back to)', parseIntOption('--checkpoint-blocks', 1, 1_000_000))
    .option('--jobs <n>', `threads deriving accounts (output script → seed → Ed25519 key, the costliest step): 1 derives on the converting thread, N > 1 starts N worker threads; the output is the same (default: the cores available, ${defaultPrepareJobs()} here)`, parseIntOption('--jobs', 1, 256))
    .option('--quiet', 'no progress lines')
    .addHelpText('after', '\nExamples:\n  tpslab dataset prepare --in ~/.bitcoin/blocks --out btc.tpsds --to-block 200000\n  tpslab dataset prepare --in ~/.bitcoin/blocks --out btc.tpsds --to-block 300000 --resume')
    .action(async (o: PrepareCliOptions) => {
      const abort = new AbortController();
      const onSignal = (): void => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const r = await prepareDataset({
          inputs: o.in, out: o.out, fromBlock: o.fromBlock, toBlock: o.toBlock, resume: o.resume, network: o.network, checkpointBlocks: o.checkpointBlocks, jobs: o.jobs, signal: abort.signal,
          onProgress: o.quiet ? undefined : (p) => console.error(`dataset: block ${p.block}, ${p.records} records, ${(p.inputBytes / 1e6).toFixed(1)} MB read, ${p.mbPerSec.toFixed(2)} MB/s, ${Math.round(p.txPerSec)} tx/s, ${p.utxos ?? '?'} unspent outputs`),
        });
        const s = r.header.stats;
        console.log(`wrote ${r.out}: blocks ${r.header.fromBlock}..${r.header.toBlock}, ${s.records} transactions, ${s.deps} deps; genesis ${r.genesisFile} funds ${s.externalSpend} sat (hash ${r.header.genesisHash})`);
        console.log(`this run: ${(r.runInputBytes / 1e6).toFixed(2)} MB, ${r.runRecords} transactions in ${(r.elapsedMs / 1000).toFixed(1)} s (${(r.runInputBytes / 1e3 / r.elapsedMs).toFixed(2)} MB/s, ${Math.round((r.runRecords * 1000) / r.elapsedMs)} tx/s), ${r.runKeysDerived} keys derived (${r.runKeysDerivedByWorkers} by ${r.jobs > 1 ? `${r.jobs} worker threads` : 'no worker thread'})`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  dataset
    .command('info')
    .description('counts, sizes, block and time range, fan-in and fan-out, dependency depth, and records per shard range of a dataset file')
    .argument('<file>', 'dataset file')
    .option('--shards <n>', 'even shard ranges to count records over', parseIntOption('--shards', 1, 4096), 8)
    .option('--json', 'print JSON instead of text')
    .action(async (file: string, o: { shards: number; json?: boolean }) => {
      const info = await datasetInfo(file, o.shards);
      console.log(o.json ? JSON.stringify(info, null, 2) : formatInfo(info));
    });
}
