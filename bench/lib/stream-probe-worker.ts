/**
 * A commit-stream subscriber on its own thread (its own event loop, so the bench process's overseer
 * does not delay it): per block with transactions, sealed (the block's timestamp) → received here, and
 * the block's transaction count. Started by stage-probe.ts with `{ url }`; answers `stop` with its samples.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const BLOCKS_MAX = 200_000;
const { url } = workerData as { url: string };
const samples: [number, number][] = [];
const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/stream`, { maxPayload: 256 * 1024 * 1024 });
ws.on('message', (data: Buffer) => {
  const at = performance.timeOrigin + performance.now();
  const ev = JSON.parse(data.toString()) as { type: string; timestampMs?: number; txs?: unknown[] };
  if (ev.type !== 'block' || ev.timestampMs === undefined || !ev.txs?.length || samples.length >= BLOCKS_MAX) return;
  samples.push([Math.max(0, at - ev.timestampMs), ev.txs.length]);
});
ws.on('error', () => ws.terminate());
parentPort!.on('message', (m: unknown) => {
  if (m !== 'stop') return;
  ws.terminate();
  parentPort!.postMessage(samples);
  parentPort!.close();
});
