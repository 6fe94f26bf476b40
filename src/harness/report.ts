/**
 * Reports: one run (or two, compared) read from results.db and turned into the data the browser
 * app renders (src/web/contract.ts), a self-contained HTML file, a per-second CSV, or JSON.
 *
 * Latency figures are always read from histograms: every second's stored (merged) histograms
 * are decoded for that second's percentiles, and all of them are *added* for the whole-run
 * distribution. Summary and threshold verdicts are shown as the overseer stored them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TpslabError } from '../errors.js';
import type {
  BeaconTotals, CompareData, LatencyPoint, NodeInfo, ReportData, RunInfo, SecondPoint, Summary, ThresholdVerdict,
} from '../web/contract.js';
import { pageShell, webAssets, type WebAssets } from '../web/assets.js';
import { latencyPoint } from '../web/points.js';
import { readFaults } from '../faults/fault-store.js';
import { readSampledTps } from '../observability/sampled-store.js';
import { LatencyHistogram } from './histogram.js';
import { beaconClock } from './outputs.js';
import type { ResultsStore, RunRecord, SecondRow } from './store.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function runInfo(r: RunRecord): RunInfo {
  const info: RunInfo = { id: r.id, name: r.name, status: r.status, startedAt: r.startedAt, scenario: r.scenario ?? null, environment: r.environment ?? null };
  if (r.finishedAt !== undefined) info.finishedAt = r.finishedAt;
  if (r.error !== undefined) info.error = r.error;
  return info;
}

function decodeStored(runId: string, second: number, column: string, text: string): LatencyHistogram {
  try {
    return LatencyHistogram.decode(text);
  } catch (err) {
    throw new TpslabError(
      'TPSLAB_E_STORE',
      `run ${runId} second ${second}: the stored ${column} histogram cannot be decoded (${(err as Error).message}); the results database is damaged or was written by another tpslab version`,
      { cause: err },
    );
  }
}

/** Converts stored seconds to SecondPoints and adds their histograms into whole-run ones. */
function convertSeconds(runId: string, rows: readonly SecondRow[]): { seconds: SecondPoint[]; corrected: LatencyHistogram; uncorrected: LatencyHistogram } {
  const corrected = new LatencyHistogram();
  const uncorrected = new LatencyHistogram();
  const seconds = rows.map((r) => {
    const p: SecondPoint = {
      second: r.second, targetRate: r.targetRate ?? null, sent: r.sent ?? 0, committed: r.committed ?? 0, failed: r.failed ?? 0,
      expired: r.expired ?? 0, late: r.late ?? 0, inFlight: r.inFlight ?? 0, errors: isObject(r.errors) ? (r.errors as Record<string, number>) : {},
    };
    const point = (column: string, text: string | undefined, into?: LatencyHistogram): LatencyPoint | undefined => {
      if (text === undefined) return undefined;
      const h = decodeStored(runId, r.second, column, text);
      into?.add(h);
      return latencyPoint(h);
    };
    const c = point('corrected', r.latCorrected, corrected);
    const u = point('uncorrected', r.latUncorrected, uncorrected);
    const l = point('schedule lag', r.scheduleLag);
    if (c) p.corrected = c;
    if (u) p.uncorrected = u;
    if (l) p.lag = l;
    return p;
  });
  return { seconds, corrected, uncorrected };
}

/** Nodes with `lag`: blocks behind the highest head among the roles that have blocks (not the tracker). */
export function nodeInfos(rows: readonly { node: string; url: string; role: string; head?: number; healthy: boolean; stats?: unknown }[]): NodeInfo[] {
  const hasBlocks = (role: string): boolean => role !== 'tracker';
  const heads = rows.filter((n) => hasBlocks(n.role) && n.head !== undefined).map((n) => n.head!);
  const maxHead = heads.length ? Math.max(...heads) : undefined;
  return rows.map((n) => {
    const info: NodeInfo = { node: n.node, url: n.url, role: n.role, healthy: n.healthy };
    if (n.head !== undefined) info.head = n.head;
    if (maxHead !== undefined && n.head !== undefined && hasBlocks(n.role)) info.lag = maxHead - n.head;
    if (n.stats !== undefined && n.stats !== null) info.stats = n.stats;
    return info;
  });
}

