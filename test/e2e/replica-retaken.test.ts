/**
 * Regression: nodes remember every failure the sequencer streams, and forgot one only when the resend went
 * through them. A transaction dropped for now (TPSLAB_E_PREDECESSOR_REFUSED) and sent again through another
 * node stayed `failed` on the first one while it was pending, so a client polling that node sent it once
 * more. Now the sequencer streams `retaken` to every node when it takes such a transaction again.
 * Real processes: one sequencer (a 2-transaction mempool), two nodes following it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NodeClient } from '../../src/client/node-client.js';
import { readKeyFile } from '../../src/client/key-file.js';
import { ensureDevGenesis } from '../../src/ledger/dev-genesis.js';
import { NodeProcess, fund, tempDir, testAccounts, waitFor, type CliChild } from '../testkit/index.js';
import { hex, postJsonTx, startSequencer, status, transfer, waitCommitted } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let sequencer: { url: string; cli: CliChild } | undefined;
const nodes: NodeProcess[] = [];

before(async () => {
  dir = await tempDir('tpslab-e2e-retaken-');
  const dev = await ensureDevGenesis(join(dir.path, 'net'));
  sequencer = await startSequencer(join(dir.path, 'seq'), dev.genesisPath, ['--mempool-capacity', '2']);
  for (const name of ['a', 'b']) nodes.push(await NodeProcess.start(join(dir.path, name), ['--sequencer', sequencer.url, '--genesis', dev.genesisPath]));
  const [s, r, q] = testAccounts('retaken', 3);
  await fund(new NodeClient(nodes[0]!.url), await readKeyFile(dev.faucetKeyPath), [s!, r!, q!], 1000n);
});

after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  sequencer?.cli.child.kill('SIGKILL');
  await dir?.remove();
});

test('regression: a transaction dropped for now and sent again through another node stayed "failed" on the first node while pending; now that node forgets the failure', async () => {
  const [a, b] = [nodes[0]!.url, nodes[1]!.url];
  const network = (await new NodeClient(a).head()).network;
  const [s, r, q] = testAccounts('retaken', 3);
  const to = testAccounts('retaken-to', 1)[0]!;
  const d = transfer(r!, to, 1n, 0n, network); // sent last: t1 waits for it, so t1 stays pending meanwhile
  const t0 = transfer(s!, to, 1n, 0n, network);
  const t1 = transfer(s!, to, 1n, 1n, network, { deps: [d.id] });
  const filler = transfer(q!, to, 1n, 1n, network); // waits for q's nonce 0: holds a mempool slot

  // The mempool (2) holds t1 (waiting for nonce 0) and the filler: t0 is refused for capacity, and t1,
  // buffered behind it, is dropped with the retryable PREDECESSOR_REFUSED, streamed to both nodes.
  assert.equal((await postJsonTx(a, t1)).status, 202);
  assert.equal((await postJsonTx(a, filler)).status, 202);
  const refused = await postJsonTx(a, t0);
  assert.equal(refused.status, 429, refused.text);
  for (const node of [a, b]) {
    await waitFor(`node ${node} to know t1 failed`, async () => (await status(node, hex(t1))).error?.code === 'TPSLAB_E_PREDECESSOR_REFUSED', 10_000);
  }

  // Sent again through node b, in nonce order: t0 commits, t1 is taken and waits for d.
  const again = await postJsonTx(b, t0, true);
  assert.equal(again.status, 200, again.text);
  assert.equal((await postJsonTx(b, t1)).status, 202);
  assert.equal((await status(sequencer!.url, hex(t1))).status, 'pending', 'the sequencer holds t1 again');
  assert.equal((await status(b, hex(t1))).status, 'pending');
  const seen = await waitFor('node a to stop answering "failed" for t1, taken again through node b', async () => {
    const st = await status(a, hex(t1));
    return st.status !== 'failed' && st;
  }, 10_000);
  assert.equal(seen.status, 'unknown', 'node a did not forward it again: not known there, not failed');

  // To finish: q's nonce 0 is refused for capacity (the filler goes), then d commits and t1 with it.
  assert.equal((await postJsonTx(a, transfer(q!, to, 1n, 0n, network))).status, 429);
  const dAnswer = await postJsonTx(a, d, true);
  assert.equal(dAnswer.status, 200, dAnswer.text);
  const [onA] = await waitCommitted(a, [hex(t1)]);
  const [onB] = await waitCommitted(b, [hex(t1)]);
  assert.deepEqual([onA!.height, onA!.index], [onB!.height, onB!.index]);
});
