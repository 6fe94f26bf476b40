/**
 * The ledger-role entry (src/cli/role-main.ts) that `net up` and `net restart` start nodes, sequencers and
 * trackers through: the same commands and options as the full CLI, and the same error answers.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { buildRoleProgram } from '../../src/cli/role-main.js';

const ROLE_CLI = resolve(fileURLToPath(import.meta.url), '../../../src/cli/role-main.js');

function optionsOf(program: Command, name: string): string[] {
  const cmd = program.commands.find((c) => c.name() === name);
  assert.ok(cmd, `no command ${name}`);
  return cmd.options.map((o) => `${o.flags} = ${JSON.stringify(o.defaultValue)}`).sort();
}

test('the role entry offers node, sequencer and tracker with exactly the full CLI\'s options', async () => {
  const full = await buildProgram();
  const roles = buildRoleProgram();
  assert.deepEqual(roles.commands.map((c) => c.name()).sort(), ['node', 'sequencer', 'tracker']);
  for (const name of ['node', 'sequencer', 'tracker']) assert.deepEqual(optionsOf(roles, name), optionsOf(full, name), name);
});

test('the role entry answers a bad option and a missing --data like the full CLI (exit 2, coded message)', async () => {
  const run = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
    new Promise((res) => {
      const child = spawn(process.execPath, [ROLE_CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => res({ code, stderr }));
    });
  const bad = await run(['node', '--no-such-option']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option '--no-such-option'/);
  const noData = await run(['node', '--port', '0']);
  assert.equal(noData.code, 2);
  assert.match(noData.stderr, /TPSLAB_E_USAGE: tpslab node needs --data/);
});
