/**
 * node-restart: how long a node takes to recover its data directory, with
 * snapshots next to a full replay of the same log, at two history sizes; and
 * what the transaction-id index costs next to the in-memory Map it replaced.
 *
 * 1. A chain of real signed transfers (SENDERS accounts funded in the genesis,
 *    TXS_PER_BLOCK a block) is written through ChainStore, as a sequencer
 *    would (fsync off while building), with a snapshot every SNAPSHOT_EVERY blocks.
 * 2. At BLOCKS_SMALL and again at BLOCKS_LARGE blocks (the same chain, grown):
 *    ChainStore.open timed REPEAT times with the snapshots, and REPEAT times
 *    with them moved away (full replay of the same log and index), median each.
 * 3. At BLOCKS_LARGE, a real `tpslab node` process: spawn to /health 200.
 * 4. The index: bytes on disk per transaction and its memory at 10 M transactions,
 *    next to the heap a Map of the same ids takes; lookups/s of both.
 * 5. A snapshot of a synthetic 200,000-account state: encode, and decode + load,
 *    per account (what grows with accounts rather than with transactions).
 * 6. A large history (bench/lib/large-history.ts; TPSLAB_RESTART_LARGE_TXS, default 1 M):
 *    restart from a snapshot at 110,000 and at the large size, ChainStore.open and a real
 *    node process (spawn to /health 200), the ratio large ÷ small.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ChainStore } from '../src/ledger/chain-store.js';
import { decodeSnapshot, encodeSnapshot } from '../src/ledger/snapshot.js';
import { LedgerState, type AccountState } from '../src/ledger/state.js';
import { parseGenesis, type Genesis } from '../src/ledger/genesis.js';
import { encodeBlock, makeBlock } from '../src/protocol/block.js';
import { keyPairFromLabel, signTx, type KeyPair } from '../src/protocol/signing.js';
import type { SignedTx } from '../src/protocol/tx.js';
import { NodeProcess } from '../test/testkit/index.js';
import type { BenchContext, BenchResult, Benchmark } from './contract.js';
import { envNumber } from './lib/common.js';
import { dirBytes, measureLargeHistory } from './lib/large-history.js';

/**
 * What the transaction index holds in memory at 10 M ids (src/ledger/tx-index.ts): 4 bytes of fences per
 * 64 ids, at most one batch of 8,192 ids staged (40 bytes each), and SQLite's default 2 MB page cache of
 * the topics table.
 */
const INDEX_MEMORY_10M_BYTES = (10e6 / 64) * 4 + 8192 * 40 + 2e6;

const SENDERS = 4_000;
const TXS_PER_BLOCK = 1_000;
const BLOCKS_SMALL = 60;
const BLOCKS_LARGE = 110; // the same log tail after the last snapshot (10 blocks) at both sizes
const SNAPSHOT_EVERY = 25;
const REPEAT = 3;
const LOOKUPS = 20_000;
const NETWORK = 'tpslab-bench-restart';
/** Accounts in a synthetic state, to time encoding and loading a snapshot of an account-heavy ledger. */
const SNAPSHOT_ACCOUNTS = 200_000;

/** µs per account to encode a snapshot, and to decode and load one (the start-up cost that grows with accounts). */
function snapshotCostPerAccount(genesis: Genesis): { encodeUs: number; loadUs: number; bytes: number } {
  const state = new LedgerState(genesis);
  const accounts = new Map<string, AccountState>();
  const key = Buffer.alloc(32);
  for (let i = 0; i < SNAPSHOT_ACCOUNTS; i++) {
    key.writeUInt32BE(i, 0);
    accounts.set(key.toString('latin1'), { balance: BigInt(i) * 1000n, nonce: BigInt(i % 50) });
  }
  state.restore({ height: 1, headHash: genesis.hash, stateHash: genesis.hash, feesBurned: 0n, accounts, topics: new Map() });
  let t = performance.now();
  const bytes = encodeSnapshot(state, 0);
  const encodeUs = ((performance.now() - t) * 1000) / SNAPSHOT_ACCOUNTS;
  t = performance.now();
  const loaded = new LedgerState(genesis);
  loaded.restore(decodeSnapshot(bytes));
  const loadUs = ((performance.now() - t) * 1000) / SNAPSHOT_ACCOUNTS;
  if (loaded.accountCount !== SNAPSHOT_ACCOUNTS) throw new Error('snapshot lost accounts');
  return { encodeUs, loadUs, bytes: bytes.length };
}

function genesisJson(keys: readonly KeyPair[]): object {
  return {
    network: NETWORK,
    timestampMs: 1_700_000_000_000,
    params: { minFee: '0', maxPayloadBytes: 1024 },
    accounts: keys.map((k) => ({ address: k.address, balance: '1000000000' })),
  };
}

