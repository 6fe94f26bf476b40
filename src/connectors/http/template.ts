/** Request templates of the `http` connector: `{{name}}` placeholders and JSON conditions. */
import type { JsonCondition } from './schema.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

/** Replaces every `{{name}}` with `values[name]` (names were checked by the schema). */
export function fill(template: string, values: Readonly<Record<string, string | number>>): string {
  return template.replace(PLACEHOLDER, (_, name: string) => String(values[name] ?? ''));
}

/** The value at a dot-separated path, or undefined. */
export function at(json: unknown, path: string): unknown {
  let v = json;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

export function holds(c: JsonCondition, json: unknown): boolean {
  const v = at(json, c.path);
  if (c.equals !== undefined) return v === c.equals;
  if (c.in) return c.in.includes(v as string | number | boolean | null);
  return v !== undefined;
}

