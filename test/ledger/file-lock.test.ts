// The network.json lock across processes (file-lock.ts), and signals that go only to the process net up
// recorded: a pid reused since by another process is neither stopped nor counted as the role.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fsp, { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { fileLockTestHooks, withFileLock } from '../../src/ledger/file-lock.js';
import { isSameProcess, processStartOf } from '../../src/ledger/pid-alive.js';
import { netDown, stopProcesses, type NetworkFile, type RoleProcess } from '../../src/ledger/net.js';
import { TpslabError } from '../../src/errors.js';
import { tempDir } from '../testkit/index.js';

const NET_MODULE = resolve(fileURLToPath(import.meta.url), '../../../src/ledger/net.js');
const LOCK_MODULE = resolve(fileURLToPath(import.meta.url), '../../../src/ledger/file-lock.js');

let dir: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  dir = await tempDir('tpslab-file-lock-');
});
after(async () => {
  await dir?.remove();
});

/** A child process that takes the network.json lock of `netDir` `rounds` times and, holding it, appends "<tag> in", waits, appends "<tag> out". */
function locker(tag: string, rounds: number, netDir: string, log: string): Promise<number | null> {
  const code = `
    import { appendFileSync } from 'node:fs';
    const { withNetworkFile } = await import(${JSON.stringify(NET_MODULE)});
    for (let i = 0; i < ${rounds}; i++) {
      await withNetworkFile(${JSON.stringify(netDir)}, async () => {
        appendFileSync(${JSON.stringify(log)}, '${tag} in\\n');
        await new Promise((r) => setTimeout(r, 15));
        appendFileSync(${JSON.stringify(log)}, '${tag} out\\n');
      });
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'inherit', 'inherit'] });
  return new Promise((r) => child.on('close', r));
}

/** A live process that is not ours to signal (stands for a pid reused after a role exited). */
function bystander(): { pid: number; alive: () => boolean; stop: () => void } {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => (exited = true));
  return { pid: child.pid!, alive: () => !exited, stop: () => void child.kill('SIGKILL') };
}

test('regression: the network.json lock held within one process only; now three processes updating together never overlap', async () => {
  const log = join(dir.path, 'order.log');
  await writeFile(log, '');
  const codes = await Promise.all(['a', 'b', 'c'].map((tag) => locker(tag, 8, dir.path, log)));
  assert.deepEqual(codes, [0, 0, 0]);
  const lines = (await readFile(log, 'utf8')).trim().split('\n');
  assert.equal(lines.length, 3 * 8 * 2);
  for (let i = 0; i < lines.length; i += 2) {
    const tag = lines[i]!.split(' ')[0];
    assert.deepEqual([lines[i], lines[i + 1]], [`${tag} in`, `${tag} out`], `overlap at line ${i + 1}: ${lines.slice(i, i + 3).join(' | ')}`);
  }
});

test('a lock left by a process that is gone, or by a pid now naming another process, is taken over; a live holder is waited for', async () => {
  const lock = join(dir.path, 'stale.lock');
  // The holder died: its pid is free (a process that ran and exited).
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.on('close', r));
  await writeFile(lock, `${gone.pid} 12345\n`);
  assert.equal(await withFileLock(lock, async () => 'taken', 2000), 'taken');
  // Its pid was reused: a live process, but not the one that started at the recorded time.
  await writeFile(lock, `${process.pid} 1\n`);
  assert.equal(await withFileLock(lock, async () => 'taken', 2000), 'taken');
  // A live holder (this process, as recorded): waited for, then a clear error naming it.
  await writeFile(lock, `${process.pid} ${processStartOf(process.pid) ?? '-'}\n`);
  await assert.rejects(withFileLock(lock, async () => 'taken', 200), (err: unknown) => {
    assert.ok(err instanceof TpslabError && err.code === 'TPSLAB_E_TIMEOUT');
    assert.match(err.message, new RegExp(`stale\\.lock stayed locked for 200 ms \\(held by pid ${process.pid}\\)`));
    return true;
  });
  assert.equal(await readFile(lock, 'utf8'), `${process.pid} ${processStartOf(process.pid) ?? '-'}\n`, 'a live holder\'s lock is left alone');
});

test('regression: two waiters taking over one stale lock could both hold it; now one takes it over and the other waits for it', async () => {
  const lock = join(dir.path, 'takeover.lock');
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.on('close', r));
  await writeFile(lock, `${gone.pid} 12345\n`);
  // The first waiter to remove the stale file is held up 50 ms just before: the other one, had it also found
  // the file stale, would remove it, take the lock, and then have it removed from under it.
  let calls = 0;
  fileLockTestHooks.beforeStaleRemove = async () => {
    if (calls++ === 0) await new Promise((r) => setTimeout(r, 50));
  };
  let holders = 0;
  let most = 0;
  const hold = async (): Promise<void> => {
    most = Math.max(most, ++holders);
    await new Promise((r) => setTimeout(r, 200));
    holders--;
  };
  try {
    await Promise.all([withFileLock(lock, hold, 5000), withFileLock(lock, hold, 5000)]);
  } finally {
    delete fileLockTestHooks.beforeStaleRemove;
  }
  assert.equal(most, 1, 'both waiters held the lock at once');
  assert.equal(calls, 1, 'the stale file was removed once');
});

/**
 * A child process that takes the lock at `lock` (a stale one: it takes it over) after `setup`, a module body
 * with `hooks` (fileLockTestHooks), `log` (appends a line) and `sleep` in scope; holding it `holdMs`, it
 * appends "<tag> in" and "<tag> out". Resolves with its exit code and signal.
 */
function taker(tag: string, lock: string, log: string, holdMs: number, setup = ''): Promise<[number | null, NodeJS.Signals | null]> {
  const code = `
    import { appendFileSync } from 'node:fs';
    const { withFileLock, fileLockTestHooks: hooks } = await import(${JSON.stringify(LOCK_MODULE)});
    const log = (line) => appendFileSync(${JSON.stringify(log)}, line + '\\n');
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    ${setup}
    await withFileLock(${JSON.stringify(lock)}, async () => {
      log('${tag} in');
      await sleep(${holdMs});
      log('${tag} out');
    }, 30000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'inherit', 'inherit'] });
  return new Promise((r) => child.on('close', (c, sig) => r([c, sig])));
}

