import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { TpslabError } from '../errors.js';
import { ensureDevGenesis } from '../ledger/dev-genesis.js';
import { loadGenesis, type Genesis } from '../ledger/genesis.js';
import { serveLedger, type RunningLedger } from '../ledger/node.js';
import { Replica } from '../ledger/replica.js';
import { Sequencer } from '../ledger/sequencer.js';
import { ReplicatedSequencer } from '../ledger/replicated-sequencer.js';
import { DEFAULT_LEASE_MS } from '../ledger/lease.js';
import { addNatsOptions, natsOptions, type NatsFlags } from './nats-options.js';
import { joinTracker } from '../ledger/tracker-client.js';
import { listenEarly } from '../ledger/early-listener.js';
import { DEFAULT_SNAPSHOT_EVERY_BLOCKS, DEFAULT_SNAPSHOT_EVERY_TXS } from '../ledger/snapshot.js';
import { parseIntOption, untilSignal } from './common.js';
import { registerNodeDrain } from './node-drain.js';

export interface LedgerCommandOptions {
  data: string;
  port: number;
  host: string;
  genesis?: string;
  sequencer?: string;
  tracker?: string;
  id?: string;
  blockIntervalMs: number;
  blockMaxTxs: number;
  mempoolCapacity: number;
  maxForwardPending?: number;
  fsync: boolean;
  verifyThreads?: number;
  maxHeadAgeMs?: number;
  maxLagBlocks?: number;
  snapshotEvery: number;
  snapshotEveryTxs: number;
  /** Replicated ordering (sequencer only): NATS server URLs, comma-separated. */
  nats?: string;
  sequencerId?: string;
  leaseMs: number;
  replicas?: number;
}

function common(cmd: Command): Command {
  return cmd
    // Checked in runLedgerProcess, not by commander: a required option here would also be demanded of "node drain".
    .option('--data <dir>', 'data directory (blocks.log, genesis.hash, endpoint.json); created if missing (required)')
    .option('--port <n>', 'TCP port to listen on; 0 picks a free one (see <data>/endpoint.json)', parseIntOption('--port', 0, 65535), 0)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--tracker <url>', 'tracker to join: heartbeats at the interval it hands out')
    .option('--id <name>', 'member id at the tracker (default: the data directory name)')
    .option('--no-fsync', 'do not fdatasync the block log (benchmarks only: commits are not durable)')
    .option('--snapshot-every <blocks>', 'write a state snapshot every this many blocks, so a restart loads it and replays only the log after it; 0 not by blocks (with --snapshot-every-txs 0 too: never)', parseIntOption('--snapshot-every', 0, 100_000_000), DEFAULT_SNAPSHOT_EVERY_BLOCKS)
    .option('--snapshot-every-txs <n>', 'also write a snapshot once this many transactions were applied since the last one (keeps the replayed tail short with full blocks); 0 only by blocks', parseIntOption('--snapshot-every-txs', 0, 1_000_000_000), DEFAULT_SNAPSHOT_EVERY_TXS)
    .option('--verify-threads <n>', 'worker threads checking batch signatures; 0 checks on the event loop (default: one per core, at most 4)', parseIntOption('--verify-threads', 0, 64))
    .option('--max-head-age-ms <ms>', '/health fails when the newest block is older than this (networks with steady traffic only; default: off)', parseIntOption('--max-head-age-ms', 1, 86_400_000))
    .option('--max-lag-blocks <n>', '/health fails when the sequencer is more than this many blocks ahead (replicas; default: off)', parseIntOption('--max-lag-blocks', 0, 1_000_000_000));
}

function ordering(cmd: Command): Command {
  return cmd
    .option('--block-interval-ms <ms>', 'cut a block at most this long after the first ready transaction, at least this long after the previous one unless full', parseIntOption('--block-interval-ms', 1, 60_000), 25)
    .option('--block-max-txs <n>', 'transactions per block at most', parseIntOption('--block-max-txs', 1, 100_000), 4000)
    .option('--mempool-capacity <n>', 'pending transactions at most before answering 429', parseIntOption('--mempool-capacity', 1, 10_000_000), 100_000);
}

