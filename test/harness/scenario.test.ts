import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TpslabError } from '../../src/errors.js';
import {
  defaultScenario,
  loadScenario,
  parseScenario,
  resolveScenarioPaths,
  ScenarioSchema,
  scenarioJsonSchema,
  validateScenario,
  type Scenario,
} from '../../src/harness/scenario.js';
import { THRESHOLD_METRIC_NAMES, parseThresholds } from '../../src/harness/thresholds.js';

const repo = (rel: string): string => fileURLToPath(new URL(`../../../${rel}`, import.meta.url));
const ONE_STAGE = 'load:\n  stages:\n    - { kind: constant, ratePerSec: 100, durationSec: 5 }\n';

/** Asserts that parsing fails with TPSLAB_E_SCENARIO and a message containing every part. */
function rejects(yaml: string, ...parts: (string | RegExp)[]): TpslabError {
  let caught: unknown;
  try {
    parseScenario(yaml, 'test.yaml');
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TpslabError, `expected a TpslabError, got ${String(caught)}`);
  assert.equal(caught.code, 'TPSLAB_E_SCENARIO');
  for (const p of parts) {
    if (typeof p === 'string') assert.ok(caught.message.includes(p), `message ${JSON.stringify(caught.message)} should include ${JSON.stringify(p)}`);
    else assert.match(caught.message, p);
  }
  return caught;
}

describe('defaults', () => {
  test('fill in everything not given', () => {
    const s = parseScenario(ONE_STAGE, 'test.yaml');
    assert.deepEqual(s, {
      name: 'unnamed',
      seed: 1,
      target: { kind: 'tpslab', nodes: 3, blockIntervalMs: 25 },
      accounts: { count: 1000, balance: '1000000000' },
      workload: { kind: 'transfer', amount: 1, fee: 0, contention: { kind: 'uniform' }, sign: 'presign' },
      load: {
        mode: 'open',
        arrival: 'uniform',
        stages: [{ kind: 'constant', ratePerSec: 100, durationSec: 5 }],
        maxInFlight: 1000,
        durationSec: 30,
      },
      beacons: { count: 2, batchMax: 200, batchDelayMs: 5 },
      confirmation: { method: 'stream', timeoutMs: 30000, retries: 5, pollIntervalMs: 500 },
      startDelayMs: 2000,
      thresholds: [],
      results: { db: 'results.db', outcomes: false },
    } satisfies Scenario);
  });

  test('fill in inside discriminated unions, with the default kind when kind is omitted', () => {
    const s = parseScenario(`target: { nodes: 5 }\nworkload: { kind: message, contention: { kind: zipf } }\n${ONE_STAGE}`, 'test.yaml');
    assert.deepEqual(s.target, { kind: 'tpslab', nodes: 5, blockIntervalMs: 25 });
    assert.deepEqual(s.workload, { kind: 'message', topics: 4, payloadBytes: 128, fee: 0, contention: { kind: 'zipf', s: 1.1 }, sign: 'presign' });
    const hot = parseScenario(`workload: { contention: { kind: hotset } }\n${ONE_STAGE}`, 'test.yaml');
    assert.deepEqual(hot.workload.kind === 'transfer' && hot.workload.contention, { kind: 'hotset', hotAccounts: 0.01, hotShare: 0.9 });
    const trace = parseScenario('load: { mode: trace, trace: { file: t.csv } }\n', 'test.yaml');
    assert.deepEqual(trace.load.trace, { file: 't.csv', column: 'offset_ms' });
  });

  test('a parsed scenario survives JSON and parses to itself', () => {
    for (const s of [defaultScenario(), parseScenario(`accounts: { balance: "18446744073709551615" }\n${ONE_STAGE}`, 'x')]) {
      const again = validateScenario(JSON.parse(JSON.stringify(s)), 'json');
      assert.deepEqual(again, s);
    }
  });

  test('balance takes an integer or a decimal string up to 2^64-1', () => {
    assert.equal(parseScenario(`accounts: { balance: 5 }\n${ONE_STAGE}`, 'x').accounts.balance, '5');
    assert.equal(parseScenario(`accounts: { balance: "18446744073709551615" }\n${ONE_STAGE}`, 'x').accounts.balance, '18446744073709551615');
    rejects(`accounts: { balance: "18446744073709551616" }\n${ONE_STAGE}`, 'scenario.accounts.balance: must be at most 2^64-1');
    rejects(`accounts: { balance: 1.5 }\n${ONE_STAGE}`, 'scenario.accounts.balance: must be a whole number');
    rejects(`accounts: { balance: "12abc" }\n${ONE_STAGE}`, 'scenario.accounts.balance: must be a whole number');
    rejects(`accounts: { balance: 99999999999999999999 }\n${ONE_STAGE}`, 'scenario.accounts.balance', 'decimal string');
  });
});

