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
    // The three found each other again on the same routes: the meta leader counts three, both others
    // current, and every server names the same leader. Only the leader's view is asked for the count:
    // nats-server 2.9.10 followers restarted on a recovered peer set keep reporting cluster_size 2 (seen
    // in 4 of 6 restarts) while the leader lists both of them as current replicas.
    // Generous: on a loaded machine (a full CI run) the restarted meta group took over 20 s once.
    type Meta = { leader?: string; cluster_size?: number; replicas?: { name: string; current: boolean }[] };
    let last: unknown;
    await waitFor('the meta leader to count three servers, all current', async () => {
      const views = await Promise.all(again.map(async (s) => ((await (await fetch(`${s.monitorUrl}/jsz`)).json()) as { meta_cluster?: Meta }).meta_cluster));
      last = views;
      const leader = views[0]?.leader;
      if (!leader || views.some((v) => v?.leader !== leader)) return false;
      const view = views[again.findIndex((s) => s.id === leader)];
      return view?.cluster_size === 3 && view.replicas?.length === 2 && view.replicas.every((r) => r.current);
    }, 60_000, 200).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last meta_cluster views: ${JSON.stringify(last)}`);
    });
  });
});
