// The tpslab beacon client against a real node: a batch taken whole is answered with the shared
// all-accepted outcome (its per-transaction results are not parsed, the beacon's hot path), and
// a batch with a refusal in it still gets one coded outcome per transaction.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BeaconClient, allOk } from '../../src/connectors/tpslab/client.js';
import { signTx, type KeyPair } from '../../src/protocol/signing.js';
import { NodeProcess, fund, tempDir, testAccounts } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
let node: NodeProcess;
let network: string;
const accounts = testAccounts('client-fast-path', 4);

before(async () => {
  dir = await tempDir('tpslab-client-');
  node = await NodeProcess.start(dir.path);
  network = (await node.client.head()).network;
  await fund(node.client, await node.faucetKey(), accounts, 100n);
});

after(async () => {
  await node.stop();
  await dir.remove();
});

const transfer = (from: KeyPair, nonce: bigint): Buffer =>
  signTx({ kind: 'transfer', nonce, fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: accounts[0]!.publicKey, amount: 1n }] }, [from], network).bytes;

test('a batch the node takes whole gets the shared all-accepted answer', async () => {
  const client = new BeaconClient([node.url]);
  try {
    const out = await client.submit([transfer(accounts[1]!, 0n), transfer(accounts[2]!, 0n), transfer(accounts[3]!, 0n)]);
    assert.equal(out, allOk(3));
    assert.ok(out.every((o) => o.ok));
  } finally {
    await client.close();
  }
});

test('a batch with a refusal in it gets one coded outcome per transaction', async () => {
  const client = new BeaconClient([node.url]);
  try {
    const again = transfer(accounts[1]!, 0n); // sent by the test above
    const out = await client.submit([transfer(accounts[1]!, 1n), again, transfer(accounts[2]!, 1n)]);
    assert.notEqual(out, allOk(3));
    assert.equal(out.length, 3);
    assert.ok(out[0]!.ok && out[2]!.ok);
    const refused = out[1]!;
    assert.ok(!refused.ok);
    assert.match(refused.error.code, /^TPSLAB_E_(DUPLICATE|NONCE_PENDING|NONCE_TOO_LOW)$/);
  } finally {
    await client.close();
  }
});
