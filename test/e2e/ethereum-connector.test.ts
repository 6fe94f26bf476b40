// The ethereum connector through `tpslab run`: the example scenario on its embedded EDR devnet
// (nothing else started), and a running devnet driven through rpc URLs with a root key file:
// the key never reaches results.db or the output, and a rerun with the same seed only tops up.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { parseDocument } from 'yaml';
import { startDevnet, type Devnet } from '../../src/connectors/ethereum/devnet.js';
import type { RunResult } from '../../src/harness/overseer.js';
import { runCli, tempDir } from '../testkit/index.js';

const EXAMPLES = resolve(fileURLToPath(import.meta.url), '../../../../scenarios/examples');

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-eth-e2e-');
});
after(async () => {
  await dir?.remove();
});

/** The example, with a short load and few wallets. */
async function shortened(example: string, edit: (doc: ReturnType<typeof parseDocument>) => void = () => {}): Promise<string> {
  const doc = parseDocument(await readFile(join(EXAMPLES, example), 'utf8'));
  doc.setIn(['accounts', 'count'], 20);
  doc.setIn(['load', 'stages'], [{ kind: 'constant', ratePerSec: 100, durationSec: 3 }]);
  doc.setIn(['beacons', 'count'], 1);
  edit(doc);
  const file = join(dir.path, `${Math.random().toString(36).slice(2)}-${example}`);
  await writeFile(file, doc.toString());
  return file;
}

test('the ethereum-transfer example runs on its embedded devnet, exits 0 and reconciles exactly', async () => {
  const text = await readFile(join(EXAMPLES, 'ethereum-transfer.yaml'), 'utf8');
  assert.match(text, /npx tpslab run scenarios\/examples\/ethereum-transfer\.yaml/);
  const file = await shortened('ethereum-transfer.yaml');
  const r = await runCli(['run', file, '--results', join(dir.path, 'results.db'), '--no-ui', '--no-report', '--json'], 180_000);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as RunResult;
  assert.equal(result.summary.sent, 300);
  assert.equal(result.summary.committed, 300);
  assert.equal(result.summary.connector?.kind, 'ethereum');
  assert.equal(result.summary.connector?.reconciled, true);
  assert.equal(result.summary.reconciliation?.missing, 0);
  assert.equal(result.summary.reconciliation?.unexpected, 0);
});

async function balanceOf(url: string, address: string): Promise<bigint> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: [address, 'latest'] }) });
  return BigInt(((await res.json()) as { result: string }).result);
}

