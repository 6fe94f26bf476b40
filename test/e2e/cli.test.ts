/**
 * The `tpslab` command line, run as a real process: help, usage errors and
 * their exit codes, key files, and `tx send` / `tx status` against a node.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readKeyFile } from '../../src/client/key-file.js';
import { isAddress } from '../../src/protocol/address.js';
import { NodeProcess, runCli, tempDir } from '../testkit/index.js';
import { account, status, waitCommitted } from './helpers.js';

/** A port on 127.0.0.1 that nothing listens on (bound once, then closed). */
function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const COMMITTED = /^committed ([0-9a-f]{64}) at height (\d+) index (\d+)$/m;

describe('tpslab CLI', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let node: NodeProcess;

  before(async () => {
    dir = await tempDir('tpslab-e2e-cli-');
    node = await NodeProcess.start(join(dir.path, 'node'));
  });

  after(async () => {
    await node?.kill('SIGKILL');
    await dir?.remove();
  });

  it('--help exits 0 and lists the commands', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const cmd of ['node', 'keys', 'tx', 'run']) assert.match(r.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), `${cmd} missing from:\n${r.stdout}`);
    const sub = await runCli(['tx', 'send', '--help']);
    assert.equal(sub.code, 0, sub.stderr);
    assert.match(sub.stdout, /--to <address>/);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('node --port 99999 exits 2 with TPSLAB_E_USAGE and creates nothing', async () => {
    const data = join(dir.path, 'x');
    const r = await runCli(['node', '--port', '99999', '--data', data]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /TPSLAB_E_USAGE/);
    assert.match(r.stderr, /--port must be an integer from 0 to 65535, got "99999"/);
    await assert.rejects(access(data), 'the data directory was created');
  });

  it('an unknown option, a missing required option or a bad amount exits 2', async () => {
    const unknown = await runCli(['node', '--data', join(dir.path, 'y'), '--bogus']);
    assert.equal(unknown.code, 2, unknown.stdout + unknown.stderr);
    assert.match(unknown.stderr, /unknown option '--bogus'/);
    const missing = await runCli(['tx', 'send', '--to', 'tps1x', '--amount', '1']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--key/);
    const amount = await runCli(['tx', 'send', '--key', 'k', '--to', 'tps1x', '--amount', '1.5']);
    assert.equal(amount.code, 2);
    assert.match(amount.stderr, /TPSLAB_E_USAGE.*--amount/);
    const cmd = await runCli(['frobnicate']);
    assert.equal(cmd.code, 2);
  });

  it('keys new --out writes a 0600 key file, prints its tps1 address, and never overwrites it', async () => {
    const file = join(dir.path, 'alice.key.json');
    const r = await runCli(['keys', 'new', '--out', file]);
    assert.equal(r.code, 0, r.stderr);
    const address = r.stdout.trim();
    assert.match(address, /^tps1[02-9ac-hj-np-z]+$/);
    assert.ok(isAddress(address));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const key = await readKeyFile(file);
    assert.equal(key.address, address);
    const content = await readFile(file, 'utf8');

    const again = await runCli(['keys', 'new', '--out', file]);
    assert.equal(again.code, 1, again.stdout + again.stderr);
    assert.match(again.stderr, /TPSLAB_E_KEY_FILE/);
    assert.match(again.stderr, /already exists/);
    assert.equal(await readFile(file, 'utf8'), content, 'the key file was changed');

    const toStdout = await runCli(['keys', 'new']);
    assert.equal(toStdout.code, 0);
    const j = JSON.parse(toStdout.stdout) as { type: string; address: string; seed: string };
    assert.equal(j.type, 'tpslab-ed25519');
    assert.ok(isAddress(j.address));
    assert.notEqual(j.address, address);
  });

  it('tx send commits a transfer from the faucet; tx status reports it', async () => {
    const to = (await runCli(['keys', 'new', '--out', join(dir.path, 'bob.key.json')])).stdout.trim();
    const faucet = (await node.faucetKey()).address;
    const before = await account(node.url, faucet);
    const r = await runCli(['tx', 'send', '--node', node.url, '--key', node.faucetKeyPath, '--to', to, '--amount', '25', '--fee', '2']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await account(node.url, faucet), { exists: true, balance: before.balance - 27n, nonce: before.nonce + 1n });
    const m = COMMITTED.exec(r.stdout);
    assert.ok(m, `unexpected output: ${r.stdout}`);
    const [, id, height, index] = m;
    assert.deepEqual(await status(node.url, id!), { id, status: 'committed', height: Number(height), index: Number(index) });
    assert.deepEqual(await account(node.url, to), { exists: true, balance: 25n, nonce: 0n });

    const s = await runCli(['tx', 'status', id!, '--node', node.url]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout.trim(), `committed ${id} at height ${height} index ${index}`);

    const unknown = await runCli(['tx', 'status', 'ab'.repeat(32), '--node', node.url]);
    assert.equal(unknown.code, 0, unknown.stderr);
    assert.equal(unknown.stdout.trim(), `unknown ${'ab'.repeat(32)}`);

    const bad = await runCli(['tx', 'status', 'nothex', '--node', node.url]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /TPSLAB_E_USAGE/);
  });

  it('tx send --no-wait returns pending at once; the transfer then commits', async () => {
    const to = (await runCli(['keys', 'new'])).stdout;
    const address = (JSON.parse(to) as { address: string }).address;
    const r = await runCli(['tx', 'send', '--node', node.url, '--key', node.faucetKeyPath, '--to', address, '--amount', '3', '--no-wait']);
    assert.equal(r.code, 0, r.stderr);
    const m = /^pending ([0-9a-f]{64})$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    await waitCommitted(node.url, [m[1]!]);
    assert.equal((await account(node.url, address)).balance, 3n);
  });

  it('tx send with an overspend exits 1 printing TPSLAB_E_INSUFFICIENT_FUNDS; nothing moves', async () => {
    const keyFile = join(dir.path, 'carol.key.json');
    const carol = (await runCli(['keys', 'new', '--out', keyFile])).stdout.trim();
    const funded = await runCli(['tx', 'send', '--node', node.url, '--key', node.faucetKeyPath, '--to', carol, '--amount', '10']);
    assert.equal(funded.code, 0, funded.stdout + funded.stderr);
    const to = (await runCli(['keys', 'new'])).stdout;
    const r = await runCli(['tx', 'send', '--node', node.url, '--key', keyFile, '--to', (JSON.parse(to) as { address: string }).address, '--amount', '11']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /error TPSLAB_E_INSUFFICIENT_FUNDS: .*holds 10/);
    assert.deepEqual(await account(node.url, carol), { exists: true, balance: 10n, nonce: 0n });
  });

  it('tx send with a bad --to or a missing key file exits 1 with its code', async () => {
    const badTo = await runCli(['tx', 'send', '--node', node.url, '--key', node.faucetKeyPath, '--to', 'tps1notanaddress', '--amount', '1']);
    assert.equal(badTo.code, 1, badTo.stdout + badTo.stderr);
    assert.match(badTo.stderr, /TPSLAB_E_BAD_ADDRESS.*--to/);
    const noKey = await runCli(['tx', 'send', '--node', node.url, '--key', join(dir.path, 'missing.key.json'), '--to', 'tps1x', '--amount', '1']);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /TPSLAB_E_KEY_FILE.*keys new/);
  });

  it('tx send to a dead URL exits 1 with TPSLAB_E_UNAVAILABLE and says how to fix it', async () => {
    const port = await deadPort();
    const to = (JSON.parse((await runCli(['keys', 'new'])).stdout) as { address: string }).address;
    const r = await runCli(['tx', 'send', '--node', `http://127.0.0.1:${port}`, '--key', node.faucetKeyPath, '--to', to, '--amount', '1'], 20_000);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /error TPSLAB_E_UNAVAILABLE: /);
    assert.match(r.stderr, new RegExp(`cannot reach the node at http://127\\.0\\.0\\.1:${port}`));
    assert.match(r.stderr, /is it running there\? check the URL/);
    const s = await runCli(['tx', 'status', 'ab'.repeat(32), '--node', `http://127.0.0.1:${port}`], 20_000);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /TPSLAB_E_UNAVAILABLE/);
  });
});
