// scenarios/examples/http-ledger.yaml end to end: the example REST ledger it names, started as
// its comment says, driven by `tpslab run` through the http connector; the summary and the
// report say what the http connector cannot verify.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { parseDocument } from 'yaml';
import type { RunResult } from '../../src/harness/overseer.js';
import { startHttpLedger, type LedgerProcess } from '../connectors/http-ledger.js';
import { runCli, tempDir } from '../testkit/index.js';

const EXAMPLE = resolve(fileURLToPath(import.meta.url), '../../../../scenarios/examples/http-ledger.yaml');

let dir: { path: string; remove(): Promise<void> };
let ledger: LedgerProcess;

before(async () => {
  dir = await tempDir('tpslab-http-e2e-');
  ledger = await startHttpLedger(2);
});
after(async () => {
  ledger?.stop();
  await dir?.remove();
});

test('the http-ledger example runs against the server it names, unreconciled and saying so', async () => {
  const text = await readFile(EXAMPLE, 'utf8');
  assert.match(text, /node scenarios\/examples\/http-ledger\.mjs --port 8080 --gateways 2/, 'the example names its server command');
  // The same scenario, on the ports this test's server got and with a short load.
  const doc = parseDocument(text);
  doc.setIn(['target', 'endpoints'], ledger.gateways.map((g) => `http://127.0.0.1:${g.port}`));
  doc.setIn(['accounts', 'count'], 20);
  doc.setIn(['load', 'stages'], [{ kind: 'constant', ratePerSec: 50, durationSec: 3 }]);
  // The example's latency threshold is a goal for an idle machine; this test checks counts, not speed.
  doc.setIn(['thresholds'], ['lost == 0', 'failed == 0']);
  const file = join(dir.path, 'http-ledger.yaml');
  await writeFile(file, doc.toString());
  const db = join(dir.path, 'results.db');
  const report = join(dir.path, 'report.html');
  const r = await runCli(['run', file, '--results', db, '--no-ui', '--report-out', report, '--json'], 120_000);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as RunResult;
  assert.equal(result.summary.sent, 150);
  assert.equal(result.summary.committed, 150);
  assert.equal(result.summary.reconciliation, undefined);
  assert.equal(result.summary.connector?.kind, 'http');
  assert.equal(result.summary.connector?.reconciled, false);
  assert.ok(result.summary.connector?.limits.some((l) => l.startsWith('Not reconciled')));
  const html = await readFile(report, 'utf8');
  assert.ok(html.includes('Not reconciled: the http connector cannot ask the API what it committed'), 'the report carries what the connector cannot verify');

  const table = await runCli(['report', result.runId, '--db', db, '--json'], 30_000);
  assert.equal(table.code, 0, table.stderr);
});

test('a reconciliation threshold with the http connector is refused before anything starts', async () => {
  const file = join(dir.path, 'bad.yaml');
  await writeFile(
    file,
    `target: { kind: http, endpoints: [http://127.0.0.1:${ledger.gateways[0]!.port}], request: { path: /v1/transfers } }\nload: { stages: [{ kind: constant, ratePerSec: 1, durationSec: 1 }] }\nthresholds: [reconciliation.missing == 0]\n`,
  );
  const r = await runCli(['run', file, '--results', join(dir.path, 'bad.db'), '--no-ui'], 30_000);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /TPSLAB_E_CONNECTOR: the http connector does not reconcile/);
});
