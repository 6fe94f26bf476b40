/**
 * A large committed history, written fast: transfers applied through the state machine and
 * written as a sequencer's ChainStore would leave them (block log, transaction index, snapshots),
 * in bulk (bench/lib/history-writer.ts), without the network and without signing.
 *
 * Why unsigned transfers are a fair history for timing a restart: nothing on the restart path
 * verifies a signature. Signatures are checked at ingress (node-api → verifier) only;
 * `ChainStore.open` loads the newest snapshot, walks the log's headers up to its checkpoint, and
 * replays the tail through `applyBlock` (state, nonces, balances, state hash), which checks no
 * signature. So a history of zero-signature transfers makes the node do exactly the restart work a
 * signed one would. The tail after the last snapshot is signed anyway, so whatever a restarted
 * node serves from it is real.
 */
import { execFile } from 'node:child_process';
import { open, readdir, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { ChainStore } from '../../src/ledger/chain-store.js';
import { parseGenesis, type Genesis } from '../../src/ledger/genesis.js';
import { keyPairFromLabel } from '../../src/protocol/signing.js';
import { CLI, NodeProcess, ROLE_CLI } from '../../test/testkit/index.js';
import type { BenchContext, BenchRatio, BenchRow } from '../contract.js';
import { envNumber } from './common.js';
import { growHistory, type GrowResult } from './history-writer.js';

/** Transactions of the large history (TPSLAB_RESTART_LARGE_TXS, rounded to whole blocks), next to a small one. */
const LARGE_TXS = envNumber('TPSLAB_RESTART_LARGE_TXS', 1_000_000);
const TXS_PER_BLOCK = 1_000;
const SNAPSHOT_EVERY = 100;
const TAIL_BLOCKS = 10;
const SENDERS = 1_000;
const REPEAT = 3;

export interface LargeHistoryResult {
  rows: BenchRow[];
  ratios: BenchRatio[];
  notes: string[];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

type Samples = GrowResult['samples'];

/** Median over REPEAT of ChainStore.open from the snapshot (fsync on, as a node opens); checks it started from one and finds old ids. */
async function openFromSnapshotMs(dataDir: string, genesis: Genesis, samples: Samples): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    const chain = await ChainStore.open(dataDir, genesis, { fsync: true, snapshotEveryBlocks: 0, snapshotEveryTxs: 0 });
    times.push(performance.now() - t);
    const up = chain.startup;
    const lost = samples.filter((x) => chain.locate(x.idKey)?.height !== x.height);
    await chain.close();
    if (up.fromSnapshot === undefined || up.replayedBlocks !== TAIL_BLOCKS) throw new Error(`expected a snapshot and ${TAIL_BLOCKS} blocks of tail: ${JSON.stringify(up)}`);
    if (lost.length > 0) throw new Error(`the index does not locate ${lost.length} of ${samples.length} sampled transactions`);
  }
  return median(times);
}

/**
 * Median over REPEAT of a real node process on the directory, spawn to /health 200, through `cli`; then
 * the first status lookup of the oldest sampled transaction (a cold index page), checked committed.
 */
