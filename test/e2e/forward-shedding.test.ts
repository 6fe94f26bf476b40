/**
 * Regression: under overload the ramp-knee run saw 12,000 TPSLAB_E_UNAVAILABLE (timeouts) where
 * 429s were due — a node queued every submission for a sequencer that was behind, and each
 * timed out after 5 s. Now a node holds at most --max-forward-pending transactions for the
 * sequencer and sheds the rest at once with 429 TPSLAB_E_MEMPOOL_FULL and Retry-After.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeBatch } from '../../src/protocol/batch.js';
import { netUp, stopProcesses, type NetworkFile } from '../../src/ledger/net.js';
import { keyPairFromLabel } from '../../src/protocol/signing.js';
import { NodeProcess, tempDir, waitFor } from '../testkit/index.js';
import { transfer, type BatchBody } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let net: NetworkFile;
let node: NodeProcess;

before(async () => {
  dir = await tempDir('tpslab-e2e-forward-');
  net = await netUp({ dir: dir.path, nodes: 1 });
  node = await NodeProcess.start(`${dir.path}/extra`, ['--sequencer', net.sequencer.url, '--genesis', net.genesis, '--max-forward-pending', '50']);
});

after(async () => {
  try {
    process.kill(net.sequencer.pid, 'SIGCONT');
  } catch {
    // already gone
  }
  await node?.kill('SIGKILL');
  await stopProcesses(net.nodes);
  await stopProcesses([net.sequencer, net.tracker]);
  await dir?.remove();
});

const batch = (label: string, n: number): Buffer => {
  const from = keyPairFromLabel(label);
  const to = keyPairFromLabel(`${label}-to`);
  return encodeBatch(Array.from({ length: n }, (_, i) => transfer(from, to, 1n, BigInt(i), net.network).bytes));
};

test('regression: a node queued work for a sequencer that was behind until it timed out as UNAVAILABLE; now it sheds with 429 at once', async () => {
  process.kill(net.sequencer.pid, 'SIGSTOP');
  // Four batches of 40 while the sequencer is frozen: 50 may wait for it, the rest must be shed now.
  const answers = await Promise.all(
    [0, 1, 2, 3].map(async (k) => {
      const res = await fetch(`${node.url}/v1/txs`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: batch(`shed-${k}`, 40), signal: AbortSignal.timeout(30_000) });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as BatchBody };
    }),
  );
  const codes = answers.flatMap((a) => a.body.results.map((r) => r.error?.code ?? 'accepted'));
  const shed = codes.filter((c) => c === 'TPSLAB_E_MEMPOOL_FULL').length;
  assert.ok(shed >= 160 - 50 - 40, `at least ${160 - 90} shed with MEMPOOL_FULL (codes: ${JSON.stringify(count(codes))})`);
  const full = answers.filter((a) => a.body.results.some((r) => r.error?.code === 'TPSLAB_E_MEMPOOL_FULL'));
  assert.ok(full.every((a) => a.status === 429 && a.retryAfter !== null), 'every shedding answer is 429 with Retry-After');

  process.kill(net.sequencer.pid, 'SIGCONT');
  // Once the sequencer answers again, the node forwards new work: the sequencer's own verdict comes
  // back (these senders were never funded: TPSLAB_E_UNKNOWN_ACCOUNT), not a shed or a timeout.
  let last = '';
  await waitFor('a fresh batch judged by the sequencer after it resumed', async () => {
    const res = await fetch(`${node.url}/v1/txs`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: batch(`fresh-${Date.now()}`, 1) });
    const b = (await res.json()) as BatchBody;
    last = `${res.status} ${JSON.stringify(b)}`;
    return res.status === 200 && b.results[0]?.error?.code === 'TPSLAB_E_UNKNOWN_ACCOUNT';
  }, 20_000, 200).catch((err: Error) => assert.fail(`${err.message}; last answer ${last}`));
});

function count(codes: string[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const c of codes) m[c] = (m[c] ?? 0) + 1;
  return m;
}
