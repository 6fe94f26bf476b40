/**
 * uPlot wrappers. Every chart lives in a <figure data-chart="name">, which gets
 * data-rendered="true" once drawn (data-empty="true" too when there was nothing to draw).
 */
import uPlot from 'uplot';
import { h, replace } from './dom.js';
import { fmtClock, fmtNum } from './format.js';

/** One palette for every page: corrected latency in blues, uncorrected in orange (dashed). */
export const COLORS = {
  target: '#8b95a7',
  sent: '#2563eb',
  committed: '#059669',
  failed: '#dc2626',
  inFlight: '#7c3aed',
  p50: '#93c5fd',
  p90: '#3b82f6',
  p99: '#1e3a8a',
  uncorrected: '#ea580c',
  a: '#2563eb',
  b: '#c026d3',
} as const;

export const CATEGORICAL = ['#dc2626', '#d97706', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f', '#9333ea', '#0f766e', '#b45309', '#475569'];

export const DASHED = [6, 4];

export type Val = number | null | undefined;

export interface SeriesSpec {
  label: string;
  values: Val[];
  color: string;
  dash?: number[];
  width?: number;
  fill?: string;
  /** Draw as bars. */
  bars?: boolean;
  /** Connect across missing values (for joined series with different x). */
  spanGaps?: boolean;
}

export interface ChartSpec {
  name: string;
  title: string;
  x: number[];
  series: SeriesSpec[];
  /** seconds: x is seconds since start (clock labels); nines: x = 1/(1-p) on a log axis; index: integer buckets with a label fn. */
  xKind?: 'seconds' | 'nines' | 'index';
  xLabel?: (v: number) => string;
  /** Unit shown on the y axis and in the legend: 'ms' | 'tx/s' | ''. */
  yUnit?: string;
  yLog?: boolean;
  /** Offer a linear/log switch for the y axis. */
  logToggle?: boolean;
  height?: number;
  /** Cursor sync group (charts sharing an x axis). */
  sync?: string;
  emptyText?: string;
  /** Y axis starts at zero (default true for linear scales). */
  zero?: boolean;
  /** Shaded spans on the x axis with a label (faults); x in the chart's units. */
  marks?: ChartMark[];
}

export interface ChartMark {
  from: number;
  to: number;
  label: string;
}

export interface ChartHandle {
  el: HTMLElement;
  /** Redraws with new data; rebuilds the chart when the series changed. */
  update(spec: ChartSpec): void;
}

const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

function isEmpty(spec: ChartSpec): boolean {
  if (spec.x.length === 0) return true;
  return !spec.series.some((s) => s.values.some((v) => typeof v === 'number' && Number.isFinite(v)));
}

function clean(values: Val[], n: number, log: boolean): (number | null)[] {
  const out: (number | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    out[i] = typeof v === 'number' && Number.isFinite(v) && (!log || v > 0) ? v : null;
  }
  return out;
}

function axisSize(values: string[] | null | undefined): number {
  const longest = (values ?? []).reduce((m, v) => Math.max(m, v.length), 0);
  return Math.max(36, Math.ceil(longest * 7 + 18));
}

/** Percentile label for x = 1/(1-p): 1 → 0%, 10 → 90%, 100 → 99%, 1000 → 99.9%. */
export function ninesLabel(x: number): string {
  if (x <= 1) return '0%';
  const p = 100 * (1 - 1 / x);
  return `${Number(p.toPrecision(Math.max(2, Math.round(Math.log10(x)) + 2)))}%`;
}

/** The x coordinate of a percentile (0..100) on the nines axis; undefined for 100. */
export function ninesX(percentile: number): number | undefined {
  if (!(percentile < 100) || percentile < 0) return undefined;
  return 1 / (1 - percentile / 100);
}

function fmtY(unit: string | undefined): (v: number) => string {
  return (v) => `${fmtNum(v)}${unit === 'ms' ? ' ms' : ''}`;
}

function options(spec: ChartSpec, width: number, log: boolean, marks: () => readonly ChartMark[] = () => spec.marks ?? []): uPlot.Options {
  const kind = spec.xKind ?? 'seconds';
  const xFmt = spec.xLabel ?? (kind === 'seconds' ? fmtClock : kind === 'nines' ? ninesLabel : (v: number) => String(v));
  const yf = fmtY(spec.yUnit);
  const hasBars = spec.series.some((s) => s.bars);
  const series: uPlot.Series[] = [
    { label: kind === 'nines' ? 'percentile' : kind === 'seconds' ? 'time' : 'x', value: (_u, v) => (v === null || v === undefined ? '–' : xFmt(v)) },
    ...spec.series.map((s): uPlot.Series => ({
      label: s.label,
      stroke: s.color,
      width: s.width ?? (s.bars ? 1 : 1.5),
      dash: s.dash,
      fill: s.fill ?? (s.bars ? `${s.color}cc` : undefined),
      spanGaps: s.spanGaps ?? false,
      points: { show: false },
      paths: s.bars ? uPlot.paths.bars?.({ size: [0.7, 80] }) : undefined,
      value: (_u, v) => (v === null || v === undefined ? '–' : `${fmtNum(v)}${spec.yUnit ? ` ${spec.yUnit}` : ''}`),
    })),
  ];
  const xScale: uPlot.Scale = kind === 'nines'
    ? { time: false, distr: 3, log: 10, range: (_u, _min, max) => [1, Math.max(10, 10 ** Math.ceil(Math.log10(Math.max(max, 1)) - 1e-9))] }
    : hasBars
      ? { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] }
      : { time: false, range: (_u, min, max) => (min === max ? [min - 1, max + 1] : [min, max]) };
  const yScale: uPlot.Scale = log
    ? { distr: 3, log: 10 }
    : { range: (_u, min, max) => { const hi = max > 0 ? max * 1.08 : 1; return [spec.zero === false ? min : Math.min(0, min), hi]; } };
  const xAxis: uPlot.Axis = {
    stroke: '#475569',
    grid: { stroke: '#e5e7eb', width: 1 },
    ticks: { stroke: '#cbd5e1', width: 1 },
    values: (_u, splits) => splits.map((v) => xFmt(v)),
  };
  if (kind === 'seconds') xAxis.incrs = TIME_INCRS;
  if (kind === 'index') xAxis.incrs = [1, 2, 5, 10, 20, 50, 100];
  if (kind === 'nines') {
    xAxis.splits = (_u, _i, min, max) => {
      const out: number[] = [];
      for (let v = 1; v <= max * 1.0001; v *= 10) if (v >= min * 0.9999) out.push(v);
      return out;
    };
  }
  const opts: uPlot.Options = {
    width,
    height: spec.height ?? 220,
    // room on the right for the last x label, which is centred on its tick
    padding: [10, kind === 'nines' ? 30 : 16, 0, 0],
    series,
    scales: { x: xScale, y: yScale },
    axes: [
      xAxis,
      {
        stroke: '#475569',
        grid: { stroke: '#eef0f3', width: 1 },
        ticks: { stroke: '#cbd5e1', width: 1 },
        values: (_u, splits) => splits.map((v) => (v === null || v === undefined ? '' : yf(v))),
        size: (_u, values) => axisSize(values),
      },
    ],
    legend: { live: true },
    cursor: { points: { size: 6 }, drag: { x: kind !== 'nines', y: false } },
  };
  if (spec.sync && kind === 'seconds') opts.cursor = { ...opts.cursor, sync: { key: spec.sync } };
  // Marks are read at each draw, so a live chart shows faults that begin after it was built.
  opts.hooks = { draw: [(u) => drawMarks(u, marks())] };
  return opts;
}