async function processMs(dataDir: string, genesisPath: string, cli: string, oldest: Samples[number], repeat = REPEAT): Promise<{ ms: number; lookupMs: number; recovered: string }> {
  const times: number[] = [];
  const lookups: number[] = [];
  let recovered = '';
  for (let i = 0; i < repeat; i++) {
    const t = performance.now();
    const node = await NodeProcess.start(dataDir, ['--genesis', genesisPath], cli);
    times.push(performance.now() - t);
    try {
      recovered = /recovered in .*/.exec(node.output)?.[0] ?? '(no recovery line)';
      const l = performance.now();
      const res = await fetch(`${node.url}/v1/tx/${Buffer.from(oldest.idKey, 'latin1').toString('hex')}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await res.json()) as { status?: string; height?: number };
      lookups.push(performance.now() - l);
      if (body.status !== 'committed' || body.height !== oldest.height) throw new Error(`the node answered ${JSON.stringify(body)} for a transaction of block ${oldest.height}`);
    } finally {
      await node.stop();
    }
  }
  return { ms: median(times), lookupMs: median(lookups), recovered };
}

/**
 * Drops the data directory's files from the OS page cache (written back first): a restart after the
 * machine dropped them, as after a reboot. `dd iflag=nocache count=0` (GNU coreutils) advises
 * POSIX_FADV_DONTNEED for the whole file and touches only these files' pages. False where it fails.
 */
async function evictFromPageCache(dataDir: string): Promise<boolean> {
  const names = ['blocks.log', ...(await readdir(join(dataDir, 'txindex'))).map((n) => join('txindex', n)), ...(await readdir(join(dataDir, 'snapshots'))).map((n) => join('snapshots', n))];
  try {
    for (const name of names) {
      const path = join(dataDir, name);
      const fh = await open(path, 'r+').catch(() => undefined);
      if (!fh) continue;
      try { await fh.sync(); } finally { await fh.close(); }
      await promisify(execFile)('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Restart at a small and a large history (the same chain grown; the same 10-block tail after the last
 * snapshot both times): ChainStore.open, and a real node process through the role entry and the full CLI.
 */
export async function measureLargeHistory(dir: string, ctx: BenchContext): Promise<LargeHistoryResult> {
  const keys = Array.from({ length: SENDERS }, (_, i) => keyPairFromLabel(`bench-large-${i}`));
  const gj = {
    network: 'tpslab-bench-large',
    timestampMs: 1_700_000_000_000,
    params: { minFee: '0', maxPayloadBytes: 1024 },
    accounts: keys.map((k) => ({ address: k.address, balance: '1000000000000' })),
  };
  const genesis = parseGenesis(gj);
  const genesisPath = join(dir, 'large-genesis.json');
  await writeFile(genesisPath, JSON.stringify(gj));
  const dataDir = join(dir, 'large');
  const smallBlocks = SNAPSHOT_EVERY + TAIL_BLOCKS;
  const largeBlocks = Math.max(smallBlocks + SNAPSHOT_EVERY, Math.round(LARGE_TXS / TXS_PER_BLOCK / SNAPSHOT_EVERY) * SNAPSHOT_EVERY + TAIL_BLOCKS);
  const samples: Samples = [];
  const grow = async (blocks: number): Promise<number> => {
    const t = performance.now();
    let last = 0;
    const grown = await growHistory({
      dataDir, genesis, keys, blocks, txsPerBlock: TXS_PER_BLOCK, snapshotEveryBlocks: SNAPSHOT_EVERY, signedTailBlocks: TAIL_BLOCKS,
      onProgress: (h) => {
        if (performance.now() - last < 10_000) return;
        last = performance.now();
        ctx.log(`  height ${h} of ${largeBlocks}`);
      },
    });
    samples.push(...grown.samples);
    if (ctx.signal.aborted) throw new Error('aborted');
    return ((performance.now() - t) * 1000) / (blocks * TXS_PER_BLOCK);
  };
  ctx.log(`large history: writing ${smallBlocks * TXS_PER_BLOCK} unsigned transfers (signed tail), timing restarts`);
  await grow(smallBlocks);
  const smallOpen = await openFromSnapshotMs(dataDir, genesis, samples);
  const smallProc = await processMs(dataDir, genesisPath, ROLE_CLI, samples[0]!);
  ctx.log(`large history: growing to ${largeBlocks * TXS_PER_BLOCK} transfers`);
  const growUs = await grow(largeBlocks - smallBlocks);
  const largeOpen = await openFromSnapshotMs(dataDir, genesis, samples);
  const largeProc = await processMs(dataDir, genesisPath, ROLE_CLI, samples[0]!);
  const largeFull = await processMs(dataDir, genesisPath, CLI, samples[0]!);
  // Once each with the data directory's files out of the page cache (the code stays cached).
  let cold: { openMs: number; proc: Awaited<ReturnType<typeof processMs>> } | undefined;
  if (await evictFromPageCache(dataDir)) {
    const t = performance.now();
    await (await ChainStore.open(dataDir, genesis, { fsync: true, snapshotEveryBlocks: 0, snapshotEveryTxs: 0 })).close();
    const openMs = performance.now() - t;
    if (await evictFromPageCache(dataDir)) cold = { openMs, proc: await processMs(dataDir, genesisPath, ROLE_CLI, samples[0]!, 1) };
  }
  const disk = (await stat(join(dataDir, 'blocks.log'))).size + await dirBytes(join(dataDir, 'txindex'));
  const small = smallBlocks * TXS_PER_BLOCK;
  const large = largeBlocks * TXS_PER_BLOCK;
  return {
    rows: [
      { metric: `large history: restart from snapshot (ChainStore.open), ${small} tx`, value: smallOpen, unit: 'ms' },
      { metric: `large history: restart from snapshot (ChainStore.open), ${large} tx`, value: largeOpen, unit: 'ms' },
      { metric: `large history: node process (role entry), ${small} tx, spawn to /health 200`, value: smallProc.ms, unit: 'ms' },
      { metric: `large history: node process (role entry), ${large} tx, spawn to /health 200`, value: largeProc.ms, unit: 'ms' },
      { metric: `large history: node process (full CLI), ${large} tx, spawn to /health 200`, value: largeFull.ms, unit: 'ms' },
      { metric: `large history: first status lookup after restart (oldest tx, cold index page), ${small} tx`, value: smallProc.lookupMs, unit: 'ms' },
      { metric: `large history: first status lookup after restart (oldest tx, cold index page), ${large} tx`, value: largeProc.lookupMs, unit: 'ms' },
      ...(cold ? [
        { metric: `large history: ChainStore.open, ${large} tx, files out of the page cache (once)`, value: cold.openMs, unit: 'ms' },
        { metric: `large history: node process (role entry), ${large} tx, files out of the page cache, spawn to /health 200 (once)`, value: cold.proc.ms, unit: 'ms' },
        { metric: `large history: its first status lookup (oldest tx), files out of the page cache`, value: cold.proc.lookupMs, unit: 'ms' },
      ] : []),
      { metric: 'large history: writing it (state machine + log + index in bulk, no signatures)', value: growUs, unit: 'µs/tx' },
      { metric: `large history: block log + index on disk, ${large} tx`, value: disk / 1024 / 1024, unit: 'MB' },
    ],
    ratios: [
      { label: `restart from snapshot, ${large} tx ÷ ${small} tx (ChainStore.open)`, value: largeOpen / smallOpen, note: 'about 1: restart does not grow with history (the same 10-block tail)' },
      { label: `node process spawn to /health 200, ${large} tx ÷ ${small} tx`, value: largeProc.ms / smallProc.ms, note: 'about 1; the goal is < 3 s at 10 M (TPSLAB_RESTART_LARGE_TXS=10000000)' },
      { label: 'node process spawn to /health 200, role entry ÷ full CLI', value: largeProc.ms / largeFull.ms, note: 'what loading only the ledger roles saves (net up and net restart use the role entry)' },
    ],
    notes: [
      `large history: ${SENDERS} accounts, ${TXS_PER_BLOCK} transfers a block, a snapshot every ${SNAPSHOT_EVERY} blocks, the last ${TAIL_BLOCKS} blocks signed; earlier transfers carry zero signatures (no restart path verifies one: bench/lib/large-history.ts); written in bulk (bench/lib/history-writer.ts); ${samples.length} sampled old transactions located after every open`,
      `large history: the node at ${large} tx logged: ${largeProc.recovered}`,
      cold ? `large history: with its files out of the page cache it logged: ${cold.proc.recovered}` : 'large history: could not drop the files from the page cache (dd iflag=nocache): no cold figures',
    ],
  };
}

/** Bytes of the files in a directory (not recursive). */
export async function dirBytes(dir: string): Promise<number> {
  let sum = 0;
  for (const n of await readdir(dir)) sum += (await stat(join(dir, n))).size;
  return sum;
}
