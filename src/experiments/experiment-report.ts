/**
 * Experiment reports: an experiment and its runs read from results.db as ExperimentData
 * (src/web/experiment-contract.ts), written as one self-contained HTML page (the browser app's
 * experiment page) or printed as JSON or a text table.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TpslabError } from '../errors.js';
import { pageShell, webAssets, type WebAssets } from '../web/assets.js';
import type { ExperimentData, FindMaxAnswer } from '../web/experiment-contract.js';
import type { ExperimentStore } from './experiment-store.js';
import { cellLabel } from './sweep-plan.js';

export function buildExperimentData(store: ExperimentStore, idOrLatest: string, generatedAt = new Date()): ExperimentData {
  const rec = store.get(idOrLatest);
  const spec = (rec.spec ?? {}) as { axes?: ExperimentData['axes']; description?: string; source?: string };
  const interrupted = (rec.result as { interrupted?: string } | undefined)?.interrupted;
  const data: ExperimentData = {
    kind: 'experiment',
    generatedAt: generatedAt.toISOString(),
    experiment: {
      id: rec.id,
      kind: rec.kind,
      name: rec.name,
      startedAt: rec.startedAt,
      ...(rec.finishedAt ? { finishedAt: rec.finishedAt } : {}),
      ...(spec.description ? { description: spec.description } : {}),
      ...(spec.source ? { source: spec.source } : {}),
      ...(interrupted ? { interrupted } : {}),
    },
    axes: spec.axes ?? [],
    runs: store.runs(rec.id).map((r) => ({ ...r, label: cellLabel(r.params) })),
  };
  const answer = (rec.result as { answer?: FindMaxAnswer } | undefined)?.answer;
  if (answer) data.answer = answer;
  return data;
}

export function experimentHtml(data: ExperimentData, assets: WebAssets): string {
  return pageShell({ page: 'experiment', title: `tpslab ${data.experiment.kind}: ${data.experiment.name} (${data.experiment.id})`, data, inline: assets });
}

/** Writes the HTML page (tmp file + rename) and returns its absolute path. */
export async function writeExperimentReport(data: ExperimentData, outFile: string, opts: { assets?: WebAssets } = {}): Promise<string> {
  const html = experimentHtml(data, opts.assets ?? (await webAssets()));
  const abs = path.resolve(outFile);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(tmp, html, 'utf8');
    await rename(tmp, abs);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new TpslabError('TPSLAB_E_USAGE', `cannot write the report to ${abs}: ${(err as Error).message}; choose another output file (--report-out)`, { cause: err });
  }
  return abs;
}

const num = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));

/** The text table the CLI prints: one line per cell or probe with its figures of merit. */
export function formatExperiment(d: ExperimentData): string {
  const rows = d.runs.map((r) => [r.label, r.status, num(r.figures?.tps), num(r.figures?.p99Ms), r.figures ? String(r.figures.lost) : '-', r.figures ? String(r.figures.committed) : '-', r.runId ?? r.note ?? '']);
  const head = ['cell', 'status', 'committed tx/s', 'p99 ms', 'lost', 'committed', 'run'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')}`.trimEnd();
  const out = [`${d.experiment.kind} ${d.experiment.id}: ${d.experiment.name}`, '', line(head), ...rows.map(line)];
  if (d.experiment.interrupted) out.push('', `  ${d.experiment.interrupted}`);
  if (d.answer) {
    out.push('');
    out.push(d.answer.ratePerSec === null ? `  no rate met the service levels (${d.answer.reason})` : `  highest rate meeting the service levels: ${d.answer.ratePerSec} tx/s${d.answer.confirmed ? ' (confirmed)' : ' (NOT confirmed)'}`);
    if (d.answer.failedAtPerSec !== null) out.push(`  knee: between ${d.answer.ratePerSec ?? 0} and ${d.answer.failedAtPerSec} tx/s`);
    out.push(`  service levels: ${d.answer.slo.join(', ')}; ${d.answer.reason}`);
  }
  return out.join('\n');
}