export function registerNode(program: Command): void {
  ordering(
    common(
      program
        .command('node')
        .description('run a ledger node with the HTTP API under /v1: standalone (orders its own blocks), or with --sequencer a replica in a network'),
    )
      .option('--genesis <file>', 'genesis JSON; standalone without it: a development genesis and faucet key are created in the data directory')
      .option('--sequencer <url>', 'join a network: forward transactions to this sequencer and follow its blocks (needs --genesis); with replicated ordering every sequencer, comma-separated: blocks come from any, transactions go to the leader')
      .option('--max-forward-pending <n>', 'with --sequencer: transactions queued for or in flight to the sequencer at most; beyond, 429 at once', parseIntOption('--max-forward-pending', 1, 10_000_000), 20_000),
  )
    .addHelpText('after', '\nExamples:\n  tpslab node --data ./n1 --port 8545\n  tpslab node --data ./n2 --genesis net/genesis.json --sequencer http://127.0.0.1:7000 --tracker http://127.0.0.1:7100')
    .action(async (o: LedgerCommandOptions) => runLedgerProcess(o.sequencer ? 'replica' : 'node', o));
  registerNodeDrain(program.commands.find((c) => c.name() === 'node')!);

  addNatsOptions(ordering(common(program.command('sequencer').description('run the sequencer of a network: total order, blocks, the durable log, the block feed for nodes; with --nats one of several, ordering on a replicated JetStream log'))))
    .requiredOption('--genesis <file>', 'genesis JSON shared by the network')
    .option('--nats <urls>', 'replicated ordering: NATS servers with JetStream, comma-separated; one sequencer leads by a lease, the others follow and take over (docs/network.md)')
    .option('--sequencer-id <name>', 'with --nats: this sequencer\'s name in the lease, unique in the network (default: the --id, else the data directory name)')
    .option('--lease-ms <ms>', 'with --nats: the leader\'s lease; a follower takes over this long after the last renewal it saw', parseIntOption('--lease-ms', 100, 60_000), DEFAULT_LEASE_MS)
    .option('--replicas <n>', 'with --nats: replicas of the JetStream stream and lease bucket (default: 3 when --nats names 3 or more servers, else 1)', parseIntOption('--replicas', 1, 5))
    .addHelpText('after', '\nExamples:\n  tpslab sequencer --data ./seq --genesis net/genesis.json --port 7000\n  tpslab sequencer --data ./seq1 --genesis net/genesis.json --nats nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224 --sequencer-id seq1')
    .action(async (o: LedgerCommandOptions) => runLedgerProcess('sequencer', o));
}

