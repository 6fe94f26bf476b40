// Faults on a real embedded network: kill -9 and restart, SIGSTOP/SIGCONT, a partition between a
// node and the sequencer and 80 ms between beacons and nodes, through tpslab's TCP proxies.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFaults } from '../../src/faults/fault-store.js';
import type { RunResult } from '../../src/harness/overseer.js';
import type { ReportData } from '../../src/web/contract.js';
import { parseScenario } from '../../src/harness/scenario.js';
import { runCli, tempDir, thrown } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
before(async () => {
  dir = await tempDir('tpslab-faults-');
});
after(async () => {
  await dir.remove();
});

const SCENARIO = `
name: faults
target: { kind: tpslab, nodes: 2 }
accounts: { count: 200 }
load:
  stages:
    - { kind: constant, ratePerSec: 80, durationSec: 36 }
beacons: { count: 2 }
confirmation: { timeoutMs: 20000 }
startDelayMs: 1000
thresholds: ['lost == 0']
# Each fault starts 6.5 s or more after the previous one ended, so the 5 s before it (the level its
# recovery is judged against) holds no earlier fault's catch-up burst.
faults:
  - { kind: latency, link: beacons-nodes, delayMs: 80, atSec: 0 }
  - { kind: kill, role: node1, atSec: 3, restartAfterSec: 2 }
  - { kind: pause, role: node2, atSec: 13, durationSec: 1.5 }
  - { kind: partition, link: nodes-sequencer, role: node2, atSec: 21, durationSec: 1.5 }
  - { kind: bandwidth, link: beacons-nodes, role: node1, bytesPerSec: 20000, atSec: 29, durationSec: 1.5 }
`;

describe('faults', () => {
  it('a run with a kill, a pause, a partition, a bandwidth limit and 80 ms between beacons and nodes loses nothing, and each fault has its recovery time', async () => {
    const file = join(dir.path, 'faults.yaml');
    await writeFile(file, SCENARIO);
    const db = join(dir.path, 'faults.db');
    const r = await runCli(['run', file, '--results', db, '--json', '--no-ui', '--no-report'], 240_000);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as RunResult;
    assert.equal(result.summary.sent, 2880);
    assert.equal(result.summary.committed, 2880);
    assert.equal(result.summary.lost, 0);
    assert.equal(result.summary.reconciliation?.missing, 0);
    const faults = readFaults(db, result.runId);
    assert.deepEqual(faults.map((f) => f.label), [
      'latency beacons-nodes 80 ms',
      'kill node1 (restart after 2 s)',
      'pause node2',
      'partition nodes-sequencer of node2',
      'bandwidth beacons-nodes of node1 20000 B/s',
    ]);
    for (const f of faults) {
      assert.equal(f.error, undefined, `${f.label}: ${f.error}`);
      assert.ok(f.startSec !== null && f.endSec !== null && f.endSec >= f.startSec, `${f.label} began and ended`);
    }
    for (const f of faults.slice(1, 4)) {
      assert.ok(f.beforeTps !== null && f.beforeTps > 0, `${f.label} has a level before`);
      assert.ok(f.recoverySec !== null && f.recoverySec >= 0, `${f.label} recovered (${f.recoverySec})`);
    }
    assert.match(r.stderr, /fault 2 kill node1 \(restart after 2 s\): 3\.\d–5\.\d s, recovered in \d+\.\d s/);
    assert.match(r.stderr, /beacons reach node1 through a proxy/);
    // The report lists every fault with its recovery time (and the page shades them on its charts).
    const rep = await runCli(['report', result.runId, '--db', db, '--json'], 30_000);
    assert.equal(rep.code, 0, rep.stderr);
    const data = JSON.parse(rep.stdout) as ReportData;
    assert.deepEqual(data.faults, faults);
    assert.match(r.stderr, /node2 reaches the sequencer through a proxy/);
  });

  it('refuses process faults on a network tpslab did not start, and roles the network does not have', () => {
    const e = thrown(() => parseScenario(`target: { kind: tpslab, endpoints: ['http://127.0.0.1:1'], faucetKey: k.json }\nload: { mode: max }\nfaults:\n  - { kind: kill, role: node1, atSec: 1 }\n`, 'f.yaml'));
    assert.equal(e.code, 'TPSLAB_E_SCENARIO');
    assert.match(e.message, /scenario\.faults\[0\]\.kind: "kill" faults act on the embedded network's processes/);
    const e2 = thrown(() => parseScenario(`target: { kind: tpslab, nodes: 2 }\nload: { mode: max }\nfaults:\n  - { kind: pause, role: node3, atSec: 1, durationSec: 1 }\n  - { kind: partition, role: sequencer, atSec: 1, durationSec: 1 }\n`, 'f.yaml'));
    assert.match(e2.message, /scenario\.faults\[0\]\.role: no role "node3" in the network; valid: sequencer, tracker, node1, node2/);
    assert.match(e2.message, /scenario\.faults\[1\]\.role: no role "sequencer" among the nodes; valid: node1, node2/);
  });
});
