// CI use: `tpslab runs`, `tpslab compare --fail-if` as a regression gate (two databases, scenario
// warning), JUnit XML of thresholds, and `report latest` skipping aborted runs.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { evaluateGates, parseGate, scenarioDifferences } from '../../src/harness/gate.js';
import { LatencyHistogram } from '../../src/harness/histogram.js';
import { junitXml } from '../../src/harness/junit.js';
import type { RunSummary } from '../../src/harness/overseer.js';
import type { RunListRow } from '../../src/harness/runs-list.js';
import { ResultsStore } from '../../src/harness/store.js';
import type { ReportData } from '../../src/web/contract.js';
import { runCli, tempDir, thrown } from '../testkit/index.js';

function summary(runId: string, tpsAvg: number, p99: number, lost = 0): RunSummary {
  const h = new LatencyHistogram();
  for (let i = 0; i < 99; i++) h.record(p99 / 2);
  h.record(p99);
  const l = h.summary();
  return {
    runId, durationSec: 10, sent: 1000, committed: 1000 - lost, failed: 0, lost, late: 0, pending: 0, retries: 0,
    tps: { avg: tpsAvg, peak: tpsAvg, windowSec: 10 }, latency: { ...l, p99Ms: p99 }, latencyUncorrected: l, scheduleLag: l, errors: {}, reconciliation: undefined,
  };
}

