/** Faults on the report page: shaded on every time chart, and a table with each one's recovery time. */
import type { FaultInfo } from '../contract.js';
import type { ChartMark, ChartSpec } from './charts.js';
import { note, panel } from './dom.js';
import { DASH, fmtRate } from './format.js';
import { table } from './tables.js';

const sec = (v: number | null): string => (v === null ? DASH : `${v.toFixed(1)} s`);

/** A mark per fault that began; one still on at the end runs to `endSec` (the run's length). */
export function faultMarks(faults: readonly FaultInfo[] | undefined, endSec: number): ChartMark[] {
  return (faults ?? []).filter((f) => f.startSec !== null).map((f) => ({ from: f.startSec!, to: f.endSec ?? endSec, label: `${f.index + 1}. ${f.label}` }));
}

/** The spec with the faults drawn on it. */
export function withFaults(spec: ChartSpec, marks: ChartMark[]): ChartSpec {
  return marks.length ? { ...spec, marks } : spec;
}

/** `live`: the run is still going, so recovery times are not judged yet. */
export function faultsPanel(faults: readonly FaultInfo[] | undefined, opts: { live?: boolean } = {}): HTMLElement | null {
  if (!faults?.length) return null;
  return panel('Faults', { id: 'report-faults' },
    table<FaultInfo>([
      { title: '#', cell: (f) => String(f.index + 1), num: true },
      { title: 'fault', cell: (f) => f.label },
      { title: 'planned', cell: (f) => sec(f.plannedAtSec), num: true },
      { title: 'began', cell: (f) => sec(f.startSec), num: true },
      { title: 'ended', cell: (f) => sec(f.endSec), num: true },
      { title: 'TPS before', cell: (f) => (f.beforeTps === null ? DASH : fmtRate(f.beforeTps)), num: true },
      { title: 'recovery', cell: (f) => (f.recoverySec !== null ? sec(f.recoverySec) : opts.live ? 'judged at the end' : f.beforeTps === null ? 'no rate before' : 'not recovered'), num: true },
      { title: 'error', cell: (f) => f.error ?? '' },
    ], faults, { id: 'faults-table' }),
    note('Recovery: from the fault’s end until committed TPS is back within 10% of its median over the 5 s before the fault. Faults are shaded on every chart over time.', 'note small'));
}