/** Transfers for blocks [fromBlock, toBlock): sender s sends its nonce n to sender s+1. */
function signBlocks(keys: readonly KeyPair[], fromBlock: number, toBlock: number): SignedTx[][] {
  const blocks: SignedTx[][] = [];
  for (let b = fromBlock; b < toBlock; b++) {
    const txs: SignedTx[] = [];
    for (let i = 0; i < TXS_PER_BLOCK; i++) {
      const k = b * TXS_PER_BLOCK + i;
      const s = k % keys.length;
      const from = keys[s]!;
      const to = keys[(s + 1) % keys.length]!;
      const nonce = BigInt(Math.floor(k / keys.length));
      txs.push(signTx({ kind: 'transfer', nonce, fee: 0n, deps: [], inputs: [{ account: from.publicKey, amount: 1n }], outputs: [{ account: to.publicKey, amount: 1n }] }, [from], NETWORK));
    }
    blocks.push(txs);
  }
  return blocks;
}

/** Appends `blocks` to the chain in `dataDir` as a sequencer would. */
async function grow(dataDir: string, genesis: Genesis, blocks: readonly SignedTx[][]): Promise<void> {
  const chain = await ChainStore.open(dataDir, genesis, { fsync: false, snapshotEveryBlocks: SNAPSHOT_EVERY });
  let pending: Promise<void>[] = [];
  for (const txs of blocks) {
    const state = chain.state;
    const effects = txs.map((tx) => state.execute(tx));
    const height = state.height + 1;
    const prevHash = state.headHash;
    const stateHash = state.seal(height);
    const block = makeBlock({ height, prevHash, timestampMs: genesis.timestampMs + height, stateHash, txs });
    state.setHead(block.hash);
    chain.index(block, effects);
    pending.push(chain.persist(block, encodeBlock(block)));
    if (pending.length >= 8) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await chain.close();
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Median time of ChainStore.open (fsync on, as a node opens) over REPEAT runs; checks where it started from. */
async function timeOpen(dataDir: string, genesis: Genesis, expectSnapshot: boolean): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const start = performance.now();
    const chain = await ChainStore.open(dataDir, genesis, { fsync: true, snapshotEveryBlocks: 0 });
    times.push(performance.now() - start);
    if ((chain.startup.fromSnapshot !== undefined) !== expectSnapshot) throw new Error(`expected ${expectSnapshot ? 'a snapshot' : 'a full replay'}: ${JSON.stringify(chain.startup)}`);
    await chain.close();
  }
  return median(times);
}

async function measureRestarts(dataDir: string, genesis: Genesis): Promise<{ withMs: number; withoutMs: number }> {
  const withMs = await timeOpen(dataDir, genesis, true);
  await rename(join(dataDir, 'snapshots'), join(dataDir, 'snapshots.away'));
  try {
    return { withMs, withoutMs: await timeOpen(dataDir, genesis, false) };
  } finally {
    await rename(join(dataDir, 'snapshots.away'), join(dataDir, 'snapshots'));
  }
}

/** A full collection even without --expose-gc (the bench runner has none): without it the Map figure came out negative. */
const fullGc: (() => void) | undefined = globalThis.gc ?? (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as (() => void) | undefined;
})();

function heapUsed(): number {
  fullGc?.();
  return process.memoryUsage().heapUsed;
}

