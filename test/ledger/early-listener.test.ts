/**
 * Regression test: funding a run failed now and then with "other side closed". The node's server
 * came from listenEarly (a plain node:http server handed to fastify), so it kept Node's 5 s
 * keep-alive instead of fastify's 72 s; provisioning reads the faucet's nonce, signs its funding
 * transactions for seconds, then posts them on the same connection, which the node had closed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KEEP_ALIVE_TIMEOUT_MS, listenEarly } from '../../src/ledger/early-listener.js';

describe('early listener', () => {
  it('keeps idle connections open as long as fastify would (72 s), while recovering and once attached', async () => {
    const early = await listenEarly({ host: '127.0.0.1', port: 0, role: 'node' });
    try {
      const recovering = await fetch(`${early.url}/health`);
      assert.equal(recovering.status, 503);
      await recovering.text();
      assert.equal(recovering.headers.get('keep-alive'), `timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
      assert.ok(KEEP_ALIVE_TIMEOUT_MS >= 60_000);

      early.attach((_req, res) => res.end('ok'));
      const served = await fetch(`${early.url}/v1/head`);
      assert.equal(await served.text(), 'ok');
      assert.equal(served.headers.get('keep-alive'), `timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
    } finally {
      await early.close();
    }
  });
});