test('regression: a waiter that died holding the takeover guard let two waiters both remove it, and both then held the lock; now one claims and removes that guard', async () => {
  const lock = join(dir.path, 'dead-guard.lock');
  const log = join(dir.path, 'dead-guard.log');
  await writeFile(log, '');
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.on('close', r));
  await writeFile(lock, `${gone.pid} 12345\n`);
  // A waiter dies holding the guard, just before it would remove the stale lock.
  const [, signal] = await taker('k', lock, log, 0, "hooks.beforeStaleRemove = async () => { process.kill(process.pid, 'SIGKILL'); await sleep(60000); };");
  assert.equal(signal, 'SIGKILL');
  const guard = `${lock}.takeover`;
  const longAgo = new Date(Date.now() - 60_000);
  await utimes(guard, longAgo, longAgo); // stale by any rule: its owner is gone, and it is old
  // w3 finds the guard dead and is held up just before removing it; meanwhile w2 removes it, takes the guard
  // anew and is held up inside it, just before removing the stale lock. Had w3 then removed w2's guard, it would
  // take the guard too, take over the lock and hold it, and w2 would remove that live lock and take it as well.
  const w3 = taker('w3', lock, log, 3000, "hooks.beforeDeadGuardRemove = async () => { log('w3 guard dead'); await sleep(2000); };");
  for (let i = 0; !(await readFile(log, 'utf8')).includes('w3 guard dead'); i++) {
    assert.ok(i < 1500, 'w3 found the dead guard within 30 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const w2 = taker('w2', lock, log, 3000, 'hooks.beforeStaleRemove = () => sleep(2500);');
  assert.deepEqual(await Promise.all([w2, w3]), [[0, null], [0, null]]);
  const lines = (await readFile(log, 'utf8')).trim().split('\n').filter((l) => / (in|out)$/.test(l));
  assert.equal(lines.length, 4, lines.join(' | '));
  for (let i = 0; i < lines.length; i += 2) {
    const tag = lines[i]!.split(' ')[0];
    assert.deepEqual([lines[i], lines[i + 1]], [`${tag} in`, `${tag} out`], `both held the lock at once: ${lines.join(' | ')}`);
  }
});

test('regression: kill and stop signalled the pid in network.json even when another process had reused it; now only the process recorded is signalled', async (t) => {
  const other = bystander();
  t.after(other.stop);
  const start = processStartOf(other.pid);
  if (start === undefined) return t.skip('no /proc: start times cannot be read here');
  assert.equal(isSameProcess({ pid: other.pid, pidStart: start }), true);
  assert.equal(isSameProcess({ pid: other.pid, pidStart: `${start}0` }), false);
  // A role recorded with this pid but another start time: the process that has the pid now is not it.
  const role: RoleProcess = { id: 'node1', role: 'replica', url: 'http://127.0.0.1:9', pid: other.pid, pidStart: `${start}0`, dataDir: dir.path, logFile: join(dir.path, 'node1.log'), args: [] };
  await stopProcesses([role], 200);
  const net: NetworkFile = { version: 1, network: 'n', dir: dir.path, genesis: '', faucetKey: '', startedAtMs: 0, tracker: { ...role, id: 'tracker', role: 'tracker' }, sequencer: { ...role, id: 'seq', role: 'sequencer' }, nodes: [role] };
  await writeFile(join(dir.path, 'network.json'), JSON.stringify(net));
  assert.deepEqual(await netDown(dir.path), [], 'no role counted live');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(other.alive(), true, 'the process that reused the pid was not signalled');
  // The same record with the right start time is that process: stopped.
  await stopProcesses([{ ...role, pidStart: start }], 2000);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(other.alive(), false);
});

test('regression: a file system without hard links failed a takeover with a raw errno (EPERM); now a TPSLAB_E_DATA_DIR error names the directory and says it needs hard links', async (t) => {
  const lock = join(dir.path, 'no-links.lock');
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.on('close', r));
  await writeFile(lock, `${gone.pid} 12345\n`); // stale: its takeover links the guard into place
  for (const code of ['EPERM', 'ENOTSUP', 'EXDEV']) {
    // What link() answers on such a file system (FAT, some network shares), injected into the module's binding.
    t.mock.method(fsp, 'link', async () => {
      throw Object.assign(new Error(`${code}: operation not permitted, link`), { code });
    });
    syncBuiltinESMExports();
    try {
      await assert.rejects(withFileLock(lock, async () => 'taken', 2000), (err: unknown) => {
        assert.ok(err instanceof TpslabError && err.code === 'TPSLAB_E_DATA_DIR', String(err));
        assert.match(err.message, new RegExp(`cannot hard-link .* \\(${code}\\): a stale lock in ${dir.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is taken over with hard links`));
        return true;
      });
    } finally {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    }
  }
  assert.equal(await withFileLock(lock, async () => 'taken', 2000), 'taken', 'with hard links the same lock is taken over');
});

