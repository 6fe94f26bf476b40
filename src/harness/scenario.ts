/**
 * Scenario files: YAML → validated `Scenario` with defaults filled in. Every
 * problem is reported at once, each by its full path (`scenario.load.stages[1].ratePerSec`),
 * with what would be valid and where it is in the file.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { connectorFor } from '../connectors/index.js';
import { TpslabError } from '../errors.js';
import { ScenarioSchema, type Scenario, type ScenarioInput } from './scenario-schema.js';
import { didYouMean } from './thresholds.js';
import { checkFaults } from '../faults/check.js';

export * from './scenario-schema.js';

/** A field's path inside the scenario, as zod reports it: `['load', 'stages', 1, 'ratePerSec']`. */
export type ScenarioPath = readonly PropertyKey[];

/** One thing wrong with a scenario. `field` is the full path, e.g. `scenario.load.stages[1].ratePerSec`. */
export interface ScenarioProblem {
  field: string;
  message: string;
  line?: number;
  column?: number;
}

const ROOT = 'scenario';

export function formatPath(path: ScenarioPath): string {
  return ROOT + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/** What `tpslab run` runs with no scenario; identical to scenarios/default.yaml. */
export const DEFAULT_SCENARIO_INPUT = {
  name: 'default',
  description: 'Embedded 3-node network, 10 s ramp 50→200 tx/s then 40 s at 200 tx/s from 2 beacons over 2000 accounts.',
  seed: 1,
  target: { kind: 'tpslab', nodes: 3, blockIntervalMs: 25 },
  accounts: { count: 2000, balance: 1_000_000_000 },
  workload: { kind: 'transfer', amount: 1, fee: 0, contention: { kind: 'uniform' }, sign: 'presign' },
  load: {
    mode: 'open',
    arrival: 'uniform',
    stages: [
      { kind: 'ramp', fromPerSec: 50, toPerSec: 200, durationSec: 10 },
      { kind: 'constant', ratePerSec: 200, durationSec: 40 },
    ],
  },
  beacons: { count: 2, batchMax: 200, batchDelayMs: 5 },
  confirmation: { method: 'stream', timeoutMs: 30_000, retries: 5, pollIntervalMs: 500 },
  startDelayMs: 2000,
  thresholds: ['lost == 0', 'failed == 0', 'latency.p99 < 1s'],
  results: { db: 'results.db', outcomes: false },
} as const satisfies ScenarioInput;

export function defaultScenario(): Scenario {
  return ScenarioSchema.parse(DEFAULT_SCENARIO_INPUT);
}

/** The input-side JSON Schema (defaults optional), as published in schemas/scenario.schema.json. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ScenarioSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
}

/** Parses and validates scenario YAML. `source` names it in messages (a file path or "<inline>"). Paths inside are left as written. */
export function parseScenario(text: string, source: string): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = yamlError.linePos?.[0];
    const [headline = '', ...rest] = yamlError.message.split('\n');
    const frame = rest.filter((l) => l.trim() !== '');
    const what = headline.replace(/ at line \d+, column \d+:?$/, '');
    const where = pos ? `line ${pos.line}, column ${pos.col}` : 'unknown position';
    throw new TpslabError('TPSLAB_E_SCENARIO', `${source}: not valid YAML at ${where}: ${what}${frame.length ? `\n${frame.join('\n')}` : ''}`, {
      cause: yamlError,
      details: { source, line: pos?.line, column: pos?.col },
    });
  }
  const input: unknown = doc.toJS() ?? {};
  const locate = (path: ScenarioPath): { line?: number; column?: number } => {
    const offset = yamlOffset(doc, path);
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  return validate(input, source, locate);
}

/** Validates an already-parsed scenario object (for example one received as JSON). */
export function validateScenario(input: unknown, source: string): Scenario {
  return validate(input, source, () => ({}));
}

