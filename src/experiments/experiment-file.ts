/**
 * What sweep and find-max files share: reading the YAML, the base scenario (inline or a
 * path relative to the file), and turning zod issues into one TPSLAB_E_EXPERIMENT error
 * that names every bad field.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { TpslabError } from '../errors.js';
import { resolveScenarioPaths, validateScenario, type Scenario } from '../harness/scenario.js';
import { setField, type PathSegment } from './field-path.js';

export function experimentError(message: string, details?: Record<string, unknown>): TpslabError {
  return new TpslabError('TPSLAB_E_EXPERIMENT', message, details ? { details } : undefined);
}

/** Parses a YAML file; the error names the file. */
export async function readYamlFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw experimentError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text, { uniqueKeys: true, merge: true }) as unknown;
  } catch (err) {
    throw experimentError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Validates `input` with `schema`; every problem named by its path in the file. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, file: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(top level)'}: ${i.message}`);
  throw experimentError(`${file}: ${lines.length === 1 ? lines[0] : `${lines.length} problems:\n  ${lines.join('\n  ')}`}`);
}

export interface BaseScenario {
  /** The scenario as written (before defaults), to which cells apply their values. */
  input: unknown;
  /** Where its relative paths (trace file, network file…) are resolved from. */
  dir: string;
  /** How messages name it. */
  source: string;
}

/** The base scenario: a mapping written inline, or a path relative to the experiment file. */
export async function loadBase(base: string | Record<string, unknown>, file: string): Promise<BaseScenario> {
  const fileDir = dirname(resolve(file));
  if (typeof base !== 'string') return { input: base, dir: fileDir, source: `${file} (base)` };
  const path = resolve(fileDir, base);
  return { input: (await readYamlFile(path, 'base scenario')) ?? {}, dir: dirname(path), source: path };
}

/**
 * The base with `values` set at their paths, validated as a scenario. Returns the problem
 * text instead of throwing, so a caller can report every bad cell at once.
 */
export function scenarioWith(base: BaseScenario, values: readonly { path: PathSegment[]; value: unknown }[], source: string): Scenario | { problem: string } {
  let input = base.input;
  for (const v of values) {
    const r = setField(input, v.path, v.value);
    if ('problem' in r) return { problem: `${source}: ${r.problem}` };
    input = r.value;
  }
  try {
    return resolveScenarioPaths(validateScenario(input, source), base.dir);
  } catch (err) {
    if (err instanceof TpslabError) return { problem: err.message };
    throw err;
  }
}
