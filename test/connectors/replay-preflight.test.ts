// Bad replay input is refused before anything starts, with a coded error naming the file and the fix:
// a missing or damaged dataset, a genesis of another network, target.genesis without a replay, a replay outside max mode.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { RunSpec } from '../../src/connectors/contract.js';
import { beaconShardRanges } from '../../src/connectors/tpslab/replay-check.js';
import { TpslabTargetSchema } from '../../src/connectors/tpslab/schema.js';
import { TpslabTarget } from '../../src/connectors/tpslab/target.js';
import { prepareDataset, type PrepareResult } from '../../src/dataset/prepare.js';
import { TpslabError } from '../../src/errors.js';
import { parseScenario } from '../../src/harness/scenario.js';
import { KEY_SPACE } from '../../src/ledger/shard-allocator.js';
import { tempDir } from '../testkit/index.js';
import { blkFile, buildChain } from '../dataset/chain.js';

let dir: { path: string; remove(): Promise<void> };
let ds: PrepareResult;

before(async () => {
  dir = await tempDir('tpslab-replay-preflight-');
  mkdirSync(join(dir.path, 'blocks'));
  writeFileSync(join(dir.path, 'blocks', 'blk00000.dat'), blkFile(buildChain({ blocks: 4, txsPerBlock: 10, addresses: 10, seed: 3 }).blocks, 'regtest'));
  ds = await prepareDataset({ inputs: [join(dir.path, 'blocks')], out: join(dir.path, 'ok.tpsds'), network: 'replay-preflight' });
});

after(async () => {
  await dir.remove();
});

const run = (dataset: string): RunSpec => ({
  seed: 1,
  accounts: { count: 10, balance: '1000' },
  workload: { kind: 'replay', amount: 0, fee: 0, topics: 0, payloadBytes: 0, sign: 'presign', replay: { dataset, timing: 'max', speed: 1 } },
});

async function refusal(target: TpslabTarget): Promise<TpslabError> {
  const err = await target.preflight().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof TpslabError, `expected a coded error, got ${String(err)}`);
  return err;
}

test('a missing dataset is refused by preflight with TPSLAB_E_DATASET naming the file', async () => {
  const missing = join(dir.path, 'nope.tpsds');
  const e = await refusal(new TpslabTarget(TpslabTargetSchema.parse({}), run(missing), systemClock));
  assert.equal(e.code, 'TPSLAB_E_DATASET');
  assert.match(e.message, /nope\.tpsds/);
});

test('a file that is not a dataset is refused by preflight with TPSLAB_E_DATASET', async () => {
  const junk = join(dir.path, 'junk.tpsds');
  await writeFile(junk, Buffer.alloc(8192, 1));
  const e = await refusal(new TpslabTarget(TpslabTargetSchema.parse({}), run(junk), systemClock));
  assert.equal(e.code, 'TPSLAB_E_DATASET');
  assert.match(e.message, /junk\.tpsds.*not a tpslab dataset/);
});

test('a genesis of another network is refused by preflight: the dataset is signed for its own', async () => {
  const other = join(dir.path, 'other.genesis.json');
  const g = JSON.parse(await readFile(ds.genesisFile, 'utf8')) as { network: string };
  await writeFile(other, JSON.stringify({ ...g, network: 'someone-else' }));
  const e = await refusal(new TpslabTarget(TpslabTargetSchema.parse({ genesis: other }), run(ds.out), systemClock));
  assert.equal(e.code, 'TPSLAB_E_DATASET');
  assert.match(e.message, /"someone-else".*"replay-preflight"/);
  // The dataset's own genesis (the default beside it) passes.
  await new TpslabTarget(TpslabTargetSchema.parse({}), run(ds.out), systemClock).preflight();
});

test('target.genesis without a replay is refused: such a network has no faucet to fund the run', async () => {
  const spec: RunSpec = { ...run(ds.out), workload: { kind: 'transfer', amount: 1, fee: 0, topics: 0, payloadBytes: 0, sign: 'presign' } };
  const e = await refusal(new TpslabTarget(TpslabTargetSchema.parse({ genesis: ds.genesisFile }), spec, systemClock));
  assert.equal(e.code, 'TPSLAB_E_CONFIG');
});

test('a replay outside load.mode max is a scenario error that says what to set', () => {
  assert.throws(
    () => parseScenario('workload: { kind: replay, dataset: x.tpsds }\nload: { mode: open, stages: [{ kind: constant, ratePerSec: 1, durationSec: 1 }] }\n', 'r.yaml'),
    (e: unknown) => e instanceof TpslabError && e.code === 'TPSLAB_E_SCENARIO' && /load\.mode.*set load\.mode to max/.test(e.message),
  );
});

test("the beacons' shard ranges cover the 2^64 space exactly once", () => {
  for (const n of [1, 2, 3, 7]) {
    const all = Array.from({ length: n }, (_, b) => beaconShardRanges(b, n)).flat();
    all.sort((a, b) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
    let at = 0n;
    for (const r of all) {
      assert.equal(BigInt(r.start), at, `${n} beacons: no gap or overlap at ${at}`);
      at = BigInt(r.end);
    }
    assert.equal(at, KEY_SPACE);
  }
});
