/** Table builders shared by the pages. */
import type { BeaconTotals, LatencyPoint, NodeInfo, ThresholdVerdict } from '../contract.js';
import { badge, h, note, type Attrs, type Child } from './dom.js';
import { fmtInt, fmtMs, fmtNum } from './format.js';

export interface Column<T> {
  title: string;
  cell: (row: T, index: number) => Child | Child[];
  /** Right-aligned, tabular figures. */
  num?: boolean;
  cls?: string;
}

export function table<T>(columns: Column<T>[], rows: readonly T[], attrs: Attrs | null = null, empty = 'none'): HTMLElement {
  if (rows.length === 0) return h('div', { ...attrs, class: 'table-empty' }, note(empty));
  const head = h('tr', null, columns.map((c) => h('th', { class: c.num ? 'num' : c.cls }, c.title)));
  const body = rows.map((r, i) => h('tr', null, columns.map((c) => h('td', { class: [c.num ? 'num' : '', c.cls ?? ''].join(' ').trim() || null }, c.cell(r, i)))));
  return h('div', { class: 'table-wrap' }, h('table', { ...attrs, class: `grid ${typeof attrs?.class === 'string' ? attrs.class : ''}`.trim() }, h('thead', null, head), h('tbody', null, body)));
}

function errorsText(errors: Record<string, number> | undefined): string {
  const e = Object.entries(errors ?? {}).filter(([, n]) => n > 0);
  if (e.length === 0) return '–';
  return e.sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c.replace(/^TPSLAB_E_/, '')} ${fmtInt(n)}`).join(', ');
}

export function beaconsTable(beacons: readonly BeaconTotals[], live = false, attrs: Attrs | null = null): HTMLElement {
  const cols: Column<BeaconTotals>[] = [
    { title: 'beacon', cell: (b) => String(b.beacon) },
    { title: 'accounts', cell: (b) => (b.accountsStart !== undefined && b.accountsEnd !== undefined ? `${fmtInt(b.accountsStart)} – ${fmtInt(b.accountsEnd)}` : '–'), num: true },
    { title: 'sent', cell: (b) => fmtInt(b.sent), num: true },
    { title: 'committed', cell: (b) => fmtInt(b.committed), num: true },
    { title: 'failed', cell: (b) => fmtInt(b.failed), num: true },
    { title: 'lost', cell: (b) => fmtInt(b.lost), num: true },
    { title: 'late', cell: (b) => fmtInt(b.late), num: true },
    { title: 'retries', cell: (b) => fmtInt(b.retries), num: true },
  ];
  if (live) cols.push({ title: 'in flight', cell: (b) => fmtInt(b.inFlight), num: true });
  // Beacons over NATS: who, its clock offset to the overseer, and when it really started.
  if (beacons.some((b) => b.name !== undefined)) {
    const signed = (v: number | undefined): string => (v === undefined ? '–' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
    cols.splice(1, 0, { title: 'name', cell: (b) => b.name ?? '–' });
    cols.push({ title: 'clock offset (ms)', cell: (b) => (b.clockOffsetMs === undefined ? '–' : `${signed(b.clockOffsetMs)} ± ${(b.clockUncertaintyMs ?? 0).toFixed(2)}`), num: true });
    cols.push({ title: 'first send after start (ms)', cell: (b) => signed(b.firstSendAfterStartMs), num: true });
  }
  cols.push({ title: 'errors', cell: (b) => errorsText(b.errors), cls: 'errors' });
  return table(cols, [...beacons].sort((a, b) => a.beacon - b.beacon), attrs, 'no beacons reported');
}

export function nodesTable(nodes: readonly NodeInfo[], attrs: Attrs | null = null): HTMLElement {
  const cols: Column<NodeInfo>[] = [
    { title: 'node', cell: (n) => n.node },
    { title: 'role', cell: (n) => n.role },
    { title: 'url', cell: (n) => h('code', null, n.url) },
    { title: 'head', cell: (n) => fmtInt(n.head), num: true },
    { title: 'lag', cell: (n) => fmtInt(n.lag), num: true },
    { title: 'health', cell: (n) => healthBadge(n.healthy) },
  ];
  // Connectors that count gas (ethereum) put the run's total in their node stats.
  const gas = (n: NodeInfo): number | undefined => {
    const v = (n.stats as { runGasUsed?: unknown } | undefined)?.runGasUsed;
    return typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  if (nodes.some((n) => gas(n) !== undefined)) cols.push({ title: 'gas used (run)', cell: (n) => fmtInt(gas(n)), num: true });
  return table(cols, nodes, attrs, 'no nodes known');
}

export function healthBadge(healthy: boolean | undefined): HTMLElement {
  if (healthy === undefined) return h('span', { class: 'health health-unknown' }, '?');
  return h('span', { class: `health ${healthy ? 'health-ok' : 'health-bad'}` }, healthy ? 'ok' : 'down');
}

export function thresholdsTable(verdicts: readonly ThresholdVerdict[], attrs: Attrs | null = null): HTMLElement {
  return table<ThresholdVerdict>([
    { title: 'verdict', cell: (t) => badge(t.passed ? 'pass' : 'fail') },
    { title: 'threshold', cell: (t) => h('code', null, t.threshold) },
    { title: 'metric', cell: (t) => t.metric },
    { title: 'actual', cell: (t) => (t.actual === undefined || t.actual === null ? '–' : t.actualText ?? fmtNum(t.actual)), num: true },
  ], verdicts, attrs, 'no thresholds in the scenario');
}

export function errorsTable(errors: Record<string, number> | undefined, attrs: Attrs | null = null): HTMLElement {
  const rows = Object.entries(errors ?? {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((s, [, n]) => s + n, 0);
  return table<[string, number]>([
    { title: 'code', cell: ([c]) => h('code', null, c) },
    { title: 'count', cell: ([, n]) => fmtInt(n), num: true },
    { title: 'share', cell: ([, n]) => `${fmtNum((100 * n) / total)}%`, num: true },
  ], rows, attrs, 'no errors');
}

/** p50 … max for corrected, uncorrected and schedule lag. */
export function latencyTable(rows: [string, LatencyPoint | undefined][], attrs: Attrs | null = null): HTMLElement {
  const cell = (f: (l: LatencyPoint) => number) => (r: [string, LatencyPoint | undefined]) => (r[1] ? fmtMs(f(r[1])) : '–');
  return table<[string, LatencyPoint | undefined]>([
    { title: 'latency', cell: (r) => r[0] },
    { title: 'p50', cell: cell((l) => l.p50Ms), num: true },
    { title: 'p90', cell: cell((l) => l.p90Ms), num: true },
    { title: 'p99', cell: cell((l) => l.p99Ms), num: true },
    { title: 'p99.9', cell: cell((l) => l.p999Ms), num: true },
    { title: 'max', cell: cell((l) => l.maxMs), num: true },
    { title: 'mean', cell: cell((l) => l.meanMs), num: true },
  ], rows, attrs);
}
