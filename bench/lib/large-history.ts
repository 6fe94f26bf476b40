/**
 * A large committed history, written fast: transfers applied through the state machine and
 * written through ChainStore (block log, transaction index, snapshots) as a sequencer would,
 * without the network and without signing.
 *
 * Why unsigned transfers are a fair history for timing a restart: nothing on the restart path
 * verifies a signature. Signatures are checked at ingress (node-api → verifier) only;
 * `ChainStore.open` loads the newest snapshot, walks the log's headers up to its checkpoint, and
 * replays the tail through `applyBlock` (state, nonces, balances, state hash), which checks no
 * signature. So a history of zero-signature transfers makes the node do exactly the restart work a
 * signed one would. The tail after the last snapshot is signed anyway, so whatever a restarted
 * node serves from it is real.
 */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChainStore } from '../../src/ledger/chain-store.js';
import { parseGenesis, type Genesis } from '../../src/ledger/genesis.js';
import { encodeBlock, makeBlock } from '../../src/protocol/block.js';
import { keyPairFromLabel, signTx, txId, type KeyPair } from '../../src/protocol/signing.js';
import { encodeBody, SIGNATURE_BYTES, type SignedTx, type TransferBody } from '../../src/protocol/tx.js';
import { CLI, NodeProcess, ROLE_CLI } from '../../test/testkit/index.js';
import type { BenchContext, BenchRatio, BenchRow } from '../contract.js';

export interface GrowOptions {
  dataDir: string;
  genesis: Genesis;
  /** Funded in the genesis; sender k % keys.length sends to the next one. */
  keys: readonly KeyPair[];
  /** Blocks to append to whatever the data directory holds. */
  blocks: number;
  txsPerBlock: number;
  /** Passed to ChainStore (a snapshot every this many blocks). */
  snapshotEveryBlocks: number;
  /** The last this many blocks are signed (the tail a restart replays); earlier ones carry zero signatures. */
  signedTailBlocks: number;
  onProgress?(height: number): void;
}

const ZERO_SIGNATURE = Buffer.alloc(SIGNATURE_BYTES);

/** A transfer with a zero signature: valid for the state machine, never seen by a verifier. */
function unsignedTransfer(body: TransferBody): SignedTx {
  const bodyBytes = encodeBody(body);
  return { body, signatures: [ZERO_SIGNATURE], bytes: Buffer.concat([bodyBytes, ZERO_SIGNATURE]), bodyLength: bodyBytes.length, id: txId(bodyBytes) };
}

/** Appends `o.blocks` blocks of transfers; returns the chain's height. Resumable: nonces follow the height. */
export async function growHistory(o: GrowOptions): Promise<number> {
  const chain = await ChainStore.open(o.dataDir, o.genesis, { fsync: false, snapshotEveryBlocks: o.snapshotEveryBlocks, snapshotEveryTxs: 0 });
  try {
    const state = chain.state;
    const first = state.height;
    const signFrom = first + o.blocks - o.signedTailBlocks;
    let pending: Promise<void>[] = [];
    for (let b = first; b < first + o.blocks; b++) {
      const txs: SignedTx[] = new Array<SignedTx>(o.txsPerBlock);
      for (let i = 0; i < o.txsPerBlock; i++) {
        const k = b * o.txsPerBlock + i;
        const s = k % o.keys.length;
        const from = o.keys[s]!;
        const body: TransferBody = {
          kind: 'transfer',
          nonce: BigInt(Math.floor(k / o.keys.length)),
          fee: 0n,
          deps: [],
          inputs: [{ account: from.publicKey, amount: 1n }],
          outputs: [{ account: o.keys[(s + 1) % o.keys.length]!.publicKey, amount: 1n }],
        };
        txs[i] = b >= signFrom ? signTx(body, [from], o.genesis.network) : unsignedTransfer(body);
      }
      const effects = txs.map((tx) => state.execute(tx));
      const height = state.height + 1;
      const prevHash = state.headHash;
      const stateHash = state.seal(height);
      const block = makeBlock({ height, prevHash, timestampMs: o.genesis.timestampMs + height, stateHash, txs });
      state.setHead(block.hash);
      chain.index(block, effects);
      pending.push(chain.persist(block, encodeBlock(block)));
      if (pending.length >= 8) {
        await Promise.all(pending);
        pending = [];
        o.onProgress?.(height);
      }
    }
    await Promise.all(pending);
    return state.height;
  } finally {
    await chain.close();
  }
}

/** Transactions of the large history (TPSLAB_RESTART_LARGE_TXS, rounded to whole blocks), next to a small one. */
const LARGE_TXS = Number(process.env.TPSLAB_RESTART_LARGE_TXS ?? 1_000_000);
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

