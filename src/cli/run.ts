import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { runLedgerProcess } from './node.js';

/**
 * `tpslab run`: until the harness lands, this starts one local node on a
 * temporary data directory with a development genesis and tells how to use it.
 */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the default job: for now, a single local node with a funded faucet key (the load harness comes next)')
    .option('--port <n>', 'port for the node', '8545')
    .action(async (o: { port: string }) => {
      const data = await mkdtemp(join(tmpdir(), 'tpslab-run-'));
      console.log(`data directory: ${data}`);
      await runLedgerProcess('node', { data, port: Number(o.port), host: '127.0.0.1', blockIntervalMs: 25, blockMaxTxs: 4000, mempoolCapacity: 100_000, fsync: true });
    });
}
