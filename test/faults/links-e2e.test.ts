// Link faults between every pair of roles that talk: nodes → tracker and sequencer → tracker
// (heartbeats) besides beacons → nodes and nodes → sequencer, through tpslab's TCP proxies on a
// real embedded network. The tracker's own view shows each partition: the cut-off role is
// removed after two heartbeat intervals and comes back once the link heals.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFaults } from '../../src/faults/fault-store.js';
import type { RunResult } from '../../src/harness/overseer.js';
import { parseScenario } from '../../src/harness/scenario.js';
import { readNetworkFile } from '../../src/ledger/net.js';
import type { LiveData, MembersView } from '../../src/web/contract.js';
import { spawnCli, tempDir, thrown, waitFor } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-fault-links-');
});
after(async () => {
  await dir.remove();
});

const SCENARIO = `
name: fault-links
target: { kind: tpslab, nodes: 2 }
accounts: { count: 100 }
load:
  stages:
    - { kind: constant, ratePerSec: 40, durationSec: 18 }
beacons: { count: 2 }
confirmation: { timeoutMs: 20000 }
startDelayMs: 1000
thresholds: ['lost == 0']
faults:
  - { kind: latency, link: nodes-tracker, role: node1, delayMs: 30, atSec: 0 }
  - { kind: partition, link: nodes-tracker, role: node2, atSec: 2, durationSec: 5 }
  - { kind: partition, link: sequencer-tracker, atSec: 9, durationSec: 5 }
`;

describe('faults between more roles', () => {
  it('partitions nodes → tracker and sequencer → tracker: the tracker drops each cut-off role and takes it back after healing; nothing is lost', async () => {
    const file = join(dir.path, 'links.yaml');
    await writeFile(file, SCENARIO);
    const db = join(dir.path, 'links.db');
    const cli = spawnCli(['run', file, '--results', db, '--json', '--no-report']);
    const { child, exited } = cli;
    // What the tracker saw, polled while the run lasts: the members of each view.
    const seen: string[][] = [];
    let liveFaults: LiveData['faults'];
    try {
      const netDir = await waitFor('the embedded network', () => /starting an embedded network of \d+ nodes in (\S+)/.exec(cli.stderr)?.[1], 60_000, 100);
      const tracker = (await waitFor('network.json', () => readNetworkFile(netDir), 60_000, 200)).tracker.url;
      await waitFor('the load to start', () => /ready; starting at/.test(cli.stderr), 120_000, 100);
      const dashboard = /dashboard: (\S+)/.exec(cli.stderr)?.[1];
      let done = false;
      void exited.then(() => (done = true));
      while (!done) {
        const view = await fetch(`${tracker}/v1/members`, { signal: AbortSignal.timeout(1000) }).then((r) => r.json() as Promise<MembersView>, () => undefined);
        if (view) seen.push(view.members.map((m) => m.id).sort());
        // The live dashboard gets each fault as it begins (its charts shade it: test/web/fault-marks.test.ts).
        if (dashboard && liveFaults === undefined) {
          const live = await fetch(`${dashboard}/api/live`, { signal: AbortSignal.timeout(1000) }).then((r) => r.json() as Promise<LiveData>, () => undefined);
          if (live?.faults?.[1]?.startSec != null) liveFaults = live.faults;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${cli.stderr}`, { cause: err });
    }
    assert.equal(await exited, 0, cli.stderr);
    const result = JSON.parse(cli.stdout) as RunResult;
    assert.equal(result.summary.sent, 720);
    assert.equal(result.summary.committed, 720);
    assert.equal(result.summary.lost, 0);
    assert.match(cli.stderr, /sequencer reaches the tracker through a proxy at http:\/\/127\.0\.0\.1:\d+ \(restarted once to use it\)/);
    assert.match(cli.stderr, /node2 reaches the tracker through a proxy/);
    assert.match(cli.stderr, /node1 reaches the tracker through a proxy/);

    const all = ['node1', 'node2', 'sequencer'];
    const at = (pred: (m: string[]) => boolean): number => seen.findIndex(pred);
    const node2Gone = at((m) => !m.includes('node2') && m.includes('sequencer'));
    assert.ok(node2Gone >= 0, `the tracker dropped node2 while it was cut off: ${JSON.stringify(seen)}`);
    const node2Back = seen.slice(node2Gone).findIndex((m) => m.includes('node2'));
    assert.ok(node2Back >= 0, 'node2 came back after the link healed');
    const seqGone = at((m) => !m.includes('sequencer') && m.includes('node2'));
    assert.ok(seqGone > node2Gone, `the tracker dropped the sequencer while it was cut off: ${JSON.stringify(seen)}`);
    assert.ok(seen.slice(seqGone).some((m) => all.every((r) => m.includes(r))), 'every role is a member again at the end');

    assert.deepEqual(liveFaults?.map((f) => f.label).slice(0, 2), ['latency nodes-tracker of node1 30 ms', 'partition nodes-tracker of node2'], 'the live dashboard had the faults while they were on');
    const faults = readFaults(db, result.runId);
    assert.deepEqual(faults.map((f) => f.label), ['latency nodes-tracker of node1 30 ms', 'partition nodes-tracker of node2', 'partition sequencer-tracker']);
    for (const f of faults) assert.equal(f.error, undefined, `${f.label}: ${f.error}`);
  });

  it('refuses a sequencer-tracker fault that names another role', () => {
    const e = thrown(() => parseScenario(`target: { kind: tpslab, nodes: 2 }\nload: { mode: max }\nfaults:\n  - { kind: partition, link: sequencer-tracker, role: node1, atSec: 1, durationSec: 1 }\n  - { kind: latency, link: nodes-tracker, role: tracker, delayMs: 5 }\n`, 'f.yaml'));
    assert.equal(e.code, 'TPSLAB_E_SCENARIO');
    assert.match(e.message, /scenario\.faults\[0\]\.role: no role "node1" at the sequencer end of sequencer-tracker; valid: sequencer/);
    assert.match(e.message, /scenario\.faults\[1\]\.role: no role "tracker" among the nodes; valid: node1, node2/);
  });
});
