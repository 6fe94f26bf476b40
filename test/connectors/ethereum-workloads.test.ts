// The ethereum connector's contract workloads on a real EVM (the EDR devnet): the ERC-20 and the
// storage-writing contract deployed once and reused by address, tokens handed to the wallets,
// calls confirmed with their receipts, and a call that runs out of gas failed as ETH_REVERTED.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeFunctionResult, encodeFunctionData, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { preciseClock } from '../../src/clock.js';
import type { BeaconConnector, RunSpec, TargetConnector } from '../../src/connectors/contract.js';
import { ARTIFACTS } from '../../src/connectors/ethereum/contracts/artifacts.js';
import { startDevnet, type Devnet } from '../../src/connectors/ethereum/devnet.js';
import { connectorFor } from '../../src/connectors/index.js';
import { waitFor } from '../testkit/index.js';

const ROOT_ENV = 'TPSLAB_TEST_ETH_WORKLOAD_ROOT';
const ACCOUNTS = 4;
let devnet: Devnet;
let seed = 1;

before(async () => {
  const key = generatePrivateKey();
  process.env[ROOT_ENV] = key;
  devnet = await startDevnet({ root: privateKeyToAddress(key), chainId: 31337, blockTimeMs: 200 });
});
after(async () => {
  await devnet?.stop();
});

interface Opened {
  target: TargetConnector;
  beacon: BeaconConnector;
  logs: string[];
  committed: Set<string>;
  failed: Map<string, string>;
  contract: Hex;
}

async function open(extra: Record<string, unknown>): Promise<Opened> {
  const def = connectorFor('ethereum');
  const run: RunSpec = { seed: seed++, accounts: { count: ACCOUNTS, balance: '0' }, workload: { kind: 'transfer', amount: 7, fee: 0, topics: 0, payloadBytes: 0, sign: 'live' } };
  const target = def.createTarget(def.targetSchema.parse({ kind: 'ethereum', rpc: [devnet.url], rootKeyEnv: ROOT_ENV, ...extra }), run, preciseClock);
  const logs: string[] = [];
  await target.open((l) => logs.push(l));
  await target.provision(() => {}, (l) => logs.push(l));
  const start = await target.cursor();
  const config = JSON.parse(JSON.stringify(target.beaconConfig({ beacon: 0, accounts: { start: 0, end: ACCOUNTS }, endpointOffset: 0, start }))) as { contract: Hex };
  const beacon = def.createBeacon(def.beaconSchema.parse(config), { beacon: 0, clock: preciseClock, confirmation: { method: 'poll', pollIntervalMs: 100 }, log: () => {} });
  const o: Opened = { target, beacon, logs, committed: new Set(), failed: new Map(), contract: config.contract };
  await beacon.prepare();
  await beacon.confirm({ committed: (id) => void o.committed.add(id), failed: (id, code) => void o.failed.set(id, code), log: () => {} }, { sentBefore: () => [] });
  return o;
}

async function close(o: Opened): Promise<void> {
  await o.beacon.close();
  await o.target.close();
}

async function call(to: Hex, data: Hex): Promise<Hex> {
  const res = await fetch(devnet.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_call', params: [{ to, data }, 'latest'] }) });
  return ((await res.json()) as { result: Hex }).result;
}

test('erc20-transfer: the token is deployed, each wallet gets tokens, and transfers move them', async () => {
  const o = await open({ workload: 'erc20-transfer' });
  assert.ok(o.logs.some((l) => l.startsWith('deployed TpslabToken')), o.logs.join('\n'));
  const abi = ARTIFACTS.contracts.TpslabToken.abi;
  const recipient = o.target.accountName!(1) as Hex;
  const balance = async () => decodeFunctionResult({ abi, functionName: 'balanceOf', data: await call(o.contract, encodeFunctionData({ abi, functionName: 'balanceOf', args: [recipient] })) });
  const before = await balance();
  const txs = Array.from({ length: 6 }, (_, i) => o.beacon.build({ index: i, sender: i % 2 === 0 ? 0 : 2, target: 1, intendedOffsetMs: 0 }));
  const results = await o.beacon.submit(txs.map((tx) => ({ tx, attempt: 1 })));
  assert.deepEqual(results.map((r) => r.kind), txs.map(() => 'accepted'));
  await waitFor('every transfer confirmed', () => o.committed.size === 6, 20_000);
  assert.equal(await balance(), before + 6n * 7n, 'the recipient got 6 transfers of 7 units');
  assert.deepEqual([...(await o.target.committed({ position: 0 })).ids].filter((id) => txs.some((t) => t.id === id)).sort(), txs.map((t) => t.id).sort());
  await close(o);

  const again = await open({ workload: 'erc20-transfer', contract: o.contract });
  assert.ok(again.logs.includes(`reusing TpslabToken at ${o.contract}`), again.logs.join('\n'));
  await close(again);
});

test('contract-call: each call writes storageWrites slots and is confirmed by its receipt', async () => {
  const o = await open({ workload: 'contract-call', storageWrites: 3 });
  const txs = Array.from({ length: 4 }, (_, i) => o.beacon.build({ index: i, sender: 3, target: 0, intendedOffsetMs: 0 }));
  await o.beacon.submit(txs.map((tx) => ({ tx, attempt: 1 })));
  await waitFor('every call confirmed', () => o.committed.size === 4, 20_000);
  const abi = ARTIFACTS.contracts.StorageWriter.abi;
  const sender = o.target.accountName!(3) as Hex;
  const calls = decodeFunctionResult({ abi, functionName: 'calls', data: await call(o.contract, encodeFunctionData({ abi, functionName: 'calls', args: [sender] })) });
  assert.equal(calls, 4n);
  await close(o);
});

test('a call that runs out of gas is mined but failed with ETH_REVERTED, never committed', async () => {
  const o = await open({ workload: 'contract-call', storageWrites: 20, gasLimit: 60_000 });
  const tx = o.beacon.build({ index: 0, sender: 0, target: 1, intendedOffsetMs: 0 });
  assert.equal((await o.beacon.submit([{ tx, attempt: 1 }]))[0]!.kind, 'accepted');
  await waitFor('the call resolved', () => o.failed.has(tx.id) || o.committed.has(tx.id), 20_000);
  assert.equal(o.failed.get(tx.id), 'ETH_REVERTED');
  assert.equal(o.committed.has(tx.id), false);
  await close(o);
});