/** Median over REPEAT of ChainStore.open from the snapshot (fsync on, as a node opens); checks it started from one. */
async function openFromSnapshotMs(dataDir: string, genesis: Genesis): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    const chain = await ChainStore.open(dataDir, genesis, { fsync: true, snapshotEveryBlocks: 0, snapshotEveryTxs: 0 });
    times.push(performance.now() - t);
    const up = chain.startup;
    await chain.close();
    if (up.fromSnapshot === undefined || up.replayedBlocks !== TAIL_BLOCKS) throw new Error(`expected a snapshot and ${TAIL_BLOCKS} blocks of tail: ${JSON.stringify(up)}`);
  }
  return median(times);
}

/** Median over REPEAT of a real node process on the directory, spawn to /health 200, through `cli`. */
async function processMs(dataDir: string, genesisPath: string, cli: string): Promise<{ ms: number; recovered: string }> {
  const times: number[] = [];
  let recovered = '';
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    const node = await NodeProcess.start(dataDir, ['--genesis', genesisPath], cli);
    times.push(performance.now() - t);
    recovered = /recovered in .*/.exec(node.output)?.[0] ?? '(no recovery line)';
    await node.stop();
  }
  return { ms: median(times), recovered };
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
  const grow = async (blocks: number): Promise<number> => {
    const t = performance.now();
    let last = 0;
    await growHistory({
      dataDir, genesis, keys, blocks, txsPerBlock: TXS_PER_BLOCK, snapshotEveryBlocks: SNAPSHOT_EVERY, signedTailBlocks: TAIL_BLOCKS,
      onProgress: (h) => {
        if (performance.now() - last < 10_000) return;
        last = performance.now();
        ctx.log(`  height ${h} of ${largeBlocks}`);
      },
    });
    if (ctx.signal.aborted) throw new Error('aborted');
    return ((performance.now() - t) * 1000) / (blocks * TXS_PER_BLOCK);
  };
  ctx.log(`large history: writing ${smallBlocks * TXS_PER_BLOCK} unsigned transfers (signed tail), timing restarts`);
  await grow(smallBlocks);
  const smallOpen = await openFromSnapshotMs(dataDir, genesis);
  const smallProc = await processMs(dataDir, genesisPath, ROLE_CLI);
  ctx.log(`large history: growing to ${largeBlocks * TXS_PER_BLOCK} transfers`);
  const growUs = await grow(largeBlocks - smallBlocks);
  const largeOpen = await openFromSnapshotMs(dataDir, genesis);
  const largeProc = await processMs(dataDir, genesisPath, ROLE_CLI);
  const largeFull = await processMs(dataDir, genesisPath, CLI);
  const disk = (await stat(join(dataDir, 'blocks.log'))).size + (await stat(join(dataDir, 'txindex.sqlite'))).size;
  const small = smallBlocks * TXS_PER_BLOCK;
  const large = largeBlocks * TXS_PER_BLOCK;
  return {
    rows: [
      { metric: `large history: restart from snapshot (ChainStore.open), ${small} tx`, value: smallOpen, unit: 'ms' },
      { metric: `large history: restart from snapshot (ChainStore.open), ${large} tx`, value: largeOpen, unit: 'ms' },
      { metric: `large history: node process (role entry), ${small} tx, spawn to /health 200`, value: smallProc.ms, unit: 'ms' },
      { metric: `large history: node process (role entry), ${large} tx, spawn to /health 200`, value: largeProc.ms, unit: 'ms' },
      { metric: `large history: node process (full CLI), ${large} tx, spawn to /health 200`, value: largeFull.ms, unit: 'ms' },
      { metric: 'large history: writing it (state machine + log + index, no signatures)', value: growUs, unit: 'µs/tx' },
      { metric: `large history: block log + index on disk, ${large} tx`, value: disk / 1024 / 1024, unit: 'MB' },
    ],
    ratios: [
      { label: `restart from snapshot, ${large} tx ÷ ${small} tx (ChainStore.open)`, value: largeOpen / smallOpen, note: 'about 1: restart does not grow with history (the same 10-block tail)' },
      { label: `node process spawn to /health 200, ${large} tx ÷ ${small} tx`, value: largeProc.ms / smallProc.ms, note: 'about 1; the goal is < 3 s at 10 M (TPSLAB_RESTART_LARGE_TXS=10000000)' },
      { label: 'node process spawn to /health 200, role entry ÷ full CLI', value: largeProc.ms / largeFull.ms, note: 'what loading only the ledger roles saves (net up and net restart use the role entry)' },
    ],
    notes: [
      `large history: ${SENDERS} accounts, ${TXS_PER_BLOCK} transfers a block, a snapshot every ${SNAPSHOT_EVERY} blocks, the last ${TAIL_BLOCKS} blocks signed; earlier transfers carry zero signatures (no restart path verifies one: bench/lib/large-history.ts)`,
      `large history: the node at ${large} tx logged: ${largeProc.recovered}`,
    ],
  };
}
