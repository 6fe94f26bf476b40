/**
 * Regression: when a node stopped with a fatal error, every client waiting with `?wait=commit` was told
 * `409 failed` with the fatal error's code, even for transactions that then committed (held by the
 * sequencer, or in a block already sealed). Now they are told `503 TPSLAB_E_UNAVAILABLE`: the outcome is
 * unknown there. Real processes: a sequencer and a node whose transaction index is damaged; a status
 * lookup that reads the damaged block stops the node (TPSLAB_E_DATA_DIR) while a client waits.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readKeyFile } from '../../src/client/key-file.js';
import { TpslabError } from '../../src/errors.js';
import { ensureDevGenesis } from '../../src/ledger/dev-genesis.js';
import { loadGenesis } from '../../src/ledger/genesis.js';
import { serveLedger } from '../../src/ledger/node.js';
import { Replica } from '../../src/ledger/replica.js';
import { txToJson } from '../../src/protocol/json.js';
import { damageEntry, runFiles } from '../ledger/tx-index-fixture.js';
import { NodeProcess, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import { getJson, hex, http, postJsonTx, startSequencer, status, transfer, waitCommitted, type HeadBody } from './helpers.js';

test('regression: a node that stopped with a fatal error told waiting clients "failed" for a transaction that then committed; now the answer is 503 UNAVAILABLE (outcome unknown)', async (t) => {
  const dir = await tempDir('tpslab-e2e-fatal-waiters-');
  const dev = await ensureDevGenesis(join(dir.path, 'net'));
  const sequencer = await startSequencer(join(dir.path, 'seq'), dev.genesisPath);
  const nodeDir = join(dir.path, 'node');
  const args = ['--sequencer', sequencer.url, '--genesis', dev.genesisPath];
  let node: NodeProcess | undefined;
  t.after(async () => {
    await node?.kill('SIGKILL');
    sequencer.cli.child.kill('SIGKILL');
    await dir.remove();
  });
  node = await NodeProcess.start(nodeDir, args);
  const faucet = await readKeyFile(dev.faucetKeyPath);
  const network = (await getJson<HeadBody>(node.url, '/v1/head')).network;
  const [to] = testAccounts('fatal-waiters', 1);
  const committed = [0n, 1n, 2n].map((n) => transfer(faucet, to!, 1n, n, network));
  for (const tx of committed) assert.equal((await postJsonTx(node.url, tx, true)).status, 200);
  await node.stop(); // flushes the node's index into run files
  const indexDir = join(nodeDir, 'txindex');
  const runs = await runFiles(indexDir);
  assert.ok(runs.length > 0);
  for (const run of runs) await damageEntry(join(indexDir, run), 0);
  node = await NodeProcess.start(nodeDir, args);
  let exitCode: number | null | undefined;
  node.child!.once('close', (code) => (exitCode = code));

  // Nonce 4 while 3 is unused: the sequencer holds it until nonce 3 arrives.
  const held = transfer(faucet, to!, 1n, 4n, network);
  const waiting = postJsonTx(node.url, held, true);
  await waitFor('the held transaction pending on the node', async () => (await status(node!.url, hex(held))).status === 'pending');
  // Reading a committed transaction's status meets the damaged index: the node stops (and exits 1).
  await status(node.url, hex(committed[0]!)).catch(() => undefined);
  const answer = await waiting;
  assert.equal(answer.status, 503, answer.text);
  const error = (answer.body as { error: { code: string; message: string; retryable: boolean } }).error;
  assert.equal(error.code, 'TPSLAB_E_UNAVAILABLE');
  assert.equal(error.retryable, true);
  assert.match(error.message, /stopped serving \(TPSLAB_E_DATA_DIR: .*\) before transaction [0-9a-f]{64} committed or failed, so its outcome is not known here/);
  await waitFor('the node to exit', () => exitCode !== undefined, 30_000);
  assert.equal(exitCode, 1, node.output);

  // And it does commit: the sequencer still held it.
  assert.equal((await postJsonTx(sequencer.url, transfer(faucet, to!, 1n, 3n, network), true)).status, 200);
  const [s] = await waitCommitted(sequencer.url, [hex(held)]);
  assert.equal(s!.status, 'committed');
});

test('regression: a `?wait=commit` request whose submit was still under way when the node stopped with a fatal error waited its whole timeout and got 202 pending; now it gets 503 UNAVAILABLE at once', async (t) => {
  const dir = await tempDir('tpslab-e2e-fatal-race-');
  const dev = await ensureDevGenesis(join(dir.path, 'net'));
  const sequencer = await startSequencer(join(dir.path, 'seq'), dev.genesisPath);
  t.after(async () => {
    sequencer.cli.child.kill('SIGCONT');
    sequencer.cli.child.kill('SIGKILL');
  });
  // The node in this process (a real sequencer process behind it), so that its fatal event can be fired at a chosen moment.
  const nodeDir = join(dir.path, 'node');
  const replica = await Replica.open(nodeDir, await loadGenesis(dev.genesisPath), { sequencerUrl: sequencer.url, fsync: false });
  const node = await serveLedger(replica, { dataDir: nodeDir, verifyThreads: 0 });
  t.after(async () => {
    await node.close();
    await dir.remove();
  });
  t.mock.method(console, 'error', () => undefined); // the "stopped serving" line
  const faucet = await readKeyFile(dev.faucetKeyPath);
  const [to] = testAccounts('fatal-race', 1);
  const held = transfer(faucet, to!, 1n, 1n, replica.genesis.network); // nonce 0 unused: the sequencer holds it, it does not commit

  sequencer.cli.child.kill('SIGSTOP'); // the node's forward of the transaction waits for the sequencer's answer
  const answer = http(node.url, '/v1/tx?wait=commit&timeoutMs=5000', { json: txToJson(held) });
  await waitFor('the node to receive the transaction', async () => /tpslab_tx_received_total\{[^}]*\} 1/.test((await http(node.url, '/metrics')).text));
  replica.emit('fatal', new TpslabError('TPSLAB_E_DATA_DIR', 'injected: the block log could not be written'));
  sequencer.cli.child.kill('SIGCONT'); // the forward is answered (held): the request now waits for the commit
  const a = await answer;
  assert.equal(a.status, 503, a.text);
  const error = (a.body as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'TPSLAB_E_UNAVAILABLE');
  assert.match(error.message, /stopped serving \(TPSLAB_E_DATA_DIR: injected: .*\) before transaction [0-9a-f]{64} committed or failed/);
});
