/**
 * The persistent transaction-id index of a data directory (`<data>/txindex/`): where each committed
 * transaction is (height, index), and, for blocks with messages, each topic's first sequence number in
 * that block.
 *
 * Ids are random 32-byte keys, so a B-tree (SQLite, LMDB) rewrites about one page per id inserted once
 * the index outgrows a batch: 4–8 µs of CPU a row at 400,000 rows, growing with history, and every
 * process writes every id (bench/README, network-scaling). Here each flush sorts its ids and writes them
 * once as an immutable run file (tx-runs.ts); a worker thread merges runs in size tiers (FANOUT runs
 * of a tier into one of the next: tx-merge-plan.ts), so each id is rewritten about log8(history / 8,192)
 * times, sequentially, off the event loop. A lookup asks each run, newest first: its Bloom filter, then
 * (if the id may be there) a binary search of the run's in-memory fences and one 2.5 KiB read.
 * `manifest.json` names the runs that make up the index and how far it is whole (`height`); it is
 * replaced atomically, and only after the runs it names are on disk.
 * Topic starts (one row per topic per block with messages, few) stay in SQLite (`topics.sqlite`), for
 * its range queries.
 *
 * The block log is the truth. Rows are written once a block is durable in the log, so the index is
 * never ahead of the log (except with `--no-fsync`), and after a crash it may be behind: `indexedHeight`
 * says how far it is whole; ChainStore.open cuts what is past the log and re-indexes what is missing
 * while it replays. A damaged index (a run that does not check at open, or a block of entries that does
 * not match its CRC when read later) is set aside and rebuilt from the log.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TpslabError } from '../errors.js';
import type { MergeJob, MergeResult } from './tx-merge-worker.js';
import { ID_BYTES, mergeRuns, Run, RunDamagedError, writeRun, type RunInfo } from './tx-runs.js';
import { migrateLegacyIndex, type LegacyIndex } from './tx-index-legacy.js';
import { inPlaceOf, mergeInputs, TIER_BASE_IDS } from './tx-merge-plan.js';
import { datasyncPath } from './fsync.js';
import { MANIFEST, readManifest, replaceManifest, runName, writeManifestSync, type Manifest } from './tx-index-manifest.js';

/** Locations are packed as height * 2^20 + index (a block holds fewer than 2^20 transactions). */
export const INDEX_SHIFT = 2 ** 20;
/** A failed merge (a full disk, say) is tried again after this. */
const MERGE_RETRY_MS = 30_000;
const TOPICS = 'topics.sqlite';

export interface TxIndexOptions {
  /** fsync runs, the manifest and the directory before the manifest names them (off with --no-fsync). */
  fsync: boolean;
  /** A `txindex.sqlite` written by an older tpslab, converted at open (ids and topics), then deleted. */
  legacyPath?: string;
  /**
   * Told once, synchronously, when a run is found damaged while running (by a lookup or a merge), before
   * that lookup throws: the owner stops serving (its lookups sit in hot paths that cannot answer without
   * the index) and the process is restarted, which rebuilds the index from the block log.
   */
  onDamaged?: (err: TpslabError) => void;
}

interface LiveRun { name: string; info: RunInfo; run: Run }

export class TxIndex {
  private topics!: Database.Database;
  private putTopic!: Database.Statement<[number, string, Buffer]>;
  private topicsAt!: Database.Statement<[number], { topic: string; start_seq: Buffer }>;
  private topicAtOrBefore!: Database.Statement<[string, Buffer], number>;
  private topicFirst!: Database.Statement<[string], number>;
  private writeTopics!: (rows: readonly [number, string, Buffer][]) => void;
  /** Runs for lookups, oldest first. */
  private runs: LiveRun[] = [];
  /** What manifest.json says (or will once the persist chain has written it). */
  private persisted: Manifest;
  private mark: number;
  private depth = 0;
  private stagedIds = Buffer.allocUnsafe(TIER_BASE_IDS * ID_BYTES);
  private stagedLocs = new Float64Array(TIER_BASE_IDS);
  private staged = 0;
  private stagedTopics: [number, string, Buffer][] = [];
  private stagedMark = 0;
  /** Manifest writes, run fsyncs and deletions, in order. */
  private chain: Promise<void> = Promise.resolve();
  private worker: Worker | undefined;
  private merging: { output: string; inputs: LiveRun[] } | undefined;
  /** After a failed merge, none starts before this (Date.now()); after a failed manifest write, none is written. */
  private mergeRetryAtMs = 0;
  private persistFailed = false;
  /** Why a run was found damaged while running (a lookup or merge); the manifest is gone: the next start rebuilds. */
  private damage: string | undefined;
  private closed = false;

