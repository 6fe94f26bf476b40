/**
 * A compressed soak: a fixed open-model rate for a while against a 3-node network started with
 * `net up` (children of this process), run by `runScenario` in this process (the overseer), with
 * beacons as child processes, while every process's RSS is sampled. Shared by the soak test
 * (test/e2e/soak.test.ts) and `npm run bench -- --only soak`.
 */
import { join } from 'node:path';
import { netUp, readNetworkFile, stopProcesses, type NetworkFile } from '../../src/ledger/net.js';
import { runScenario, type RunSummary } from '../../src/harness/overseer.js';
import { defaultScenario, validateScenario } from '../../src/harness/scenario.js';
import { RssSampler, type RssSample } from '../../test/testkit/proc-rss.js';
import { HeapSampler, type HeapSeries } from './heap-sampler.js';

export interface SoakOptions {
  dir: string;
  ratePerSec: number;
  durationSec: number;
  beacons: number;
  nodes: number;
  sampleEveryMs: number;
  /** Passed to `net up` (the node's default when absent). */
  snapshotEvery?: number;
  /** Also sample each role's live heap from its /metrics this often (ms). */
  heapEveryMs?: number;
  log(line: string): void;
}

export interface SoakResult {
  summary: RunSummary;
  /** RSS per process name ("overseer", "beacon <pid>", "replica node1", "sequencer sequencer", "tracker tracker"). */
  series: Map<string, RssSample[]>;
  /** When the load started and ended on the samples' clock (ms). */
  loadFromMs: number;
  loadToMs: number;
  /** Live heap per role id ("node1", "sequencer", ...), with `heapEveryMs`; on the clock of `series` (both start right after `net up`). */
  heap?: Map<string, HeapSeries>;
  /** The network, still running: the caller stops it (`stopNetwork`). */
  net: NetworkFile;
}

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const netDir = join(o.dir, 'net');
  const net = await netUp({ dir: netDir, nodes: o.nodes, ...(o.snapshotEvery !== undefined ? { snapshotEvery: o.snapshotEvery } : {}) });
  const sampler = new RssSampler().start(o.sampleEveryMs);
  const heap = o.heapEveryMs !== undefined ? new HeapSampler(netDir).start(o.heapEveryMs) : undefined;
  let loadFromMs = Number.NaN;
  const began = performance.now();
  try {
    const base = defaultScenario();
    const s = validateScenario(
      {
        ...base,
        name: 'soak',
        target: { kind: 'tpslab', network: join(netDir, 'network.json') },
        load: { ...base.load, mode: 'open', arrival: 'uniform', stages: [{ kind: 'constant', ratePerSec: o.ratePerSec, durationSec: o.durationSec }] },
        beacons: { ...base.beacons, count: o.beacons },
        thresholds: [],
        results: { db: join(o.dir, 'results.db'), outcomes: false },
      },
      'soak scenario',
    );
    let lastLog = 0;
    const summary = (
      await runScenario(s, {
        log: (line) => o.log(line),
        progress: (line) => {
          const now = performance.now();
          if (Number.isNaN(loadFromMs)) loadFromMs = now - began;
          if (now - lastLog < 10_000) return;
          lastLog = now;
          o.log(line);
        },
      })
    ).summary;
    if (Number.isNaN(loadFromMs)) loadFromMs = 0;
    return { summary, series: sampler.stop(), loadFromMs, loadToMs: loadFromMs + o.durationSec * 1000, net, ...(heap ? { heap: heap.stop() } : {}) };
  } catch (err) {
    sampler.stop();
    heap?.stop();
    await stopNetwork(netDir, net);
    throw err;
  }
}

/** Stops the network `soak` started (what network.json names now: a role may have been restarted). */
export async function stopNetwork(netDir: string, net: NetworkFile): Promise<void> {
  const now = await readNetworkFile(netDir).catch(() => net);
  await stopProcesses([...now.nodes, now.sequencer, now.tracker], 5000);
}