describe('schema errors name the full path', () => {
  test('unknown keys, with a suggestion and the valid fields', () => {
    rejects(`${ONE_STAGE}bogus: 1\n`, 'test.yaml', 'scenario.bogus: unknown field', 'valid fields: name, description, seed, target');
    rejects('load:\n  stages:\n    - { kind: constant, rate: 100, durationSec: 5 }\n', 'scenario.load.stages[0].rate: unknown field (did you mean "ratePerSec"?)', 'valid fields: kind, ratePerSec, durationSec');
    rejects(`${ONE_STAGE}target: { kind: tpslab, endpoint: [http://a] }\n`, 'scenario.target.endpoint: unknown field (did you mean "endpoints"?)', 'valid fields: kind, nodes, blockIntervalMs, network, endpoints, faucetKey');
  });

  test('wrong types', () => {
    rejects(`${ONE_STAGE}beacons: { count: two }\n`, 'scenario.beacons.count: must be an integer, got "two"');
    rejects(`${ONE_STAGE}beacons: { batchMax: 1.5 }\n`, 'scenario.beacons.batchMax: must be an integer, got 1.5');
    rejects(`${ONE_STAGE}results: { outcomes: yes }\n`, 'scenario.results.outcomes: must be true or false, got "yes"');
    rejects(`${ONE_STAGE}thresholds: lost == 0\n`, 'scenario.thresholds: must be a list, got "lost == 0"');
    rejects(`${ONE_STAGE}accounts: 5\n`, 'scenario.accounts: must be a mapping');
    rejects('- 1\n', 'scenario: must be a mapping (key: value), got a list');
  });

  test('bad enums list the options', () => {
    rejects(`${ONE_STAGE.replace('load:\n', 'load:\n  mode: fast\n')}`, 'scenario.load.mode: must be one of "open", "max", "trace", got "fast"');
    rejects(`${ONE_STAGE}confirmation: { method: push }\n`, 'scenario.confirmation.method: must be one of "stream", "poll", got "push"');
    rejects(`${ONE_STAGE}workload: { sign: later }\n`, 'scenario.workload.sign: must be one of "presign", "live"');
    rejects(`${ONE_STAGE}target: { kind: cloud }\n`, 'scenario.target.kind: must be one of "tpslab", "http", "ethereum", got "cloud"');
    rejects(`${ONE_STAGE}workload: { contention: { kind: pareto } }\n`, 'scenario.workload.contention.kind: must be one of "uniform", "zipf", "hotset"');
  });

  test('negative and zero rates, and bad nested stages', () => {
    const yaml = [
      'load:',
      '  stages:',
      '    - { kind: constant, ratePerSec: 100, durationSec: 5 }',
      '    - { kind: constant, ratePerSec: -5, durationSec: 5 }',
      '    - { kind: ramp, fromPerSec: 0, toPerSec: 0, durationSec: 5 }',
      '    - { kind: steps, fromPerSec: 1, toPerSec: 9, steps: 1, durationSec: 5 }',
      '    - { kind: burst, basePerSec: 0, burstPerSec: 10, burstSec: 1, everySec: 5 }',
      '    - { kind: rampp, ratePerSec: 1 }',
      '    - { ratePerSec: 1 }',
      '',
    ].join('\n');
    const err = rejects(
      yaml,
      'test.yaml: 6 problems',
      'scenario.load.stages[1].ratePerSec: must be > 0, got -5 (line 4, column 25)',
      'scenario.load.stages[2].toPerSec: must be > 0, got 0',
      'scenario.load.stages[3].steps: must be >= 2, got 1',
      'scenario.load.stages[4].durationSec: required when kind is "burst" (a number)',
      'scenario.load.stages[5].kind: must be one of "constant", "ramp", "steps", "burst", got "rampp"',
      'scenario.load.stages[6].kind: required: one of "constant", "ramp", "steps", "burst"',
    );
    const problems = (err.details?.problems ?? []) as { field: string; line?: number }[];
    assert.deepEqual(
      problems.map((p) => p.line),
      [4, 5, 6, 7, 8, 9],
      'problems are sorted by position in the file',
    );
  });

  test('limits on counts and fractions', () => {
    rejects(`${ONE_STAGE}target: { nodes: 17 }\n`, 'scenario.target.nodes: must be <= 16, got 17');
    rejects(`${ONE_STAGE}accounts: { count: 0 }\n`, 'scenario.accounts.count: must be >= 1, got 0');
    rejects(`${ONE_STAGE}beacons: { count: 2000 }\naccounts: { count: 100000 }\n`, 'scenario.beacons.count: must be <= 1024');
    rejects(`${ONE_STAGE}workload: { contention: { kind: hotset, hotShare: 1 } }\n`, 'scenario.workload.contention.hotShare: must be < 1, got 1');
    rejects(`${ONE_STAGE}workload: { kind: message, payloadBytes: 5000 }\n`, 'scenario.workload.payloadBytes: must be <= 4096');
    rejects(`${ONE_STAGE}name: ""\n`, 'scenario.name: must not be empty');
  });

  test('endpoints need http(s) URLs', () => {
    rejects(`${ONE_STAGE}target: { kind: endpoints, endpoints: [ftp://x, http://ok:1], faucetKey: k.json }\n`, 'scenario.target.endpoints[0]: must be an http:// or https:// URL');
    rejects(`${ONE_STAGE}target: { kind: endpoints, endpoints: [], faucetKey: k.json }\n`, 'scenario.target.endpoints: must have at least 1 item(s)');
  });

  test('bad thresholds are reported with the other problems, by index', () => {
    rejects(`${ONE_STAGE}seed: -1\nthresholds: ["lost == 0", "latency.p95 < 3ms"]\n`, '2 problems', 'scenario.seed: must be >= 0', 'scenario.thresholds[1]: "latency.p95 < 3ms": unknown metric');
  });

  test('details carry each problem with its position', () => {
    const err = rejects(`${ONE_STAGE}beacons:\n  count: 0\n`);
    assert.deepEqual(err.details, { source: 'test.yaml', problems: [{ field: 'scenario.beacons.count', message: 'must be >= 1, got 0', line: 5, column: 3 }] });
  });
});

