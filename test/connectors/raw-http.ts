// Test servers for the tpslab client that need the raw socket (to hold answers, pipeline, or cut a
// connection): HTTP/1.1 requests split out of a socket's bytes, and a server listening on loopback.
import assert from 'node:assert/strict';
import type { Server } from 'node:net';
import type { Socket } from 'node:net';

/** Calls `onRequest` with each whole request (its head as text, its body) as bytes arrive on `socket`. */
export function eachRequest(socket: Socket, onRequest: (head: string, body: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) break;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) break;
      const body = buf.subarray(end + 4, end + 4 + length);
      buf = buf.subarray(end + 4 + length);
      onRequest(head, body);
    }
  });
}

/** Listens on 127.0.0.1, port 0; the server's base URL. */
export async function listenLoopback(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  return `http://127.0.0.1:${addr.port}`;
}
