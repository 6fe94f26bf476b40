#!/usr/bin/env node
/**
 * The tpslab command line. Each command lives in its own file and calls the
 * library; this file wires them up and turns errors into messages and exit codes.
 */
import { readFileSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { asTpslabError } from '../errors.js';
import { EXIT } from './exit-codes.js';
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

/** With --json, an error is also a JSON object on stdout, so a script reading stdout sees it (docs/cli.md). */
function jsonError(argv: readonly string[], code: string, message: string): void {
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // A command may set its own code (e.g. run: 3 for a breached threshold).
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help/version text) already.
      if (err.exitCode !== 0) jsonError(argv, 'TPSLAB_E_USAGE', err.message.replace(/^error: /, ''));
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const e = asTpslabError(err);
    const usage = e.code === 'TPSLAB_E_USAGE';
    console.error(`error ${e.code}: ${e.message}`);
    jsonError(argv, e.code, e.message);
    if (program.opts<{ verbose?: boolean }>().verbose) console.error(e.stack);
    return usage ? EXIT.usage : EXIT.error;
  }
}

const invoked = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invoked === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv);
}