describe('CI use', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let db: string;
  let dbB: string;

  before(async () => {
    dir = await tempDir('tpslab-ci-');
    db = join(dir.path, 'results.db');
    dbB = join(dir.path, 'candidate.db');
    const clock = new ManualClock(Date.UTC(2026, 10, 21, 20, 0, 0));
    const store = ResultsStore.open(db, { clock });
    const add = (id: string, status: 'passed' | 'breached' | 'aborted', s: RunSummary | null, scenario: unknown): void => {
      clock.advance(60_000);
      store.createRun({ id, name: 'ci', scenario, environment: {} });
      store.finishRun(id, {
        status, summary: s,
        thresholds: [
          { threshold: 'lost == 0', metric: 'lost', actual: 0, actualText: '0', passed: true },
          { threshold: 'latency.p99 < 50ms', metric: 'latency.p99', actual: s?.latency.p99Ms, actualText: `${s?.latency.p99Ms}ms`, passed: status === 'passed' },
        ],
      });
    };
    add('run-1', 'passed', summary('run-1', 100, 40), { name: 'ci', load: { rate: 100 } });
    add('run-2', 'breached', summary('run-2', 90, 60), { name: 'ci', load: { rate: 100 } });
    add('run-3', 'aborted', summary('run-3', 5, 10), { name: 'ci', load: { rate: 100 } });
    store.close();
    const b = ResultsStore.open(dbB, { clock });
    clock.advance(60_000);
    b.createRun({ id: 'cand', name: 'ci', scenario: { name: 'other-name', load: { rate: 200 }, beacons: { count: 4 } }, environment: {} });
    b.finishRun('cand', { status: 'passed', summary: summary('cand', 104, 41), thresholds: [] });
    b.close();
  });

  after(async () => {
    await dir.remove();
  });

  it('tpslab runs lists stored runs newest first with name, status, TPS and p99 (--json, --db)', async () => {
    const r = await runCli(['runs', '--db', db, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as RunListRow[];
    assert.deepEqual(rows.map((x) => [x.id, x.name, x.status, x.tpsAvg, x.p99Ms]), [['run-3', 'ci', 'aborted', 5, 10], ['run-2', 'ci', 'breached', 90, 60], ['run-1', 'ci', 'passed', 100, 40]]);
    const text = await runCli(['runs', '--db', db, '--limit', '2']);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^id +name +status +started +TPS avg +p99 ms$/);
    assert.equal(lines.length, 3);
    assert.match(lines[2]!, /^run-2 +ci +breached +2026-11-21 20:02:00 +90\.0 +60\.0$/);
    const missing = await runCli(['runs', '--db', join(dir.path, 'none.db')]);
    assert.equal(missing.code, 1);
  });

  it('report latest skips aborted runs unless --include-aborted', async () => {
    const r = await runCli(['report', 'latest', '--db', db, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as ReportData).run.id, 'run-2');
    const all = await runCli(['report', 'latest', '--db', db, '--json', '--include-aborted']);
    assert.equal((JSON.parse(all.stdout) as ReportData).run.id, 'run-3');
    const byId = await runCli(['report', 'run-3', '--db', db, '--json']);
    assert.equal((JSON.parse(byId.stdout) as ReportData).run.id, 'run-3', 'a run named by id is always found');
  });

  it('compare --fail-if is a regression gate: the exit code says whether the change crossed the line', async () => {
    const fail = await runCli(['compare', 'run-1', 'run-2', '--db', db, '--json', '--fail-if', 'latency.p99 > +10%', '--fail-if', 'tps.avg < -15%']);
    assert.equal(fail.code, 3, fail.stderr);
    const out = JSON.parse(fail.stdout) as { gates: { gate: string; changeText: string; failed: boolean }[] };
    assert.deepEqual(out.gates.map((g) => [g.gate, g.changeText, g.failed]), [['latency.p99 > +10%', '+50%', true], ['tps.avg < -15%', '-10%', false]]);
    const pass = await runCli(['compare', 'run-1', 'run-2', '--db', db, '--json', '--fail-if', 'tps.avg < -15%', '--fail-if', 'latency.p99 > +25ms']);
    assert.equal(pass.code, 0, pass.stderr);
    const text = await runCli(['compare', 'run-1', 'run-2', '--db', db, '--fail-if', 'latency.p99 > +10%', '--out', join(dir.path, 'c.html')]);
    assert.equal(text.code, 3);
    assert.match(text.stdout, /FAIL {2}latency\.p99 > \+10% {2}\(change \+50%\)/);
    const bad = await runCli(['compare', 'run-1', 'run-2', '--db', db, '--fail-if', 'latency.p99 >> 10%']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /TPSLAB_E_USAGE: --fail-if "latency.p99 >> 10%": unknown operator/);
  });

  it('compare takes run B from another database (--db-b) and warns when the scenarios differ', async () => {
    const r = await runCli(['compare', 'latest', 'latest', '--db', db, '--db-b', dbB, '--json', '--fail-if', 'tps.avg < -5%']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { a: ReportData; b: ReportData; scenarioDifferences: string[] };
    assert.deepEqual([out.a.run.id, out.b.run.id], ['run-2', 'cand'], 'latest skips the aborted run-3');
    assert.deepEqual(out.scenarioDifferences, ['beacons', 'load']);
    assert.match(r.stderr, /warning: the runs' scenarios differ in beacons, load/);
    const same = await runCli(['compare', 'run-1', 'run-2', '--db', db, '--json']);
    assert.doesNotMatch(same.stderr, /warning/);
  });

  it('report --junit writes the threshold verdicts as JUnit XML', async () => {
    const file = join(dir.path, 'junit', 'tpslab.xml');
    const r = await runCli(['report', 'run-2', '--db', db, '--junit', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const xml = await readFile(file, 'utf8');
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
    assert.match(xml, /<testsuite name="tpslab ci \(run-2\)" tests="3" failures="1" errors="0" time="10">/);
    assert.match(xml, /<testcase classname="tpslab.thresholds" name="lost == 0"\/>/);
    assert.match(xml, /<testcase classname="tpslab.thresholds" name="latency.p99 &lt; 50ms">\n {6}<failure message="latency.p99 &lt; 50ms breached \(actual 60ms\)" type="threshold"\/>/);
  });

  it('junitXml: an aborted or failed run is an error case; text is escaped', () => {
    const xml = junitXml({ id: 'r<1>', name: 'a & b', status: 'aborted', error: 'TPSLAB_E_ABORTED: "SIGINT"\u0001', thresholds: [] });
    assert.match(xml, /<testsuite name="tpslab a &amp; b \(r&lt;1&gt;\)" tests="1" failures="0" errors="1">/);
    assert.match(xml, /<error message="run aborted: TPSLAB_E_ABORTED: &quot;SIGINT&quot;" type="aborted"\/>/);
  });

  it('gates: relative and absolute changes, units, missing figures fail', () => {
    assert.deepEqual(parseGate('latency.p99 > +10%'), { expr: 'latency.p99 > +10%', metric: 'latency.p99', op: '>', value: 10, relative: true });
    assert.deepEqual(parseGate('latency.p99>0.5s'), { expr: 'latency.p99>0.5s', metric: 'latency.p99', op: '>', value: 500, relative: false, unit: 's' });
    assert.equal(thrown(() => parseGate('lost > 1ms')).code, 'TPSLAB_E_USAGE');
    assert.match(thrown(() => parseGate('latncy.p99 > 1%')).message, /did you mean "latency.p99"/);
    const [a, b] = [summary('a', 100, 40), summary('b', 100, 40, 2)];
    assert.deepEqual(evaluateGates([parseGate('lost > 0')], a, b).map((g) => [g.change, g.changeText, g.failed]), [[2, '+2', true]]);
    assert.deepEqual(evaluateGates([parseGate('lost > +50%')], a, b).map((g) => [g.change, g.failed]), [[undefined, true]], 'a relative change from 0 cannot be judged');
    assert.deepEqual(evaluateGates([parseGate('tps.avg < -5%')], a, undefined).map((g) => g.failed), [true], 'a run without a summary fails');
    assert.deepEqual(scenarioDifferences({ name: 'x', results: { db: 'a' }, load: 1 }, { name: 'y', results: { db: 'b' }, load: 1 }), []);
  });
});
