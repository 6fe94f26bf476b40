// The dataset is valid for a real tpslab node: a node started on the generated genesis commits every dataset transaction,
// every dependency before its dependents, and ends with the balances the dataset implies.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { prepareDataset, type PrepareResult } from '../../src/dataset/prepare.js';
import { openDataset, type DatasetRecord } from '../../src/dataset/reader.js';
import { loadGenesis } from '../../src/ledger/genesis.js';
import { encodeAddress } from '../../src/protocol/address.js';
import { KeyCache, signRecord } from '../../src/dataset/sign.js';
import { decodeTx } from '../../src/protocol/signing.js';
import type { SignedTx } from '../../src/protocol/tx.js';
import { NodeProcess, tempDir } from '../testkit/index.js';
import { position, waitCommitted } from '../e2e/helpers.js';
import { blkFile, buildChain } from './chain.js';

let dir: { path: string; remove(): Promise<void> };
let node: NodeProcess | undefined;
let prepared: PrepareResult;
let records: DatasetRecord[];
/** What a replay beacon does with a record: sign its body with its seeds' keys. */
const keys = new KeyCache();
const signed = (r: DatasetRecord): SignedTx => decodeTx(signRecord(r, 'replay-e2e', keys).bytes);

before(async () => {
  dir = await tempDir('tpslab-dataset-node-');
  const chain = buildChain({ blocks: 24, txsPerBlock: 30, addresses: 40, seed: 5, consolidateAt: 15, zeroOutputAt: 4 });
  const blocks = join(dir.path, 'blocks');
  mkdirSync(blocks);
  writeFileSync(join(blocks, 'blk00000.dat'), blkFile(chain.blocks, 'regtest'));
  prepared = await prepareDataset({ inputs: [blocks], out: join(dir.path, 'replay.tpsds'), fromBlock: 3, network: 'replay-e2e' });
  const ds = await openDataset(prepared.out);
  records = [];
  for await (const r of ds.records()) records.push(r);
  await ds.close();
  records.sort((a, b) => a.seq - b.seq);
  node = await NodeProcess.start(join(dir.path, 'node'), ['--genesis', prepared.genesisFile, '--block-interval-ms', '10']);
});

after(async () => {
  await node?.stop();
  await dir.remove();
});

test('a node on the generated genesis commits every dataset transaction, dependencies first, with the balances the dataset implies', async () => {
  assert.ok(records.length > 500, `${records.length} records`);
  const txs: SignedTx[] = records.map(signed);
  const client = node!.client;
  assert.equal((await client.head()).network, 'replay-e2e');
  for (let i = 0; i < txs.length; i += 100) {
    const r = await client.submitBatch(txs.slice(i, i + 100));
    assert.equal(r.rejected, 0, JSON.stringify(r.results.filter((x) => 'error' in x).slice(0, 3)));
  }
  const statuses = await waitCommitted(node!.url, txs.map((t) => t.id.toString('hex')), 60_000);
  const pos = new Map(statuses.map((s, i) => [txs[i]!.id.toString('hex'), position(s)]));
  let depsChecked = 0;
  for (const tx of txs) {
    for (const d of tx.body.deps) {
      assert.ok(pos.get(d.toString('hex'))! < pos.get(tx.id.toString('hex'))!, 'a dependency commits before its dependent');
      depsChecked++;
    }
  }
  assert.equal(depsChecked, prepared.header.stats.deps);

  // Reconciliation: genesis + credits − debits − fees, per account, as the node holds it.
  const balance = new Map<string, bigint>();
  for (const a of (await loadGenesis(prepared.genesisFile)).accounts) balance.set(a.account.toString('hex'), a.balance);
  const bump = (account: Buffer, by: bigint): void => {
    const k = account.toString('hex');
    balance.set(k, (balance.get(k) ?? 0n) + by);
  };
  for (const tx of txs) {
    if (tx.body.kind !== 'transfer') continue;
    tx.body.inputs.forEach((e, i) => bump(e.account, -(e.amount + (i === 0 ? tx.body.fee : 0n))));
    for (const e of tx.body.outputs) bump(e.account, e.amount);
  }
  const accounts = [...balance.entries()];
  assert.ok(accounts.every(([, b]) => b >= 0n));
  for (const [k, want] of accounts) {
    const got = await client.account(encodeAddress(Buffer.from(k, 'hex')));
    assert.equal(got.balance, want, `balance of ${k}`);
  }
});

test('two loaders, each reading only its half of the shard space in dataset order, replay the dataset concurrently into a fresh node: deps across halves wait in the network and everything commits', async () => {
  const fresh = await NodeProcess.start(join(dir.path, 'node-2'), ['--genesis', prepared.genesisFile, '--block-interval-ms', '10']);
  try {
    const half = 1n << 63n;
    const ranges = [
      { start: 0n, end: half },
      { start: half, end: 1n << 64n },
    ];
    const loaded = await Promise.all(
      ranges.map(async (range) => {
        const ds = await openDataset(prepared.out);
        const mine: SignedTx[] = [];
        for await (const r of ds.records({ ranges: [range], ordered: true })) mine.push(signed(r));
        await ds.close();
        return mine;
      }),
    );
    assert.equal(loaded[0]!.length + loaded[1]!.length, records.length);
    const crossDeps = loaded[1]!.filter((tx) => tx.body.deps.some((d) => loaded[0]!.some((p) => p.id.equals(d)))).length;
    assert.ok(crossDeps > 0, 'some transactions depend on the other half');
    await Promise.all(
      loaded.map(async (txs) => {
        for (let i = 0; i < txs.length; i += 50) {
          const r = await fresh.client.submitBatch(txs.slice(i, i + 50));
          assert.equal(r.rejected, 0, JSON.stringify(r.results.filter((x) => 'error' in x).slice(0, 3)));
        }
      }),
    );
    const all = [...loaded[0]!, ...loaded[1]!];
    await waitCommitted(fresh.url, all.map((t) => t.id.toString('hex')), 60_000);
  } finally {
    await fresh.stop();
  }
});

