/** The report page: one finished (or failed) run, everything inline. */
import { blockRange, type Reconciliation, type ReportData, type Summary } from '../contract.js';
import { chart } from './charts.js';
import { append, badge, card, h, jsonDetails, kv, note, panel, type Child } from './dom.js';
import { fmtBytes, fmtDuration, fmtInt, fmtMs, fmtRate, fmtTime, shortHex } from './format.js';
import { cumulativeSpec, distributionSpec, hourlySpec, latencySpec, runLengthSec, sendRateSpec, sortedSeconds, tpsSpec } from './runcharts.js';
import { COLORS, DASHED } from './charts.js';
import { faultMarks, faultsPanel, withFaults } from './faults.js';
import { sampledPanel } from './sampled.js';
import { beaconsTable, errorsTable, latencyTable, nodesTable, thresholdsTable } from './tables.js';

/** Runs longer than this get the per-hour volume chart. */
export const HOURLY_MIN_SEC = 2 * 3600;

export function summaryCards(s: Summary | undefined, attrs: { id?: string } = {}): HTMLElement {
  if (!s) return h('div', { class: 'no-summary', id: attrs.id }, note('No summary: the run did not finish.'));
  return h('div', { class: 'cards', id: attrs.id },
    card('sent', fmtInt(s.sent), { raw: s.sent }),
    card('committed', fmtInt(s.committed), { raw: s.committed, cls: 'good' }),
    card('failed', fmtInt(s.failed), { raw: s.failed, cls: s.failed > 0 ? 'bad' : '' }),
    card('lost', fmtInt(s.lost), { raw: s.lost, cls: s.lost > 0 ? 'bad' : '' }),
    card('late', fmtInt(s.late), { raw: s.late ?? 0, cls: (s.late ?? 0) > 0 ? 'bad' : '' }),
    card('pending', fmtInt(s.pending), { raw: s.pending, cls: s.pending > 0 ? 'warn' : '' }),
    card('retries', fmtInt(s.retries), { raw: s.retries }),
    card('TPS average', fmtRate(s.tps.avg), { raw: s.tps.avg, sub: `over ${fmtDuration(s.durationSec)}` }),
    card('TPS peak', fmtInt(s.tps.peak), { raw: s.tps.peak, sub: 'best second' }),
    card('p99 latency', fmtMs(s.latency.p99Ms), { raw: s.latency.p99Ms, sub: 'from intended send' }),
    card('p99 uncorrected', fmtMs(s.latencyUncorrected.p99Ms), { raw: s.latencyUncorrected.p99Ms, sub: 'from actual send' }));
}