/** Everything the report page shows for one run (`latest` for the newest). TPSLAB_E_STORE for an unknown run. */
export function buildReportData(store: ResultsStore, runIdOrLatest: string, opts: { skipAborted?: boolean } = {}): ReportData {
  const run = store.getRun(runIdOrLatest, opts);
  const { seconds, corrected, uncorrected } = convertSeconds(run.id, store.seconds(run.id));
  const beacons: BeaconTotals[] = store.beacons(run.id).map((b) => ({
    beacon: b.beacon, accountsStart: b.accountsStart, accountsEnd: b.accountsEnd, sent: b.sent, committed: b.committed,
    failed: b.failed, lost: b.lost, ...(b.late !== undefined ? { late: b.late } : {}), retries: b.retries, errors: b.errors,
    ...beaconClock(b),
  }));
  const data: ReportData = {
    kind: 'report',
    generatedAt: new Date().toISOString(),
    run: runInfo(run),
    thresholds: Array.isArray(run.thresholds) ? (run.thresholds as ThresholdVerdict[]) : [],
    seconds,
    distribution: { corrected: corrected.distribution(), uncorrected: uncorrected.distribution() },
    beacons,
    nodes: nodeInfos(store.nodes(run.id)),
  };
  // A failed run stores a null summary; a run still going (or whose overseer died) has none.
  if (isObject(run.summary)) data.summary = run.summary as unknown as Summary;
  const faults = store.path === ':memory:' ? [] : readFaults(store.path, run.id);
  if (faults.length) data.faults = faults;
  const sampled = store.path === ':memory:' ? undefined : readSampledTps(store.path, run.id);
  if (sampled) data.sampledTps = sampled;
  return data;
}

/** Two runs side by side (`latest` works for either); run B may come from another database (`storeB`). */
export function buildCompareData(store: ResultsStore, runA: string, runB: string, opts: { storeB?: ResultsStore; skipAborted?: boolean } = {}): CompareData {
  const skip = { skipAborted: opts.skipAborted ?? false };
  const a = buildReportData(store, runA, skip);
  const b = buildReportData(opts.storeB ?? store, runB, skip);
  return { kind: 'compare', generatedAt: a.generatedAt, a, b };
}

/** A run id made safe for a file name (ids from newRunId already are). */
export function fileSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** `report-<runId>.html` or `compare-<a>-vs-<b>.html`. */
export function defaultReportFile(data: ReportData | CompareData): string {
  return data.kind === 'report' ? `report-${fileSafe(data.run.id)}.html` : `compare-${fileSafe(data.a.run.id)}-vs-${fileSafe(data.b.run.id)}.html`;
}

/** The HTML page (app inlined) for a report or a comparison. */
export function reportHtml(data: ReportData | CompareData, assets: WebAssets): string {
  const title = data.kind === 'report'
    ? `tpslab report: ${data.run.name} (${data.run.id})`
    : `tpslab compare: ${data.a.run.id} vs ${data.b.run.id}`;
  return pageShell({ page: data.kind, title, data, inline: assets });
}

/**
 * Writes the self-contained HTML report (tmp file + rename, so a reader never sees half a
 * file) and returns its absolute path. Creates missing parent directories. `assets` defaults
 * to the built app (webAssets(): TPSLAB_E_INTERNAL when it is not built). A file that cannot
 * be written is TPSLAB_E_USAGE naming the path.
 */
export async function writeReport(data: ReportData | CompareData, outFile: string, opts: { assets?: WebAssets } = {}): Promise<string> {
  const html = reportHtml(data, opts.assets ?? (await webAssets()));
  const abs = path.resolve(outFile);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(tmp, html, { encoding: 'utf8', mode: 0o644 });
    await rename(tmp, abs);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new TpslabError('TPSLAB_E_USAGE', `cannot write the report to ${abs}: ${(err as Error).message}; choose another output file (--out)`, { cause: err });
  }
  return abs;
}

// ---------------------------------------------------------------- CSV

/** The CSV header, in column order. */
export const CSV_COLUMNS = [
  'second', 'target_rate', 'sent', 'committed', 'failed', 'expired', 'late', 'in_flight',
  'p50_ms', 'p90_ms', 'p99_ms', 'p999_ms', 'max_ms',
  'uncorrected_p50_ms', 'uncorrected_p90_ms', 'uncorrected_p99_ms', 'uncorrected_p999_ms', 'uncorrected_max_ms',
  'errors',
] as const;

