// The CLI loads only the module of the command it runs (a node process does not load every
// connector): the program built for one command must hold that command exactly as the whole
// program does, options and subcommands alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { runCli } from '../testkit/index.js';

/** A command's shape: its name, description, options (flags and description) and subcommands. */
const shape = (c: Command): unknown => ({ name: c.name(), description: c.description(), options: c.options.map((o) => `${o.flags} ${o.description}`), commands: c.commands.map(shape) });

test('each command built alone is the command of the whole program: same options, same subcommands', async () => {
  const whole = await buildProgram();
  assert.ok(whole.commands.length >= 19, `${whole.commands.length} commands`);
  for (const cmd of whole.commands) {
    const alone = (await buildProgram(cmd.name())).commands.find((c) => c.name() === cmd.name());
    assert.ok(alone, `tpslab ${cmd.name()} is registered when it is the command run`);
    assert.deepEqual(shape(alone), shape(cmd), `tpslab ${cmd.name()}`);
  }
});

test('an unknown command still gets the whole program: the usage error names the commands', async () => {
  const r = await runCli(['nodes']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /unknown command 'nodes'/);
  assert.match(r.stderr, /Did you mean node\?/);
});
