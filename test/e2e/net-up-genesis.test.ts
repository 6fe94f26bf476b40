/**
 * `tpslab net up --genesis FILE` had no automated test: a network started by the CLI on a
 * replay dataset's genesis (no faucet), then `tpslab run` replaying that dataset into it,
 * every transaction committed and reconciliation exact.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareDataset, type PrepareResult } from '../../src/dataset/prepare.js';
import { readNetworkFile, stopProcesses } from '../../src/ledger/net.js';
import { runCli, tempDir } from '../testkit/index.js';
import { blkFile, buildChain } from '../dataset/chain.js';

describe('net up --genesis with a replay dataset', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let netDir: string;
  let ds: PrepareResult;

  before(async () => {
    dir = await tempDir('tpslab-e2e-net-genesis-');
    netDir = join(dir.path, 'net');
    const chain = buildChain({ blocks: 8, txsPerBlock: 40, addresses: 60, seed: 23, consolidateAt: 3 });
    mkdirSync(join(dir.path, 'blocks'));
    writeFileSync(join(dir.path, 'blocks', 'blk00000.dat'), blkFile(chain.blocks, 'regtest'));
    ds = await prepareDataset({ inputs: [join(dir.path, 'blocks')], out: join(dir.path, 'small.tpsds'), network: 'replay-net-genesis' });
  });

  after(async () => {
    const file = await readNetworkFile(netDir).catch(() => undefined);
    if (file) await stopProcesses([...file.nodes, file.sequencer, file.tracker], 3000);
    await dir?.remove();
  });

  it('starts a network on the dataset genesis from the CLI, and a replay run against it commits the whole dataset, dependencies first, reconciliation exact', async () => {
    const up = await runCli(['net', 'up', '--detach', '--nodes', '2', '--dir', netDir, '--block-interval-ms', '20', '--genesis', ds.genesisFile], 90_000);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout, /network replay-net-genesis is up/);
    assert.match(up.stdout, /no faucet key \(a replay needs none\)/);
    const net = await readNetworkFile(netDir);
    const head = (await (await fetch(`${net.nodes[0]!.url}/v1/head`)).json()) as { network: string; height: number };
    assert.equal(head.network, ds.header.ledgerNetwork);

    const scenario = join(dir.path, 'replay.yaml');
    writeFileSync(scenario, [
      'name: replay-on-net-up',
      'workload: { kind: replay, dataset: small.tpsds }',
      'load: { mode: max, durationSec: 60, maxInFlight: 2000 }',
      'beacons: { count: 2 }',
      'confirmation: { timeoutMs: 30000 }',
      `target: { network: ${join(netDir, 'network.json')} }`,
      `results: { db: ${join(dir.path, 'results.db')} }`,
      'startDelayMs: 200',
      '',
    ].join('\n'));
    const run = await runCli(['run', scenario], 120_000);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const records = ds.header.stats.records;
    assert.match(run.stdout, new RegExp(`replay: ${records} of the dataset's ${records} transactions are in the blocks`));
    assert.match(run.stdout, new RegExp(`replay dependencies: ${ds.header.stats.deps} checked, every one committed before its dependent`));
    assert.match(run.stdout, new RegExp(`the network committed ${records.toLocaleString('en-US')} — they match|the network committed ${records} — they match`));

    const down = await runCli(['net', 'down', '--dir', netDir], 30_000);
    assert.equal(down.code, 0, down.stdout + down.stderr);
    assert.match(down.stdout, /stopped /);
  });
});
