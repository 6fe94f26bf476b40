/** The compare page: run A against run B, side by side and overlaid. */
import type { CompareData, ReportData, Summary, ThresholdVerdict } from '../contract.js';
import { chart, COLORS, DASHED, joinSeries, type ChartSpec } from './charts.js';
import { badge, h, note, panel } from './dom.js';
import { DASH, fmtDuration, fmtMs, fmtNum, fmtSigned, fmtSignedPct, fmtTime } from './format.js';
import { environmentRows } from './report.js';
import { distributionSpec, runLengthSec, sortedSeconds } from './runcharts.js';
import { table } from './tables.js';

type Better = 'higher' | 'lower' | 'neutral';

interface MetricRow {
  label: string;
  a: number | undefined;
  b: number | undefined;
  better: Better;
  fmt: (n: number) => string;
}

const A_UNCORRECTED = '#60a5fa';
const B_UNCORRECTED = '#e879f9';
/** Changes smaller than this (percent) are not coloured. */
const NOISE_PCT = 1;

function metricRows(a: Summary | undefined, b: Summary | undefined, da: ReportData, db: ReportData): MetricRow[] {
  const int = (n: number) => fmtNum(Math.round(n), 3);
  const row = (label: string, f: (s: Summary) => number | undefined, better: Better, fmt: (n: number) => string = int): MetricRow =>
    ({ label, a: a ? f(a) : undefined, b: b ? f(b) : undefined, better, fmt });
  return [
    { label: 'duration', a: runLengthSec(da.seconds, a?.durationSec), b: runLengthSec(db.seconds, b?.durationSec), better: 'neutral', fmt: fmtDuration },
    row('sent', (s) => s.sent, 'neutral'),
    row('committed', (s) => s.committed, 'higher'),
    row('failed', (s) => s.failed, 'lower'),
    row('lost', (s) => s.lost, 'lower'),
    row('late', (s) => s.late ?? 0, 'lower'),
    row('pending', (s) => s.pending, 'lower'),
    row('retries', (s) => s.retries, 'lower'),
    row('TPS average', (s) => s.tps.avg, 'higher', (n) => fmtNum(n, 4)),
    row('TPS peak', (s) => s.tps.peak, 'higher'),
    row('latency p50', (s) => s.latency.p50Ms, 'lower', fmtMs),
    row('latency p90', (s) => s.latency.p90Ms, 'lower', fmtMs),
    row('latency p99', (s) => s.latency.p99Ms, 'lower', fmtMs),
    row('latency p99.9', (s) => s.latency.p999Ms, 'lower', fmtMs),
    row('latency max', (s) => s.latency.maxMs, 'lower', fmtMs),
    row('uncorrected p50', (s) => s.latencyUncorrected.p50Ms, 'lower', fmtMs),
    row('uncorrected p99', (s) => s.latencyUncorrected.p99Ms, 'lower', fmtMs),
    row('schedule lag p99', (s) => s.scheduleLag.p99Ms, 'lower', fmtMs),
    row('reconciliation missing', (s) => s.reconciliation?.missing, 'lower'),
    row('reconciliation unexpected', (s) => s.reconciliation?.unexpected, 'lower'),
  ];
}

function verdictClass(r: MetricRow): string {
  if (r.a === undefined || r.b === undefined || r.better === 'neutral' || r.a === r.b) return '';
  const pct = r.a !== 0 ? (Math.abs(r.b - r.a) / Math.abs(r.a)) * 100 : Infinity;
  if (pct < NOISE_PCT) return '';
  const up = r.b > r.a;
  return (up && r.better === 'higher') || (!up && r.better === 'lower') ? 'delta-good' : 'delta-bad';
}

