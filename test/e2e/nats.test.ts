// Many machines, on one: tpslab overseer and beacon processes over a real nats-server.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunResult } from '../../src/harness/overseer.js';
import { buildReportData } from '../../src/harness/report.js';
import { ResultsStore } from '../../src/harness/store.js';
import { httpTargetOptions, startHttpLedger, ACCOUNTS } from '../connectors/http-ledger.js';
import { CLI, runCli, tempDir, waitFor } from '../testkit/index.js';
import { startNatsServer, type NatsServer } from '../testkit/nats.js';

let dir: { path: string; remove(): Promise<void> };
let nats: NatsServer;
const children: ChildProcess[] = [];

before(async () => {
  dir = await tempDir('tpslab-nats-');
  nats = await startNatsServer(dir.path);
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await nats.stop();
  await dir.remove();
});

interface Proc {
  child: ChildProcess;
  out(): string;
  stdout(): string;
  exited: Promise<number | null>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir.path });
  children.push(child);
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, out: () => `${out}${stdout}`, stdout: () => stdout, exited };
}

async function scenario(name: string, ratePerSec: number, durationSec: number, beacons: number): Promise<string> {
  const file = join(dir.path, `${name}.yaml`);
  await writeFile(file, `
name: ${name}
target: { kind: embedded, nodes: 1 }
accounts: { count: 90 }
load:
  stages:
    - { kind: constant, ratePerSec: ${ratePerSec}, durationSec: ${durationSec} }
beacons: { count: ${beacons} }
confirmation: { timeoutMs: 20000 }
`);
  return file;
}

function beacon(name: string, extra: string[] = []): Proc {
  return start(['beacon', '--nats', nats.url, '--name', name, '--wait', '60', ...extra]);
}

