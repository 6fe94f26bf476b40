/**
 * A transaction index found damaged while a node serves (a run's block no longer matches its CRC). The
 * lookups that meet it sit in the node's hot paths: the block cut threw from its timer (the process died
 * with a stack), the node stayed up answering 500s otherwise. Now the node prints the coded error, stops
 * and exits 1, and started again it rebuilds the index from the block log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { damageEntry, runFiles } from '../ledger/tx-index-fixture.js';
import { NodeProcess, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import { getJson, hex, postJsonTx, status, transfer, type HeadBody } from './helpers.js';

test('a damaged index block met while serving ends the node with TPSLAB_E_DATA_DIR (exit 1, no stack), and its restart rebuilds the index', async (t) => {
  const dir = await tempDir('tpslab-e2e-index-damaged-');
  let node: NodeProcess | undefined;
  t.after(async () => {
    await node?.kill('SIGKILL');
    await dir.remove();
  });
  node = await NodeProcess.start(dir.path, ['--block-interval-ms', '1']);
  const faucet = await node.faucetKey();
  const network = (await getJson<HeadBody>(node.url, '/v1/head')).network;
  const [to] = testAccounts('index-damaged', 1);
  const txs = [0n, 1n, 2n].map((n) => transfer(faucet, to!, 1n, n, network));
  for (const tx of txs) assert.equal((await postJsonTx(node.url, tx, true)).status, 200);
  await node.stop(); // flushes the index: its runs are named by the manifest
  const indexDir = join(dir.path, 'txindex');
  const runs = await runFiles(indexDir);
  assert.ok(runs.length > 0);
  for (const run of runs) await damageEntry(join(indexDir, run), 0); // a few entries each: all in the first block

  node = await NodeProcess.start(dir.path, ['--block-interval-ms', '1']); // with fsync, blocks are checked when first read
  let exitCode: number | null | undefined;
  node.child!.once('close', (code) => (exitCode = code));
  // Sent again: its nonce is used, so admission asks the index whether it is committed and reads the damaged block.
  await postJsonTx(node.url, txs[0]!).catch(() => undefined); // answered TPSLAB_E_DATA_DIR, or cut off by the exit
  await waitFor('the node to exit', () => exitCode !== undefined, 30_000);
  const output = node.output;
  assert.equal(exitCode, 1, output);
  assert.match(output, /error TPSLAB_E_DATA_DIR: the transaction index in .*txindex is damaged .*delete .*txindex .*start it again: it rebuilds the index from the block log/);
  assert.doesNotMatch(output, /^\s+at /m, `no stack:\n${output}`);

  node = await NodeProcess.start(dir.path, ['--block-interval-ms', '1']);
  for (const tx of txs) assert.equal((await status(node.url, hex(tx))).status, 'committed');
});
