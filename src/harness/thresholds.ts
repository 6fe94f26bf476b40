/**
 * Pass/fail thresholds for a run: `<metric> <op> <value>[unit]`, e.g.
 * `latency.p99 < 250ms`, `lost == 0`, `tps.avg >= 1000`. A run that breaches
 * one exits with code 3. Pure: no I/O, no clock.
 */
import { TpslabError } from '../errors.js';

const LATENCY_STATS = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const;

/** Every metric a threshold may name, with what kind of value it holds. */
export const THRESHOLD_METRICS = {
  'tps.avg': 'tps',
  'tps.peak': 'tps',
  sent: 'count',
  committed: 'count',
  failed: 'count',
  lost: 'count',
  late: 'count',
  pending: 'count',
  ...(Object.fromEntries(LATENCY_STATS.map((s) => [`latency.${s}`, 'latency'])) as Record<`latency.${(typeof LATENCY_STATS)[number]}`, 'latency'>),
  ...(Object.fromEntries(LATENCY_STATS.map((s) => [`latency_uncorrected.${s}`, 'latency'])) as Record<
    `latency_uncorrected.${(typeof LATENCY_STATS)[number]}`,
    'latency'
  >),
  'schedule_lag.p99': 'latency',
  'reconciliation.missing': 'count',
  'reconciliation.unexpected': 'count',
} as const satisfies Record<string, MetricKind>;

export type MetricKind = 'tps' | 'count' | 'latency';
export type ThresholdMetric = keyof typeof THRESHOLD_METRICS;

/** The metric names, in documentation order. */
export const THRESHOLD_METRIC_NAMES = Object.keys(THRESHOLD_METRICS) as ThresholdMetric[];

export const THRESHOLD_OPS = ['<', '<=', '>', '>=', '==', '!='] as const;
export type ThresholdOp = (typeof THRESHOLD_OPS)[number];

/** Units a latency value may carry, as milliseconds per unit. Without a unit, latency values are in ms. */
export const LATENCY_UNITS_MS = { ms: 1, s: 1000, us: 0.001 } as const;
export type LatencyUnit = keyof typeof LATENCY_UNITS_MS;

export interface Threshold {
  /** The expression as written (trimmed). */
  readonly expr: string;
  /** Position in the scenario's `thresholds` list. */
  readonly index: number;
  readonly metric: ThresholdMetric;
  readonly kind: MetricKind;
  readonly op: ThresholdOp;
  /** The bound, in the metric's base unit: milliseconds for latency, per second for tps, a plain count otherwise. */
  readonly value: number;
  /** The latency unit the expression was written in ('ms' when it had none); undefined for counts and rates. */
  readonly unit?: LatencyUnit;
}

export interface ThresholdResult {
  threshold: string;
  metric: string;
  actual: number | undefined;
  /** The actual value in the expression's unit, for people: `3.03s`, `3031ms`, `45.45 tx/s`, `0`; `n/a` when missing. */
  actualText: string;
  passed: boolean;
}

const GRAMMAR = '<metric> <op> <value>[unit], e.g. "latency.p99 < 250ms" or "lost == 0"';
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/;