/** Shaded spans with their labels, over the plot area. */
function drawMarks(u: uPlot, marks: readonly ChartMark[]): void {
  const ctx = u.ctx;
  const { top, height } = u.bbox;
  ctx.save();
  ctx.font = `${Math.round(10 * devicePixelRatio)}px sans-serif`;
  // uPlot leaves the axes' alignment set: a label would be centred on its mark's start.
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  marks.forEach((m, i) => {
    const x0 = u.valToPos(m.from, 'x', true);
    const x1 = Math.max(x0 + devicePixelRatio, u.valToPos(m.to, 'x', true));
    ctx.fillStyle = 'rgba(220, 38, 38, 0.10)';
    ctx.fillRect(x0, top, x1 - x0, height);
    ctx.fillStyle = '#b91c1c';
    ctx.fillRect(x0, top, devicePixelRatio, height);
    ctx.fillText(m.label, Math.max(x0, u.bbox.left) + 3 * devicePixelRatio, top + (12 + 11 * (i % 3)) * devicePixelRatio);
  });
  ctx.restore();
}

function data(spec: ChartSpec, log: boolean): uPlot.AlignedData {
  const n = spec.x.length;
  return [spec.x, ...spec.series.map((s) => clean(s.values, n, log))];
}

function seriesKey(spec: ChartSpec): string {
  return spec.series.map((s) => `${s.label}|${s.color}|${s.bars ? 1 : 0}`).join(';');
}

