/**
 * Prometheus counters of replicated ordering (`tpslab sequencer --nats`): terms won, step-downs, appends
 * the stream refused, lease renewals that failed, and the newest term seen. The sequencer keeps the counts;
 * they are read when /metrics is scraped.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface OrderingStats {
  /** Terms this process won and led (took over after the lease). */
  termsLed: number;
  /** Times it stopped leading: an append refused or failed, or the lease lost. */
  stepDowns: number;
  /** Appends the stream refused because another leader had appended (fenced out). */
  appendsRefused: number;
  /** Lease renewals that failed while leading (NATS unreachable or slow, the lease taken). */
  leaseRenewFailures: number;
  /** Newest leader term seen (0: none yet). */
  term: number;
  leading: boolean;
}

/** Registers the ordering metrics on `registry`, read from `stats()` at each scrape. */
export function registerOrderingMetrics(registry: Registry, stats: () => OrderingStats): void {
  const registers = [registry];
  // Each counter mirrors a count that only grows in the sequencer: set to it on scrape.
  const mirror = (name: string, help: string, pick: (s: OrderingStats) => number): Counter =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(pick(stats()));
      },
    });
  mirror('tpslab_sequencer_terms_led_total', 'Leader terms this sequencer won and took over (leader acquisitions).', (s) => s.termsLed);
  mirror('tpslab_sequencer_step_downs_total', 'Times this sequencer stopped leading: an append refused or failed, or the lease lost.', (s) => s.stepDowns);
  mirror('tpslab_sequencer_appends_refused_total', 'Block appends the ordering log refused because another leader had appended (fenced out).', (s) => s.appendsRefused);
  mirror('tpslab_sequencer_lease_renew_failures_total', 'Lease renewals that failed while leading (NATS unreachable or slow, or the lease taken).', (s) => s.leaseRenewFailures);
  new Gauge({
    name: 'tpslab_sequencer_term',
    help: 'Newest leader term this sequencer has seen (0: none yet); it grows by one at each change of leader.',
    registers,
    collect() {
      this.set(stats().term);
    },
  });
  new Gauge({
    name: 'tpslab_sequencer_leader',
    help: '1 while this sequencer leads, else 0.',
    registers,
    collect() {
      this.set(stats().leading ? 1 : 0);
    },
  });
}