export function reconciliationView(r: Reconciliation | undefined, connector?: Summary['connector']): HTMLElement {
  if (!r && connector && !connector.reconciled) {
    return h('div', { class: 'recon', id: 'connector-limits' },
      note(`Not reconciled: the ${connector.kind} connector cannot ask the network what it committed. What it does not verify:`),
      h('ul', null, connector.limits.map((l) => h('li', null, l))));
  }
  if (!r) return note('No reconciliation: the run did not get that far.');
  const ok = r.missing === 0 && r.unexpected === 0;
  const ids = (label: string, list: string[], n: number): Child =>
    n > 0 ? h('div', { class: 'ids' }, h('strong', null, `${label} (${fmtInt(n)})`),
      list.length ? h('ul', null, list.slice(0, 8).map((id) => h('li', null, h('code', { title: id }, shortHex(id, 16, 8))))) : note('no example ids recorded'),
      list.length > 8 ? note(`… and ${fmtInt(n - 8)} more`) : null) : null;
  return h('div', { class: `recon ${ok ? 'recon-ok' : 'recon-bad'}` },
    h('p', { class: 'recon-line' },
      h('span', { class: `dot ${ok ? 'dot-ok' : 'dot-bad'}` }),
      `Blocks ${blockRange(r)}: beacons saw ${fmtInt(r.beaconCommitted)} committed, the network committed ${fmtInt(r.networkCommitted)}`,
      ok ? ' — they match.' : ' — they do not match.'),
    kv([
      ['matched', fmtInt(r.matched)],
      ['missing', h('span', { class: r.missing ? 'bad-text' : '' }, fmtInt(r.missing))],
      ['unexpected', h('span', { class: r.unexpected ? 'bad-text' : '' }, fmtInt(r.unexpected))],
    ]),
    ids('missing (beacon saw committed, not in the blocks)', r.missingIds ?? [], r.missing),
    ids('unexpected (in the blocks, not seen by a beacon)', r.unexpectedIds ?? [], r.unexpected));
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** The environment as rows (machine, OS, CPUs, memory, Node, tpslab, commit); tolerant of missing fields. */
export function environmentRows(env: unknown): [string, string][] {
  const e = obj(env);
  const os = obj(e.os);
  const cpus = obj(e.cpus);
  const osText = [str(os.platform), str(os.release)].filter(Boolean).join(' ') + (str(os.arch) ? ` (${str(os.arch)})` : '');
  const cpuText = cpus.count !== undefined || cpus.model !== undefined ? `${str(cpus.count) ?? '?'} × ${str(cpus.model) ?? 'unknown'}` : '';
  return [
    ['machine', str(e.hostname) ?? '–'],
    ['OS', osText || '–'],
    ['CPUs', cpuText || '–'],
    ['memory', typeof e.memoryBytes === 'number' ? fmtBytes(e.memoryBytes) : '–'],
    ['Node', str(e.nodeVersion) ?? '–'],
    ['tpslab', str(e.tpslabVersion) ?? '–'],
    ['git commit', str(e.gitCommit) ?? '–'],
  ];
}

export function runHeader(d: ReportData, id?: string): HTMLElement {
  const r = d.run;
  const len = runLengthSec(d.seconds, d.summary?.durationSec);
  return h('header', { class: 'page-header', id },
    h('div', { class: 'title-row' }, h('h1', null, r.name || r.id), badge(r.status, id ? `${id}-status` : undefined)),
    h('div', { class: 'meta' },
      h('span', null, 'run ', h('code', null, r.id)),
      h('span', null, `started ${fmtTime(r.startedAt)}`),
      h('span', null, `finished ${fmtTime(r.finishedAt)}`),
      len > 0 ? h('span', null, `${fmtDuration(len)} of load`) : null,
      h('span', { class: 'muted' }, `report generated ${fmtTime(d.generatedAt)}`)));
}

export function renderReport(root: HTMLElement, d: ReportData): void {
  const pts = sortedSeconds(d.seconds ?? []);
  const s = d.summary;
  const len = runLengthSec(pts, s?.durationSec);
  const sync = 'report';
  const marks = faultMarks(d.faults, len);

  const charts = h('div', { class: 'chart-grid' },
    chart(withFaults(sendRateSpec(pts, sync), marks)).el,
    chart(withFaults(tpsSpec(pts, sync), marks)).el,
    chart(withFaults(cumulativeSpec(pts, sync), marks)).el,
    chart(withFaults(latencySpec(pts, sync), marks)).el,
    chart(distributionSpec([
      { label: 'corrected', color: COLORS.p99, points: d.distribution?.corrected ?? [] },
      { label: 'uncorrected', color: COLORS.uncorrected, dash: DASHED, points: d.distribution?.uncorrected ?? [] },
    ])).el,
    len > HOURLY_MIN_SEC
      ? chart(hourlySpec(pts)).el
      : h('figure', { class: 'chart chart-note', 'data-chart': 'hourly-volume', 'data-rendered': 'true', 'data-empty': 'true', id: 'report-hourly-note' },
        h('figcaption', null, h('span', { class: 'chart-title' }, 'Committed per hour')),
        note(`The per-hour volume chart appears for runs longer than 2 hours (this one: ${fmtDuration(len)}).`)));

  append(root, [
    runHeader(d, 'report-header'),
    d.run.error ? h('div', { class: 'alert', id: 'report-error' }, h('strong', null, 'Run error: '), d.run.error) : null,
    summaryCards(s, { id: 'report-summary' }),
    h('div', { class: 'two-col' },
      panel('Thresholds', { id: 'report-thresholds' }, thresholdsTable(d.thresholds ?? [])),
      panel('Reconciliation', { id: 'report-reconciliation' }, reconciliationView(s?.reconciliation, s?.connector))),
    s?.notes?.length ? panel('From the blocks', { id: 'report-notes' }, h('ul', null, s.notes.map((n) => h('li', null, n)))) : null,
    s ? panel('Latency', { id: 'report-latency' },
      latencyTable([
        ['from intended send (corrected)', s.latency],
        ['from actual send (uncorrected)', s.latencyUncorrected],
        ['schedule lag', s.scheduleLag],
      ]),
      note('Corrected latency counts from the scheduled send time, so stalls are charged to every transaction that should have been sent during them.', 'note small')) : null,
    panel('Charts', { id: 'report-charts', class: 'charts-panel' }, charts),
    faultsPanel(d.faults),
    sampledPanel(d.sampledTps),
    panel('Beacons', { id: 'report-beacons' }, beaconsTable(d.beacons ?? [])),
    h('div', { class: 'two-col' },
      panel('Nodes', { id: 'report-nodes' }, nodesTable(d.nodes ?? [])),
      panel('Errors', { id: 'report-errors' }, errorsTable(s?.errors))),
    h('div', { class: 'two-col' },
      panel('Scenario', { id: 'report-scenario' }, jsonDetails('scenario (JSON)', d.run.scenario)),
      panel('Environment', { id: 'report-environment' }, kv(environmentRows(d.run.environment).map(([k, v]) => [k, k === 'git commit' ? h('code', null, v) : v])))),
  ]);
}