describe('YAML errors', () => {
  test('a syntax error names the source, line and column', () => {
    const err = rejects('name: x\nload: { stages: [ { kind: constant }\nseed: 1\n', /^test\.yaml: not valid YAML at line \d+, column \d+: /);
    assert.equal(typeof err.details?.line, 'number');
    assert.equal(typeof err.details?.column, 'number');
    rejects('name: x\n\tseed: 1\n', 'test.yaml: not valid YAML at line 2, column 1');
  });

  test('a duplicate key is an error', () => {
    rejects(`${ONE_STAGE}seed: 1\nseed: 2\n`, 'not valid YAML at line 5, column 1', 'unique');
  });
});

describe('cross-field checks', () => {
  test('open mode needs a stage', () => {
    rejects('name: x\n', 'scenario.load.stages: open mode needs at least one stage');
    rejects('', 'scenario.load.stages: open mode needs at least one stage');
    assert.equal(parseScenario('load: { mode: max }\n', 'x').load.stages.length, 0);
  });

  test('endpoints target needs endpoints and faucetKey', () => {
    rejects(`${ONE_STAGE}target: { kind: endpoints }\n`, 'scenario.target.endpoints: must have at least 1 item(s)');
    rejects(`${ONE_STAGE}target: { kind: tpslab, endpoints: [http://127.0.0.1:1] }\n`, 'scenario.target.faucetKey: required with endpoints');
  });

  test('beacons.count must not exceed accounts.count', () => {
    rejects(`${ONE_STAGE}accounts: { count: 3 }\nbeacons: { count: 4 }\n`, 'scenario.beacons.count: must be <= accounts.count (3)', '(line 5, column 12)');
    assert.equal(parseScenario(`${ONE_STAGE}accounts: { count: 4 }\nbeacons: { count: 4 }\n`, 'x').beacons.count, 4);
  });

  test('trace mode needs load.trace', () => {
    rejects('load: { mode: trace }\n', 'scenario.load.trace: trace mode needs load.trace.file');
  });

  test('a burst must fit in its period', () => {
    rejects('load: { stages: [ { kind: burst, basePerSec: 1, burstPerSec: 9, burstSec: 6, everySec: 5, durationSec: 30 } ] }\n', 'scenario.load.stages[0].burstSec: must be <= everySec (5)');
  });

  test('balance must cover one transfer', () => {
    rejects(`${ONE_STAGE}accounts: { balance: 5 }\nworkload: { amount: 5, fee: 1 }\n`, 'scenario.accounts.balance: must be at least workload.amount + workload.fee (6)');
  });
});

