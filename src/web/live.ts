/**
 * The live state of a run for the dashboard: fed by the overseer's hooks,
 * read as a snapshot (GET /api/live) and followed as events (SSE).
 */
import { EventEmitter } from 'node:events';
import type { HealthJson } from '../protocol/api.js';
import type { BeaconTotals, FaultInfo, LiveData, LiveEvent, LiveStatus, NodeInfo, Summary, ThresholdVerdict } from './contract.js';
import type { SecondRow } from '../harness/store.js';
import { secondPoint } from './points.js';

const NODE_POLL_MS = 2000;

export class LiveRun {
  private readonly data: LiveData;
  private readonly events = new EventEmitter<{ event: [LiveEvent] }>();
  private nodeTimer: NodeJS.Timeout | undefined;
  private roles: { id: string; role: string; url: string }[] = [];

  constructor(info: { runId: string; name: string; scenario: unknown }) {
    this.data = { kind: 'live', runId: info.runId, name: info.name, status: 'preparing', scenario: info.scenario, seconds: [], beacons: [], nodes: [] };
    this.events.setMaxListeners(100);
  }

  setRunId(runId: string): void {
    this.data.runId = runId;
  }

  snapshot(): LiveData {
    return this.data;
  }

  subscribe(fn: (e: LiveEvent) => void): () => void {
    this.events.on('event', fn);
    return () => this.events.off('event', fn);
  }

  private emit(e: LiveEvent): void {
    this.events.emit('event', e);
  }

  setStatus(status: LiveStatus, extra: { startMs?: number; error?: string } = {}): void {
    this.data.status = status;
    if (extra.startMs !== undefined) this.data.startMs = extra.startMs;
    if (extra.error !== undefined) this.data.error = extra.error;
    this.emit({ type: 'status', status, ...extra });
  }

  addSecond(row: SecondRow): void {
    const p = secondPoint(row);
    this.data.seconds.push(p);
    this.emit({ type: 'second', point: p });
  }

  setBeacons(beacons: BeaconTotals[]): void {
    this.data.beacons = beacons;
    this.emit({ type: 'beacons', beacons });
  }

  /** The faults' timeline so far (drawn as marks on the charts). */
  setFaults(faults: FaultInfo[]): void {
    this.data.faults = faults;
    this.emit({ type: 'faults', faults });
  }

  finish(summary: Summary, thresholds: ThresholdVerdict[], reportPath?: string): void {
    this.data.summary = summary;
    this.data.thresholds = thresholds;
    if (reportPath) this.data.reportPath = reportPath;
    this.emit({ type: 'summary', summary, thresholds, ...(reportPath ? { reportPath } : {}) });
  }

  /** Polls every role's /health for the node table until stopped. */
  watchNodes(roles: { id: string; role: string; url: string }[]): void {
    this.roles = roles;
    const poll = async (): Promise<void> => {
      const nodes: NodeInfo[] = await Promise.all(
        this.roles.map(async (r) => {
          try {
            const res = await fetch(`${r.url}/health`, { signal: AbortSignal.timeout(1500) });
            const body = (await res.json()) as Partial<HealthJson>;
            return { node: r.id, url: r.url, role: r.role, healthy: res.ok, ...(body.height !== undefined ? { head: body.height } : {}) };
          } catch {
            return { node: r.id, url: r.url, role: r.role, healthy: false };
          }
        }),
      );
      const top = Math.max(0, ...nodes.filter((n) => n.role !== 'tracker').map((n) => n.head ?? 0));
      for (const n of nodes) if (n.head !== undefined && n.role !== 'tracker') n.lag = top - n.head;
      this.data.nodes = nodes;
      this.emit({ type: 'nodes', nodes });
    };
    void poll();
    this.nodeTimer = setInterval(() => void poll(), NODE_POLL_MS);
    this.nodeTimer.unref();
  }

  /** Stops polling the nodes (the network is about to be torn down); the last table stays. */
  stopWatchingNodes(): void {
    if (this.nodeTimer) clearInterval(this.nodeTimer);
    this.nodeTimer = undefined;
  }

  close(): void {
    this.stopWatchingNodes();
    this.events.removeAllListeners();
  }
}
