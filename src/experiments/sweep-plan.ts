/**
 * Sweep files: a base scenario and a grid of values over dotted scenario fields. Every
 * cell of the grid is built and validated as a scenario before anything runs
 * (docs/experiments.md).
 */
import { z } from 'zod';
import type { Scenario } from '../harness/scenario.js';
import { experimentError, loadBase, parseWith, readYamlFile, scenarioWith } from './experiment-file.js';
import { parseFieldPath, type PathSegment } from './field-path.js';

/** More cells than this is a typo, not an experiment: split it into several sweeps. */
export const MAX_CELLS = 1000;

const Value = z.union([z.number(), z.string(), z.boolean(), z.record(z.string(), z.unknown()), z.array(z.unknown())]);

export const SweepFileSchema = z.strictObject({
  name: z.string().min(1).optional().describe('Name of the sweep in reports; default: the base scenario name.'),
  description: z.string().optional(),
  base: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).describe('The base scenario: a path relative to this file, or a scenario mapping.'),
  grid: z
    .record(z.string(), z.array(Value).min(1, 'must list at least one value'))
    .refine((g) => Object.keys(g).length > 0, 'must name at least one field, e.g. "beacons.count: [2, 4]"')
    .describe('Dotted scenario field → the values it takes; the sweep runs every combination.'),
});

export interface SweepAxis {
  path: string;
  values: unknown[];
}

export interface SweepCell {
  /** 0-based, in run order (the last axis varies fastest). */
  index: number;
  /** field path → value, in axis order. */
  params: Record<string, unknown>;
  /** `beacons.count=4, target.nodes=1`. */
  label: string;
  scenario: Scenario;
}

export interface SweepPlan {
  name: string;
  description?: string;
  source: string;
  axes: SweepAxis[];
  cells: SweepCell[];
}

export function cellLabel(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

function product(axes: readonly SweepAxis[]): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const a of axes) out = out.flatMap((p) => a.values.map((v) => ({ ...p, [a.path]: v })));
  return out;
}

/** Reads a sweep file and builds every cell; one TPSLAB_E_EXPERIMENT error lists every bad cell. */
export async function loadSweep(file: string, opts: { results?: string } = {}): Promise<SweepPlan> {
  const spec = parseWith(SweepFileSchema, await readYamlFile(file, 'sweep file'), file);
  const axes: SweepAxis[] = [];
  const segments = new Map<string, PathSegment[]>();
  for (const [path, values] of Object.entries(spec.grid)) {
    const seg = parseFieldPath(path);
    if (!seg) throw experimentError(`${file}: grid."${path}": not a field path; write dotted fields with list indexes, e.g. "beacons.count" or "load.stages[0].ratePerSec"`);
    if (seg[0] === 'results') throw experimentError(`${file}: grid."${path}": every cell of a sweep is stored in one results database; set it with --results, not in the grid`);
    segments.set(path, seg);
    axes.push({ path, values });
  }
  const combos = product(axes);
  if (combos.length > MAX_CELLS) throw experimentError(`${file}: the grid has ${combos.length} cells, more than ${MAX_CELLS}; split it into several sweeps`);
  const base = await loadBase(spec.base, file);
  const cells: SweepCell[] = [];
  const problems: string[] = [];
  combos.forEach((params, index) => {
    const label = cellLabel(params);
    const values = Object.entries(params).map(([p, value]) => ({ path: segments.get(p)!, value }));
    if (opts.results) values.push({ path: ['results', 'db'], value: opts.results });
    const s = scenarioWith(base, values, `cell ${index + 1} (${label})`);
    if ('problem' in s) problems.push(s.problem);
    else cells.push({ index, params, label, scenario: s });
  });
  if (problems.length) {
    const shown = problems.slice(0, 10);
    const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : '';
    throw experimentError(`${file}: ${problems.length} of ${combos.length} cells are not valid scenarios; nothing was run:\n  ${shown.join('\n  ')}${more}`, { problems });
  }
  const dbs = new Set(cells.map((c) => c.scenario.results.db));
  if (dbs.size > 1) throw experimentError(`${file}: the cells name different results databases (${[...dbs].join(', ')}); a sweep is stored in one, give it with --results`);
  return { name: spec.name ?? cells[0]!.scenario.name, ...(spec.description ? { description: spec.description } : {}), source: file, axes, cells };
}
