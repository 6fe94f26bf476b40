/**
 * The TCP proxies of a run's link faults (tcp-proxy.ts), put between the embedded network's
 * roles when it opens: before the nodes' endpoints for beacons (beacons-nodes), and between a
 * node and the sequencer or the tracker, or the sequencer and the tracker (nodes-sequencer,
 * nodes-tracker, sequencer-tracker: the role is restarted once, before provisioning, with its
 * --sequencer or --tracker pointing at its proxy).
 */
import { rename, writeFile } from 'node:fs/promises';
import type { Clock } from '../clock.js';
import type { TargetInfo } from '../connectors/contract.js';
import { TpslabError } from '../errors.js';
import type { Fault } from '../harness/scenario.js';
import { allProcesses, networkFilePath, readNetworkFile, restartRole, withNetworkFile } from '../ledger/net.js';
import { TcpProxy } from './tcp-proxy.js';

export type LinkName = Extract<Fault, { kind: 'partition' }>['link'];

interface Link {
  link: LinkName;
  /** The role at the link's client end: a node, or the sequencer. */
  node: string;
  proxy: TcpProxy;
}

/**
 * Links a role opens to an address on its command line: the flag is pointed at a proxy and the
 * role restarted once, before provisioning. Nodes do not talk to each other, and a node's block
 * feed is a WebSocket to the same sequencer address it forwards transactions to, so these and
 * beacons-nodes are every path between the embedded network's roles.
 */
const ARG_LINKS: Record<Exclude<LinkName, 'beacons-nodes'>, { flag: string; to: 'sequencer' | 'tracker' }> = {
  'nodes-sequencer': { flag: '--sequencer', to: 'sequencer' },
  'nodes-tracker': { flag: '--tracker', to: 'tracker' },
  'sequencer-tracker': { flag: '--tracker', to: 'tracker' },
};

/** After proxies are put in, how long the restarted roles (and the nodes following a restarted sequencer) get to be healthy. */
const HEALTHY_TIMEOUT_MS = 30_000;

export class FaultLinks {
  private readonly links: Link[] = [];
  /** Real node URL → the proxy URL beacons get. */
  private readonly endpointMap = new Map<string, string>();

  private constructor(
    private readonly dir: string,
    private readonly clock: Clock,
  ) {}

  /** Puts in a proxy for every link the faults name, for the role they name or every one the link has. */
  static async setUp(dir: string, faults: readonly Fault[], info: TargetInfo, clock: Clock, log: (line: string) => void): Promise<FaultLinks> {
    const self = new FaultLinks(dir, clock);
    try {
      await self.open(faults, info, log);
    } catch (err) {
      await self.close();
      throw err;
    }
    return self;
  }

  private async open(faults: readonly Fault[], info: TargetInfo, log: (line: string) => void): Promise<void> {
    const nodes = info.roles.filter((r) => r.role === 'replica').map((r) => r.id);
    // Which roles each link needs a proxy for: the named one, or every node (the sequencer for sequencer-tracker).
    const perRole = new Map<string, Set<Exclude<LinkName, 'beacons-nodes'>>>();
    const beaconLinks = new Set<string>();
    for (const f of faults) {
      if (f.kind !== 'partition' && f.kind !== 'latency' && f.kind !== 'bandwidth') continue;
      const roles = f.role ? [f.role] : f.link === 'sequencer-tracker' ? ['sequencer'] : nodes;
      for (const r of roles) {
        if (f.link === 'beacons-nodes') beaconLinks.add(r);
        else perRole.set(r, (perRole.get(r) ?? new Set()).add(f.link));
      }
    }
    // The sequencer first: the nodes restarted after it find it up.
    for (const role of [...perRole.keys()].sort((a, b) => Number(b === 'sequencer') - Number(a === 'sequencer'))) await this.proxyRole(role, [...perRole.get(role)!], log);
    if (perRole.size) await this.untilHealthy();
    for (const node of beaconLinks) await this.addBeaconsLink(node, log);
  }