export function parseThreshold(expr: string, index: number): Threshold {
  const where = `thresholds[${index}]`;
  const fail = (why: string): never => {
    throw new TpslabError('TPSLAB_E_THRESHOLD', `${where}: "${expr}": ${why}`, { details: { index, expr } });
  };
  if (typeof expr !== 'string') return fail(`must be a string of the form ${GRAMMAR}`);
  const text = expr.trim();
  if (text === '') return fail(`is empty; write ${GRAMMAR}`);

  const m = /^([^\s<>=!]*)\s*([<>=!]*)\s*(.*)$/s.exec(text);
  const [, metricText = '', opText = '', rest = ''] = m ?? [];
  if (metricText === '') return fail(`missing the metric; write ${GRAMMAR}`);
  if (!Object.hasOwn(THRESHOLD_METRICS, metricText)) {
    return fail(`unknown metric "${metricText}"${didYouMean(metricText, THRESHOLD_METRIC_NAMES)}; valid metrics: ${THRESHOLD_METRIC_NAMES.join(', ')}`);
  }
  const metric = metricText as ThresholdMetric;
  const kind: MetricKind = THRESHOLD_METRICS[metric];
  if (opText === '') return fail(`missing the comparison after "${metric}"; valid operators: ${THRESHOLD_OPS.join(' ')}`);
  if (!(THRESHOLD_OPS as readonly string[]).includes(opText)) return fail(`unknown operator "${opText}"; valid operators: ${THRESHOLD_OPS.join(' ')}`);
  const op = opText as ThresholdOp;

  const num = NUMBER.exec(rest);
  if (!num) return fail(`"${rest}" is not a number; write ${GRAMMAR}`);
  const value = Number(num[0]);
  if (!Number.isFinite(value)) return fail(`"${num[0]}" is not a finite number`);
  const unit = rest.slice(num[0].length).trim();

  if (kind === 'latency') {
    if (unit === '') return { expr: text, index, metric, kind, op, value, unit: 'ms' };
    if (!Object.hasOwn(LATENCY_UNITS_MS, unit)) {
      return fail(`unknown unit "${unit}" for ${metric}; valid units: ${Object.keys(LATENCY_UNITS_MS).join(', ')} (none means ms)`);
    }
    return { expr: text, index, metric, kind, op, value: value * LATENCY_UNITS_MS[unit as LatencyUnit], unit: unit as LatencyUnit };
  }
  if (unit !== '') return fail(`${metric} is a ${kind === 'tps' ? 'rate per second' : 'count'} and takes no unit; remove "${unit}"`);
  return { expr: text, index, metric, kind, op, value };
}

export function parseThresholds(list: readonly string[]): Threshold[] {
  return list.map((expr, i) => parseThreshold(expr, i));
}

function compare(actual: number, op: ThresholdOp, bound: number): boolean {
  switch (op) {
    case '<':
      return actual < bound;
    case '<=':
      return actual <= bound;
    case '>':
      return actual > bound;
    case '>=':
      return actual >= bound;
    case '==':
      return actual === bound;
    case '!=':
      return actual !== bound;
  }
}

/**
 * Checks each threshold against a run's final figures, keyed by metric name
 * (latency in milliseconds). A metric missing from the map, or not a finite
 * number, fails with `actual: undefined`.
 */
export function evaluateThresholds(ts: readonly Threshold[], metrics: Readonly<Record<string, number>>): ThresholdResult[] {
  return ts.map((t) => {
    const raw = Object.hasOwn(metrics, t.metric) ? metrics[t.metric] : undefined;
    const actual = typeof raw === 'number' && !Number.isNaN(raw) ? raw : undefined;
    return { threshold: t.expr, metric: t.metric, actual, actualText: formatActual(t, actual), passed: actual !== undefined && compare(actual, t.op, t.value) };
  });
}

/** A metric's value as the threshold expression writes it: latency in the expression's unit, rates in tx/s, counts whole. */
export function formatActual(t: Pick<Threshold, 'kind' | 'unit'>, actual: number | undefined): string {
  if (actual === undefined) return 'n/a';
  const short = (v: number): string => {
    const abs = Math.abs(v);
    return String(+v.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3));
  };
  if (t.kind === 'latency') {
    const unit = t.unit ?? 'ms';
    return `${short(actual / LATENCY_UNITS_MS[unit])}${unit}`;
  }
  if (t.kind === 'tps') return `${+actual.toFixed(2)} tx/s`;
  return String(actual);
}

/** ` (did you mean "x"?)` when one option is close to `name`, else ''. */
export function didYouMean(name: string, options: readonly string[]): string {
  const lower = name.toLowerCase();
  const byPrefix = lower.length >= 3 ? options.filter((o) => o.toLowerCase().startsWith(lower)) : [];
  if (byPrefix.length === 1) return ` (did you mean "${byPrefix[0]}"?)`;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const o of options) {
    const d = editDistance(name.toLowerCase(), o.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [o, d];
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