test('the ethereum-erc20 example deploys its token, runs with nothing else started, exits 0 and reconciles exactly', async () => {
  const file = await shortened('ethereum-erc20.yaml');
  const db = join(dir.path, 'erc20.db');
  const r = await runCli(['run', file, '--results', db, '--no-ui', '--no-report', '--json'], 180_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /deployed TpslabToken \(solc 0\.8\.28/);
  const result = JSON.parse(r.stdout) as RunResult;
  assert.equal(result.summary.committed, 300);
  assert.equal(result.summary.failed, 0);
  assert.equal(result.summary.reconciliation?.missing, 0);
  assert.equal(result.summary.reconciliation?.unexpected, 0);
  // The report's node table carries the gas the run's blocks used.
  const report = await runCli(['report', result.runId, '--db', db, '--json'], 30_000);
  assert.equal(report.code, 0, report.stderr);
  const stats = (JSON.parse(report.stdout) as { nodes: { stats?: { runTxs?: number; runGasUsed?: number } }[] }).nodes[0]?.stats;
  assert.equal(stats?.runTxs, 300);
  assert.ok((stats?.runGasUsed ?? 0) >= 300 * 21_000, `gas used ${stats?.runGasUsed}`);
});

let devnet: Devnet | undefined;
after(async () => {
  await devnet?.stop();
});

test('a running node through rpc and a root key file: the key is never stored or printed, and a rerun only tops wallets up', async () => {
  const key = generatePrivateKey();
  devnet = await startDevnet({ root: privateKeyToAddress(key), chainId: 1337, blockTimeMs: 200 });
  await writeFile(join(dir.path, 'root.key'), `${key}\n`, { mode: 0o600 });
  const file = await shortened('ethereum-transfer.yaml', (doc) => {
    doc.setIn(['target'], doc.createNode({ kind: 'ethereum', rpc: [devnet!.url], rootKeyFile: 'root.key', chainId: 1337, fees: { type: 'legacy' } }));
  });
  const db = join(dir.path, 'rpc.db');
  const first = await runCli(['run', file, '--results', db, '--no-ui', '--no-report'], 180_000);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout + first.stderr, /funding 20 of 20 wallets/);
  const rootBefore = await balanceOf(devnet.url, privateKeyToAddress(key));
  const second = await runCli(['run', file, '--results', db, '--no-ui', '--no-report'], 180_000);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout + second.stderr, /funding \d+ of 20 wallets|all 20 wallets already hold/);
  const spent = rootBefore - (await balanceOf(devnet.url, privateKeyToAddress(key)));
  const fundAll = 20n * 10n ** 17n; // 20 wallets x the default fundWei
  assert.ok(spent < fundAll / 10n, `the rerun topped up what the first run spent (${spent} wei), not a fresh funding (${fundAll} wei)`);
  const bare = key.slice(2).toLowerCase();
  for (const out of [first.stdout, first.stderr, second.stdout, second.stderr]) assert.ok(!out.toLowerCase().includes(bare), 'the root key is not printed');
  const stored = (await readFile(db)).toString('latin1').toLowerCase();
  assert.ok(!stored.includes(bare), 'the root key is not in results.db');
  assert.ok(stored.includes('root.key'), 'the key file name is (the scenario is stored)');
});

test('a node that drops pending transactions mid-run: the dropped ones are sent again, nothing is lost, the run reconciles', async () => {
  const key = generatePrivateKey();
  const lossy = await startDevnet({ root: privateKeyToAddress(key), chainId: 1338, blockTimeMs: 1000 });
  try {
    await writeFile(join(dir.path, 'lossy.key'), key, { mode: 0o600 });
    const file = await shortened('ethereum-transfer.yaml', (doc) => {
      doc.setIn(['target'], doc.createNode({ kind: 'ethereum', rpc: [lossy.url], rootKeyFile: 'lossy.key', stuckAfterMs: 500 }));
      doc.setIn(['load', 'stages'], [{ kind: 'constant', ratePerSec: 50, durationSec: 4 }]);
    });
    const rpcCall = async <T>(method: string, params: unknown[]): Promise<T> => {
      const res = await fetch(lossy.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
      return ((await res.json()) as { result: T }).result;
    };
    const running = runCli(['run', file, '--results', join(dir.path, 'lossy.db'), '--no-ui', '--no-report', '--json'], 180_000);
    // While it runs: drop the first pending transaction of the run's wallets, a few times (bounded).
    let dropped = 0;
    const rootAddress = privateKeyToAddress(key).toLowerCase();
    for (let round = 0; round < 100 && dropped < 5; round++) {
      await new Promise((r) => setTimeout(r, 100));
      const pending = (await rpcCall<{ hash: string; from: string }[]>('eth_pendingTransactions', []).catch(() => [])) ?? [];
      const victim = pending.find((t) => t.from.toLowerCase() !== rootAddress);
      if (victim && (await rpcCall<boolean>('hardhat_dropTransaction', [victim.hash]))) dropped++;
    }
    const r = await running;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(dropped > 0, 'the node dropped some of the run\'s transactions');
    assert.match(r.stderr + r.stdout, /the node no longer has 0x[0-9a-f]{64} .* sent the same bytes again/);
    const result = JSON.parse(r.stdout) as RunResult;
    assert.equal(result.summary.sent, 200);
    assert.equal(result.summary.committed, 200);
    assert.equal(result.summary.lost, 0);
    assert.equal(result.summary.reconciliation?.missing, 0);
    assert.equal(result.summary.reconciliation?.unexpected, 0);
  } finally {
    await lossy.stop();
  }
});
