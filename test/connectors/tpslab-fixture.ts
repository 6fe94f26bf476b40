// The conformance fixture for the reference network: 3 nodes, a sequencer and a tracker started
// with `net up` in a temp dir, reached through its network file, with extra `target` options.
import { netUp, stopProcesses, networkFilePath, type NetworkFile } from '../../src/ledger/net.js';
import { tempDir } from '../testkit/index.js';
import type { ConformanceFixture } from './conformance.js';

export async function tpslabFixture(extra: Record<string, unknown> = {}): Promise<ConformanceFixture> {
  const dir = await tempDir('tpslab-conformance-');
  const net: NetworkFile = await netUp({ dir: dir.path, nodes: 3, blockIntervalMs: 25 });
  return {
    options: { kind: 'tpslab', network: networkFilePath(dir.path), ...extra },
    accounts: 20,
    stall: async (ms) => {
      process.kill(net.sequencer.pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, ms));
      process.kill(net.sequencer.pid, 'SIGCONT');
    },
    killEndpoint: async (i) => {
      process.kill(net.nodes[i]!.pid, 'SIGKILL');
    },
    close: async () => {
      await stopProcesses(net.nodes);
      await stopProcesses([net.sequencer, net.tracker]);
      await dir.remove();
    },
  };
}
