#!/usr/bin/env node
/**
 * `tpslab node`, `tpslab sequencer` and `tpslab tracker` without loading the rest of the CLI (harness,
 * web, datasets, connectors): `net up` and `net restart` start their roles through this entry, so a
 * restarted node loads only what it runs. The commands, options and error answers are main.ts's own
 * (the same register functions and runCli); `tpslab <role>` through main.ts behaves the same, only
 * starts slower. Measured in bench/README.md (node-restart).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerNode } from './node.js';
import { registerTracker } from './tracker.js';
import { runCli } from './run-cli.js';

export function buildRoleProgram(): Command {
  const program = new Command('tpslab').option('--verbose', 'print stack traces with errors').showHelpAfterError('(run with --help for usage)').exitOverride();
  registerNode(program);
  registerTracker(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

const invoked = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invoked === fileURLToPath(import.meta.url)) {
  process.exitCode = await runCli(buildRoleProgram(), process.argv);
}
