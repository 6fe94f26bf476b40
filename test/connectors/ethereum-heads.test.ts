// newHeads over WebSocket on a real EVM (the EDR devnet's eth_subscribe): with polling set to a
// minute, transactions are still confirmed within seconds, because each announced block is read.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { preciseClock } from '../../src/clock.js';
import { startDevnet, type Devnet } from '../../src/connectors/ethereum/devnet.js';
import { connectorFor } from '../../src/connectors/index.js';
import { waitFor } from '../testkit/index.js';

const ROOT_ENV = 'TPSLAB_TEST_ETH_HEADS_ROOT';
let devnet: Devnet;

before(async () => {
  const key = generatePrivateKey();
  process.env[ROOT_ENV] = key;
  devnet = await startDevnet({ root: privateKeyToAddress(key), chainId: 31337, blockTimeMs: 200 });
});
after(async () => {
  await devnet?.stop();
});

test('blocks announced by newHeads confirm transactions without waiting for the poll', async () => {
  const def = connectorFor('ethereum');
  const ws = devnet.url.replace(/^http/, 'ws');
  const target = def.createTarget(
    def.targetSchema.parse({ kind: 'ethereum', rpc: [devnet.url], ws: [ws], rootKeyEnv: ROOT_ENV }),
    { seed: 3, accounts: { count: 3, balance: '0' }, workload: { kind: 'transfer', amount: 1, fee: 0, topics: 0, payloadBytes: 0, sign: 'live' } },
    preciseClock,
  );
  await target.open(() => {});
  await target.provision(() => {}, () => {});
  const config = JSON.parse(JSON.stringify(target.beaconConfig({ beacon: 0, accounts: { start: 0, end: 3 }, endpointOffset: 0, start: await target.cursor() }))) as { ws?: string[] };
  assert.deepEqual(config.ws, [ws]);
  const beacon = def.createBeacon(def.beaconSchema.parse(config), { beacon: 0, clock: preciseClock, confirmation: { method: 'stream', pollIntervalMs: 60_000 }, log: () => {} });
  const committed = new Set<string>();
  try {
    await beacon.prepare();
    await beacon.confirm({ committed: (id) => void committed.add(id), failed: () => {}, log: () => {} }, { sentBefore: () => [] });
    const txs = Array.from({ length: 5 }, (_, i) => beacon.build({ index: i, sender: i % 3, target: (i + 1) % 3, intendedOffsetMs: 0 }));
    await beacon.submit(txs.map((tx) => ({ tx, attempt: 1 })));
    await waitFor('confirmed through newHeads', () => committed.size === 5, 10_000);
    assert.ok(beacon.position > 0);
  } finally {
    await beacon.close();
    await target.close();
  }
});
