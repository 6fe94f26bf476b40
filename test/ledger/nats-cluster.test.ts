/**
 * The NATS JetStream cluster `net up --sequencers 3` starts: real nats-server processes on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNatsCluster, type NatsServerProcess } from '../../src/ledger/nats-cluster.js';
import { tempDir, waitFor } from '../testkit/index.js';

let dir: { path: string; remove(): Promise<void> };
const started: NatsServerProcess[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killAll(servers: readonly NatsServerProcess[]): Promise<void> {
  for (const s of servers) if (alive(s.pid)) process.kill(s.pid, 'SIGKILL');
  await waitFor('the nats-servers to exit', () => servers.every((s) => !alive(s.pid)), 10_000);
}

before(async () => {
  dir = await tempDir('tpslab-nats-cluster-');
});

after(async () => {
  await killAll(started);
  await dir.remove();
});

describe('startNatsCluster', () => {
  it('started again in the same directory, the servers keep their ports (net up gave NATS new ports on every start)', async () => {
    const first = await startNatsCluster({ dir: dir.path, servers: 3 });
    started.push(...first);
    await killAll(first);
    const again = await startNatsCluster({ dir: dir.path, servers: 3 });
    started.push(...again);
    assert.deepEqual(again.map((s) => [s.id, s.url, s.monitorUrl]), first.map((s) => [s.id, s.url, s.monitorUrl]));
    // The three found each other again on the same routes.
    // Generous: on a loaded machine (a full CI run) the restarted meta group took over 20 s once.
    let last: unknown;
    await waitFor('the meta cluster to count three servers', async () => {
      const jsz = (await (await fetch(`${again[0]!.monitorUrl}/jsz`)).json()) as { meta_cluster?: { cluster_size?: number } };
      last = jsz.meta_cluster;
      return jsz.meta_cluster?.cluster_size === 3;
    }, 60_000, 200).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last meta_cluster: ${JSON.stringify(last)}`);
    });
  });
});
