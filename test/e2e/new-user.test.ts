/**
 * What a new user met, as real `tpslab` processes: busy ports, trace files found bad only after
 * the network was up, errors invisible to a script reading stdout under --json.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { progressWriter } from '../../src/cli/progress.js';
import { runCli, tempDir } from '../testkit/index.js';

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });
}

describe('what a new user met', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let busy: { server: Server; port: number };

  before(async () => {
    dir = await tempDir('tpslab-e2e-new-user-');
    busy = await listen();
  });

  after(async () => {
    await new Promise<void>((r) => busy.server.close(() => r()));
    await dir.remove();
  });

  it('regression: run --ui-port BUSY printed TPSLAB_E_INTERNAL instead of a usage error', async () => {
    const db = join(dir.path, 'ui.db');
    const r = await runCli(['run', '--ui-port', String(busy.port), '--results', db, '--no-report']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error TPSLAB_E_USAGE: port \d+ on 127\.0\.0\.1 is already in use by another process; choose another with --ui-port <n>, or --ui-port 0/);
    assert.doesNotMatch(r.stderr, /INTERNAL/);
    assert.equal(existsSync(db), false, 'nothing started, nothing stored');
  });

  it('regression: explorer --port BUSY printed TPSLAB_E_INTERNAL instead of a usage error', async () => {
    const r = await runCli(['explorer', '--port', String(busy.port), '--node', 'http://127.0.0.1:1']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error TPSLAB_E_USAGE: port \d+ on 127\.0\.0\.1 is already in use.*--port 0/);
  });

  for (const [what, csv] of [['missing', undefined], ['unsorted', 'offset_ms\n0\n50\n10\n']] as const) {
    it(`regression: a ${what} trace CSV was reported after the network was up and the accounts funded`, async () => {
      const trace = join(dir.path, `${what}.csv`);
      if (csv !== undefined) await writeFile(trace, csv);
      const scenario = join(dir.path, `${what}.yaml`);
      await writeFile(scenario, `name: ${what}\naccounts: { count: 10 }\nload:\n  mode: trace\n  trace: { file: ${what}.csv, column: offset_ms }\nresults: { db: ${what}.db }\n`);
      const r = await runCli(['run', scenario, '--no-ui', '--no-report'], 30_000, dir.path);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, what === 'missing' ? /error TPSLAB_E_TRACE: cannot read trace file .*missing\.csv/ : /error TPSLAB_E_TRACE: .*non-decreasing/);
      assert.doesNotMatch(r.stderr, /funding|network|run \S+ \(/, 'nothing started before the check');
      assert.equal(existsSync(join(dir.path, `${what}.db`)), false, 'no run recorded');
    });
  }

  it('regression: with --json, errors went only to stderr', async () => {
    const missing = join(dir.path, 'absent.db');
    const r = await runCli(['report', 'latest', '--db', missing, '--json']);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(out.error.code, 'TPSLAB_E_STORE');
    assert.match(out.error.message, /absent\.db/);
    assert.match(r.stderr, /error TPSLAB_E_STORE/);
    const usage = await runCli(['report', '--json', '--no-such-flag']);
    assert.equal(usage.code, 2);
    assert.equal((JSON.parse(usage.stdout) as { error: { code: string } }).error.code, 'TPSLAB_E_USAGE');
  });

  it('regression: progress printed every 5 s when not on a terminal though docs say every second', () => {
    const lines: string[] = [];
    const write = progressWriter({ isTTY: false, write: (t) => void lines.push(t) });
    for (let i = 1; i <= 3; i++) write(`t=${i}s`);
    assert.deepEqual(lines, ['t=1s\n', 't=2s\n', 't=3s\n']);
    const tty: string[] = [];
    progressWriter({ isTTY: true, write: (t) => void tty.push(t) })('t=1s');
    assert.deepEqual(tty, ['\r\x1b[Kt=1s']);
    const quiet: string[] = [];
    progressWriter({ isTTY: false, write: (t) => void quiet.push(t) }, { quiet: true })('t=1s');
    assert.deepEqual(quiet, []);
  });
});