function summaryTable(data: CompareData): HTMLElement {
  const rows = metricRows(data.a.summary, data.b.summary, data.a, data.b);
  const val = (n: number | undefined, f: (n: number) => string) => (n === undefined ? DASH : f(n));
  return table<MetricRow>([
    { title: 'metric', cell: (r) => r.label },
    { title: 'A', cell: (r) => val(r.a, r.fmt), num: true },
    { title: 'B', cell: (r) => val(r.b, r.fmt), num: true },
    { title: 'B − A', cell: (r) => (r.a === undefined || r.b === undefined ? DASH : h('span', { class: verdictClass(r) }, fmtSigned(r.b - r.a, r.fmt))), num: true },
    { title: 'change', cell: (r) => (r.a === undefined || r.b === undefined || r.a === 0 ? DASH : h('span', { class: verdictClass(r) }, fmtSignedPct(((r.b - r.a) / Math.abs(r.a)) * 100))), num: true },
  ], rows, { id: 'compare-summary' });
}

function runCard(label: string, color: string, d: ReportData): HTMLElement {
  const env = Object.fromEntries(environmentRows(d.run.environment));
  return h('div', { class: 'run-card', style: `border-top-color: ${color}` },
    h('div', { class: 'title-row' }, h('span', { class: 'run-tag', style: `background: ${color}` }, label), h('h2', null, d.run.name || d.run.id), badge(d.run.status)),
    h('div', { class: 'meta' },
      h('span', null, h('code', null, d.run.id)),
      h('span', null, `started ${fmtTime(d.run.startedAt)}`),
      h('span', null, fmtDuration(runLengthSec(d.seconds, d.summary?.durationSec)))),
    h('div', { class: 'meta muted' }, `${env.machine ?? DASH} · ${env.CPUs ?? DASH} · tpslab ${env.tpslab ?? DASH} · ${(env['git commit'] ?? DASH).slice(0, 12)}`),
    d.run.error ? h('div', { class: 'alert' }, d.run.error) : null);
}

function thresholdsCompare(a: ThresholdVerdict[], b: ThresholdVerdict[]): HTMLElement {
  const keys = [...new Set([...a.map((t) => t.threshold), ...b.map((t) => t.threshold)])];
  const cell = (list: ThresholdVerdict[], k: string) => {
    const t = list.find((x) => x.threshold === k);
    return t ? [badge(t.passed ? 'pass' : 'fail'), ' ', t.actual === undefined || t.actual === null ? DASH : t.actualText ?? fmtNum(t.actual)] : DASH;
  };
  return table<string>([
    { title: 'threshold', cell: (k) => h('code', null, k) },
    { title: 'A', cell: (k) => cell(a, k) },
    { title: 'B', cell: (k) => cell(b, k) },
  ], keys, { id: 'compare-thresholds' }, 'no thresholds in either run');
}

function envTable(data: CompareData): HTMLElement {
  const a = environmentRows(data.a.run.environment);
  const b = environmentRows(data.b.run.environment);
  const cell = (v: string | undefined, k: string, other: string | undefined) => {
    const text = v ?? DASH;
    const shown = k === 'git commit' ? h('code', { title: text }, text.slice(0, 12)) : text;
    return v !== other ? h('strong', { class: 'env-diff' }, shown) : shown;
  };
  return table<[string, string]>([
    { title: '', cell: (r) => r[0] },
    { title: 'A', cell: (r, i) => cell(r[1], r[0], b[i]?.[1]) },
    { title: 'B', cell: (r, i) => cell(b[i]?.[1], r[0], r[1]) },
  ], a, { class: 'env-table' });
}

function overlay(name: string, title: string, unit: string | undefined, lines: { label: string; color: string; dash?: number[]; x: number[]; y: (number | null | undefined)[] }[], logToggle = false): ChartSpec {
  const { x, ys } = joinSeries(lines.map((l) => ({ x: l.x, y: l.y })));
  return {
    name, title, yUnit: unit, logToggle, x, sync: 'compare',
    series: lines.map((l, i) => ({ label: l.label, color: l.color, dash: l.dash, width: 2, values: ys[i] ?? [] })),
  };
}

