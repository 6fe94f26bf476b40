// `tpslab run` end to end: real networks, real beacons, real results.db.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { netUp, stopProcesses, type NetworkFile } from '../../src/ledger/net.js';
import { ResultsStore } from '../../src/harness/store.js';
import type { RunResult } from '../../src/harness/overseer.js';
import { CLI, runCli, tempDir } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };

before(async () => {
  dir = await tempDir('tpslab-harness-');
});
after(async () => {
  await dir.remove();
});

async function scenario(name: string, yaml: string): Promise<string> {
  const file = join(dir.path, `${name}.yaml`);
  await writeFile(file, yaml);
  return file;
}

const small = (thresholds: string[]): string => `
name: small
target: { kind: embedded, nodes: 1 }
accounts: { count: 100 }
load:
  stages:
    - { kind: constant, ratePerSec: 40, durationSec: 4 }
beacons: { count: 2 }
thresholds: ${JSON.stringify(thresholds)}
`;

describe('tpslab run', () => {
  it('passes its thresholds, stores the run, and the reconciliation matches', async () => {
    const db = join(dir.path, 'pass.db');
    const junit = join(dir.path, 'pass-junit.xml');
    const r = await runCli(['run', await scenario('pass', small(['lost == 0', 'failed == 0', 'reconciliation.missing == 0', 'latency.p99 < 10s'])), '--results', db, '--json', '--junit', junit], 120_000);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as RunResult;
    assert.equal(result.status, 'passed');
    assert.equal(result.summary.sent, 160);
    assert.equal(result.summary.committed, 160);
    assert.equal(result.summary.late, 0);
    assert.equal(result.summary.tps.avg, 160 / result.summary.tps.windowSec!);
    assert.equal(result.thresholds.find((t) => t.metric === 'latency.p99')?.actualText.endsWith('s'), true, 'latency actual in the expression unit');
    const xml = await readFile(junit, 'utf8');
    assert.match(xml, /<testsuite name="tpslab small \([^)]+\)" tests="5" failures="0" errors="0"/);
    const rec = result.summary.reconciliation!;
    assert.equal(rec.networkCommitted, 160);
    assert.equal(rec.missing, 0);
    assert.equal(rec.unexpected, 0);
    const store = ResultsStore.open(db);
    try {
      const run = store.getRun('latest');
      assert.equal(run.id, result.runId);
      assert.equal(run.status, 'passed');
      const seconds = store.seconds(run.id);
      assert.ok(seconds.length >= 4);
      assert.equal(seconds.reduce((n, x) => n + x.committed, 0), 160);
      // The TPS window: the planned 4 s, unless commits went on past the start of second 4.
      const lastCommitSecond = Math.max(...seconds.filter((x) => x.committed > 0).map((x) => x.second));
      assert.equal(result.summary.tps.windowSec, Math.max(4, lastCommitSecond));
      assert.equal(store.beacons(run.id).length, 2);
      assert.ok(store.nodes(run.id).some((n) => n.role === 'sequencer'));
    } finally {
      store.close();
    }
  });

  it('regression: a beacon with 16,000 committed ids gets its final report to the overseer', async () => {
    const yaml = `
name: big-beacon
target: { kind: embedded, nodes: 1 }
accounts: { count: 1000 }
load:
  stages:
    - { kind: constant, ratePerSec: 2000, durationSec: 8 }
beacons: { count: 1 }
`;
    const r = await runCli(['run', await scenario('big', yaml), '--results', join(dir.path, 'big.db'), '--json', '--quiet'], 180_000);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as RunResult;
    assert.equal(result.summary.sent, 16_000);
    assert.equal(result.summary.reconciliation!.beaconCommitted, result.summary.committed);
    assert.equal(result.summary.reconciliation!.missing, 0);
  });

  it('replays a trace of topic messages, signing live and confirming by polling', async () => {
    const trace = join(dir.path, 'trace.csv');
    await writeFile(trace, ['offset_ms', ...Array.from({ length: 120 }, (_, i) => String(i * 25))].join('\n'));
    const yaml = `
name: messages
target: { kind: embedded, nodes: 1 }
accounts: { count: 50 }
workload: { kind: message, topics: 3, payloadBytes: 64, sign: live }
load: { mode: trace, trace: { file: ${trace} } }
confirmation: { method: poll }
beacons: { count: 2 }
thresholds: ["committed == 120", "reconciliation.missing == 0"]
`;
    const r = await runCli(['run', await scenario('messages', yaml), '--results', join(dir.path, 'messages.db'), '--json', '--no-ui', '--no-report'], 120_000);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as RunResult;
    assert.equal(result.summary.committed, 120);
    assert.equal(result.summary.reconciliation!.networkCommitted, 120);
  });

  it('exits 3 when a threshold is breached', async () => {
    const r = await runCli(['run', await scenario('breach', small(['tps.avg >= 1000000'])), '--results', join(dir.path, 'breach.db')], 120_000);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /FAIL {2}tps\.avg >= 1000000/);
  });

  it('refuses a bad scenario with an error naming the field, before starting anything', async () => {
    const file = await scenario('bad', 'load:\n  stages:\n    - { kind: constant, ratePerSec: -5, durationSec: 10 }\nbeacons: { count: 2, color: red }\n');
    const r = await runCli(['run', file], 20_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /TPSLAB_E_SCENARIO/);
    assert.match(r.stderr, /load\.stages\[0\]\.ratePerSec/);
    assert.match(r.stderr, /beacons\.color|color/);
  });
});

