// Stuck nonces on a real EVM (the EDR devnet): a wallet whose transaction the node refused has
// a nonce gap, so its later transactions, accepted into the pool, can never mine. The beacon
// finds the wallet stuck, fails them with ETH_NONCE_GAP (counted by code) and says why.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { preciseClock } from '../../src/clock.js';
import { startDevnet, type Devnet } from '../../src/connectors/ethereum/devnet.js';
import { signTx } from '../../src/connectors/ethereum/wallets.js';
import { connectorFor } from '../../src/connectors/index.js';
import { waitFor } from '../testkit/index.js';

const ROOT_ENV = 'TPSLAB_TEST_ETH_STUCK_ROOT';
let devnet: Devnet;
let rootKey: Hex;

before(async () => {
  rootKey = generatePrivateKey();
  process.env[ROOT_ENV] = rootKey;
  devnet = await startDevnet({ root: privateKeyToAddress(rootKey), chainId: 31337, blockTimeMs: 200 });
});
after(async () => {
  await devnet?.stop();
});

async function rpcAt<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const a = (await res.json()) as { result: T; error?: { message: string } };
  if (a.error) throw new Error(a.error.message);
  return a.result;
}
const rpc = <T>(method: string, params: unknown[]): Promise<T> => rpcAt<T>(devnet.url, method, params);

/**
 * An ethereum target on `url` (root key from `rootKeyEnv`) with two provisioned wallets, and one
 * beacon over accounts 0..2 confirming by polling, whose confirmations and log lines are collected.
 */
async function openPair(url: string, rootKeyEnv: string, seed: number, options: Record<string, unknown>) {
  const def = connectorFor('ethereum');
  const target = def.createTarget(
    def.targetSchema.parse({ kind: 'ethereum', rpc: [url], rootKeyEnv, ...options }),
    { seed, accounts: { count: 2, balance: '0' }, workload: { kind: 'transfer', amount: 1, fee: 0, topics: 0, payloadBytes: 0, sign: 'live' } },
    preciseClock,
  );
  await target.open(() => {});
  await target.provision(() => {}, () => {});
  const start = await target.cursor();
  const config = target.beaconConfig({ beacon: 0, accounts: { start: 0, end: 2 }, endpointOffset: 0, start }) as { fees: { type: 'legacy'; gasPrice: string } };
  const beacon = def.createBeacon(def.beaconSchema.parse(JSON.parse(JSON.stringify(config))), { beacon: 0, clock: preciseClock, confirmation: { method: 'poll', pollIntervalMs: 100 }, log: () => {} });
  const committed = new Set<string>();
  const failed = new Map<string, string>();
  const lines: string[] = [];
  await beacon.prepare();
  await beacon.confirm({ committed: (id) => void committed.add(id), failed: (id, code) => void failed.set(id, code), log: (l) => lines.push(l) }, { sentBefore: () => [] });
  return {
    target,
    beacon,
    start,
    config,
    committed,
    failed,
    lines,
    async close() {
      await beacon.close();
      await target.close();
    },
  };
}

test('a refused nonce leaves a gap: the wallet is found stuck and its waiting transactions fail with ETH_NONCE_GAP', async () => {
  // Wallet 2 is outside the run's accounts: never funded, so the node refuses its nonce 0.
  const { target, beacon, config, failed, lines, close } = await openPair(devnet.url, ROOT_ENV, 9, { stuckAfterMs: 500, fees: { type: 'legacy' } });
  try {
    const refused = beacon.build({ index: 0, sender: 2, target: 0, intendedOffsetMs: 0 });
    const [r] = await beacon.submit([{ tx: refused, attempt: 1 }]);
    assert.equal(r!.kind === 'rejected' && r!.code, 'ETH_INSUFFICIENT_FUNDS');
    // The wallet is funded afterwards (from the root), so its next transactions are accepted, behind the gap.
    const wallet2 = target.accountName!(2) as Hex;
    const nonce = Number(await rpc<string>('eth_getTransactionCount', [privateKeyToAddress(rootKey), 'pending']));
    const fund = signTx(rootKey, { chainId: 31337, nonce, to: wallet2, valueWei: 10n ** 18n, gas: 21_000, fees: config.fees });
    await rpc('eth_sendRawTransaction', [fund.raw]);
    await waitFor('the late funding mined', async () => BigInt(await rpc<string>('eth_getBalance', [wallet2, 'latest'])) > 0n, 10_000);
    const later = [1, 2, 3].map((i) => beacon.build({ index: i, sender: 2, target: 1, intendedOffsetMs: 0 }));
    const results = await beacon.submit(later.map((tx) => ({ tx, attempt: 1 })));
    assert.deepEqual(results.map((x) => x.kind), ['accepted', 'accepted', 'accepted'], JSON.stringify(results));
    await waitFor('the waiting transactions failed', () => later.every((t) => failed.has(t.id)), 20_000);
    assert.deepEqual(later.map((t) => failed.get(t.id)), ['ETH_NONCE_GAP', 'ETH_NONCE_GAP', 'ETH_NONCE_GAP']);
    assert.ok(lines.some((l) => l.includes(`wallet ${wallet2} is stuck: the node refused its nonce 0`) && l.includes('3 waiting transactions')), lines.join('\n'));
    assert.equal(failed.has(refused.id), false, 'the refused one was answered at submit, not failed again');
  } finally {
    await close();
  }
});

