/**
 * A single-process node: ingress, ordering (an in-process sequencer), state
 * and the public API. Writes `<data>/endpoint.json` once it listens, so
 * scripts and tests can find a node started on port 0.
 */
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { TpslabError } from '../errors.js';
import type { SignedTx } from '../protocol/tx.js';
import { CommitStream } from './commit-stream.js';
import type { Genesis } from './genesis.js';
import type { IngressLimits } from './ingress.js';
import { buildNodeApi } from './node-api.js';
import { createNodeMetrics } from './node-metrics.js';
import { Sequencer, type SequencerConfig, type TxStatus } from './sequencer.js';

export interface NodeOptions {
  dataDir: string;
  genesis: Genesis;
  host?: string;
  port?: number;
  sequencer?: SequencerConfig;
  limits?: IngressLimits;
}

export interface RunningNode {
  url: string;
  port: number;
  sequencer: Sequencer;
  close(): Promise<void>;
}

export interface Endpoint {
  url: string;
  port: number;
  pid: number;
  network: string;
}

export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const startedAtMs = Date.now();
  const sequencer = await Sequencer.open(opts.dataDir, opts.genesis, opts.sequencer);
  const metrics = createNodeMetrics('node');
  metrics.blockHeight.set(sequencer.durableHeight);

  // Waiters for ?wait=commit, and acceptance times for commit latency.
  const waiters = new Map<string, Set<(s: TxStatus) => void>>();
  const acceptedAt = new Map<string, number>();
  const settle = (idKey: string, s: TxStatus): void => {
    const ws = waiters.get(idKey);
    if (!ws) return;
    waiters.delete(idKey);
    for (const w of ws) w(s);
  };

  sequencer.on('commit', ({ block }) => {
    const now = Date.now();
    metrics.blocksCommitted.inc();
    metrics.txCommitted.inc(block.txs.length);
    metrics.blockHeight.set(block.height);
    metrics.blockTransactions.observe(block.txs.length);
    block.txs.forEach((tx, index) => {
      const k = tx.id.toString('latin1');
      const t = acceptedAt.get(k);
      if (t !== undefined) {
        metrics.commitLatency.observe((now - t) / 1000);
        acceptedAt.delete(k);
      }
      settle(k, { status: 'committed', height: block.height, index });
    });
  });
  sequencer.on('failed', (f) => {
    const k = f.id.toString('latin1');
    acceptedAt.delete(k);
    metrics.txFailed.inc({ code: f.code });
    settle(k, { status: 'failed', code: f.code, message: f.message });
  });
  sequencer.on('fatal', (err) => {
    process.emitWarning(`node stopped serving: ${err.message}`);
    for (const k of [...waiters.keys()]) settle(k, { status: 'failed', code: err.code, message: err.message });
  });

  const waitFor = (id: Buffer, timeoutMs: number): Promise<TxStatus> => {
    const now = sequencer.status(id);
    if (now.status !== 'pending') return Promise.resolve(now);
    const k = id.toString('latin1');
    return new Promise((resolve) => {
      const done = (s: TxStatus): void => {
        clearTimeout(timer);
        resolve(s);
      };
      const timer = setTimeout(() => {
        waiters.get(k)?.delete(done);
        resolve(sequencer.status(id));
      }, timeoutMs);
      let set = waiters.get(k);
      if (!set) waiters.set(k, (set = new Set()));
      set.add(done);
    });
  };

  const app = buildNodeApi({
    sequencer,
    metrics,
    ...(opts.limits ? { limits: opts.limits } : {}),
    startedAtMs,
    waitFor,
    onAccepted: (tx: SignedTx) => acceptedAt.set(tx.id.toString('latin1'), Date.now()),
  });
  const stream = new CommitStream(sequencer, (b) => sequencer.effectsOf(b), (n) => metrics.streamSubscribers.set(n));
  app.server.on('upgrade', (req, socket, head) => stream.handleUpgrade(req, socket, head));

  const host = opts.host ?? '127.0.0.1';
  try {
    await app.listen({ host, port: opts.port ?? 0 });
  } catch (err) {
    await sequencer.close();
    throw new TpslabError('TPSLAB_E_USAGE', `cannot listen on ${host}:${opts.port ?? 0}: ${(err as Error).message}; pick another --port`, { cause: err });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const endpoint: Endpoint = { url, port, pid: process.pid, network: opts.genesis.network };
  const file = join(opts.dataDir, 'endpoint.json');
  await writeFile(`${file}.tmp`, `${JSON.stringify(endpoint, null, 2)}\n`);
  await rename(`${file}.tmp`, file);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    sequencer,
    close: () =>
      (closing ??= (async () => {
        stream.close();
        await app.close();
        await sequencer.close();
      })()),
  };
}
