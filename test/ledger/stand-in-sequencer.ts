/**
 * A stand-in sequencer on 127.0.0.1 for a replica's forwarding tests: it takes any POSTed batch and
 * answers every transaction accepted (`{}` results), at once or, with `hold`, only when the test releases
 * the answer. It serves nothing else (the replica's block feed finds no stream and retries).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { splitBatch } from '../../src/protocol/batch.js';

export interface StandInSequencer {
  url: string;
  /** Batches received so far. */
  readonly received: number;
  /** With `hold`: releases the oldest answer not yet sent; false when none waits. */
  release(): boolean;
  close(): Promise<void>;
}

export async function standInSequencer(opts: { hold?: boolean } = {}): Promise<StandInSequencer> {
  let received = 0;
  const held: (() => void)[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      if (req.method !== 'POST') return res.writeHead(404).end('{}');
      const n = splitBatch(Buffer.concat(parts), 100_000, 1 << 20).length;
      received++;
      const answer = (): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results: Array.from({ length: n }, () => ({})) }));
      if (opts.hold) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get received() {
      return received;
    },
    release: () => {
      const a = held.shift();
      a?.();
      return a !== undefined;
    },
    close: async () => {
      while (held.length > 0) held.shift()!();
      server.closeAllConnections(); // the client's kept-alive connections
      await new Promise((r) => server.close(r));
    },
  };
}