export const nodeRestart: Benchmark = {
  name: 'node-restart',
  description: 'node recovery with snapshots ÷ full replay of the same log, at two history sizes; tx index vs in-memory Map',
  timeoutMs: 240_000 + envNumber('TPSLAB_RESTART_LARGE_TXS', 1_000_000) * 0.1, // writing the large history in bulk: ~5 µs/tx of CPU, up to 30 µs/tx of wall time measured on a loaded machine
  async run(ctx: BenchContext): Promise<BenchResult> {
    const dir = await mkdtemp(join(tmpdir(), 'tpslab-bench-restart-'));
    const dataDir = join(dir, 'node');
    try {
      const keys = Array.from({ length: SENDERS }, (_, i) => keyPairFromLabel(`bench-restart-${i}`));
      const gj = genesisJson(keys);
      const genesis = parseGenesis(gj);
      const genesisPath = join(dir, 'genesis.json');
      await writeFile(genesisPath, JSON.stringify(gj));
      ctx.log(`signing ${BLOCKS_LARGE * TXS_PER_BLOCK} transfers`);
      const all = signBlocks(keys, 0, BLOCKS_LARGE);
      if (ctx.signal.aborted) throw new Error('aborted');

      ctx.log(`writing ${BLOCKS_SMALL} blocks, then timing restarts`);
      await grow(dataDir, genesis, all.slice(0, BLOCKS_SMALL));
      const small = await measureRestarts(dataDir, genesis);
      ctx.log(`growing to ${BLOCKS_LARGE} blocks, then timing restarts`);
      await grow(dataDir, genesis, all.slice(BLOCKS_SMALL));
      const large = await measureRestarts(dataDir, genesis);

      ctx.log('timing a real tpslab node process from spawn to /health 200');
      const spawnStart = performance.now();
      const node = await NodeProcess.start(dataDir, ['--genesis', genesisPath, '--snapshot-every', String(SNAPSHOT_EVERY)]);
      const processMs = performance.now() - spawnStart;
      const recoveredLine = /recovered in .*/.exec(node.output)?.[0] ?? '(no recovery line)';
      await node.stop();

      // The index next to the Map it replaced: memory and lookups, on the same ids.
      const ids = all.flat().map((tx) => tx.id);
      const indexBytes = await dirBytes(join(dataDir, 'txindex'));
      const before = heapUsed();
      const map = new Map<string, number>();
      ids.forEach((id, i) => map.set(id.toString('latin1'), i));
      const mapBytes = heapUsed() - before;
      const probe = Array.from({ length: LOOKUPS }, (_, i) => ids[(i * 7919) % ids.length]!);
      let t0 = performance.now();
      for (const id of probe) if (map.get(id.toString('latin1')) === undefined) throw new Error('Map lost an id');
      const mapPerSec = LOOKUPS / ((performance.now() - t0) / 1000);
      const chain = await ChainStore.open(dataDir, genesis, { fsync: false, snapshotEveryBlocks: 0 });
      t0 = performance.now();
      for (const id of probe) if (!chain.isIndexed(id.toString('latin1'))) throw new Error('index lost an id');
      const indexPerSec = LOOKUPS / ((performance.now() - t0) / 1000);
      await chain.close();
      map.clear();

      const snap = snapshotCostPerAccount(genesis);
      const txs = ids.length;
      if (ctx.signal.aborted) throw new Error('aborted');
      const big = await measureLargeHistory(dir, ctx);
      return {
        rows: [
          { metric: `restart, ${BLOCKS_SMALL * TXS_PER_BLOCK} tx, full replay`, value: small.withoutMs, unit: 'ms' },
          { metric: `restart, ${BLOCKS_SMALL * TXS_PER_BLOCK} tx, from snapshot`, value: small.withMs, unit: 'ms' },
          { metric: `restart, ${txs} tx, full replay`, value: large.withoutMs, unit: 'ms' },
          { metric: `restart, ${txs} tx, from snapshot`, value: large.withMs, unit: 'ms' },
          { metric: `tpslab node process, ${txs} tx, spawn to /health 200`, value: processMs, unit: 'ms' },
          { metric: 'tx index on disk per transaction', value: indexBytes / txs, unit: 'B' },
          { metric: 'tx index memory at 10 M tx (fences, one batch, topics cache)', value: INDEX_MEMORY_10M_BYTES, unit: 'B' },
          { metric: 'in-memory Map heap per transaction', value: mapBytes / txs, unit: 'B' },
          { metric: `snapshot encode (on the event loop), ${SNAPSHOT_ACCOUNTS} accounts`, value: snap.encodeUs, unit: 'µs/account' },
          { metric: `snapshot decode + load at start-up, ${SNAPSHOT_ACCOUNTS} accounts`, value: snap.loadUs, unit: 'µs/account' },
          { metric: 'snapshot size per account', value: snap.bytes / SNAPSHOT_ACCOUNTS, unit: 'B' },
          { metric: 'status lookups, on-disk index', value: indexPerSec, unit: 'lookup/s' },
          { metric: 'status lookups, in-memory Map', value: mapPerSec, unit: 'lookup/s' },
          ...big.rows,
        ],
        ratios: [
          { label: `restart from snapshot ÷ full replay, ${txs} tx`, value: large.withMs / large.withoutMs, note: 'same log and index; lower is better' },
          { label: `full replay ${txs} tx ÷ ${BLOCKS_SMALL * TXS_PER_BLOCK} tx`, value: large.withoutMs / small.withoutMs, note: 'grows with history (about 2 for twice the history)' },
          { label: `from snapshot ${txs} tx ÷ ${BLOCKS_SMALL * TXS_PER_BLOCK} tx`, value: large.withMs / small.withMs, note: 'about 1: restart time does not grow with history' },
          { label: 'index lookups/s ÷ Map lookups/s', value: indexPerSec / mapPerSec, note: 'what bounded memory costs per status or duplicate check' },
          { label: `Map heap at 10 M tx ÷ index memory at 10 M tx`, value: ((mapBytes / txs) * 10e6) / INDEX_MEMORY_10M_BYTES, note: 'memory the Map would need for the issue\'s 10 M transactions, in index memories' },
          ...big.ratios,
        ],
        notes: [
          `${SENDERS} accounts, ${TXS_PER_BLOCK} transfers a block, a snapshot every ${SNAPSHOT_EVERY} blocks; each restart time is the median of ${REPEAT} opens`,
          `the node process logged: ${recoveredLine}`,
          fullGc ? 'heap measured after a full gc()' : 'heap measured without gc(): the Map figure includes garbage',
          ...big.notes,
        ],
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
