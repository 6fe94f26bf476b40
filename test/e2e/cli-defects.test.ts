/**
 * Regression tests for small CLI defects a new user met: usage errors that
 * exited 1, a help text that allowed a zero amount, and process metrics
 * named with a doubled prefix.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeMetrics } from '../../src/ledger/node-metrics.js';
import { runCli } from '../testkit/index.js';

describe('small CLI defects', () => {
  it('tx status deadbeef exited 1; a malformed id is a usage error: exit 2 with TPSLAB_E_USAGE', async () => {
    const r = await runCli(['tx', 'status', 'deadbeef', '--node', 'http://127.0.0.1:9']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /TPSLAB_E_USAGE.*64 hex characters/);
  });

  it('--amount help allowed 0; now it says at least 1 and --amount 0 exits 2', async () => {
    const help = await runCli(['tx', 'send', '--help']);
    assert.match(help.stdout, /--amount <n>\s+amount to transfer, a whole number of at least 1/);
    const zero = await runCli(['tx', 'send', '--key', 'k', '--to', 'tps1x', '--amount', '0']);
    assert.equal(zero.code, 2, zero.stdout + zero.stderr);
    assert.match(zero.stderr, /TPSLAB_E_USAGE.*--amount must be a whole number from 1 to/);
  });

  it('process metrics were named tpslab_process_process_*; now prom-client standard names, one prefix at most', async () => {
    const names = (await createNodeMetrics('node').registry.getMetricsAsJSON()).map((m) => m.name);
    assert.ok(names.includes('process_cpu_seconds_total'), names.join(', '));
    assert.ok(names.includes('nodejs_eventloop_lag_seconds'), names.join(', '));
    assert.deepEqual(names.filter((n) => /process_process|tpslab_process_/.test(n)), []);
  });
});
