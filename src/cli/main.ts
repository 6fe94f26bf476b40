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

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

type Register = (program: Command) => void;
const node = async (): Promise<Register> => (await import('./node.js')).registerNode;
/**
 * Each command's module, in help order, imported only when needed: a process started for one
 * command (a node, the tracker, a beacon) loads that command's code, not every connector's
 * (a network's processes start in about half the CPU time).
 */
const COMMANDS: [string, () => Promise<Register>][] = [
  ['run', async () => (await import('./run.js')).registerRun],
  ['sweep', async () => (await import('./sweep.js')).registerSweep],
  ['find-max', async () => (await import('./find-max.js')).registerFindMax],
  ['report', async () => (await import('./report.js')).registerReport],
  ['compare', async () => (await import('./compare.js')).registerCompare],
  ['runs', async () => (await import('./runs.js')).registerRuns],
  ['net', async () => (await import('./net.js')).registerNet],
  ['node', node],
  ['sequencer', node],
  ['tracker', async () => (await import('./tracker.js')).registerTracker],
  ['overseer', async () => (await import('./overseer.js')).registerOverseer],
  ['beacon', async () => (await import('./beacon.js')).registerBeacon],
  ['import', async () => (await import('./import.js')).registerImport],
  ['explorer', async () => (await import('./explorer.js')).registerExplorer],
  ['keys', async () => (await import('./keys.js')).registerKeys],
  ['tx', async () => (await import('./tx.js')).registerTx],
  ['dataset', async () => (await import('./dataset.js')).registerDataset],
  ['faucet', async () => (await import('./faucet.js')).registerFaucet],
  ['indexer', async () => (await import('./indexer.js')).registerIndexer],
  ['lb', async () => (await import('./lb.js')).registerLb],
];

/** The program with every command, or with only `command` (a name of COMMANDS) when given one. */
export async function buildProgram(command?: string): Promise<Command> {
  const program = new Command('tpslab')
    .description('Stand up a transaction network, drive it with realistic load, and prove what it sustains.')
    .version(version())
    .option('--verbose', 'print stack traces with errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const only = COMMANDS.find(([name]) => name === command);
  const loaders = only ? [only[1]] : [...new Set(COMMANDS.map(([, load]) => load))];
  for (const register of await Promise.all(loaders.map((load) => load()))) register(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // The first word that is not an option names the command (the global options take no value);
  // anything else (help, an unknown word, none) gets every command.
  return runCli(await buildProgram(argv.slice(2).find((a) => !a.startsWith('-'))), argv);
}

const invoked = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invoked === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv);
}