describe('coordinated omission', () => {
  let net: NetworkFile;
  before(async () => {
    net = await netUp({ dir: join(dir.path, 'co-net'), nodes: 1, blockIntervalMs: 20 });
  });
  after(async () => {
    await stopProcesses([...net.nodes, net.sequencer, net.tracker], 3000);
  });

  it('charges every transaction scheduled during a 1 s freeze of the node its wait', async () => {
    const file = await scenario(
      'co',
      `
name: co
target: { kind: endpoints, endpoints: [${net.nodes[0]!.url}], faucetKey: ${net.faucetKey} }
accounts: { count: 200 }
load:
  stages:
    - { kind: constant, ratePerSec: 100, durationSec: 10 }
beacons: { count: 1 }
startDelayMs: 1000
`,
    );
    const child = spawn(process.execPath, [CLI, 'run', file, '--results', join(dir.path, 'co.db'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let froze = false;
    const node = net.nodes[0]!;
    const freeze = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /starting at (\S+)/.exec(stderr);
        if (m && !froze) {
          froze = true;
          const startMs = Date.parse(m[1]!);
          // Freeze the node from 4 s to 5 s into the 10 s run.
          setTimeout(() => {
            process.kill(node.pid, 'SIGSTOP');
            setTimeout(() => {
              process.kill(node.pid, 'SIGCONT');
              resolve();
            }, 1000);
          }, Math.max(0, startMs + 4000 - Date.now()));
        }
      });
    });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    await freeze;
    assert.equal(code, 0, stderr);
    const r = JSON.parse(stdout) as RunResult;
    assert.equal(r.summary.committed, 1000, 'every transaction commits after the freeze');
    // 10% of the schedule fell in the freeze; each waited up to 1 s, so the top 1% waited ≥ 0.5 s.
    assert.ok(r.summary.latency.p99Ms >= 500, `corrected p99 ${r.summary.latency.p99Ms} ms`);
    assert.ok(r.summary.latency.maxMs >= 900, `corrected max ${r.summary.latency.maxMs} ms`);
    // Both figures are reported, and the corrected one is never the smaller.
    assert.ok(r.summary.latencyUncorrected.count > 0);
    assert.ok(r.summary.latency.p99Ms >= r.summary.latencyUncorrected.p99Ms);
  });
});
