/**
 * `tpslab sweep`: runs every cell of a sweep plan (sweep-plan.ts) one after another, each an
 * ordinary stored run tagged with the sweep's id, and records the sweep's figures per cell.
 */
import { resolve } from 'node:path';
import { ExperimentStore, type ExperimentRun } from './experiment-store.js';
import { runTagged, type ExperimentRunOptions } from './run-cell.js';
import type { SweepPlan } from './sweep-plan.js';

export interface SweepResult {
  sweepId: string;
  dbPath: string;
  cells: (ExperimentRun & { label: string })[];
  /** Set when the sweep was interrupted: why, and how far it got. */
  interrupted?: string;
}

export async function runSweep(plan: SweepPlan, o: ExperimentRunOptions = {}): Promise<SweepResult> {
  const log = o.log ?? (() => {});
  const dbPath = resolve(plan.cells[0]!.scenario.results.db);
  const store = ExperimentStore.open(dbPath, o.clock ? { clock: o.clock } : {});
  try {
    const sweepId = store.create('sweep', plan.name, { source: plan.source, axes: plan.axes, ...(plan.description ? { description: plan.description } : {}) });
    log(`sweep ${sweepId} (${plan.name}): ${plan.cells.length} cell${plan.cells.length === 1 ? '' : 's'}, results in ${dbPath}`);
    const cells: SweepResult['cells'] = [];
    for (const cell of plan.cells) {
      if (o.signal?.aborted) break;
      log(`cell ${cell.index + 1} of ${plan.cells.length}: ${cell.label}`);
      const { row } = await runTagged(store, sweepId, cell.index, cell.params, cell.scenario, o);
      cells.push({ ...row, label: cell.label });
      if (row.figures) log(`cell ${cell.index + 1}: ${row.status}, committed ${row.figures.tps.toFixed(1)} tx/s, p99 ${row.figures.p99Ms.toFixed(1)} ms, lost ${row.figures.lost}`);
    }
    const interrupted = o.signal?.aborted ? `interrupted by ${String(o.signal.reason)} after ${cells.length} of ${plan.cells.length} cells (${cells.filter((c) => c.status === 'aborted').length} aborted)` : undefined;
    if (interrupted) log(interrupted);
    store.finish(sweepId, { cells: cells.length, failed: cells.filter((c) => c.status === 'failed').length, ...(interrupted ? { interrupted } : {}) });
    return { sweepId, dbPath, cells, ...(interrupted ? { interrupted } : {}) };
  } finally {
    store.close();
  }
}
