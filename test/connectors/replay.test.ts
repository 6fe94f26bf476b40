// The replay workload end to end: a generated Bitcoin chain prepared into a dataset, replayed by beacons that each read
// only their shard ranges into a network started on the dataset's genesis; the blocks are then read independently:
// every dataset transaction committed exactly once, every dependency before its dependents, reconciliation exact.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prepareDataset, type PrepareResult } from '../../src/dataset/prepare.js';
import { openDataset } from '../../src/dataset/reader.js';
import { runScenario } from '../../src/harness/overseer.js';
import { resolveScenarioPaths, parseScenario } from '../../src/harness/scenario.js';
import { netUp, stopProcesses, type NetworkFile } from '../../src/ledger/net.js';
import { decodeBlock } from '../../src/protocol/block.js';
import { txId } from '../../src/protocol/signing.js';
import { tempDir } from '../testkit/index.js';
import { blkFile, buildChain } from '../dataset/chain.js';

/** Transactions of the large replay (the issue asks for 100,000); REPLAY_TXS overrides it for a quicker local run. */
const LARGE_TXS = Number(process.env.REPLAY_TXS ?? 100_000);
const TXS_PER_BLOCK = 500;

async function prepare(dir: string, name: string, blocks: number, txsPerBlock: number, addresses: number): Promise<PrepareResult> {
  const chain = buildChain({ blocks, txsPerBlock, addresses, seed: 11, consolidateAt: 3 });
  mkdirSync(join(dir, `${name}-blocks`));
  writeFileSync(join(dir, `${name}-blocks`, 'blk00000.dat'), blkFile(chain.blocks, 'regtest'));
  return prepareDataset({ inputs: [join(dir, `${name}-blocks`)], out: join(dir, `${name}.tpsds`), network: `replay-${name}` });
}