function validate(input: unknown, source: string, locate: (path: ScenarioPath) => { line?: number; column?: number }): Scenario {
  const problems: ScenarioProblem[] = [];
  const add = (path: ScenarioPath, message: string): void => void problems.push({ field: formatPath(path), message, ...locate(path) });
  const parsed = ScenarioSchema.safeParse(input, { error: issueMessage });
  if (parsed.success) {
    for (const [path, message] of checkScenario(parsed.data)) add(path, message);
  } else {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const valid = issue.message.startsWith('valid fields: ') ? issue.message.slice('valid fields: '.length).split(', ') : [];
        for (const key of issue.keys) add([...issue.path, key], `unknown field${didYouMean(key, valid)}${valid.length ? `; ${issue.message}` : ''}`);
      } else if (issue.message.startsWith('required')) {
        const parent = at(input, issue.path.slice(0, -1));
        const kind = isRecord(parent) && typeof parent.kind === 'string' ? parent.kind : undefined;
        add(issue.path, kind === undefined ? issue.message : issue.message.replace('required', `required when kind is "${kind}"`));
      } else {
        add(issue.path, issue.message);
      }
    }
  }
  if (problems.length === 0) return parsed.data as Scenario;
  problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
  const lines = problems.map((p) => `${p.field}: ${p.message}${p.line === undefined ? '' : ` (line ${p.line}, column ${p.column})`}`);
  const message = lines.length === 1 ? `${source}: ${lines[0]}` : `${source}: ${lines.length} problems:\n  ${lines.join('\n  ')}`;
  throw new TpslabError('TPSLAB_E_SCENARIO', message, { details: { source, problems } });
}

/** Rules that span fields; run on a scenario that passed the schema. Returns [path, message] pairs. */
export function checkScenario(s: Scenario): [ScenarioPath, string][] {
  const out: [ScenarioPath, string][] = [];
  const load = s.load;
  if (load.mode === 'open' && load.stages.length === 0) {
    out.push([['load', 'stages'], 'open mode needs at least one stage (kind constant, ramp, steps or burst); or set load.mode to max or trace']);
  }
  if (load.mode === 'trace' && load.trace === undefined) out.push([['load', 'trace'], 'trace mode needs load.trace.file, a CSV of send offsets']);
  load.stages.forEach((st, i) => {
    if (st.kind === 'burst' && st.burstSec > st.everySec) {
      out.push([['load', 'stages', i, 'burstSec'], `must be <= everySec (${st.everySec}): a burst must fit in its period`]);
    }
  });
  const t = s.target;
  if (t.kind === 'tpslab') {
    if (t.endpoints && t.network) out.push([['target', 'network'], 'give either network (a network.json from "tpslab net up") or endpoints with faucetKey, not both']);
    if (t.endpoints && !t.faucetKey) out.push([['target', 'faucetKey'], 'required with endpoints: the key file of a funded account that provisions the run (or give target.network instead)']);
    if (!t.endpoints && t.faucetKey && !t.network) out.push([['target', 'faucetKey'], 'only used with endpoints; an embedded network makes its own faucet']);
  }
  const workloads = connectorFor(t.kind).workloads;
  if (!workloads.includes(s.workload.kind)) {
    out.push([['workload', 'kind'], `the ${t.kind} connector sends ${workloads.map((w) => `"${w}"`).join(' or ')} workloads, not "${s.workload.kind}"`]);
  }
  if (s.workload.kind === 'replay' && load.mode !== 'max') {
    out.push([['load', 'mode'], 'a replay paces itself (workload.timing max or original): set load.mode to max; load.durationSec bounds the run and load.maxInFlight the unconfirmed transactions']);
  }
  if (s.beacons.count > s.accounts.count) {
    out.push([['beacons', 'count'], `must be <= accounts.count (${s.accounts.count}): each beacon sends from its own accounts`]);
  }
  out.push(...checkFaults(s));
  if (s.workload.kind === 'transfer' && BigInt(s.accounts.balance) < BigInt(s.workload.amount + s.workload.fee)) {
    out.push([['accounts', 'balance'], `must be at least workload.amount + workload.fee (${s.workload.amount + s.workload.fee}), or no transfer can succeed`]);
  }
  return out;
}

/** Reads and validates a scenario file; trace and faucet key paths come back resolved against its directory. */
export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new TpslabError('TPSLAB_E_SCENARIO', `cannot read scenario file ${path}: ${reason}`, { cause: err, details: { source: path } });
  }
  return resolveScenarioPaths(parseScenario(text, path), dirname(resolve(path)));
}