/** A chart in a figure; draws now (with a provisional width) and follows its container's width. */
export function chart(initial: ChartSpec): ChartHandle {
  let spec = initial;
  let log = !!spec.yLog;
  let plot: uPlot | undefined;
  let key = '';
  const body = h('div', { class: 'chart-body' });
  const caption = h('figcaption', null, h('span', { class: 'chart-title' }, spec.title));
  if (spec.logToggle) {
    const box = h('input', { type: 'checkbox', checked: log });
    box.addEventListener('change', () => {
      log = box.checked;
      rebuild();
    });
    caption.append(h('label', { class: 'chart-toggle' }, box, ' log scale'));
  }
  const el = h('figure', { class: 'chart', 'data-chart': spec.name }, caption, body);

  const width = () => Math.max(280, Math.floor(body.clientWidth || el.clientWidth || 560));

  function rebuild(): void {
    plot?.destroy();
    plot = undefined;
    if (isEmpty(spec)) {
      replace(body, h('div', { class: 'chart-empty' }, spec.emptyText ?? 'no data'));
      el.setAttribute('data-empty', 'true');
    } else {
      replace(body);
      el.removeAttribute('data-empty');
      plot = new uPlot(options(spec, width(), log, () => spec.marks ?? []), data(spec, log), body);
      key = seriesKey(spec);
    }
    el.setAttribute('data-rendered', 'true');
    markAttributes();
  }

  /** The marks drawn, for tests and assistive tools: their count and labels on the figure. */
  function markAttributes(): void {
    const m = plot ? (spec.marks ?? []) : [];
    el.setAttribute('data-marks', String(m.length));
    if (m.length) el.setAttribute('aria-description', `shaded: ${m.map((x) => x.label).join('; ')}`);
    else el.removeAttribute('aria-description');
  }

  // Drawn once the figure is laid out with a width (so hidden tabs draw when shown), then kept
  // at its container's width. Work is deferred to the next frame, never done inside the observer.
  let built = false;
  let pending = false;
  const ro = new ResizeObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      const w = body.clientWidth;
      if (w <= 0) return;
      if (!built) {
        built = true;
        rebuild();
      } else if (plot && Math.abs(w - plot.width) > 1) {
        plot.setSize({ width: w, height: spec.height ?? 220 });
      }
    });
  });
  ro.observe(body);

  return {
    el,
    update(next: ChartSpec): void {
      spec = next;
      if (!built) return;
      if (!plot || isEmpty(spec) || seriesKey(spec) !== key) rebuild();
      else {
        plot.setData(data(spec, log));
        markAttributes();
      }
    },
  };
}

/** Aligns several (x, y) series on the union of their x values (nulls where a series has no point). */
export function joinSeries(tables: { x: number[]; y: Val[] }[]): { x: number[]; ys: (number | null)[][] } {
  if (tables.length === 0) return { x: [], ys: [] };
  const joined = uPlot.join(tables.map((t) => [t.x, clean(t.y, t.x.length, false)] as uPlot.AlignedData));
  const [x, ...ys] = joined as unknown as [number[], ...(number | null)[][]];
  return { x: x ?? [], ys };
}
