/**
 * Parses argv with a built program and turns errors into messages and exit codes. Shared by the
 * full CLI (main.ts) and the ledger-role entry (role-main.ts), so both answer errors alike.
 */
import { CommanderError, type Command } from 'commander';
import { asTpslabError } from '../errors.js';
import { EXIT } from './exit-codes.js';

/** With --json, an error is also a JSON object on stdout, so a script reading stdout sees it (docs/cli.md). */
function jsonError(argv: readonly string[], code: string, message: string): void {
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
}

export async function runCli(program: Command, argv: string[]): Promise<number> {
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
