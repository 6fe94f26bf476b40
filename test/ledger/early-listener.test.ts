import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from 'undici';
import { listenEarly } from '../../src/ledger/early-listener.js';

test('regression: a node closed keep-alive connections idle for 5 s, so a client that paused (signing funding transactions on a loaded machine) got UND_ERR_SOCKET', async () => {
  const early = await listenEarly({ host: '127.0.0.1', port: 0, role: 'node' });
  let connections = 0;
  early.server.on('connection', () => connections++);
  early.attach((_req, res) => res.end('ok'));
  // The client keeps an idle connection as long as the server's Keep-Alive hint allows.
  const client = new Client(early.url, { keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000, keepAliveTimeoutThreshold: 0 });
  try {
    const first = await client.request({ method: 'GET', path: '/' });
    assert.equal(await first.body.text(), 'ok');
    await new Promise((r) => setTimeout(r, 5_500)); // past Node's default keep-alive timeout of 5 s
    const second = await client.request({ method: 'GET', path: '/' });
    assert.equal(await second.body.text(), 'ok');
    assert.equal(connections, 1, 'the idle connection was kept and reused');
  } finally {
    await client.close();
    await early.close();
  }
});
