/**
 * Prometheus metrics of a run, from the overseer: an output (RunOutput) that keeps a prom-client
 * registry up to date from the beacons' totals and the merged per-second rows, served at
 * /metrics on 127.0.0.1. Names follow the Prometheus naming guide (docs/metrics.md, "Harness").
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TpslabError } from '../errors.js';
import { LatencyHistogram } from '../harness/histogram.js';
import type { BeaconTotalsRow, RunOutput } from '../harness/outputs.js';
import type { SecondRow } from '../harness/store.js';

/** Latency buckets in seconds: 1 ms … 60 s. */
export const LATENCY_BUCKETS_SEC = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Beacons 0 … MAX_BEACON_SERIES − 1 get a latency histogram each; the rest share the label
 * `beacon="other"`, so a run of 1,024 beacons serves at most 65 × 18 histogram series.
 */
export const MAX_BEACON_SERIES = 64;

/** The `beacon` label of the per-beacon latency histogram. */
export function beaconSeries(beacon: number): string {
  return beacon < MAX_BEACON_SERIES ? String(beacon) : 'other';
}

type Totals = Pick<BeaconTotalsRow, 'beacon' | 'sent' | 'committed' | 'failed' | 'lost' | 'retries' | 'errors'> & { inFlight?: number };

export class PrometheusOutput {
  readonly registry = new Registry();
  private readonly counters;
  private readonly inFlight;
  private readonly errors;
  private readonly targetRate;
  private readonly latency;
  private readonly beaconLatency;
  private readonly runInfo;
  private readonly last = new Map<number, Totals>();
  private server: Server | undefined;

  constructor() {
    const r = this.registry;
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['beacon'], registers: [r] });
    this.counters = {
      sent: counter('tpslab_harness_tx_sent_total', 'Transactions the beacons sent (first attempts).'),
      committed: counter('tpslab_harness_tx_committed_total', 'Transactions the beacons saw committed.'),
      failed: counter('tpslab_harness_tx_failed_total', 'Transactions that failed for good.'),
      lost: counter('tpslab_harness_tx_lost_total', 'Transactions not confirmed within the confirmation timeout.'),
      retries: counter('tpslab_harness_tx_retries_total', 'Resends of a transaction after a transient error.'),
    };
    this.inFlight = new Gauge({ name: 'tpslab_harness_tx_in_flight', help: 'Transactions sent and not yet confirmed, failed or lost.', labelNames: ['beacon'], registers: [r] });
    this.errors = new Counter({ name: 'tpslab_harness_tx_errors_total', help: 'Errors the beacons met, by error code (all beacons).', labelNames: ['code'], registers: [r] });
    this.targetRate = new Gauge({ name: 'tpslab_harness_target_tx_per_second', help: 'The rate the schedule asked for in the last complete second (open model).', registers: [r] });
    this.latency = new Histogram({ name: 'tpslab_harness_tx_latency_seconds', help: 'Commit latency from the intended send time (corrected), merged over beacons, added once a second.', buckets: LATENCY_BUCKETS_SEC, registers: [r] });
    this.beaconLatency = new Histogram({ name: 'tpslab_harness_beacon_tx_latency_seconds', help: `Commit latency from the intended send time (corrected) per beacon, added as each beacon reports; beacons from ${MAX_BEACON_SERIES} on share beacon="other".`, labelNames: ['beacon'], buckets: LATENCY_BUCKETS_SEC, registers: [r] });
    this.runInfo = new Gauge({ name: 'tpslab_harness_run_info', help: 'The run being measured (value 1).', labelNames: ['run_id'], registers: [r] });
  }

  /** The output to give runScenario. */
  get output(): RunOutput {
    return {
      created: (runId) => this.runInfo.set({ run_id: runId }, 1),
      beacons: (rows) => rows.forEach((b) => this.totals(b)),
      second: (row) => this.second(row),
      report: (m) => this.observe(this.beaconLatency.labels({ beacon: beaconSeries(m.beacon) }), m.corrected),
      finished: (_id, end) => end.beacons.forEach((b) => this.totals({ ...b, inFlight: 0 })),
    };
  }

  /** Adds what changed since the beacon's last report (its totals only grow). */
  private totals(b: Totals): void {
    const prev = this.last.get(b.beacon);
    const labels = { beacon: String(b.beacon) };
    for (const k of ['sent', 'committed', 'failed', 'lost', 'retries'] as const) {
      const d = b[k] - (prev?.[k] ?? 0);
      if (d > 0) this.counters[k].inc(labels, d);
    }
    for (const [code, n] of Object.entries(b.errors)) {
      const d = n - (prev?.errors[code] ?? 0);
      if (d > 0) this.errors.inc({ code }, d);
    }
    if (b.inFlight !== undefined) this.inFlight.set(labels, b.inFlight);
    this.last.set(b.beacon, { ...b, errors: { ...b.errors } });
  }

  /** Each committed transaction of the second, observed at its (histogram-bucketed) latency. */
  private second(row: SecondRow): void {
    if (row.targetRate !== null && Number.isFinite(row.targetRate)) this.targetRate.set(row.targetRate);
    if (row.latCorrected) this.observe(this.latency, row.latCorrected);
  }

  /** Observes every value of an encoded HdrHistogram (at its bucketed latency). */
  private observe(h: { observe(valueSec: number): void }, encoded: string): void {
    let seen = 0;
    for (const p of LatencyHistogram.decode(encoded).distribution()) {
      for (; seen < p.count; seen++) h.observe(p.valueMs / 1000);
    }
  }

  /** Serves /metrics on 127.0.0.1:`port` (0: a free one); returns the URL. */
  async listen(port: number): Promise<string> {
    const server = createServer((req, res) => {
      if (req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404).end('not found: the metrics are at /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new TpslabError('TPSLAB_E_USAGE', `cannot serve metrics on port ${port}: ${err.message}; choose another --metrics-port`, { cause: err })));
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