export function renderCompare(root: HTMLElement, data: CompareData): void {
  const pa = sortedSeconds(data.a.seconds ?? []);
  const pb = sortedSeconds(data.b.seconds ?? []);
  const xs = (p: typeof pa) => p.map((s) => s.second);
  const p99 = (p: typeof pa, k: 'corrected' | 'uncorrected') => p.map((s) => (s[k] && (s[k]?.count ?? 0) > 0 ? s[k]?.p99Ms : null));

  root.append(
    h('header', { class: 'page-header', id: 'compare-header' },
      h('div', { class: 'title-row' }, h('h1', null, 'Compare runs')),
      h('div', { class: 'meta muted' }, `A = ${data.a.run.name} (${data.a.run.id}), B = ${data.b.run.name} (${data.b.run.id}) · generated ${fmtTime(data.generatedAt)}`)),
    h('div', { class: 'two-col', id: 'compare-runs' }, runCard('A', COLORS.a, data.a), runCard('B', COLORS.b, data.b)),
    h('div', { class: 'two-col' },
      panel('Summary', { id: 'compare-summary-panel' }, summaryTable(data),
        note('B − A; green is better for B (more throughput, less latency, fewer failures), red is worse. Changes under 1% are not coloured.', 'note small')),
      h('div', null,
        panel('Thresholds', null, thresholdsCompare(data.a.thresholds ?? [], data.b.thresholds ?? [])),
        panel('Environment', { id: 'compare-env' }, envTable(data)))),
    panel('Charts', { id: 'compare-charts', class: 'charts-panel' },
      note('Time is seconds since each run\'s start. Solid: corrected latency (from intended send); dashed: uncorrected (from actual send).', 'note small'),
      h('div', { class: 'chart-grid' },
        chart(overlay('compare-tps', 'Committed TPS', 'tx/s', [
          { label: 'A committed', color: COLORS.a, x: xs(pa), y: pa.map((s) => s.committed) },
          { label: 'B committed', color: COLORS.b, x: xs(pb), y: pb.map((s) => s.committed) },
        ])).el,
        chart(overlay('compare-send-rate', 'Send rate: target vs achieved', 'tx/s', [
          { label: 'A sent', color: COLORS.a, x: xs(pa), y: pa.map((s) => s.sent) },
          { label: 'B sent', color: COLORS.b, x: xs(pb), y: pb.map((s) => s.sent) },
          { label: 'A target', color: A_UNCORRECTED, dash: DASHED, x: xs(pa), y: pa.map((s) => s.targetRate) },
          { label: 'B target', color: B_UNCORRECTED, dash: DASHED, x: xs(pb), y: pb.map((s) => s.targetRate) },
        ])).el,
        chart(overlay('compare-latency-p99', 'Latency p99 per second', 'ms', [
          { label: 'A p99', color: COLORS.a, x: xs(pa), y: p99(pa, 'corrected') },
          { label: 'B p99', color: COLORS.b, x: xs(pb), y: p99(pb, 'corrected') },
          { label: 'A p99 uncorr.', color: A_UNCORRECTED, dash: DASHED, x: xs(pa), y: p99(pa, 'uncorrected') },
          { label: 'B p99 uncorr.', color: B_UNCORRECTED, dash: DASHED, x: xs(pb), y: p99(pb, 'uncorrected') },
        ], true)).el,
        chart(distributionSpec([
          { label: 'A', color: COLORS.a, points: data.a.distribution?.corrected ?? [] },
          { label: 'B', color: COLORS.b, points: data.b.distribution?.corrected ?? [] },
          { label: 'A uncorr.', color: A_UNCORRECTED, dash: DASHED, points: data.a.distribution?.uncorrected ?? [] },
          { label: 'B uncorr.', color: B_UNCORRECTED, dash: DASHED, points: data.b.distribution?.uncorrected ?? [] },
        ], 'compare-distribution', 'Latency by percentile')).el)),
  );
}