/** Resolves the scenario's input paths (trace file, the connector's files) against `baseDir`; results.db stays relative to the working directory. */
export function resolveScenarioPaths(s: Scenario, baseDir: string): Scenario {
  const c = connectorFor(s.target.kind);
  const target = (c.resolvePaths ? c.resolvePaths(s.target, baseDir) : s.target) as Scenario['target'];
  const trace = s.load.trace ? { ...s.load.trace, file: resolve(baseDir, s.load.trace.file) } : undefined;
  const workload = s.workload.kind === 'replay' ? { ...s.workload, dataset: resolve(baseDir, s.workload.dataset) } : s.workload;
  return { ...s, target, workload, load: trace ? { ...s.load, trace } : s.load };
}

// --- messages -------------------------------------------------------------

const TYPE_NAMES: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value)',
};

function show(v: unknown): string {
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const quoteAll = (values: readonly unknown[]): string => values.map((v) => JSON.stringify(v)).join(', ');

/** Zod error map: one plain-English message per issue, saying what would be valid. */
function issueMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type': {
      const isInt = iss.expected === 'int' || (iss.inst as { _zod?: { def?: { format?: string } } } | undefined)?._zod?.def?.format === 'safeint';
      const want = isInt ? TYPE_NAMES.int : (TYPE_NAMES[iss.expected] ?? iss.expected);
      return iss.input === undefined ? `required (${want})` : `must be ${want}, got ${show(iss.input)}`;
    }
    case 'too_small':
    case 'too_big': {
      const bound = iss.code === 'too_small' ? iss.minimum : iss.maximum;
      const op = iss.code === 'too_small' ? (iss.inclusive ? '>=' : '>') : iss.inclusive ? '<=' : '<';
      if (iss.origin === 'array') return `must have ${iss.code === 'too_small' ? 'at least' : 'at most'} ${bound} item(s)`;
      if (iss.origin === 'string') return Number(bound) === 1 && iss.code === 'too_small' ? 'must not be empty' : `length must be ${op} ${bound}`;
      return `must be ${op} ${bound}, got ${show(iss.input)}`;
    }
    case 'invalid_value':
      return iss.values.length === 1 ? `must be ${quoteAll(iss.values)}, got ${show(iss.input)}` : `must be one of ${quoteAll(iss.values)}, got ${show(iss.input)}`;
    case 'invalid_union': {
      if (!('discriminator' in iss) || typeof iss.discriminator !== 'string') return undefined;
      const options = ((iss as { options?: unknown[] }).options ?? []).filter((o) => typeof o === 'string');
      const given = isRecord(iss.input) ? iss.input[iss.discriminator] : undefined;
      return given === undefined ? `required: one of ${quoteAll(options)}` : `must be one of ${quoteAll(options)}, got ${show(given)}`;
    }
    case 'invalid_format':
      if (iss.format === 'regex') return `has the wrong form, got ${show(iss.input)}`;
      if (iss.format === 'url') return `must be an http:// or https:// URL such as "http://127.0.0.1:8545", got ${show(iss.input)}`;
      return `must be a valid ${iss.format}, got ${show(iss.input)}`;
    case 'unrecognized_keys': {
      const shape = (iss.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape;
      return shape ? `valid fields: ${Object.keys(shape).join(', ')}` : 'unknown field';
    }
    default:
      return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function at(value: unknown, path: ScenarioPath): unknown {
  let v = value;
  for (const p of path) v = isRecord(v) || Array.isArray(v) ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** Offset in the YAML text of the node at `path` (the key, for a mapping entry), or of its nearest existing ancestor. */
function yamlOffset(doc: Document, path: ScenarioPath): number | undefined {
  let node: unknown = doc.contents;
  let offset = isMap(node) || isSeq(node) || isScalar(node) ? node.range?.[0] : undefined;
  for (const p of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === p);
      if (!pair) break;
      offset = isScalar(pair.key) ? (pair.key.range?.[0] ?? offset) : offset;
      node = pair.value;
    } else if (isSeq(node) && typeof p === 'number') {
      const item: unknown = node.items[p];
      if (!(isMap(item) || isSeq(item) || isScalar(item))) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}