  private async addBeaconsLink(node: string, log: (line: string) => void): Promise<void> {
    const net = await readNetworkFile(this.dir);
    const n = net.nodes.find((x) => x.id === node)!;
    const u = new URL(n.url);
    const proxy = await TcpProxy.start({ host: u.hostname, port: Number(u.port) });
    this.links.push({ link: 'beacons-nodes', node, proxy });
    this.endpointMap.set(n.url, proxy.urlFor(n.url));
    log(`beacons reach ${node} through a proxy at ${proxy.urlFor(n.url)}`);
  }

  /** Points `role`'s flags for `links` at new proxies and restarts it once to use them. */
  private async proxyRole(role: string, links: Exclude<LinkName, 'beacons-nodes'>[], log: (line: string) => void): Promise<void> {
    // Read, changed and written under the network.json lock: a `net restart` or the fault injector restarting a
    // role meanwhile writes its new pid there, and a copy read before that and written back would drop it.
    const via = await withNetworkFile(this.dir, async () => {
      const net = await readNetworkFile(this.dir);
      const p = allProcesses(net).find((x) => x.id === role);
      if (!p) throw new TpslabError('TPSLAB_E_USAGE', `no role "${role}" in ${networkFilePath(this.dir)}; roles: ${allProcesses(net).map((x) => x.id).join(', ')}`);
      const via: string[] = [];
      for (const link of links) {
        const { flag, to } = ARG_LINKS[link];
        const upstream = net[to].url;
        const at = p.args.indexOf(flag);
        if (at < 0) throw new TpslabError('TPSLAB_E_CONNECTOR', `${role} was started without ${flag}, so the ${link} link cannot go through a proxy`);
        const u = new URL(upstream);
        const proxy = await TcpProxy.start({ host: u.hostname, port: Number(u.port) });
        this.links.push({ link, node: role, proxy });
        p.args[at + 1] = proxy.urlFor(upstream);
        via.push(`the ${to} through a proxy at ${proxy.urlFor(upstream)}`);
      }
      const file = networkFilePath(this.dir);
      await writeFile(`${file}.tmp`, `${JSON.stringify(net, null, 2)}\n`);
      await rename(`${file}.tmp`, file);
      return via;
    });
    // Outside the lock: restartRole takes it to record the new pid.
    await restartRole(this.dir, role);
    log(`${role} reaches ${via.join(' and ')} (restarted once to use ${via.length === 1 ? 'it' : 'them'})`);
  }

  /** Waits until the sequencer and every node answer /health with 200 again. */
  private async untilHealthy(): Promise<void> {
    const net = await readNetworkFile(this.dir);
    const deadline = this.clock.now() + HEALTHY_TIMEOUT_MS;
    for (const p of [net.sequencer, ...net.nodes]) {
      while (!(await fetch(`${p.url}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false))) {
        if (this.clock.now() > deadline) throw new TpslabError('TPSLAB_E_TIMEOUT', `${p.id} was not healthy within ${HEALTHY_TIMEOUT_MS / 1000} s of putting the fault proxies in; see ${p.logFile}`);
        await new Promise<void>((r) => this.clock.setTimeout(() => r(), 100));
      }
    }
  }

  /** A beacon connector config with the nodes' endpoints replaced by their proxies'. */
  rewrite(config: unknown): unknown {
    if (this.endpointMap.size === 0 || typeof config !== 'object' || config === null) return config;
    const c = config as { endpoints?: unknown };
    if (!Array.isArray(c.endpoints)) return config;
    return { ...c, endpoints: c.endpoints.map((e) => (typeof e === 'string' ? (this.endpointMap.get(e) ?? e) : e)) };
  }

  /** The proxies of `link` (of `role`'s end only, when given). */
  proxies(link: LinkName, role: string | undefined): TcpProxy[] {
    return this.links.filter((l) => l.link === link && (role === undefined || l.node === role)).map((l) => l.proxy);
  }

  async close(): Promise<void> {
    await Promise.all(this.links.map((l) => l.proxy.close()));
    this.links.length = 0;
  }
}
