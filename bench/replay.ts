/**
 * replay: the cost of dependencies. One network (2 nodes, a sequencer, a
 * tracker) started on a replay dataset's genesis, with a faucet account added
 * to it (same network id, so the dataset's signatures hold). On it, one after
 * the other, run by `runScenario` exactly as `tpslab run` does:
 *
 * (a) the plain transfer workload at `load.mode: max` (independent one-input
 *     transfers from 2,000 funded accounts), for DURATION_S;
 * (b) the replay of a generated Bitcoin chain (CHAIN_TXS transactions, 1-3
 *     inputs, dependency chains thousands deep) at `timing: max`, with the
 *     same beacons and maxInFlight.
 *
 * The ratio replay ÷ plain committed TPS is the figure: what multi-input
 * transactions, busy senders and causal waits cost on the same network.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKeyFile } from '../src/client/key-file.js';
import { prepareDataset } from '../src/dataset/prepare.js';
import { runScenario, type RunSummary } from '../src/harness/overseer.js';
import { validateScenario } from '../src/harness/scenario.js';
import { netUp, networkFilePath, stopProcesses, type NetworkFile } from '../src/ledger/net.js';
import { generateKeyPair } from '../src/protocol/signing.js';
import { blkFile, buildChain } from '../test/dataset/chain.js';
import type { BenchContext, BenchResult, Benchmark } from './contract.js';

const DURATION_S = 15;
const MAX_IN_FLIGHT = 4_000;
const TXS_PER_BLOCK = 500;
const CHAIN_TXS = 20_000;
const ADDRESSES = 5_000;
const FAUCET_BALANCE = 10n ** 18n;

export const replay: Benchmark = {
  name: 'replay',
  description: 'replay of a generated Bitcoin chain (committed tx/s) next to plain transfers at max on the same network',
  timeoutMs: 300_000,
  async run(ctx: BenchContext): Promise<BenchResult> {
    const dir = await mkdtemp(join(tmpdir(), 'tpslab-bench-replay-'));
    let net: NetworkFile | undefined;
    try {
      ctx.log(`generating and preparing a chain of ${CHAIN_TXS} transactions`);
      const chain = buildChain({ blocks: Math.ceil(CHAIN_TXS / TXS_PER_BLOCK) + 2, txsPerBlock: TXS_PER_BLOCK, addresses: ADDRESSES, seed: 21 });
      await mkdir(join(dir, 'blocks'));
      await writeFile(join(dir, 'blocks', 'blk00000.dat'), blkFile(chain.blocks, 'regtest'));
      const ds = await prepareDataset({ inputs: [join(dir, 'blocks')], out: join(dir, 'bench.tpsds'), network: 'replay-bench' });

      // The dataset's genesis plus a faucet, so the plain workload can be funded on the same network.
      const faucet = generateKeyPair();
      const faucetKey = join(dir, 'faucet.key.json');
      await writeKeyFile(faucetKey, faucet);
      const genesis = JSON.parse(await readFile(ds.genesisFile, 'utf8')) as { faucet?: string; accounts: { address: string; balance: string }[] };
      genesis.faucet = faucet.address;
      genesis.accounts.push({ address: faucet.address, balance: FAUCET_BALANCE.toString() });
      const genesisFile = join(dir, 'genesis-with-faucet.json');
      await writeFile(genesisFile, JSON.stringify(genesis));
      net = await netUp({ dir: join(dir, 'net'), nodes: 2, blockIntervalMs: 25, genesis: genesisFile });
      await writeFile(networkFilePath(net.dir), JSON.stringify({ ...net, faucetKey }));

      const common = {
        target: { kind: 'tpslab', network: networkFilePath(net.dir) },
        beacons: { count: 2, batchMax: 500 },
        confirmation: { timeoutMs: 60_000 },
        startDelayMs: 500,
        results: { db: join(dir, 'results.db'), outcomes: false },
      };
      const run = async (name: string, extra: object): Promise<RunSummary> => {
        ctx.log(`running ${name}`);
        const r = await runScenario(validateScenario({ name, ...common, ...extra }, name), { log: (line) => ctx.log(line) });
        return r.summary;
      };
      const plain = await run('plain-max', { accounts: { count: 2_000 }, workload: { kind: 'transfer' }, load: { mode: 'max', durationSec: DURATION_S, maxInFlight: MAX_IN_FLIGHT } });
      const replayed = await run('replay-max', { workload: { kind: 'replay', dataset: ds.out }, load: { mode: 'max', durationSec: 240, maxInFlight: MAX_IN_FLIGHT } });
      return {
        rows: [
          { metric: 'plain transfers at max, committed', value: plain.tps.avg, unit: 'tx/s' },
          { metric: 'replay at max, committed', value: replayed.tps.avg, unit: 'tx/s' },
          { metric: 'replay transactions committed', value: replayed.committed, unit: 'tx' },
          { metric: 'replay duration', value: replayed.tps.windowSec ?? replayed.durationSec, unit: 's' },
        ],
        ratios: [{ label: 'replay ÷ plain committed tx/s', value: replayed.tps.avg / plain.tps.avg, note: 'the cost of multi-input transactions, busy senders and dependency waits' }],
        notes: [
          `${ds.header.stats.records} replayed transactions, ${ds.header.stats.deps} deps, max depth ${ds.header.stats.maxDepth}; reconciliation missing ${replayed.reconciliation?.missing}, unexpected ${replayed.reconciliation?.unexpected}`,
          ...(replayed.notes ?? []),
        ],
      };
    } finally {
      if (net) {
        await stopProcesses(net.nodes);
        await stopProcesses([net.sequencer, net.tracker]);
      }
      await rm(dir, { recursive: true, force: true });
    }
  },
};