export async function runLedgerProcess(role: 'node' | 'replica' | 'sequencer', o: LedgerCommandOptions): Promise<void> {
  if (!o.data) throw new TpslabError('TPSLAB_E_USAGE', `tpslab ${role === 'replica' ? 'node' : role} needs --data <dir> (its blocks, genesis hash and endpoint.json live there)`);
  let genesis: Genesis;
  let genesisInfo = '';
  if (o.genesis) genesis = await loadGenesis(o.genesis);
  else {
    const dev = await ensureDevGenesis(o.data);
    genesis = dev.genesis;
    genesisInfo = `genesis ${dev.genesisPath} (${dev.created ? 'created' : 'existing'}), faucet key ${dev.faucetKeyPath}`;
  }
  // Listen first: while the log is replayed, /health answers 503 "recovering" with the progress.
  const early = await listenEarly({ host: o.host, port: o.port, role });
  console.log(`tpslab ${role} recovering on ${early.url}: replaying the block log in ${o.data}`);
  const onReplay = early.progress;
  let service: Replica | Sequencer | ReplicatedSequencer;
  if (role !== 'sequencer' && o.nats) throw new TpslabError('TPSLAB_E_USAGE', '--nats belongs to tpslab sequencer (replicated ordering); a node names every sequencer in --sequencer URL1,URL2,URL3');
  try {
    service = o.nats
      ? await ReplicatedSequencer.open(
          o.data,
          genesis,
          { blockIntervalMs: o.blockIntervalMs, blockMaxTxs: o.blockMaxTxs, fsync: o.fsync, snapshotEveryBlocks: o.snapshotEvery, snapshotEveryTxs: o.snapshotEveryTxs, mempool: { capacity: o.mempoolCapacity } },
          {
            nats: natsOptions(o as LedgerCommandOptions & NatsFlags),
            sequencerId: o.sequencerId ?? o.id ?? basename(resolve(o.data)),
            leaseMs: o.leaseMs,
            replicas: o.replicas ?? (o.nats.split(',').length >= 3 ? 3 : 1),
          },
          onReplay,
        )
      : role === 'replica'
        ? await Replica.open(o.data, genesis, { sequencerUrl: o.sequencer!, fsync: o.fsync, snapshotEveryBlocks: o.snapshotEvery, snapshotEveryTxs: o.snapshotEveryTxs, ...(o.maxForwardPending !== undefined ? { maxForwardPending: o.maxForwardPending } : {}) }, onReplay)
        : await Sequencer.open(
            o.data,
            genesis,
            { blockIntervalMs: o.blockIntervalMs, blockMaxTxs: o.blockMaxTxs, fsync: o.fsync, snapshotEveryBlocks: o.snapshotEvery, snapshotEveryTxs: o.snapshotEveryTxs, mempool: { capacity: o.mempoolCapacity } },
            undefined,
            role,
            onReplay,
          );
  } catch (err) {
    await early.close();
    throw err;
  }
  const health = {
    ...(o.maxHeadAgeMs !== undefined ? { maxHeadAgeMs: o.maxHeadAgeMs } : {}),
    ...(o.maxLagBlocks !== undefined ? { maxLagBlocks: o.maxLagBlocks } : {}),
    ...(o.sequencer ? { sequencerUrl: o.sequencer.split(',')[0]!.trim().replace(/\/+$/, '') } : {}),
  };
  const running: RunningLedger = await serveLedger(service, {
    dataDir: o.data,
    host: o.host,
    port: o.port,
    early,
    health,
    ...(o.verifyThreads !== undefined ? { verifyThreads: o.verifyThreads } : {}),
  });
  if (service instanceof ReplicatedSequencer) service.start(running.url);
  const rec = service.recovery;
  const up = service.startup;
  for (const note of up.notes) console.log(`warning: ${note}`);
  console.log(
    `recovered in ${Math.round(up.durationMs)} ms: ` +
      (up.fromSnapshot === undefined ? 'no snapshot, full replay' : `snapshot at height ${up.fromSnapshot}`) +
      ` + ${up.replayedBlocks} blocks replayed from the log`,
  );
  console.log(`tpslab ${role} listening on ${running.url} (network ${genesis.network}, head ${service.durableHeight})`);
  if (rec.truncatedBytes > 0) console.log(`recovered the block log: ${rec.records} blocks, cut a torn tail of ${rec.truncatedBytes} bytes`);
  if (genesisInfo) console.log(genesisInfo);
  if (role === 'node') console.log(`try: curl ${running.url}/v1/head   |   tpslab tx send --node ${running.url} --key <key file> --to <address> --amount 1`);
  // serveLedger prints a fatal error ("stopped serving"); the process stays up answering 503 with the reason,
  // except for TPSLAB_E_DATA_DIR (the transaction index found damaged): a restart rebuilds it, so it exits.
  const restartFixes = new Promise<TpslabError>((res) => service.on('fatal', (err: TpslabError) => {
    if (err.code === 'TPSLAB_E_DATA_DIR') res(err);
  }));
  const membership = o.tracker
    ? joinTracker({
        trackerUrl: o.tracker,
        id: o.id ?? basename(resolve(o.data)),
        role,
        url: running.url,
        info: () => ({ height: service.durableHeight, healthy: service.unavailableReason === undefined }),
      })
    : undefined;
  const why = await Promise.race([untilSignal(), restartFixes]);
  console.log(`${typeof why === 'string' ? why : `error ${why.code}`}: stopping`);
  await membership?.stop();
  await running.close();
  if (typeof why !== 'string') throw why; // printed without a stack, exit code 1
}
