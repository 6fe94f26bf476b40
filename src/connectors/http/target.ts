/**
 * The overseer side of the `http` connector. There is nothing to start or
 * provision: accounts are numbers the templates use. The API is never asked
 * what it committed, so runs through it are not reconciled (reports say so).
 */
import { TpslabError } from '../../errors.js';
import type { BeaconShareSpec, Capabilities, CommittedSet, Cursor, Log, NodeRow, RunSpec, TargetConnector, TargetInfo } from '../contract.js';
import type { HttpBeaconConfig, HttpTargetOptions } from './schema.js';
import { rotate } from '../rotate.js';

export class HttpTarget implements TargetConnector {
  readonly kind = 'http';
  readonly capabilities: Capabilities;

  constructor(
    private readonly o: HttpTargetOptions,
    private readonly run: RunSpec,
  ) {
    this.capabilities = {
      reconcile: false,
      confirms: o.confirm !== undefined,
      limits: [
        'Not reconciled: the http connector cannot ask the API what it committed, so "committed" means what the API answered, not what a ledger holds.',
        o.confirm
          ? `Committed means the status URL (${o.confirm.path}) satisfied its condition when polled; latency includes up to one poll interval (${o.confirm.intervalMs} ms).`
          : 'No confirmation: a transaction counts as committed when its request is answered with a success status; latency is the request latency.',
        'Ordering and duplicates inside the API are not checked.',
      ],
    };
  }

  async open(log: Log): Promise<TargetInfo> {
    if (this.o.health) {
      const rows = await this.nodes();
      const up = rows.filter((r) => r.healthy);
      if (up.length === 0) throw new TpslabError('TPSLAB_E_UNAVAILABLE', `no endpoint answered ${this.o.health} with 2xx: ${this.o.endpoints.join(', ')}; is the API running?`);
      if (up.length < rows.length) log(`warning: ${rows.length - up.length} of ${rows.length} endpoints are unhealthy; beacons will fail over`);
    }
    return { network: new URL(this.o.endpoints[0]!).host, endpoints: this.o.endpoints, roles: this.o.endpoints.map((url, i) => ({ id: `endpoint${i + 1}`, role: 'endpoint', url })), embedded: false };
  }

  async provision(): Promise<void> {}

  async cursor(): Promise<Cursor> {
    return { position: 0 };
  }

  beaconConfig(share: BeaconShareSpec): HttpBeaconConfig {
    const o = this.o;
    return {
      endpoints: rotate(o.endpoints, share.endpointOffset),
      beacon: share.beacon,
      amount: this.run.workload.amount,
      request: o.request,
      id: o.id,
      success: o.success,
      ...(o.confirm ? { confirm: o.confirm } : {}),
      timeoutMs: o.timeoutMs,
      connections: o.connections,
    };
  }

  async committed(): Promise<CommittedSet> {
    throw new TpslabError('TPSLAB_E_INTERNAL', 'the http connector cannot reconcile (capabilities.reconcile is false)');
  }

  async nodes(): Promise<NodeRow[]> {
    return Promise.all(
      this.o.endpoints.map(async (url, i) => {
        const healthy = this.o.health
          ? await fetch(new URL(this.o.health, url), { signal: AbortSignal.timeout(2000) }).then(
              async (r) => (await r.arrayBuffer(), r.ok),
              () => false,
            )
          : true;
        return { node: `endpoint${i + 1}`, url, role: 'endpoint', healthy, stats: null };
      }),
    );
  }

  async close(): Promise<void> {}
}
