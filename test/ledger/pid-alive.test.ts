// /proc/<pid>/stat is parsed in one place (procStat): the state letter and start time of a process, whatever its
// command name holds. isAlive, processStartOf and isSameProcess read it through there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAlive, isSameProcess, procStat, processStartOf } from '../../src/ledger/pid-alive.js';
import { tempDir, waitFor } from '../testkit/index.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  dir = await tempDir('tpslab-pid-alive-');
});
after(async () => {
  await dir?.remove();
});

test('procStat reads the state and start of a process whose name holds spaces and parentheses', async (t) => {
  if (procStat(process.pid) === undefined) return t.skip('no /proc here');
  // The command name is the executable's file name: a link to node named like the fields that follow it.
  const exe = join(dir.path, 'x) Z 1 (y');
  await symlink(process.execPath, exe);
  const child = spawn(exe, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.after(() => void child.kill('SIGKILL'));
  const pid = child.pid!;
  const s = await waitFor('the child to have started', () => procStat(pid), 10_000);
  assert.notEqual(s.state, 'Z');
  assert.match(s.start, /^\d+$/);
  assert.equal(processStartOf(pid), s.start);
  assert.equal(isAlive(pid), true);
  assert.equal(isSameProcess({ pid, pidStart: s.start }), true);
  assert.equal(isSameProcess({ pid, pidStart: `${s.start}0` }), false);
  child.kill('SIGSTOP');
  await waitFor('the child to be stopped (state T)', () => procStat(pid)?.state === 'T', 10_000);
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  assert.equal(procStat(pid), undefined, 'gone and reaped');
  assert.equal(isAlive(pid), false);
});