describe('files', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('an unreadable file names the path and the OS reason', async () => {
    const path = join(tmpdir(), `tpslab-missing-${process.pid}.yaml`);
    await assert.rejects(loadScenario(path), (err: unknown) => {
      assert.ok(err instanceof TpslabError);
      assert.equal(err.code, 'TPSLAB_E_SCENARIO');
      assert.ok(err.message.includes(path) && err.message.includes('ENOENT'), err.message);
      return true;
    });
  });

  test('trace file and faucet key resolve against the scenario directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tpslab-scenario-'));
    dirs.push(dir);
    await writeFile(join(dir, 'trace.yaml'), 'load: { mode: trace, trace: { file: data/t.csv } }\n');
    await writeFile(join(dir, 'ep.yaml'), `${ONE_STAGE}target: { kind: endpoints, endpoints: [http://127.0.0.1:1], faucetKey: ../keys/f.json }\n`);
    await writeFile(join(dir, 'abs.yaml'), 'load: { mode: trace, trace: { file: /srv/t.csv } }\n');
    assert.equal((await loadScenario(join(dir, 'trace.yaml'))).load.trace?.file, join(dir, 'data', 't.csv'));
    const ep = await loadScenario(join(dir, 'ep.yaml'));
    assert.equal(ep.target.kind === 'tpslab' && ep.target.faucetKey, join(dir, '..', 'keys', 'f.json'));
    assert.equal((await loadScenario(join(dir, 'abs.yaml'))).load.trace?.file, '/srv/t.csv');
    assert.equal(ep.results.db, 'results.db', 'results.db stays relative to the working directory');
    const plain = defaultScenario();
    assert.deepEqual(resolveScenarioPaths(plain, dir), plain);
  });

  test('scenarios written before connectors (kind embedded or endpoints) keep working as the tpslab connector', () => {
    const e = parseScenario(`target: { kind: embedded, nodes: 2 }\n${ONE_STAGE}`, 'old.yaml');
    assert.deepEqual(e.target, { kind: 'tpslab', nodes: 2, blockIntervalMs: 25 });
    const ep = parseScenario(`target: { kind: endpoints, endpoints: [http://127.0.0.1:1], faucetKey: f.json }\n${ONE_STAGE}`, 'old.yaml');
    assert.deepEqual(ep.target, { kind: 'tpslab', nodes: 3, blockIntervalMs: 25, endpoints: ['http://127.0.0.1:1'], faucetKey: 'f.json' });
  });

  test('tpslab endpoints without a faucet key, and an unknown connector kind, are refused by path', () => {
    rejects(`target: { kind: tpslab, endpoints: [http://127.0.0.1:1] }\n${ONE_STAGE}`, 'scenario.target.faucetKey: required with endpoints');
    rejects(`target: { kind: besu }\n${ONE_STAGE}`, 'scenario.target.kind: must be one of "tpslab", "http"');
    rejects(`target: { kind: http, endpoints: [http://127.0.0.1:1], request: { path: "/x/{{nonce}}" } }\n${ONE_STAGE}`, 'unknown placeholder {{nonce}}');
    rejects(`target: { kind: http, endpoints: [http://127.0.0.1:1], request: { path: /x } }\nworkload: { kind: message }\n${ONE_STAGE}`, 'scenario.workload.kind: the http connector sends "transfer" workloads');
  });

  test('regression: the default scenario checked only lost and failed, no latency', () => {
    const ts = parseThresholds(defaultScenario().thresholds);
    assert.ok(ts.some((t) => t.metric === 'latency.p99' && t.op === '<' && t.value === 1000), 'a latency.p99 threshold a healthy run meets');
  });

  test('scenarios/default.yaml is defaultScenario()', async () => {
    const fromFile = parseScenario(await readFile(repo('scenarios/default.yaml'), 'utf8'), 'scenarios/default.yaml');
    assert.deepEqual(fromFile, defaultScenario(), 'edit scenarios/default.yaml and DEFAULT_SCENARIO_INPUT in src/harness/scenario.ts together');
  });

  test('the default run is small: 3 embedded nodes, 2 beacons, 2000 accounts, 50 s of load, no loss allowed, p99 latency judged', () => {
    const s = defaultScenario();
    assert.deepEqual(s.target, { kind: 'tpslab', nodes: 3, blockIntervalMs: 25 });
    assert.equal(s.beacons.count, 2);
    assert.equal(s.accounts.count, 2000);
    assert.equal(s.load.mode, 'open');
    assert.equal(s.load.stages.reduce((sum, st) => sum + st.durationSec, 0), 50);
    assert.deepEqual(s.thresholds, ['lost == 0', 'failed == 0', 'latency.p99 < 1s']);
    assert.notEqual(defaultScenario(), defaultScenario(), 'a fresh object each call');
  });

  test('every example scenario parses, and its trace file exists', async () => {
    const dir = repo('scenarios/examples');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length >= 4, `only ${files.length} examples`);
    for (const f of files) {
      const s = await loadScenario(join(dir, f));
      if (s.load.trace) await readFile(s.load.trace.file);
    }
  });

  test('schemas/scenario.schema.json is up to date', async () => {
    const path = repo('schemas/scenario.schema.json');
    const expected = `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
    if (process.env.TPSLAB_UPDATE_SCHEMA === '1') await writeFile(path, expected);
    const actual = await readFile(path, 'utf8').catch(() => '');
    assert.ok(
      actual === expected,
      'schemas/scenario.schema.json is stale; regenerate it with: npm run build && TPSLAB_UPDATE_SCHEMA=1 node --test dist/test/harness/scenario.test.js',
    );
  });

  test('the JSON schema is the input side: nothing is required at the top, defaults are shown', () => {
    const schema = scenarioJsonSchema() as { required?: string[]; additionalProperties?: boolean; properties: Record<string, { default?: unknown }> };
    assert.equal(schema.required, undefined);
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.seed?.default, 1);
    assert.ok(ScenarioSchema.safeParse({}).success, 'the schema alone accepts an empty scenario; the stage rule is cross-field');
  });

  test('docs/scenario.md documents every field, threshold metric and example', async () => {
    const text = await readFile(repo('docs/scenario.md'), 'utf8');
    const missing = [...fieldPaths(scenarioJsonSchema(), '')].filter((p) => !text.includes(`\`${p}\``));
    assert.deepEqual(missing, [], `document these fields in docs/scenario.md: ${missing.join(', ')}`);
    for (const f of (await readdir(repo('scenarios/examples'))).filter((n) => n.endsWith('.yaml'))) {
      const body = (await readFile(repo(`scenarios/examples/${f}`), 'utf8')).trimEnd();
      assert.ok(text.includes(body), `docs/scenario.md should show scenarios/examples/${f} verbatim`);
    }
    const metrics = THRESHOLD_METRIC_NAMES.filter((m) => !text.includes(`\`${m}\``));
    assert.deepEqual(metrics, [], `document these threshold metrics in docs/scenario.md: ${metrics.join(', ')}`);
  });
});

/** Dotted field paths of a JSON schema: `load.stages[].ratePerSec`, merging the options of unions. */
function fieldPaths(schema: unknown, prefix: string): Set<string> {
  const out = new Set<string>();
  const node = schema as { properties?: Record<string, unknown>; oneOf?: unknown[]; anyOf?: unknown[]; items?: unknown };
  for (const option of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) for (const p of fieldPaths(option, prefix)) out.add(p);
  if (node.items) for (const p of fieldPaths(node.items, `${prefix}[]`)) out.add(p);
  for (const [key, sub] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    out.add(path);
    for (const p of fieldPaths(sub, path)) out.add(p);
  }
  return out;
}