/** One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF; quotes doubled. */
export function csvField(v: string | number | null | undefined): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(+v.toFixed(3)) : '') : v;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const latencyCells = (l: LatencyPoint | undefined): (number | undefined)[] => [l?.p50Ms, l?.p90Ms, l?.p99Ms, l?.p999Ms, l?.maxMs];

/**
 * One row per second: counts (every one an event count ≥ 0: `expired` timeouts that ran out,
 * `late` commits after their timeout; lost = Σexpired − Σlate), corrected (`p50_ms`…) and uncorrected latency in ms (empty when
 * nothing committed that second), and errors as `CODE=count;…` sorted by code. LF line ends.
 */
export function reportCsv(data: ReportData): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const s of data.seconds) {
    const errors = Object.entries(s.errors).filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([code, n]) => `${code}=${n}`).join(';');
    const cells = [s.second, s.targetRate, s.sent, s.committed, s.failed, s.expired, s.late, s.inFlight, ...latencyCells(s.corrected), ...latencyCells(s.uncorrected), errors];
    lines.push(cells.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- compare table

export interface CompareRow {
  metric: string;
  a: number | undefined;
  b: number | undefined;
  /** b − a; undefined when either is missing. */
  delta: number | undefined;
  /** (b − a) / a × 100; undefined when either is missing or a is 0. */
  deltaPct: number | undefined;
  unit: '' | 'tx/s' | 'ms';
}

/** The summary figures compared: counts, TPS, latency; a run without a summary (failed) gives undefined. */
export function compareRows(data: CompareData): CompareRow[] {
  const metrics: [string, CompareRow['unit'], (s: Summary) => number][] = [
    ['sent', '', (s) => s.sent],
    ['committed', '', (s) => s.committed],
    ['TPS avg', 'tx/s', (s) => s.tps.avg],
    ['TPS peak', 'tx/s', (s) => s.tps.peak],
    ['p50 corrected', 'ms', (s) => s.latency.p50Ms],
    ['p99 corrected', 'ms', (s) => s.latency.p99Ms],
    ['max corrected', 'ms', (s) => s.latency.maxMs],
    ['p99 uncorrected', 'ms', (s) => s.latencyUncorrected.p99Ms],
    ['lost', '', (s) => s.lost],
    ['late', '', (s) => s.late ?? 0],
    ['failed', '', (s) => s.failed],
  ];
  const get = (s: Summary | undefined, f: (s: Summary) => number): number | undefined => {
    if (!s) return undefined;
    try {
      const v = f(s);
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    } catch {
      return undefined; // a summary stored by an older shape
    }
  };
  return metrics.map(([metric, unit, f]) => {
    const a = get(data.a.summary, f);
    const b = get(data.b.summary, f);
    const delta = a !== undefined && b !== undefined ? b - a : undefined;
    const deltaPct = delta !== undefined && a !== undefined && a !== 0 ? (delta / a) * 100 : undefined;
    return { metric, a, b, delta, deltaPct, unit };
  });
}

const fmt = (v: number | undefined, unit: CompareRow['unit']): string => {
  if (v === undefined) return 'n/a';
  if (unit === '') return Math.round(v).toLocaleString('en-US');
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2);
};

/** The short text table `tpslab compare` prints: A, B, Δ (B − A) and Δ%. */
export function formatCompare(data: CompareData): string {
  const label = (k: 'A' | 'B', r: ReportData): string =>
    `${k}: ${r.run.id}  ${r.run.name}  ${r.run.status}${r.summary ? '' : '  (no summary)'}`;
  const rows = compareRows(data).map((r) => [
    `${r.metric}${r.unit ? ` (${r.unit})` : ''}`,
    fmt(r.a, r.unit),
    fmt(r.b, r.unit),
    r.delta === undefined ? 'n/a' : `${r.delta > 0 ? '+' : ''}${fmt(r.delta, r.unit)}`,
    r.deltaPct === undefined ? 'n/a' : `${r.deltaPct > 0 ? '+' : ''}${r.deltaPct.toFixed(r.deltaPct !== 0 && Math.abs(r.deltaPct) < 0.1 ? 2 : 1)}%`,
  ]);
  const header = ['', 'A', 'B', 'Δ', 'Δ%'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]! + 2))).join('')}`.trimEnd();
  return [label('A', data.a), label('B', data.b), '', line(header), ...rows.map(line)].join('\n');
}

