/**
 * Dotted field paths into a scenario, as sweeps and find-max name them:
 * `beacons.count`, `target.nodes`, `load.stages[0].ratePerSec`. Pure: no I/O.
 */

export type PathSegment = string | number;

const SEGMENT = /^(?:\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\])/;

/** Splits `load.stages[0].ratePerSec` into ['load', 'stages', 0, 'ratePerSec']; undefined when malformed. */
export function parseFieldPath(path: string): PathSegment[] | undefined {
  const out: PathSegment[] = [];
  let rest = path.trim();
  if (rest === '' || rest.startsWith('.') || rest.startsWith('[')) return undefined;
  while (rest !== '') {
    const m = SEGMENT.exec(rest);
    if (!m) return undefined;
    out.push(m[1] !== undefined ? m[1] : Number(m[2]));
    rest = rest.slice(m[0].length);
  }
  return out;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A deep copy of `input` with `value` at `path`. Missing mappings on the way are created;
 * a list index must exist already. Returns a reason instead when the path cannot be set.
 */
export function setField(input: unknown, path: readonly PathSegment[], value: unknown): { value: unknown } | { problem: string } {
  const root: unknown = structuredClone(input ?? {});
  let node: unknown = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    const where = showPath(path.slice(0, i));
    if (typeof seg === 'number') {
      if (!Array.isArray(node)) return { problem: `${where || 'the scenario'} is not a list, so [${seg}] cannot be set` };
      if (seg >= node.length) return { problem: `${where} has ${node.length} item(s), so [${seg}] does not exist in the base scenario` };
      if (last) node[seg] = value;
      else node = node[seg];
    } else {
      if (!isRecord(node)) return { problem: `${where || 'the scenario'} is not a mapping, so .${seg} cannot be set` };
      if (last) node[seg] = value;
      else {
        if (node[seg] === undefined) node[seg] = typeof path[i + 1] === 'number' ? [] : {};
        node = node[seg];
      }
    }
  }
  return { value: root };
}

/** Reads the value at `path`, undefined when absent. */
export function getField(input: unknown, path: readonly PathSegment[]): unknown {
  let node: unknown = input;
  for (const seg of path) {
    if (typeof seg === 'number') node = Array.isArray(node) ? node[seg] : undefined;
    else node = isRecord(node) ? node[seg] : undefined;
  }
  return node;
}

export function showPath(path: readonly PathSegment[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
