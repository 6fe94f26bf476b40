/**
 * ethereum-devnet: committed transfers per second through tpslab (the ethereum
 * connector, one beacon, max mode, full tracking, reconciliation) on the
 * embedded EDR devnet, next to a bare viem loop sending the same kind of
 * signed transfers to a fresh devnet of the same settings with no tracking.
 * The ratio says whether the harness is what limits (it should be ≥ 0.9).
 *
 *  1. tpslab: `runScenario` with target {kind: ethereum} (no rpc: EDR started
 *     for the run, a block every BLOCK_MS), WALLETS wallets, open mode at
 *     RATE tx/s for DURATION_S (above what the devnet takes, so it saturates),
 *     presigned before the start as the bare loop's are; rate = committed ÷
 *     the run's duration (from the start to the last commit). Max mode would
 *     sign as it sends, which measures signing too.
 *  2. bare viem: a devnet started the same way, WALLETS wallets funded from its
 *     root (not timed), TXS transfers signed before any clock runs, sent with
 *     viem's `sendRawTransaction` over its batching HTTP transport by CONCURRENCY
 *     workers; rate = TXS ÷ (first send → the block poll that counts them all).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicClient, http, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { preciseClock } from '../src/clock.js';
import { startDevnet } from '../src/connectors/ethereum/devnet.js';
import { fundWallets, readFees } from '../src/connectors/ethereum/provision.js';
import { RpcClient } from '../src/connectors/ethereum/rpc.js';
import { signTx, wallet } from '../src/connectors/ethereum/wallets.js';
import { runScenario, type RunSummary } from '../src/harness/overseer.js';
import { validateScenario } from '../src/harness/scenario.js';
import type { BenchContext, BenchResult, Benchmark } from './contract.js';
import { sleep } from './lib/common.js';

const BLOCK_MS = 1000;
const WALLETS = 500;
const DURATION_S = 8;
const RATE = 2000;
const TXS = RATE * DURATION_S;
const CONCURRENCY = 64;
const COMMIT_TIMEOUT_MS = 60_000;

async function tpslabRun(ctx: BenchContext): Promise<RunSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'tpslab-bench-eth-'));
  try {
    const s = validateScenario(
      {
        name: 'bench-ethereum-devnet',
        target: { kind: 'ethereum', devnet: { blockTimeMs: BLOCK_MS } },
        accounts: { count: WALLETS },
        workload: { kind: 'transfer', amount: 1, sign: 'presign' },
        load: { mode: 'open', stages: [{ kind: 'constant', ratePerSec: RATE, durationSec: DURATION_S }] },
        beacons: { count: 1 },
        confirmation: { timeoutMs: 30_000 },
        thresholds: [],
        results: { db: join(dir, 'results.db'), outcomes: false },
      },
      'bench ethereum scenario',
    );
    const r = await runScenario(s, { log: (line) => ctx.log(line) });
    return r.summary;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function bareViem(ctx: BenchContext): Promise<{ txPerSec: number; mined: number }> {
  const key = generatePrivateKey();
  const devnet = await startDevnet({ root: privateKeyToAddress(key), chainId: 31337, blockTimeMs: BLOCK_MS });
  const rpc = new RpcClient([devnet.url], 30_000);
  try {
    const fees = await readFees(rpc, { type: 'auto', multiplier: 1.5 });
    const wallets = Array.from({ length: WALLETS }, (_, i) => wallet('bench-bare', i));
    await fundWallets({ rpc, root: { key, address: privateKeyToAddress(key) }, chainId: 31337, fees, clock: preciseClock, progress: () => {}, log: (l) => ctx.log(l) }, wallets, 10n ** 18n);
    const raws: Hex[] = [];
    for (let i = 0; i < TXS; i++) {
      const from = wallets[i % WALLETS]!;
      raws.push(signTx(from.key, { chainId: 31337, nonce: Math.floor(i / WALLETS), to: wallets[(i + 1) % WALLETS]!.address, valueWei: 1n, gas: 21_000, fees }).raw);
    }
    const startBlock = Number(await rpc.call<string>('eth_blockNumber'));
    ctx.log(`bare viem: ${TXS} transfers signed; sending with ${CONCURRENCY} workers`);
    const client = createPublicClient({ transport: http(devnet.url, { batch: { batchSize: 200, wait: 5 }, timeout: 30_000 }) });
    const t0 = performance.now();
    let next = 0;
    const sending = Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < raws.length && !ctx.signal.aborted) await client.sendRawTransaction({ serializedTransaction: raws[next++]! });
      }),
    );
    let mined = 0;
    let scanned = startBlock;
    let t1 = t0;
    while (mined < TXS && performance.now() - t0 < COMMIT_TIMEOUT_MS && !ctx.signal.aborted) {
      await sleep(50, ctx.signal).catch(() => {});
      const head = Number(await rpc.call<string>('eth_blockNumber'));
      for (let n = scanned + 1; n <= head; n++) mined += (await rpc.call<{ transactions: string[] }>('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])).transactions.length;
      scanned = head;
      t1 = performance.now();
    }
    await sending;
    return { txPerSec: (mined * 1000) / (t1 - t0), mined };
  } finally {
    await rpc.close();
    await devnet.stop();
  }
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const notes: string[] = [];
  const sum = await tpslabRun(ctx);
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const tpslabRate = sum.committed / sum.durationSec;
  notes.push(`tpslab: ${sum.committed} committed of ${sum.sent} sent over ${sum.durationSec.toFixed(1)} s, ${sum.lost} lost, ${sum.failed} failed; reconciliation ${sum.reconciliation ? `${sum.reconciliation.missing} missing, ${sum.reconciliation.unexpected} unexpected` : 'none'}`);
  const bare = await bareViem(ctx);
  if (bare.mined < TXS) notes.push(`bare viem: only ${bare.mined} of ${TXS} mined within ${COMMIT_TIMEOUT_MS / 1000} s`);
  return {
    rows: [
      { metric: `tpslab committed TPS (EDR devnet, ${BLOCK_MS} ms blocks, ${RATE} tx/s offered, 1 beacon, presigned)`, value: tpslabRate, unit: 'tx/s' },
      { metric: 'tpslab latency p50 (from intended send)', value: sum.latency.p50Ms, unit: 'ms' },
      { metric: `bare viem loop, mined TPS (same devnet settings, ${TXS} presigned)`, value: bare.txPerSec, unit: 'tx/s' },
    ],
    ratios: [{ label: 'tpslab committed tx/s ÷ bare viem mined tx/s', value: tpslabRate / bare.txPerSec, note: '≥ 0.9: the harness is not what limits; the devnet is' }],
    notes,
  };
}

export const ethereumDevnet: Benchmark = {
  name: 'ethereum-devnet',
  description: 'committed TPS through the ethereum connector on the EDR devnet, next to a bare viem loop on the same devnet',
  timeoutMs: 180_000,
  run,
};