  private constructor(private readonly dir: string, private readonly opts: TxIndexOptions, manifest: Manifest, runs: LiveRun[]) {
    this.persisted = manifest;
    this.runs = runs;
    this.mark = manifest.height;
    this.stagedMark = manifest.height;
  }

  static open(dir: string, opts: TxIndexOptions): TxIndex {
    let index: TxIndex;
    try {
      mkdirSync(dir, { recursive: true });
      let manifest: Manifest | undefined;
      let damage: string | undefined;
      try {
        manifest = readManifest(dir);
      } catch (err) {
        damage = (err as Error).message;
      }
      let legacy: LegacyIndex | undefined;
      if (!manifest && !damage && opts.legacyPath && existsSync(opts.legacyPath)) {
        for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true }); // a conversion cut short
        legacy = migrateLegacyIndex(opts.legacyPath, dir, runName(1), opts.fsync);
        if (!legacy.run) rmSync(join(dir, runName(1)), { force: true });
        manifest = { version: 1, height: legacy.height, next: 2, runs: legacy.run ? [legacy.run] : [] };
      }
      manifest ??= { version: 1, height: 0, next: 1, runs: [] };
      const runs: LiveRun[] = [];
      try {
        // Without fsync a crash of the OS can leave a named run with pages never written: check every entry.
        for (const r of damage ? [] : manifest.runs) runs.push({ name: r.name, info: { count: r.count, minLoc: r.minLoc, maxLoc: r.maxLoc }, run: Run.open(join(dir, r.name), opts.fsync ? 'lazy' : 'verify') });
      } catch (err) {
        damage = (err as Error).message;
        for (const r of runs.splice(0)) r.run.close();
      }
      if (damage) {
        console.error(`warning: the transaction index in ${dir} is damaged (${damage}): rebuilding it from the block log`);
        for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
        manifest = { version: 1, height: 0, next: manifest.next, runs: [] };
        writeManifestSync(dir, manifest, opts.fsync);
      }
      const named = new Set([MANIFEST, ...manifest.runs.map((r) => r.name)]);
      for (const f of readdirSync(dir)) if (!named.has(f) && !f.startsWith(TOPICS)) rmSync(join(dir, f), { force: true }); // runs of an unfinished flush or merge
      index = new TxIndex(dir, opts, manifest, runs);
      index.openTopics();
      if (legacy) { // its topics, then the manifest that counts them, then the old file goes
        index.writeTopics(legacy.topics);
        writeManifestSync(dir, manifest, opts.fsync);
        for (const f of ['', '-wal', '-shm']) rmSync(`${opts.legacyPath!}${f}`, { force: true });
      }
    } catch (err) {
      if (err instanceof TpslabError) throw err;
      throw new TpslabError('TPSLAB_E_DATA_DIR', `cannot open the transaction index ${dir}: ${(err as Error).message}; ` +
        'if it is damaged, stop the node and delete it: it is rebuilt from the block log at the next start', { cause: err });
    }
    index.maybeMerge();
    return index;
  }

  private openTopics(): void {
    const db = new Database(join(this.dir, TOPICS));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${this.opts.fsync ? 'FULL' : 'OFF'}`); // rows must be on disk before the manifest counts their block
    db.exec(`CREATE TABLE IF NOT EXISTS topic_blocks (height INTEGER NOT NULL, topic TEXT NOT NULL, start_seq BLOB NOT NULL,
        PRIMARY KEY (height, topic)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS topic_blocks_by_seq ON topic_blocks (topic, start_seq);`);
    db.prepare('DELETE FROM topic_blocks WHERE height > ?').run(this.mark); // written before a crash, not counted: re-indexed
    this.topics = db;
    this.putTopic = db.prepare('INSERT OR REPLACE INTO topic_blocks (height, topic, start_seq) VALUES (?, ?, ?)');
    this.topicsAt = db.prepare('SELECT topic, start_seq FROM topic_blocks WHERE height = ?');
    this.topicAtOrBefore = db
      .prepare<[string, Buffer], number>('SELECT height FROM topic_blocks WHERE topic = ? AND start_seq <= ? ORDER BY start_seq DESC LIMIT 1')
      .pluck();
    this.topicFirst = db.prepare<[string], number>('SELECT height FROM topic_blocks WHERE topic = ? ORDER BY start_seq LIMIT 1').pluck();
    this.writeTopics = db.transaction((rows: readonly [number, string, Buffer][]) => {
      for (const r of rows) this.putTopic.run(...r);
    });
  }

  /** Blocks 1..indexedHeight are all in the index. */
  get indexedHeight(): number {
    return this.mark;
  }

  /**
   * Records a block's transaction ids and its topics' first sequence numbers (written at the end of
   * the batch). An id is its 32 bytes, or the same as a latin1 string (SignedTx.idKey: no Buffer made).
   */
  addBlock(height: number, ids: readonly (Buffer | string)[], starts: ReadonlyMap<string, bigint> | undefined): void {
    if (this.staged + ids.length > this.stagedLocs.length) this.grow(this.staged + ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (typeof id === 'string') this.stagedIds.write(id, this.staged * ID_BYTES, ID_BYTES, 'latin1');
      else id.copy(this.stagedIds, this.staged * ID_BYTES);
      this.stagedLocs[this.staged++] = height * INDEX_SHIFT + i;
    }
    if (starts) for (const [topic, seq] of starts) this.stagedTopics.push([height, topic, seqKey(seq)]);
    if (height > this.stagedMark) this.stagedMark = height;
    if (this.depth === 0) this.flush();
  }

  /** Runs `fn` (which adds blocks) and writes what it added as one run. */
  batch(fn: () => void): void {
    this.depth++;
    try {
      fn();
    } finally {
      this.depth--;
    }
    if (this.depth === 0) this.flush();
  }

  private grow(n: number): void {
    const cap = Math.max(n, this.stagedLocs.length * 2);
    const ids = Buffer.allocUnsafe(cap * ID_BYTES);
    this.stagedIds.copy(ids, 0, 0, this.staged * ID_BYTES);
    const locs = new Float64Array(cap);
    locs.set(this.stagedLocs.subarray(0, this.staged));
    this.stagedIds = ids;
    this.stagedLocs = locs;
  }

  /** Writes the staged ids as a run (sorted; on disk, not yet fsync'd) and counts their blocks indexed. */
  private flush(): void {
    if (this.staged === 0 && this.stagedTopics.length === 0 && this.stagedMark === this.mark) return;
    try {
      if (this.stagedTopics.length > 0) this.writeTopics(this.stagedTopics);
      this.addRun(this.stagedIds, this.stagedLocs, this.staged, this.stagedMark);
    } finally {
      // Emptied whether or not it was written: a caller whose flush failed adds its blocks again
      // (ChainStore's index queue), so what stayed here would be staged twice.
      this.stagedTopics = [];
      this.staged = 0;
      this.stagedMark = this.mark;
      if (this.stagedLocs.length > TIER_BASE_IDS * 4) {
        // A replay's large batch (256 blocks at open) is not kept for the life of the process.
        this.stagedIds = Buffer.allocUnsafe(TIER_BASE_IDS * ID_BYTES);
        this.stagedLocs = new Float64Array(TIER_BASE_IDS);
      }
    }
  }

  /**
   * Writes `n` ids (packed in `ids`, locations in `locs`, any order) as one run and counts blocks up to
   * `height` indexed. What flush does; bench/lib/history-writer.ts fills a large index with it.
   */
  addRun(ids: Buffer, locs: Float64Array, n: number, height: number): void {
    let added: LiveRun | undefined;
    if (n > 0) {
      const name = this.nextName();
      const info = writeRun(join(this.dir, name), ids, locs, n);
      try {
        added = { name, info, run: Run.open(join(this.dir, name), 'trusted') };
      } catch (err) {
        rmSync(join(this.dir, name), { force: true });
        throw err;
      }
      this.runs.push(added);
    }
    if (height > this.stagedMark) this.stagedMark = height;
    this.mark = this.stagedMark;
    const mark = this.mark;
    this.persist(async () => {
      if (added && this.opts.fsync) await datasyncPath(join(this.dir, added.name));
      if (added) this.persisted.runs.push({ name: added.name, ...added.info });
      this.persisted.height = mark;
      await this.writeManifest();
    });
    this.maybeMerge();
  }

  private nextName(): string {
    return runName(this.persisted.next++);
  }

  private persist(task: () => Promise<void>): void {
    this.chain = this.chain
      .then(() => {
        // After a failed write, no later manifest: it could count blocks of a run it does not name
        // (one whose fsync failed). The last manifest written stays true; the next start re-indexes the rest.
        if (!this.persistFailed) return task();
      })
      .catch((err: unknown) => {
        this.persistFailed = true;
        console.error(`warning: writing the transaction index in ${this.dir} failed: ${(err as Error).message}; it is not written again by this process, and the next start re-indexes from the block log (check the data directory's free space and permissions before restarting)`);
      });
  }

  private async writeManifest(): Promise<void> {
    await replaceManifest(this.dir, this.persisted, this.opts.fsync);
    if (this.damage) rmSync(join(this.dir, MANIFEST), { force: true }); // found damaged while this was being written
    if (this.opts.fsync) await datasyncPath(this.dir);
  }

  /**
   * A run found damaged after open (a lookup's or a merge's block does not match its CRC): the manifest
   * is deleted and no other is written, so the next start finds no index and rebuilds it from the block log.
   */
  private damaged(reason: string): TpslabError {
    const first = !this.damage;
    if (first) {
      this.damage = reason;
      this.persistFailed = true;
      let kept = '';
      try {
        rmSync(join(this.dir, MANIFEST), { force: true });
      } catch (err) {
        kept = ` (deleting ${MANIFEST} failed: ${(err as Error).message}; delete the directory before restarting)`;
      }
      console.error(`warning: the transaction index in ${this.dir} is damaged (${reason}): restart the process to rebuild it from the block log${kept}`);
    }
    const err = new TpslabError('TPSLAB_E_DATA_DIR', `the transaction index in ${this.dir} is damaged (${this.damage}); ` +
      `stop the process, delete ${this.dir} (only the index: the block log is kept) and start it again: it rebuilds the index from the block log at start-up`);
    if (first) this.opts.onDamaged?.(err);
    return err;
  }

  /** Starts merging FANOUT runs of the lowest tier that has them, on the worker thread. */
  private maybeMerge(): void {
    if (this.merging || this.closed || this.damage || Date.now() < this.mergeRetryAtMs) return;
    const inputs = mergeInputs(this.runs);
    if (!inputs) return;
    const output = this.nextName();
    this.merging = { output, inputs };
    this.worker ??= this.startWorker();
    this.worker.ref();
    const job: MergeJob = { inputs: inputs.map((r) => ({ path: join(this.dir, r.name), trusted: r.run.trusted })), output: join(this.dir, output), fsync: this.opts.fsync };
    this.worker.postMessage(job);
  }

  private startWorker(): Worker {
    // Not the process's --input-type (a process started with `node --input-type=module -e …`): it makes any worker file fail to load.
    const w = new Worker(new URL('./tx-merge-worker.js', import.meta.url), { execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')) });
    w.on('message', (res: MergeResult) => {
      if (this.worker === w) this.merged(res);
    });
    w.on('error', (err) => {
      if (this.worker === w) this.merged({ error: err.message });
    });
    w.on('exit', (code) => {
      if (this.worker !== w) return;
      this.worker = undefined; // a new one for the next merge
      if (this.merging) this.merged({ error: `the merge thread exited with code ${code}` });
    });
    return w;
  }

  /** A failed merge: its output removed, merging tried again after MERGE_RETRY_MS (lookups read more runs meanwhile). */
  private mergeFailedAt(m: { output: string }, error: string): void {
    console.error(`warning: merging runs of the transaction index in ${this.dir} failed: ${error}; merging again in ${MERGE_RETRY_MS / 1000} s (check the data directory's free space)`);
    this.mergeRetryAtMs = Date.now() + MERGE_RETRY_MS;
    rmSync(join(this.dir, m.output), { force: true });
  }

  private merged(res: MergeResult): void {
    const m = this.merging;
    this.worker?.unref();
    if (!m || this.closed) return;
    this.merging = undefined;
    if ('error' in res) {
      if (res.damaged) {
        rmSync(join(this.dir, m.output), { force: true });
        this.damaged(res.error);
      } else this.mergeFailedAt(m, res.error);
      return;
    }
    let run: LiveRun;
    try {
      run = { name: m.output, info: res.info, run: Run.open(join(this.dir, m.output), 'trusted') };
    } catch (err) {
      this.mergeFailedAt(m, (err as Error).message);
      return;
    }
    // The inputs are consecutive runs (mergeInputs): the output takes their place, so the runs stay
    // oldest first and an id in several runs is found at its newest location.
    const gone = new Set(m.inputs.map((r) => r.name));
    this.runs = inPlaceOf(this.runs, gone, run);
    for (const r of m.inputs) r.run.close();
    this.persist(async () => {
      this.persisted.runs = inPlaceOf(this.persisted.runs, gone, { name: run.name, ...run.info });
      await this.writeManifest();
      for (const name of gone) await unlink(join(this.dir, name)).catch(() => undefined);
    });
    this.maybeMerge();
  }

  /** Packed location (height * 2^20 + index) of a transaction, if indexed. */
  locate(id: Buffer): number | undefined {
    try {
      for (let i = this.runs.length - 1; i >= 0; i--) {
        const loc = this.runs[i]!.run.get(id);
        if (loc !== undefined) return loc;
      }
    } catch (err) {
      if (err instanceof RunDamagedError) throw this.damaged(err.message);
      throw err;
    }
    return undefined;
  }

  /** Forgets every block above `height` (they are not in the log); at open, before anything is added. */
  truncateAbove(height: number): void {
    if (this.merging) { // its inputs are about to change: drop it (it starts again from the runs left)
      void this.worker?.terminate();
      this.worker = undefined;
      rmSync(join(this.dir, this.merging.output), { force: true });
      this.merging = undefined;
    }
    const limit = (height + 1) * INDEX_SHIFT;
    const kept: LiveRun[] = [];
    for (const r of this.runs) {
      if (r.info.maxLoc < limit) kept.push(r);
      else if (r.info.minLoc < limit) {
        const name = this.nextName();
        const info = mergeRuns([{ path: join(this.dir, r.name), trusted: r.run.trusted }], join(this.dir, name), this.opts.fsync, limit);
        kept.push({ name, info, run: Run.open(join(this.dir, name), 'trusted') });
      }
    }
    const gone = this.runs.filter((r) => !kept.includes(r));
    this.runs = kept;
    this.persisted = { ...this.persisted, height, runs: kept.map((r) => ({ name: r.name, ...r.info })) };
    writeManifestSync(this.dir, this.persisted, this.opts.fsync);
    for (const r of gone) {
      r.run.close();
      unlinkSync(join(this.dir, r.name));
    }
    this.topics.prepare('DELETE FROM topic_blocks WHERE height > ?').run(height);
    this.mark = height;
    this.stagedMark = height;
    this.maybeMerge();
  }

  topicStartsAt(height: number): Map<string, bigint> | undefined {
    const rows = this.topicsAt.all(height);
    return rows.length === 0 ? undefined : new Map(rows.map((r) => [r.topic, r.start_seq.readBigUInt64BE(0)]));
  }

  /** Height of the block holding message `seq` of `topic` (or the first after it). */
  heightOfTopicSeq(topic: string, seq: bigint): number | undefined {
    return this.topicAtOrBefore.get(topic, seqKey(seq)) ?? this.topicFirst.get(topic);
  }

  /** How many runs lookups read (for tests and benches). */
  get runCount(): number {
    return this.runs.length;
  }

  /** Bytes the runs keep in memory for lookups (for benches). */
  get memoryBytes(): number {
    return this.runs.reduce((n, r) => n + r.run.memoryBytes, 0);
  }

  /** Resolves once every run written so far is named by manifest.json and no merge is running. */
  async settle(): Promise<void> {
    while (this.merging && !this.closed) await new Promise((r) => setTimeout(r, 5));
    await this.chain;
  }

  /** Writes what is staged, waits for the manifest, stops a merge in progress (its output is deleted at the next open). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true; // first: the last flush starts no merge
    try {
      this.flush();
    } finally {
      await this.worker?.terminate();
      await this.chain;
      for (const r of this.runs) r.run.close();
      if (this.topics?.open) this.topics.close();
    }
  }
}

/** Sequence numbers as 8 big-endian bytes: SQLite compares blobs bytewise, so they sort as u64. */
export function seqKey(seq: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(seq);
  return b;
}
