import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TcpProxy } from '../../src/faults/tcp-proxy.js';

let echo: Server;
let echoPort: number;
before(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as AddressInfo).port;
});
after(() => new Promise<void>((r) => echo.close(() => r())));

function client(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `text` and resolves with what comes back and when (ms after sending). */
function roundTrip(s: Socket, text: string): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let got = '';
    const on = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= text.length) {
        s.off('data', on);
        resolve({ text: got, ms: performance.now() - t0 });
      }
    };
    s.on('data', on);
    s.write(text);
  });
}

describe('TCP proxy', () => {
  it('forwards both ways, delays each direction by the set latency, and keeps order', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: echoPort });
    try {
      const s = await client(proxy.port);
      assert.equal((await roundTrip(s, 'hello')).text, 'hello');
      proxy.setLatency(80, 0);
      const slow = await roundTrip(s, 'a'.repeat(1000) + 'z');
      assert.equal(slow.text, 'a'.repeat(1000) + 'z');
      assert.ok(slow.ms >= 160 - 5, `a round trip through 80 ms each way took ${slow.ms.toFixed(1)} ms`);
      s.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('regression: chunks sent apart in one event-loop turn could overtake each other under latency with jitter (a commit stream skipped a block)', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: echoPort });
    try {
      const s = await client(proxy.port);
      s.setNoDelay(true);
      proxy.setLatency(5, 40);
      // Numbered records, each its own write a moment apart (so most reach the proxy as chunks of their own).
      const n = 3000;
      const want = Array.from({ length: n }, (_, k) => `${String(k).padStart(6, '0')};`).join('');
      let got = '';
      const done = new Promise<void>((resolve) => {
        s.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.length >= want.length) resolve();
        });
      });
      for (let k = 0; k < n; k++) {
        s.write(`${String(k).padStart(6, '0')};`);
        if (k % 10 === 9) await new Promise((r) => setImmediate(r));
      }
      await done;
      const records = got.split(';').filter(Boolean).map(Number);
      const firstOut = records.findIndex((v, k) => v !== k);
      assert.equal(firstOut, -1, `record ${records[firstOut]} arrived at position ${firstOut}`);
      s.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('a bandwidth limit spreads a transfer over the time the link needs to carry it', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: echoPort });
    try {
      const s = await client(proxy.port);
      proxy.setBandwidth(20_000);
      // 10,000 bytes at 20,000 B/s: 0.5 s up, and 0.5 s back down.
      const r = await roundTrip(s, 'x'.repeat(10_000));
      assert.equal(r.text.length, 10_000);
      assert.ok(r.ms >= 1000 - 5, `10 kB each way at 20 kB/s took ${r.ms.toFixed(1)} ms`);
      proxy.setBandwidth(0);
      assert.equal((await roundTrip(s, 'free')).text, 'free');
      s.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('a partition closes open connections and refuses new ones until healed', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: echoPort });
    try {
      const s = await client(proxy.port);
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      proxy.setPartitioned(true);
      await closed;
      const refused = await client(proxy.port);
      await new Promise<void>((r) => refused.once('close', () => r()));
      proxy.setPartitioned(false);
      const healed = await client(proxy.port);
      assert.equal((await roundTrip(healed, 'back')).text, 'back');
      healed.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('maps an upstream URL to the proxy, keeping scheme and path', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: echoPort });
    try {
      assert.equal(proxy.urlFor(`http://127.0.0.1:${echoPort}`), `http://127.0.0.1:${proxy.port}`);
      assert.equal(proxy.urlFor(`ws://127.0.0.1:${echoPort}/v1/stream`), `ws://127.0.0.1:${proxy.port}/v1/stream`);
    } finally {
      await proxy.close();
    }
  });
});
