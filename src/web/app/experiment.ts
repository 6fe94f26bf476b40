/**
 * The experiment page: a sweep (figures of merit per cell, charts across the grid) or a
 * find-max search (every probe, the answer and its confirmation).
 */
import type { ExperimentData, ExperimentRunPoint } from '../experiment-contract.js';
import { CATEGORICAL, chart, COLORS, type ChartSpec, type SeriesSpec } from './charts.js';
import { append, badge, card, h, note, panel } from './dom.js';
import { DASH, fmtInt, fmtMs, fmtRate, fmtTime } from './format.js';
import { table } from './tables.js';

type Metric = { name: string; title: string; unit: string; get: (r: ExperimentRunPoint) => number | undefined };

const METRICS: Metric[] = [
  { name: 'tps', title: 'Committed TPS', unit: 'tx/s', get: (r) => r.figures?.tps },
  { name: 'p99', title: 'Latency p99 (from intended send)', unit: 'ms', get: (r) => r.figures?.p99Ms },
  { name: 'lost', title: 'Lost transactions', unit: '', get: (r) => r.figures?.lost },
];

const show = (v: unknown): string => (typeof v === 'object' ? JSON.stringify(v) : String(v));

/** Sweep charts: x is the first axis; one line per combination of the other axes. */
function sweepSpecs(d: ExperimentData): ChartSpec[] {
  const [first, ...rest] = d.axes;
  if (!first) return [];
  const numeric = first.values.every((v) => typeof v === 'number');
  const xOf = (v: unknown): number => (numeric ? (v as number) : first.values.findIndex((x) => show(x) === show(v)));
  const xs = [...new Set(first.values.map(xOf))].sort((a, b) => a - b);
  const groups = new Map<string, ExperimentRunPoint[]>();
  for (const r of d.runs) {
    const key = rest.map((a) => `${a.path}=${show(r.params[a.path])}`).join(', ') || first.path;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return METRICS.map((m): ChartSpec => ({
    name: `sweep-${m.name}`,
    title: `${m.title} by ${first.path}`,
    x: xs,
    xKind: 'index',
    xLabel: numeric ? (v) => String(v) : (v) => show(first.values[v]),
    yUnit: m.unit,
    series: [...groups.entries()].map(([label, runs], i): SeriesSpec => ({
      label,
      color: CATEGORICAL[i % CATEGORICAL.length]!,
      width: 2,
      spanGaps: true,
      values: xs.map((x) => {
        const r = runs.find((run) => xOf(run.params[first.path]) === x);
        return r ? m.get(r) : undefined;
      }),
    })),
  }));
}

/** find-max charts: one point per probe, in the order they ran. */
function probeSpecs(d: ExperimentData): ChartSpec[] {
  const x = d.runs.map((r) => r.seq + 1);
  const rate = d.runs.map((r) => Number(r.params.rate));
  return [
    { name: 'probe-tps', title: 'Offered rate and committed TPS per probe', x, xKind: 'index', xLabel: (v) => `#${v}`, yUnit: 'tx/s', series: [
      { label: 'offered rate', color: COLORS.target, values: rate, width: 2 },
      { label: 'committed TPS', color: COLORS.committed, values: d.runs.map((r) => r.figures?.tps), width: 2 },
    ] },
    { name: 'probe-p99', title: 'Latency p99 per probe', x, xKind: 'index', xLabel: (v) => `#${v}`, yUnit: 'ms', series: [
      { label: 'p99', color: COLORS.p99, values: d.runs.map((r) => r.figures?.p99Ms), width: 2 },
    ] },
  ];
}

function runsTable(d: ExperimentData): HTMLElement {
  return table<ExperimentRunPoint>([
    { title: '#', cell: (r) => String(r.seq + 1), num: true },
    ...d.axes.map((a) => ({ title: a.path, cell: (r: ExperimentRunPoint) => show(r.params[a.path]) })),
    { title: 'status', cell: (r) => badge(r.status) },
    { title: 'committed TPS', cell: (r) => (r.figures ? fmtRate(r.figures.tps) : DASH), num: true },
    { title: 'p99', cell: (r) => (r.figures ? fmtMs(r.figures.p99Ms) : DASH), num: true },
    { title: 'lost', cell: (r) => (r.figures ? fmtInt(r.figures.lost) : DASH), num: true },
    { title: 'committed / offered', cell: (r) => (r.figures ? `${fmtInt(r.figures.committed)} / ${fmtInt(r.figures.offered)}` : DASH), num: true },
    { title: 'run', cell: (r) => (r.runId ? h('code', null, r.runId) : DASH) },
    { title: 'note', cell: (r) => r.note ?? '' },
  ], d.runs, { id: 'experiment-runs' }, 'no runs');
}

export function renderExperiment(root: HTMLElement, d: ExperimentData): void {
  const e = d.experiment;
  const a = d.answer;
  append(root, [
    h('header', { class: 'page-header', id: 'experiment-header' },
      h('div', { class: 'title-row' }, h('h1', null, `${e.kind === 'sweep' ? 'Sweep' : 'Find max'}: ${e.name}`)),
      h('div', { class: 'meta muted' }, h('code', null, e.id), ` · started ${fmtTime(e.startedAt)} · ${d.runs.length} run${d.runs.length === 1 ? '' : 's'} · generated ${fmtTime(d.generatedAt)}`),
      e.description ? note(e.description) : null,
      e.interrupted ? note(e.interrupted) : null),
    a ? h('div', { class: 'cards', id: 'find-max-answer' },
      card('highest rate meeting the service levels', a.ratePerSec === null ? DASH : `${fmtRate(a.ratePerSec)} tx/s`, { raw: a.ratePerSec ?? '', cls: a.confirmed ? 'good' : 'bad', sub: a.confirmed ? 'confirmed' : 'not confirmed' }),
      card('first failing rate', a.failedAtPerSec === null ? DASH : `${fmtRate(a.failedAtPerSec)} tx/s`, { raw: a.failedAtPerSec ?? '' }),
      card('service levels', a.slo.join(' · '), { sub: a.reason })) : null,
    panel(e.kind === 'sweep' ? 'Cells' : 'Probes', { id: 'experiment-runs-panel' }, runsTable(d)),
    panel('Charts', { id: 'experiment-charts', class: 'charts-panel' },
      h('div', { class: 'chart-grid' }, (e.kind === 'sweep' ? sweepSpecs(d) : probeSpecs(d)).map((s) => chart(s).el))),
  ]);
}
