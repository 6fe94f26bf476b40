/** Prometheus metrics of a node, in its own registry (several nodes may share a process in tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface NodeMetrics {
  registry: Registry;
  txReceived: Counter<'encoding'>;
  txAccepted: Counter;
  txRejected: Counter<'code'>;
  txCommitted: Counter;
  txFailed: Counter<'code'>;
  blocksCommitted: Counter;
  blockHeight: Gauge;
  blockTransactions: Histogram;
  mempoolTransactions: Gauge;
  blockLogBytes: Gauge;
  commitLatency: Histogram;
  streamSubscribers: Gauge;
  stageSeconds: Histogram<'stage'>;
}

export function createNodeMetrics(role: string): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  // prom-client's standard names (process_*, nodejs_*), so stock Node.js dashboards work.
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    txReceived: new Counter({ name: 'tpslab_tx_received_total', help: 'Transactions received at ingress, by encoding (json, binary).', labelNames: ['encoding'], registers: r }),
    txAccepted: new Counter({ name: 'tpslab_tx_accepted_total', help: 'Transactions accepted into the mempool.', registers: r }),
    txRejected: new Counter({ name: 'tpslab_tx_rejected_total', help: 'Transactions refused at ingress, by error code.', labelNames: ['code'], registers: r }),
    txCommitted: new Counter({ name: 'tpslab_tx_committed_total', help: 'Transactions in blocks that are durable on disk.', registers: r }),
    txFailed: new Counter({ name: 'tpslab_tx_failed_total', help: 'Accepted transactions that failed or expired before commit, by error code.', labelNames: ['code'], registers: r }),
    blocksCommitted: new Counter({ name: 'tpslab_blocks_committed_total', help: 'Blocks durable on disk.', registers: r }),
    blockHeight: new Gauge({ name: 'tpslab_block_height', help: 'Height of the last durable block.', registers: r }),
    blockTransactions: new Histogram({
      name: 'tpslab_block_transactions',
      help: 'Transactions per block.',
      buckets: [1, 10, 50, 100, 500, 1000, 2000, 4000, 8000],
      registers: r,
    }),
    mempoolTransactions: new Gauge({ name: 'tpslab_mempool_transactions', help: 'Transactions pending in the mempool.', registers: r }),
    blockLogBytes: new Gauge({ name: 'tpslab_block_log_bytes', help: 'Size of the durable block log.', registers: r }),
    commitLatency: new Histogram({
      name: 'tpslab_tx_commit_latency_seconds',
      help: 'Time from acceptance at ingress to the block being durable.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    streamSubscribers: new Gauge({ name: 'tpslab_stream_subscribers', help: 'Open WebSocket commit-stream subscriptions.', registers: r }),
    stageSeconds: new Histogram({
      name: 'tpslab_stage_seconds',
      help: 'Time a transaction (a batch, a block) spends in each stage on its way to commit, by stage (docs/metrics.md).',
      labelNames: ['stage'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
  };
}
