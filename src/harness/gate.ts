/**
 * Regression gates for `tpslab compare --fail-if`: conditions on the change from run A (the
 * baseline) to run B, e.g. `latency.p99 > +10%` or `tps.avg < -5%` or `lost > 0`. A gate that
 * holds fails the comparison (exit 3). Pure: no I/O.
 *
 *   <metric> <op> <signed change>[% | unit]
 *
 * With `%` the change is relative, (B − A) / A × 100; without, it is B − A in the metric's unit
 * (latency takes ms, s or us, default ms). Metrics are the threshold metrics (docs/scenario.md).
 */
import { TpslabError } from '../errors.js';
import type { Summary } from '../web/contract.js';
import { thresholdMetrics } from './overseer.js';
import { LATENCY_UNITS_MS, THRESHOLD_METRICS, THRESHOLD_METRIC_NAMES, THRESHOLD_OPS, didYouMean, type LatencyUnit, type ThresholdMetric, type ThresholdOp } from './thresholds.js';

export interface Gate {
  expr: string;
  metric: ThresholdMetric;
  op: ThresholdOp;
  /** The bound on the change: percent when `relative`, else in the metric's base unit (ms for latency). */
  value: number;
  relative: boolean;
  unit?: LatencyUnit;
}

export interface GateResult {
  gate: string;
  metric: string;
  a: number | undefined;
  b: number | undefined;
  /** B − A (relative: percent); undefined when a figure is missing or, relative, A is 0. */
  change: number | undefined;
  /** The change as the gate writes it: `+12.5%`, `+31ms`. */
  changeText: string;
  /** True when the condition holds: the comparison fails. */
  failed: boolean;
}

const GRAMMAR = '<metric> <op> <signed change>[% or unit], e.g. "latency.p99 > +10%" or "tps.avg < -5%"';

export function parseGate(expr: string): Gate {
  const fail = (why: string): never => {
    throw new TpslabError('TPSLAB_E_USAGE', `--fail-if "${expr}": ${why}`);
  };
  const m = /^\s*([^\s<>=!]+)\s*([<>=!]+)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(%|[a-z]*)\s*$/.exec(expr);
  if (!m) return fail(`write ${GRAMMAR}`);
  const [, metricText = '', opText = '', num = '', unitText = ''] = m;
  if (!Object.hasOwn(THRESHOLD_METRICS, metricText)) {
    return fail(`unknown metric "${metricText}"${didYouMean(metricText, THRESHOLD_METRIC_NAMES)}; valid metrics: ${THRESHOLD_METRIC_NAMES.join(', ')}`);
  }
  const metric = metricText as ThresholdMetric;
  if (!(THRESHOLD_OPS as readonly string[]).includes(opText)) return fail(`unknown operator "${opText}"; valid operators: ${THRESHOLD_OPS.join(' ')}`);
  const op = opText as ThresholdOp;
  const value = Number(num);
  if (unitText === '%') return { expr: expr.trim(), metric, op, value, relative: true };
  if (THRESHOLD_METRICS[metric] === 'latency') {
    const unit = (unitText || 'ms') as LatencyUnit;
    if (!Object.hasOwn(LATENCY_UNITS_MS, unit)) return fail(`unknown unit "${unitText}"; use %, ${Object.keys(LATENCY_UNITS_MS).join(', ')}`);
    return { expr: expr.trim(), metric, op, value: value * LATENCY_UNITS_MS[unit], relative: false, unit };
  }
  if (unitText !== '') return fail(`${metric} takes a change in % or a plain number; remove "${unitText}"`);
  return { expr: expr.trim(), metric, op, value, relative: false };
}

function holds(x: number, op: ThresholdOp, bound: number): boolean {
  switch (op) {
    case '<': return x < bound;
    case '<=': return x <= bound;
    case '>': return x > bound;
    case '>=': return x >= bound;
    case '==': return x === bound;
    case '!=': return x !== bound;
  }
}

const signed = (v: number, digits: number): string => `${v > 0 ? '+' : ''}${+v.toFixed(digits)}`;

/**
 * Judges each gate on the change from A to B. A run without a summary, a missing metric, or a
 * relative change from 0 fails the gate (it cannot be shown to hold back).
 */
export function evaluateGates(gates: readonly Gate[], a: Summary | undefined, b: Summary | undefined): GateResult[] {
  const ma = a ? thresholdMetrics(a) : {};
  const mb = b ? thresholdMetrics(b) : {};
  return gates.map((g) => {
    const va = Object.hasOwn(ma, g.metric) ? ma[g.metric] : undefined;
    const vb = Object.hasOwn(mb, g.metric) ? mb[g.metric] : undefined;
    let change: number | undefined;
    if (va !== undefined && vb !== undefined && Number.isFinite(va) && Number.isFinite(vb)) {
      if (!g.relative) change = vb - va;
      else if (va !== 0) change = ((vb - va) / Math.abs(va)) * 100;
      else if (vb === 0) change = 0;
    }
    const changeText = change === undefined ? 'n/a'
      : g.relative ? `${signed(change, 2)}%`
      : g.unit ? `${signed(change / LATENCY_UNITS_MS[g.unit], 3)}${g.unit}`
      : signed(change, 3);
    return { gate: g.expr, metric: g.metric, a: va, b: vb, change, changeText, failed: change === undefined || holds(change, g.op, g.value) };
  });
}

/** Top-level scenario fields that differ (ignoring name, description and where results are stored). */
export function scenarioDifferences(a: unknown, b: unknown): string[] {
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const oa = obj(a);
  const ob = obj(b);
  const ignore = new Set(['name', 'description', 'results']);
  const keys = [...new Set([...Object.keys(oa), ...Object.keys(ob)])].filter((k) => !ignore.has(k)).sort();
  return keys.filter((k) => JSON.stringify(oa[k]) !== JSON.stringify(ob[k]));
}