describe('tpslab overseer and beacons over NATS', () => {
  it('4 beacon processes run a scenario; totals equal the one-machine run, reconciliation matches; a lost report is asked again; a skewed clock still starts on time, as its report row shows', async () => {
    const file = await scenario('four', 60, 4, 4);
    const db = join(dir.path, 'four.db');
    const overseer = runCli(['overseer', '--nats', nats.url, file, '--results', db, '--json', '--no-ui', '--no-report', '--wait', '60', '--heartbeat-ms', '1000'], 120_000, dir.path);
    const b0 = beacon('beacon-0');
    const b1 = beacon('beacon-1', ['--drop-report', '1']);
    const b2 = beacon('beacon-2', ['--clock-skew-ms', '2000']);
    const b3 = beacon('beacon-3');
    const r = await overseer;
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as RunResult;
    assert.equal(result.status, 'passed');
    assert.equal(result.summary.sent, 240);
    assert.equal(result.summary.committed, 240);
    assert.equal(result.summary.lost + result.summary.failed + result.summary.pending, 0);
    const rec = result.summary.reconciliation!;
    assert.deepEqual([rec.networkCommitted, rec.beaconCommitted, rec.missing, rec.unexpected], [240, 240, 0, 0]);

    // The one-machine path on the same scenario and seed sends and commits the same, beacon by beacon.
    const localDb = join(dir.path, 'local.db');
    const local = await runCli(['run', file, '--results', localDb, '--json', '--no-ui', '--no-report'], 120_000, dir.path);
    assert.equal(local.code, 0, local.stderr);
    const l = (JSON.parse(local.stdout) as RunResult).summary;
    assert.deepEqual([l.sent, l.committed, l.failed, l.lost, l.reconciliation!.networkCommitted], [result.summary.sent, result.summary.committed, 0, 0, rec.networkCommitted]);
    const rows = (file: string, runId: string): number[][] => {
      const store = ResultsStore.open(file, { mustExist: true });
      try {
        return store.beacons(runId).map((b) => [b.beacon, b.accountsStart, b.accountsEnd, b.sent, b.committed]);
      } finally {
        store.close();
      }
    };
    assert.deepEqual(rows(db, result.runId), rows(localDb, (JSON.parse(local.stdout) as RunResult).runId));

    // Beacon-1 dropped its report number 1: the overseer noticed the gap and asked again.
    assert.match(r.stderr, /reports from beacon beacon-1: gap at sequence 1, asking again/);
    assert.match(r.stderr, /beacon-1: clock offset [^\n]*report gaps re-requested 1/);
    // Beacon-2's clock runs 2 s ahead: its measured offset says so, and it started at the same instant.
    const off = /beacon-2: clock offset ([-+][0-9.]+) ms ± ([0-9.]+) ms/.exec(r.stderr);
    assert.ok(off, r.stderr);
    assert.ok(Math.abs(Number(off[1]) + 2000) <= 50, `offset ${off[1]}`);
    for (const b of [b0, b1, b2, b3]) assert.equal(await b.exited, 0, b.out());
    const startLine = (p: Proc): string => /starting at (\S+) overseer time \((\S+) on this clock\)/.exec(p.out())!.slice(1).join(' ');
    const [o0] = startLine(b0).split(' ');
    const [o2, local2] = startLine(b2).split(' ');
    assert.equal(o0, o2, 'one start instant');
    assert.ok(Math.abs(Date.parse(local2!) - Date.parse(o2!) - 2000) <= 50, `beacon-2 converted the start to its clock: ${startLine(b2)}`);

    // The report's beacon rows (results.db) carry each beacon's name, offset ± uncertainty and first send after the start:
    // beacon-2's first send is within the load's first second on the overseer's clock, not 2 s off.
    const store = ResultsStore.open(db, { mustExist: true });
    let report;
    try {
      report = buildReportData(store, result.runId);
    } finally {
      store.close();
    }
    const byName = new Map(report.beacons.map((b) => [b.name, b]));
    assert.deepEqual([...byName.keys()].sort(), ['beacon-0', 'beacon-1', 'beacon-2', 'beacon-3']);
    const row2 = byName.get('beacon-2')!;
    assert.ok(Math.abs(row2.clockOffsetMs! + 2000) <= 50 && row2.clockUncertaintyMs! >= 0, JSON.stringify(row2));
    for (const b of report.beacons) assert.ok(b.firstSendAfterStartMs! > -50 && b.firstSendAfterStartMs! < 1000, `${b.name} first send ${b.firstSendAfterStartMs} ms after the start`);
    assert.deepEqual(result.clocks?.map((c) => c.name).sort(), ['beacon-0', 'beacon-1', 'beacon-2', 'beacon-3']);
  });

  it('a beacon killed (SIGKILL) mid-run is declared missing, its unsent share is reassigned, and nothing is lost', async () => {
    const file = await scenario('kill', 50, 8, 3);
    const overseerP = start(['overseer', '--nats', nats.url, file, '--results', join(dir.path, 'kill.db'), '--json', '--no-ui', '--no-report', '--wait', '60', '--heartbeat-ms', '1000']);
    const bs = [beacon('k-0'), beacon('k-1'), beacon('k-2')];
    await waitFor('the run to start', () => /all 3 beacons are ready; starting/.test(overseerP.out()), 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${overseerP.out()}\n${bs.map((b) => b.out()).join('\n')}`);
    });
    await waitFor('3 s of sending', () => /t=3s/.test(overseerP.out()) || /committed \d+\/s \(\d{2,} total\)/.test(overseerP.out()), 30_000, 100);
    bs[1]!.child.kill('SIGKILL');
    const code = await Promise.race([overseerP.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000))]);
    assert.equal(code, 0, overseerP.out() + bs.map((b) => b.out()).join('\n'));
    const out = overseerP.out();
    assert.match(out, /beacon k-1 is missing \(silent \d+ ms\); reassigning 1 unfinished job/);
    const moved = /job b\d: (\d+) unsent transactions? of k-1 moved to (k-0|k-2)(, (k-0|k-2))? by sender range, (\d+) ms after its last heartbeat/.exec(out);
    assert.ok(moved, out);
    assert.ok(Number(moved[1]) > 0);
    const result = JSON.parse(overseerP.stdout()) as RunResult;
    const s = result.summary;
    assert.equal(s.sent, s.committed + s.failed + s.lost + s.pending, 'every sent transaction is accounted for');
    assert.equal(s.failed + s.lost, 0);
    const rec = s.reconciliation!;
    assert.equal(rec.missing, 0, 'every commit a beacon reported is on the chain');
    // The plan's 400 transactions all committed: what the killed beacon committed before it died is on the
    // chain but what it saw died with it (unexpected); everything else was seen by a beacon.
    assert.equal(rec.networkCommitted, 400);
    assert.equal(rec.beaconCommitted + rec.unexpected, 400);
    // The digests differed, so the overseer bisected with questions over NATS to the jobs left.
    if (rec.unexpected > 0) assert.match(out, /reconciled by digest and bisection: \d+ rounds/);
    assert.ok(s.committed >= rec.beaconCommitted);
    for (const b of [bs[0]!, bs[2]!]) assert.equal(await b.exited, 0, b.out());
  });

  it('max mode: a beacon killed mid-run has its sender range taken over by the others for the rest of the run, nonces continuing where it stopped', async () => {
    const file = join(dir.path, 'killmax.yaml');
    await writeFile(file, `
name: killmax
target: { kind: embedded, nodes: 1 }
accounts: { count: 90 }
load: { mode: max, durationSec: 8, maxInFlight: 12 }
beacons: { count: 3 }
confirmation: { timeoutMs: 20000 }
results: { outcomes: true }
`);
    const db = join(dir.path, 'killmax.db');
    const overseerP = start(['overseer', '--nats', nats.url, file, '--results', db, '--json', '--no-ui', '--no-report', '--wait', '60', '--heartbeat-ms', '1000']);
    const bs = [beacon('m-0'), beacon('m-1'), beacon('m-2')];
    await waitFor('the run to start', () => /all 3 beacons are ready; starting/.test(overseerP.out()), 60_000);
    await waitFor('3 s of sending', () => /t=3s/.test(overseerP.out()) || /committed \d+\/s \(\d{2,} total\)/.test(overseerP.out()), 30_000, 100);
    const killedAtMs = Date.now();
    bs[1]!.child.kill('SIGKILL');
    const code = await Promise.race([overseerP.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000))]);
    assert.equal(code, 0, overseerP.out() + bs.map((b) => b.out()).join('\n'));
    const out = overseerP.out();
    assert.match(out, /beacon m-1 is missing \(silent \d+ ms\); reassigning 1 unfinished job/);
    assert.match(out, /reassigned: max-mode senders of m-1 \(job b\d\) to m-[02], m-[02] in \d+ ms from its last heartbeat/);
    const moved = /job b(\d): max-mode senders (\d+)\.\.(\d+) of m-1 taken over by (m-0|m-2) \((\d+)\.\.(\d+)\), (m-0|m-2) \((\d+)\.\.(\d+)\) for the remaining [0-9.]+ s/.exec(out);
    assert.ok(moved, out);
    assert.deepEqual([moved[5], moved[9]], [moved[2], moved[3]], 'the two parts cover its whole range');
    assert.equal(Number(moved[6]) + 1, Number(moved[8]), 'and do not overlap');
    const s = (JSON.parse(overseerP.stdout()) as RunResult).summary;
    assert.equal(s.sent, s.committed + s.failed + s.lost + s.pending, 'every sent transaction is accounted for');
    assert.equal(s.failed + s.lost, 0, 'no nonce refused: the new owners learned where the missing beacon stopped');
    const rec = s.reconciliation!;
    assert.equal(rec.missing, 0);
    assert.equal(rec.networkCommitted, rec.beaconCommitted + rec.unexpected, 'what the killed beacon committed is on the chain, unseen by the others');
    // Its assignment's outcomes are the new owners': sent after the kill, all committed.
    const store = ResultsStore.open(db, { mustExist: true });
    try {
      const runId = store.getRun('latest').id;
      const taken = store.outcomes(runId).filter((o) => o.beacon === Number(moved[1]));
      assert.ok(taken.length > 0, 'the survivors sent from its senders');
      assert.ok(taken.every((o) => o.status === 'committed' && o.intendedMs > killedAtMs), JSON.stringify(taken.slice(0, 3)));
    } finally {
      store.close();
    }
    for (const b of [bs[0]!, bs[2]!]) assert.equal(await b.exited, 0, b.out());
  });

  it('with too few beacons the overseer names who is missing', async () => {
    const file = await scenario('few', 10, 1, 3);
    const overseer = runCli(['overseer', '--nats', nats.url, file, '--results', join(dir.path, 'few.db'), '--no-ui', '--no-report', '--wait', '3'], 60_000, dir.path);
    const b = beacon('few-0', ['--wait', '5']);
    const r = await overseer;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error TPSLAB_E_NATS: 1 of 3 beacons joined run \w+ within 3 s \(at least 3 needed\); missing: few-1, few-2; joined: few-0/);
    assert.equal(await b.exited, 0, b.out());
  });

  it('when the overseer disappears, beacons finish their plan, write their results, and tpslab import stores them', async () => {
    const ledger = await startHttpLedger(1);
    try {
      const file = join(dir.path, 'gone.yaml');
      await writeFile(file, JSON.stringify({
        name: 'gone',
        target: httpTargetOptions(ledger.gateways.map((g) => g.port)),
        accounts: { count: ACCOUNTS },
        load: { stages: [{ kind: 'constant', ratePerSec: 20, durationSec: 4 }] },
        beacons: { count: 2 },
        confirmation: { method: 'poll', timeoutMs: 5000 },
      }));
      const overseer = start(['overseer', '--nats', nats.url, file, '--results', join(dir.path, 'gone.db'), '--no-ui', '--no-report', '--wait', '60']);
      const bs = [beacon('g-0', ['--wait', '3', '--results-dir', dir.path]), beacon('g-1', ['--wait', '3', '--results-dir', dir.path])];
      await waitFor('the run to start', () => /all 2 beacons are ready; starting/.test(overseer.out()), 60_000);
      // The start instant must have reached both beacons (the overseer logs before its sends land).
      await waitFor('both beacons to take the start instant', () => bs.every((b) => /starting at \S+ overseer time/.test(b.out())), 30_000);
      overseer.child.kill('SIGKILL');
      for (const b of bs) assert.equal(await b.exited, 0, b.out());
      const files = bs.map((b) => {
        assert.match(b.out(), /the overseer is silent/);
        const m = /results written to (\S+\.jsonl)/.exec(b.out());
        assert.ok(m, b.out());
        return m[1]!;
      });
      const r = await runCli(['import', ...files, '--results', join(dir.path, 'imported.db'), '--json'], 30_000, dir.path);
      assert.equal(r.code, 0, r.stderr);
      const imported = JSON.parse(r.stdout) as { runId: string; reports: number; summary: RunResult['summary']; unfinished: string[] };
      assert.deepEqual(imported.unfinished, []);
      const s = imported.summary;
      assert.equal(s.sent, 80, 'both beacons finished their whole plan without the overseer');
      assert.equal(s.sent, s.committed + s.failed + s.lost + s.pending);
      assert.equal(s.committed, 80);
      const bad = await runCli(['import', join(dir.path, 'gone.yaml'), '--results', join(dir.path, 'imported.db')], 30_000, dir.path);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /TPSLAB_E_WIRE: .*gone\.yaml line 1 is not a beacon report/);
    } finally {
      ledger.stop();
    }
  });

  it('NATS user/password: refused without them, accepted with them; bad names and missing transports are usage errors', async () => {
    const authDir = await tempDir('tpslab-nats-auth-');
    const secured = await startNatsServer(authDir.path, ['--user', 'tpslab', '--pass', 's3cret']);
    try {
      const refused = await runCli(['beacon', '--nats', secured.url, '--name', 'a-0', '--wait', '1'], 30_000, dir.path);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /error TPSLAB_E_NATS: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*(Authorization|authorization)/);
      const accepted = await runCli(['beacon', '--nats', secured.url, '--nats-user', 'tpslab', '--nats-pass', 's3cret', '--name', 'a-0', '--wait', '1'], 30_000, dir.path);
      assert.equal(accepted.code, 1, accepted.stderr);
      assert.match(accepted.stderr, /error TPSLAB_E_NATS: no overseer answered on nats:\/\/127\.0\.0\.1:\d+ within 1 s/, 'connected: only the overseer is missing');
    } finally {
      await secured.stop();
      await authDir.remove();
    }
    const badName = await runCli(['beacon', '--nats', nats.url, '--name', 'a.b'], 30_000, dir.path);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /TPSLAB_E_USAGE: --name "a\.b" must be 1-64 letters, digits/);
    const noTransport = await runCli(['beacon'], 30_000, dir.path);
    assert.equal(noTransport.code, 2);
    assert.match(noTransport.stderr, /TPSLAB_E_USAGE: a beacon needs a transport: --nats URL/);
  });
});
