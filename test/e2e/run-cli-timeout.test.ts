// The testkit's runCli() on timeout kills the processes under the CLI, not just the CLI: a test whose
// `tpslab run` hung (kill-restart-e2e before its fix) left that run's network running, loading the
// shared machine for every test after it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAlive } from '../../src/ledger/net.js';
import { runCli, tempDir, TimeoutError, waitFor } from '../testkit/index.js';
import { cmdline } from '../testkit/proc-rss.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-run-cli-timeout-');
});
after(async () => {
  await dir.remove();
});

/** Live processes whose command line names `text`. */
function processesNaming(text: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (cmdline(pid).includes(text) && isAlive(pid)) out.push(pid);
  }
  return out;
}

describe('runCli', () => {
  it('on timeout kills the CLI and every process under it (a hung run left its network running)', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
    const net = join(dir.path, 'net');
    // `net up` stays in the foreground with its tracker, sequencer and node as children: it never finishes.
    const hung = runCli(['net', 'up', '--nodes', '1', '--dir', net], 20_000).then(() => undefined, (e: unknown) => e);
    await waitFor('the network to be up', () => {
      try {
        return readFileSync(join(net, 'network.json'), 'utf8').length > 0;
      } catch {
        return false;
      }
    }, 18_000, 100);
    assert.equal(processesNaming(net).length, 4, 'the CLI, and the tracker, the sequencer and the node under it');
    const err = await hung;
    assert.ok(err instanceof TimeoutError, String(err));
    assert.match(err.message, /killed with 3 processes under it/);
    // SIGKILL is delivered at once, but a killed process lingers in /proc for a moment.
    await waitFor('the tracker, sequencer and node to be gone', () => processesNaming(net).length === 0, 5000);
  });
});