/** Every block of the network, read over HTTP: position of each transaction and its deps. */
async function readChain(url: string): Promise<{ at: Map<string, [number, number]>; deps: Map<string, string[]> }> {
  const head = (await (await fetch(`${url}/v1/head`)).json()) as { height: number };
  const at = new Map<string, [number, number]>();
  const deps = new Map<string, string[]>();
  let next = 1;
  // Eight readers at a time: a 100k replay leaves a few thousand blocks.
  const reader = async (): Promise<void> => {
    while (next <= head.height) {
      const h = next++;
      const block = decodeBlock(Buffer.from(await (await fetch(`${url}/v1/blocks/${h}?format=binary`)).arrayBuffer()));
      block.txs.forEach((tx, k) => {
        const id = tx.id.toString('hex');
        assert.ok(!at.has(id), `transaction ${id} committed twice`);
        at.set(id, [h, k]);
        deps.set(id, tx.body.deps.map((d) => d.toString('hex')));
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, reader));
  return { at, deps };
}

async function datasetIds(file: string): Promise<Set<string>> {
  const ds = await openDataset(file);
  const ids = new Set<string>();
  // A record's id is its unsigned body's hash: what the beacons' signed transactions are committed under.
  for await (const r of ds.records()) ids.add(txId(r.body).toString('hex'));
  await ds.close();
  return ids;
}

/** Runs `yaml` (its dataset relative to `dir`) and checks the chain of `net` against the dataset. */
async function replayAndCheck(dir: string, dataset: PrepareResult, net: NetworkFile, yaml: string) {
  const scenario = resolveScenarioPaths(parseScenario(`${yaml}\ntarget: { network: ${join(net.dir, 'network.json')} }\nresults: { db: ${join(dir, 'results.db')} }\n`, 'replay.yaml'), dir);
  const result = await runScenario(scenario);
  const ids = await datasetIds(dataset.out);
  const chain = await readChain(net.nodes[0]!.url);
  let depsChecked = 0;
  for (const id of ids) {
    const here = chain.at.get(id);
    assert.ok(here, `dataset transaction ${id} is in the blocks`);
    for (const d of chain.deps.get(id)!) {
      const there = chain.at.get(d);
      assert.ok(there && (there[0] < here[0] || (there[0] === here[0] && there[1] < here[1])), `dependency ${d} committed before ${id}`);
      depsChecked++;
    }
  }
  assert.equal(depsChecked, dataset.header.stats.deps);
  return { result, ids };
}

describe('replay workload', () => {
  let dir: { path: string; remove(): Promise<void> };
  const nets: NetworkFile[] = [];
  before(async () => {
    dir = await tempDir('tpslab-replay-');
  });
  after(async () => {
    for (const n of nets) {
      await stopProcesses(n.nodes);
      await stopProcesses([n.sequencer, n.tracker]);
    }
    await dir.remove();
  });

  test('two beacons replay a dataset at its original timing (sped up), each from its shard ranges; every dataset transaction commits, dependencies first, reconciliation exact', async () => {
    const ds = await prepare(dir.path, 'small', 12, 40, 60);
    const net = await netUp({ dir: join(dir.path, 'net-small'), nodes: 2, blockIntervalMs: 20, genesis: ds.genesisFile });
    nets.push(net);
    // The generated blocks are 600 s apart: speed 1200 plays 11 block intervals in 5.5 s.
    const yaml = `name: replay-small\nworkload: { kind: replay, dataset: small.tpsds, timing: original, speed: 1200 }\nload: { mode: max, durationSec: 60, maxInFlight: 2000 }\nbeacons: { count: 2 }\nconfirmation: { timeoutMs: 30000 }\nstartDelayMs: 200`;
    const { result, ids } = await replayAndCheck(dir.path, ds, net, yaml);
    assert.equal(result.summary.sent, ids.size);
    assert.equal(result.summary.committed, ids.size);
    assert.equal(result.summary.reconciliation?.networkCommitted, ids.size);
    assert.equal(result.summary.reconciliation?.missing, 0);
    assert.equal(result.summary.reconciliation?.unexpected, 0);
    assert.ok(result.summary.tps.windowSec! >= 4, `paced by block times, not at max (window ${result.summary.tps.windowSec} s)`);
    const notes = result.summary.notes ?? [];
    assert.ok(notes.some((n) => n.includes(`${ds.header.stats.deps} checked, every one committed before its dependent`)), notes.join('\n'));
    assert.ok(notes.some((n) => n.startsWith('replay tail:')), notes.join('\n'));
  });

  test(`a generated chain of ${LARGE_TXS} transactions replays at max into one node: every dependency before its dependents, reconciliation exact`, { timeout: 600_000 }, async () => {
    const began = Date.now();
    const ds = await prepare(dir.path, 'large', Math.ceil(LARGE_TXS / TXS_PER_BLOCK) + 2, TXS_PER_BLOCK, 5000);
    const prepared = Date.now();
    assert.ok(ds.header.stats.records >= LARGE_TXS, `${ds.header.stats.records} records`);
    const net = await netUp({ dir: join(dir.path, 'net-large'), nodes: 1, blockIntervalMs: 25, genesis: ds.genesisFile });
    nets.push(net);
    const yaml = `name: replay-large\nworkload: { kind: replay, dataset: large.tpsds }\nload: { mode: max, durationSec: 240, maxInFlight: 8000 }\nbeacons: { count: 2, batchMax: 500 }\nconfirmation: { timeoutMs: 120000 }\nstartDelayMs: 200`;
    const { result, ids } = await replayAndCheck(dir.path, ds, net, yaml);
    assert.equal(ids.size, ds.header.stats.records);
    assert.equal(result.summary.committed, ids.size);
    assert.equal(result.summary.reconciliation?.networkCommitted, ids.size);
    assert.equal(result.summary.reconciliation?.missing, 0);
    assert.equal(result.summary.reconciliation?.unexpected, 0);
    console.log(`replay of ${ids.size} transactions (${ds.header.stats.deps} deps): preparation ${((prepared - began) / 1000).toFixed(0)} s, run ${result.summary.durationSec} s, ${result.summary.tps.avg.toFixed(0)} tx/s committed; ${(result.summary.notes ?? []).join('; ')}`);
  });
});
