#!/usr/bin/env node
/**
 * The tpslab command line. Each command lives in its own file and calls the
 * library; this file wires them up and turns errors into messages and exit codes.
 */
import { readFileSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { runCli } from './run-cli.js';
import { registerBeacon } from './beacon.js';
import { registerCompare } from './compare.js';
import { registerDataset } from './dataset.js';
import { registerExplorer } from './explorer.js';
import { registerFaucet } from './faucet.js';
import { registerIndexer } from './indexer.js';
import { registerImport } from './import.js';
import { registerKeys } from './keys.js';
import { registerLb } from './lb.js';
import { registerNet } from './net.js';
import { registerNode } from './node.js';
import { registerOverseer } from './overseer.js';
import { registerReport } from './report.js';
import { registerRun } from './run.js';
import { registerRuns } from './runs.js';
import { registerSweep } from './sweep.js';
import { registerFindMax } from './find-max.js';
import { registerTracker } from './tracker.js';
import { registerTx } from './tx.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('tpslab')
    .description('Stand up a transaction network, drive it with realistic load, and prove what it sustains.')
    .version(version())
    .option('--verbose', 'print stack traces with errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRun(program);
  registerSweep(program);
  registerFindMax(program);
  registerReport(program);
  registerCompare(program);
  registerRuns(program);
  registerNet(program);
  registerNode(program);
  registerTracker(program);
  registerOverseer(program);
  registerBeacon(program);
  registerImport(program);
  registerExplorer(program);
  registerKeys(program);
  registerTx(program);
  registerDataset(program);
  registerFaucet(program);
  registerIndexer(program);
  registerLb(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  return runCli(buildProgram(), argv);
}

const invoked = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invoked === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv);
}
