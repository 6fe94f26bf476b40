/**
 * Converts a transaction index written by an older tpslab (`<data>/txindex.sqlite`: a B-tree of ids) into
 * the run layout of tx-index.ts at open: its ids come out of the B-tree in id order, so they make one run
 * as they are read (about 1 µs an id, against a full replay of the log at 10–20 µs a transaction).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { writeSortedRun, type RunInfo } from './tx-runs.js';

export interface LegacyIndex {
  height: number;
  run: (RunInfo & { name: string }) | undefined;
  topics: [number, string, Buffer][];
}

export function migrateLegacyIndex(path: string, dir: string, runName: string, fsync: boolean): LegacyIndex {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const height = db.prepare<[], number>("SELECT value FROM meta WHERE key = 'indexed_height'").pluck().get() ?? 0;
    const count = db.prepare<[], number>('SELECT count(*) FROM txs').pluck().get() ?? 0;
    const rows = db.prepare<[], [Buffer, number]>('SELECT id, loc FROM txs ORDER BY id').raw().iterate();
    const info = writeSortedRun(join(dir, runName), rows, count, fsync);
    const topics = db.prepare<[], [number, string, Buffer]>('SELECT height, topic, start_seq FROM topic_blocks').raw().all();
    console.error(`tpslab: converted the transaction index ${path} (${info.count} ids, indexed to height ${height}) into ${dir}; the old file is deleted`);
    return { height, run: info.count > 0 ? { name: runName, ...info } : undefined, topics };
  } finally {
    db.close();
  }
}
