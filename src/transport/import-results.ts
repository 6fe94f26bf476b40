/**
 * `tpslab import`: a beacon's results written when the overseer was gone
 * (nats-beacon.ts, one wire frame per line) stored as a run in results.db.
 * Reports of every file are merged as the overseer would have (per-second
 * rows, histograms added), per job. There is no reconciliation (the overseer,
 * which reaches the network, was gone), and the run's status is `aborted`.
 */
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { TpslabError } from '../errors.js';
import { RunAggregator } from '../harness/aggregate.js';
import type { DoneMessage } from '../harness/messages.js';
import { ResultsStore } from '../harness/store.js';
import type { Summary } from '../web/contract.js';
import { WireMessageSchema } from './nats-messages.js';
import { decodeFrame } from './wire-codec.js';

export interface ImportResult {
  runId: string;
  dbPath: string;
  summary: Summary;
  /** Reports read, and jobs that never sent `done`. */
  reports: number;
  unfinished: string[];
}

export async function importBeaconResults(files: readonly string[], dbPath: string, name = 'imported beacon results'): Promise<ImportResult> {
  if (files.length === 0) throw new TpslabError('TPSLAB_E_USAGE', 'name at least one beacon results file (tpslab-beacon-<run>-<name>.jsonl)');
  const jobs = new Map<string, number>(); // "<file>/<job>" → beacon index in the import
  const progress: Parameters<RunAggregator['add']>[0][] = [];
  const done = new Map<number, DoneMessage>();
  let reports = 0;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new TpslabError('TPSLAB_E_USAGE', `cannot read beacon results file ${file}: ${(err as Error).message}`, { cause: err });
    }
    const lines = text.split('\n').filter((l) => l.trim().length > 0);
    lines.forEach((line, k) => {
      let m;
      try {
        m = decodeFrame(new TextEncoder().encode(line), WireMessageSchema, `${basename(file)} line ${k + 1}`);
      } catch (err) {
        throw new TpslabError('TPSLAB_E_WIRE', `${file} line ${k + 1} is not a beacon report: ${(err as Error).message}`, { cause: err });
      }
      if (m.type !== 'report') return;
      reports++;
      const key = `${file}/${m.job}`;
      if (!jobs.has(key)) jobs.set(key, jobs.size);
      const beacon = jobs.get(key)!;
      if (m.msg.type === 'progress') progress.push({ ...m.msg, beacon });
      else if (m.msg.type === 'done') done.set(beacon, { ...m.msg, beacon });
    });
  }
  if (jobs.size === 0) throw new TpslabError('TPSLAB_E_USAGE', `no beacon reports in ${files.join(', ')}`);
  const agg = new RunAggregator(jobs.size, () => Number.NaN);
  const store = ResultsStore.open(resolve(dbPath));
  try {
    const runId = store.createRun({ name, scenario: { importedFrom: files.map((f) => resolve(f)) }, environment: {} });
    const rows = [...progress.sort((a, b) => a.second - b.second).flatMap((p) => agg.add(p)), ...[...done.keys()].flatMap((b) => agg.finished(b)), ...agg.flushAll()];
    for (const row of rows) store.addSecond(runId, row);
    // No plan here: the TPS window is the seconds the beacons reported.
    const summary: Summary = agg.summary(runId, 0, {
      reconciliation: undefined,
      connector: { kind: 'imported', reconciled: false, limits: ['imported from beacon result files: the overseer was gone, so nothing was reconciled against the network'] },
    });
    const unfinished = [...jobs].filter(([, b]) => !done.has(b)).map(([k]) => k);
    store.finishRun(runId, { status: 'aborted', summary, thresholds: [], error: `imported from ${files.length} beacon file${files.length === 1 ? '' : 's'} after the overseer was gone${unfinished.length ? `; unfinished: ${unfinished.join(', ')}` : ''}` });
    return { runId, dbPath: store.path, summary, reports, unfinished };
  } finally {
    store.close();
  }
}
