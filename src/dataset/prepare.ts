/**
 * `tpslab dataset prepare`: blk*.dat files → one dataset file and its genesis.
 *
 * Work goes to `<out>.partial`, state to `<out>.state` (SQLite). Every
 * `checkpointBlocks` blocks (or `checkpointBytes` of input, whichever comes
 * first, so one SQLite transaction stays bounded) the writer flushes every bucket, fsyncs, and the
 * state commits the checkpoint (input position, output length, counters) in
 * the same SQLite transaction as the outputs and nonces it reflects. An error
 * or an interrupt rolls the state back to that checkpoint; `--resume` truncates
 * the partial file to the checkpoint's length and carries on, so the result is
 * byte for byte what an uninterrupted run writes. At the end the header is
 * written, the genesis file lands next to the output, and the partial file is
 * renamed: a file at `<out>` is always complete.
 */
import { availableParallelism } from 'node:os';
import { existsSync, ftruncateSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import type { Clock } from '../clock.js';
import { TpslabError } from '../errors.js';
import { parseGenesis } from '../ledger/genesis.js';
import { encodeAddress } from '../protocol/address.js';
import { addressNetwork, PublicKeyCache, SeedCache } from './accounts.js';
import { listBlkFiles, readBlocks, type BlkPosition, type SourceNetwork } from './blk-files.js';
import { displayId } from './btc-block.js';
import { absorbBlock, convertBlock, countersFromStats, countersToStats, emptyCounters, type ConvertContext, type Counters } from './convert.js';
import { encodeHeader, FORMAT_VERSION, FrameWriter, HEADER_BYTES, type DatasetHeader } from './format.js';
import { KeyDeriver } from './key-deriver.js';
import { readAhead } from './read-ahead.js';
import { PrepareState } from './state.js';

export interface PrepareOptions {
  inputs: string[];
  out: string;
  fromBlock?: number;
  toBlock?: number;
  resume?: boolean;
  /** Network id the replay signs for and the genesis file names; default `btc-<source network>`. */
  network?: string;
  checkpointBlocks?: number;
  checkpointBytes?: number;
  frameBytes?: number;
  bucketBits?: number;
  /**
   * Threads deriving accounts (output script → seed → public key): 1 does it
   * on the converting thread; N > 1 starts N worker threads that derive each
   * block's new accounts while earlier blocks convert. Default:
   * availableParallelism(). The output is the same.
   */
  jobs?: number;
  progressIntervalMs?: number;
  onProgress?: (p: PrepareProgress) => void;
  signal?: AbortSignal;
  clock?: Pick<Clock, 'now'>;
}

export interface PrepareProgress {
  block: number;
  records: number;
  inputBytes: number;
  elapsedMs: number;
  mbPerSec: number;
  txPerSec: number;
  utxos?: number;
}

export interface PrepareResult {
  out: string;
  genesisFile: string;
  header: DatasetHeader;
  /** Work done by this run (not counting what a resumed run had done before). */
  elapsedMs: number;
  runInputBytes: number;
  runRecords: number;
  /** Public keys derived by this run (one per new account, the costliest step of a preparation), on any thread. */
  runKeysDerived: number;
  /** Of those, derived by worker threads (0 with jobs 1). */
  runKeysDerivedByWorkers: number;
  jobs: number;
}

interface Config {
  sourceNetwork: SourceNetwork;
  ledgerNetwork: string;
  fromBlock: number;
  checkpointBlocks: number;
  checkpointBytes?: number;
  frameBytes: number;
  bucketBits: number;
}

interface Checkpoint {
  position: BlkPosition | null;
  nextBlock: number;
  prevHash: string | null;
  outBytes: number;
  nextSeq: number;
  utxos: number;
  stats: DatasetHeader['stats'];
  first: { timeSec: number; hash: string } | null;
  last: { timeSec: number; hash: string } | null;
  finished: boolean;
}

export const DEFAULTS = { checkpointBlocks: 1000, checkpointBytes: 256e6, frameBytes: 1 << 20, bucketBits: 8, progressIntervalMs: 5000 } as const;
/** With key workers, blocks parsed ahead of the conversion (and about this many bytes of them at most). */
const READ_AHEAD = { maxBlocks: 32, maxBytes: 16 << 20 } as const;

export function defaultPrepareJobs(): number {
  return Math.max(1, availableParallelism());
}

export function pathsOf(out: string): { partial: string; state: string; genesis: string } {
  return { partial: `${out}.partial`, state: `${out}.state`, genesis: `${out}.genesis.json` };
}

export async function prepareDataset(o: PrepareOptions): Promise<PrepareResult> {
  const now = (): number => (o.clock ? o.clock.now() : Date.now());
  const startedMs = now();
  const fromBlock = o.fromBlock ?? 0;
  const jobs = o.jobs ?? defaultPrepareJobs();
  if (!Number.isInteger(jobs) || jobs < 1) throw new TpslabError('TPSLAB_E_USAGE', `--jobs ${jobs} must be a whole number of threads, 1 or more`);
  const toBlock = o.toBlock ?? Number.MAX_SAFE_INTEGER;
  if (toBlock < fromBlock) throw new TpslabError('TPSLAB_E_USAGE', `--to-block ${toBlock} is before --from-block ${fromBlock}`);
  if (o.network !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(o.network)) {
    throw new TpslabError('TPSLAB_E_USAGE', `--network "${o.network}" must be 1-64 letters, digits, ".", "_" or "-" (it becomes the genesis network id)`);
  }
  const files = await listBlkFiles(o.inputs);
  const paths = pathsOf(o.out);
  const hasState = existsSync(paths.state);
  if (!o.resume && (hasState || existsSync(paths.partial))) {
    throw new TpslabError('TPSLAB_E_USAGE', `an earlier preparation of ${o.out} left ${paths.state}; run again with --resume to continue it, or delete ${paths.partial} and ${paths.state} to start over`);
  }
  if (!hasState) rmSync(paths.partial, { force: true });
  const state = new PrepareState(paths.state);
  let writer: FrameWriter | undefined;
  let deriver: KeyDeriver | undefined;
  let committed = false;
  /** Input bytes read since the last checkpoint (0 after a resume, which starts at one). */
  let sinceCheckpointBytes = 0;
  try {
    let cp = state.getMeta<Checkpoint>('checkpoint');
    let config = state.getMeta<Config>('config');
    if (cp && o.toBlock !== undefined && o.toBlock < cp.nextBlock - 1) {
      throw new TpslabError('TPSLAB_E_USAGE', `the preparation already converted blocks up to ${cp.nextBlock - 1}; --to-block ${o.toBlock} cannot shrink it: start over without --resume for a shorter range`);
    }
    if (cp?.finished && existsSync(o.out) && !existsSync(paths.partial)) renameSync(o.out, paths.partial); // extending a finished dataset
    if (cp && !existsSync(paths.partial)) throw new TpslabError('TPSLAB_E_DATASET', `${paths.state} has a checkpoint but ${paths.partial} (or ${o.out}) is gone; delete ${paths.state} to start over`);
    if (cp && statSync(paths.partial).size < cp.outBytes) {
      throw new TpslabError('TPSLAB_E_DATASET', `${paths.partial} is shorter (${statSync(paths.partial).size} bytes) than its checkpoint (${cp.outBytes}); delete ${paths.partial} and ${paths.state} to start over`);
    }
    const fd = openSync(paths.partial, cp ? 'r+' : 'w+');
    writer = new FrameWriter(fd, cp?.outBytes ?? HEADER_BYTES, config?.frameBytes ?? o.frameBytes ?? DEFAULTS.frameBytes);
    if (cp) ftruncateSync(fd, cp.outBytes);
    else writeSync(fd, Buffer.alloc(HEADER_BYTES), 0, HEADER_BYTES, 0);
    state.utxoCount = cp?.utxos ?? 0;
    const c: Counters = cp ? countersFromStats(cp.stats, cp.nextSeq) : emptyCounters();
    let nextBlock = cp?.nextBlock ?? 0;
    let prevHash: Buffer | undefined = cp?.prevHash ? Buffer.from(cp.prevHash, 'hex') : undefined;
    let first = cp?.first ?? null;
    let last = cp?.last ?? null;
    let position: BlkPosition | null = cp?.position ?? null;
    let ctx: ConvertContext | undefined;
    const keys = new PublicKeyCache();
    let seeds: SeedCache | undefined;
    const seedsFor = (network: SourceNetwork): SeedCache => (seeds ??= new SeedCache(addressNetwork(network)));
    if (jobs > 1) deriver = new KeyDeriver(jobs, keys);
    const runStart = { bytes: c.inputBytes, records: c.records };
    let lastProgressMs = startedMs;
    const progress = (): PrepareProgress => {
      const elapsedMs = Math.max(1, now() - startedMs);
      return {
        block: nextBlock - 1, records: c.records, inputBytes: c.inputBytes, elapsedMs,
        mbPerSec: (c.inputBytes - runStart.bytes) / 1e6 / (elapsedMs / 1000), txPerSec: (c.records - runStart.records) / (elapsedMs / 1000),
      };
    };
    const checkpoint = (finished: boolean): void => {
      const outBytes = writer!.flushAll();
      cp = { position, nextBlock, prevHash: prevHash?.toString('hex') ?? null, outBytes, nextSeq: c.nextSeq, utxos: state.utxoCount, stats: countersToStats(c), first, last, finished };
      state.setMeta('checkpoint', cp);
      state.commit();
      committed = true;
      sinceCheckpointBytes = 0;
    };
    if (!(cp?.finished && nextBlock > toBlock)) {
      const ahead = readAhead(readBlocks(files, position ?? undefined), {
        firstBlock: nextBlock, toBlock, ...(deriver ? READ_AHEAD : { maxBlocks: 1, maxBytes: 0 }),
        onParsed: deriver && ((block, raw, n) => (n >= fromBlock ? deriver!.prefetch(block, seedsFor(raw.network), raw.network) : undefined)),
      });
      for await (const item of ahead) {
        if (!item.raw) throw item.error;
        const raw = item.raw;
        if (o.signal?.aborted) {
          throw new TpslabError('TPSLAB_E_DATASET', `interrupted at block ${nextBlock}; the last checkpoint is at block ${cp?.nextBlock ?? 0}: run again with --resume to continue from there`);
        }
        if (nextBlock > toBlock) break;
        const where = `${raw.file} at byte ${raw.offset}`;
        if (!config) {
          config = {
            sourceNetwork: raw.network, ledgerNetwork: o.network ?? `btc-${raw.network}`, fromBlock,
            checkpointBlocks: o.checkpointBlocks ?? DEFAULTS.checkpointBlocks, checkpointBytes: o.checkpointBytes ?? DEFAULTS.checkpointBytes, frameBytes: o.frameBytes ?? DEFAULTS.frameBytes, bucketBits: o.bucketBits ?? DEFAULTS.bucketBits,
          };
          state.setMeta('config', config);
        } else checkConfig(config, raw.network, fromBlock, o, where);
        ctx ??= {
          state, keys, seeds: seedsFor(config.sourceNetwork), ledgerNetwork: config.ledgerNetwork, bucketBits: config.bucketBits,
          emit: (bucket, seq, record) => writer!.add(bucket, seq, record),
        };
        if (item.error !== undefined || !item.block) throw item.error;
        const block = item.block;
        await item.ready;
        if (prevHash && !block.prevHash.equals(prevHash)) {
          throw new TpslabError(
            'TPSLAB_E_DATASET',
            `${where}: block ${displayId(block.hash)} does not extend the previous block ${displayId(prevHash)}; the input must hold one chain in order (bitcoind's blk files can hold blocks out of order and stale blocks: linearize them first, e.g. with Bitcoin Core's contrib/linearize)`,
            { details: { file: raw.file, offset: raw.offset } },
          );
        }
        if (nextBlock < fromBlock) {
          absorbBlock(ctx, block);
          c.blocksBeforeRange++;
        } else {
          convertBlock(ctx, block, nextBlock, c);
          c.blocks++;
          c.inputBytes += raw.bytes.length + 8;
          const b = { timeSec: block.timeSec, hash: displayId(block.hash) };
          first ??= b;
          last = b;
        }
        prevHash = block.hash;
        nextBlock++;
        position = { file: raw.file.split(/[\\/]/).pop()!, offset: raw.nextOffset };
        sinceCheckpointBytes += raw.bytes.length + 8;
        if (nextBlock % config.checkpointBlocks === 0 || sinceCheckpointBytes >= (config.checkpointBytes ?? DEFAULTS.checkpointBytes)) checkpoint(false);
        if (o.onProgress && now() - lastProgressMs >= (o.progressIntervalMs ?? DEFAULTS.progressIntervalMs)) {
          lastProgressMs = now();
          o.onProgress({ ...progress(), utxos: state.utxoCount });
        }
      }
    }
    if (!config || c.blocks === 0) {
      throw new TpslabError('TPSLAB_E_DATASET', `no blocks in the range ${fromBlock} to ${o.toBlock ?? 'the end'}: the inputs hold ${nextBlock} blocks`);
    }
    checkpoint(true);
    const genesisHash = writeGenesis(state, paths.genesis, config.ledgerNetwork, first!.timeSec * 1000);
    const header: DatasetHeader = {
      formatVersion: FORMAT_VERSION, complete: true, sourceNetwork: config.sourceNetwork, ledgerNetwork: config.ledgerNetwork, genesisHash,
      fromBlock, toBlock: nextBlock - 1, firstBlockTimeSec: first!.timeSec, lastBlockTimeSec: last!.timeSec, firstBlockHash: first!.hash, lastBlockHash: last!.hash,
      bucketBits: config.bucketBits, stats: countersToStats(c),
    };
    writeSync(fd, encodeHeader(header), 0, HEADER_BYTES, 0);
    writer.flushAll();
    writer.close();
    writer = undefined;
    renameSync(paths.partial, o.out);
    const p = progress();
    return { out: o.out, genesisFile: paths.genesis, header, elapsedMs: p.elapsedMs, runInputBytes: c.inputBytes - runStart.bytes, runRecords: c.records - runStart.records, runKeysDerived: keys.misses + (deriver?.derived ?? 0), runKeysDerivedByWorkers: deriver?.derived ?? 0, jobs };
  } catch (err) {
    writer?.close();
    writer = undefined;
    state.close();
    // Nothing checkpointed by a fresh run: leave nothing behind, so fixing the input and running again just works.
    if (!hasState && !committed) for (const f of [paths.partial, paths.state, `${paths.state}-wal`, `${paths.state}-shm`]) rmSync(f, { force: true });
    throw err;
  } finally {
    await deriver?.close();
    writer?.close();
    if (state.open) state.close();
  }
}

function checkConfig(config: Config, network: SourceNetwork, fromBlock: number, o: PrepareOptions, where: string): void {
  if (network !== config.sourceNetwork) {
    throw new TpslabError('TPSLAB_E_DATASET', `${where}: a ${network} block, but this preparation is of ${config.sourceNetwork}; give blk files of one network`);
  }
  const differs = (name: string, was: unknown, now: unknown): void => {
    if (now !== undefined && now !== was) throw new TpslabError('TPSLAB_E_USAGE', `${name} ${String(now)} differs from the interrupted run's ${String(was)}; resume with the same value, or start over`);
  };
  differs('--from-block', config.fromBlock, fromBlock);
  differs('--network', config.ledgerNetwork, o.network);
  differs('checkpointBlocks', config.checkpointBlocks, o.checkpointBlocks);
  differs('checkpointBytes', config.checkpointBytes, o.checkpointBytes);
  differs('bucketBits', config.bucketBits, o.bucketBits);
}

/** Writes the genesis file (temp name, then rename) funding every external spend; returns its hash. */
function writeGenesis(state: PrepareState, path: string, network: string, timestampMs: number): string {
  const accounts: { address: string; balance: string }[] = [];
  for (const f of state.funding()) accounts.push({ address: encodeAddress(f.account), balance: String(f.amount) });
  const json = { network, timestampMs, params: { minFee: '0' }, accounts };
  const hash = parseGenesis(json, path).hash.toString('hex');
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(json, null, 1)}\n`);
  renameSync(tmp, path);
  return hash;
}