test('a transaction the node dropped from its pool is sent again (same bytes, same id), and its wallet unblocks', async () => {
  // A devnet of its own with slow blocks, so the transaction is still pending when it is dropped.
  const key = generatePrivateKey();
  process.env.TPSLAB_TEST_ETH_DROP_ROOT = key;
  const slow = await startDevnet({ root: privateKeyToAddress(key), chainId: 31337, blockTimeMs: 2000 });
  let pair: Awaited<ReturnType<typeof openPair>> | undefined;
  try {
    pair = await openPair(slow.url, 'TPSLAB_TEST_ETH_DROP_ROOT', 10, { stuckAfterMs: 300 });
    const { beacon, target, committed, lines } = pair;
    const txs = Array.from({ length: 5 }, (_, i) => beacon.build({ index: i, sender: 0, target: 1, intendedOffsetMs: 0 }));
    const results = await beacon.submit(txs.map((tx) => ({ tx, attempt: 1 })));
    assert.deepEqual(results.map((r) => r.kind), txs.map(() => 'accepted'));
    assert.equal(await rpcAt<boolean>(slow.url, 'hardhat_dropTransaction', [txs[0]!.id]), true, 'the node dropped the first transaction');
    await waitFor('all five committed', () => txs.every((t) => committed.has(t.id)), 30_000);
    assert.ok(lines.some((l) => l.includes(`the node no longer has ${txs[0]!.id}`) && l.includes('holds back 5 transactions') && l.includes('sent the same bytes again')), lines.join('\n'));
    assert.deepEqual([...(await target.committed({ position: 0 })).ids].sort(), txs.map((t) => t.id).sort(), 'reconciled exactly: the resend has the same hash');
  } finally {
    await pair?.close();
    await slow.stop();
  }
});

test('replaceStuck: a transaction priced out of the pool is replaced with a 25% higher fee, keeps its id, and reconciles exactly', async () => {
  const key = generatePrivateKey();
  process.env.TPSLAB_TEST_ETH_REPLACE_ROOT = key;
  const node = await startDevnet({ root: privateKeyToAddress(key), chainId: 31337, blockTimeMs: 200 });
  let pair: Awaited<ReturnType<typeof openPair>> | undefined;
  try {
    pair = await openPair(node.url, 'TPSLAB_TEST_ETH_REPLACE_ROOT', 11, { stuckAfterMs: 300, replaceStuck: true });
    const { beacon, target, start, committed, lines } = pair;
    // The base fee jumps to 100 gwei (then falls 12.5% a block): the run's fees (about 5 gwei) are priced out for a while.
    assert.equal(await rpcAt<boolean>(node.url, 'hardhat_setNextBlockBaseFeePerGas', ['0x174876e800']), true);
    await new Promise((r) => setTimeout(r, 500));
    const txs = [0, 1].map((i) => beacon.build({ index: i, sender: 0, target: 1, intendedOffsetMs: 0 }));
    assert.deepEqual((await beacon.submit(txs.map((tx) => ({ tx, attempt: 1 })))).map((r) => r.kind), ['accepted', 'accepted']);
    await waitFor('both committed', () => txs.every((t) => committed.has(t.id)), 30_000);
    assert.ok(lines.some((l) => l.includes(`${txs[0]!.id} (nonce 0) is in the node's pool but not mined`) && l.includes('replaced with fees 25% higher')), lines.join('\n'));
    assert.equal(await rpcAt<unknown>(node.url, 'eth_getTransactionReceipt', [txs[0]!.id]), null, 'the original itself never mined: its replacement did');
    assert.deepEqual([...(await target.committed(start)).ids].sort(), txs.map((t) => t.id).sort(), 'the mined replacements stand for the ids the beacon reported');
  } finally {
    await pair?.close();
    await node.stop();
  }
});