test('a takeover sweeps the guard\'s temporary files left by dead waiters; a timeout names the claim files left, not a glob', async () => {
  const lock = join(dir.path, 'sweep.lock');
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.on('close', r));
  const deadTmp = `${lock}.takeover.${gone.pid}-0badc0de`;
  const liveTmp = `${lock}.takeover.${process.pid}-0badc0de`; // a live waiter's: left alone
  await writeFile(deadTmp, `${gone.pid} 12345\n`);
  await writeFile(liveTmp, ownerLine());
  await writeFile(lock, `${gone.pid} 12345\n`);
  assert.equal(await withFileLock(lock, async () => 'taken', 2000), 'taken');
  assert.deepEqual((await readdir(dir.path)).filter((n) => n.startsWith('sweep.lock')).sort(), ['sweep.lock.takeover.' + `${process.pid}-0badc0de`]);

  // A live holder, and a claim file a remover left when it died: the timeout names that file.
  const claim = `${lock}.takeover.gone-${gone.pid}-12345`;
  await writeFile(claim, `${gone.pid} 12345\n`);
  await writeFile(lock, ownerLine());
  await assert.rejects(withFileLock(lock, async () => 'taken', 100), (err: unknown) => {
    assert.ok(err instanceof TpslabError && err.code === 'TPSLAB_E_TIMEOUT');
    assert.ok(err.message.endsWith(`remove the file and ${claim}`), err.message);
    return true;
  });
});

function ownerLine(): string {
  return `${process.pid} ${processStartOf(process.pid) ?? '-'}\n`;
}
