// The tpslab connector's target side on bad endpoints: clear errors, never a dump of someone else's page.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeKeyFile } from '../../src/client/key-file.js';
import { systemClock } from '../../src/clock.js';
import { TpslabTargetSchema } from '../../src/connectors/tpslab/schema.js';
import { TpslabTarget } from '../../src/connectors/tpslab/target.js';
import { TpslabError } from '../../src/errors.js';
import { keyPairFromLabel } from '../../src/protocol/signing.js';
import { tempDir } from '../testkit/index.js';

let server: Server;
let url: string;
let dir: { path: string; remove(): Promise<void> };

before(async () => {
  dir = await tempDir('tpslab-target-');
  server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<!DOCTYPE html><html><body><h1>Not Found</h1><p>nginx</p></body></html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  await dir.remove();
});

const run = { seed: 1, accounts: { count: 1, balance: '1' }, workload: { kind: 'transfer', amount: 1, fee: 0, topics: 0, payloadBytes: 0, sign: 'presign' as const } };

test('regression: a URL that is not a tpslab node is named as such, not dumped as raw HTML', async () => {
  const key = join(dir.path, 'faucet.key.json');
  await writeKeyFile(key, keyPairFromLabel('faucet'));
  const dead = 'http://127.0.0.1:9';
  const t = new TpslabTarget(TpslabTargetSchema.parse({ kind: 'tpslab', endpoints: [dead, url], faucetKey: key }), run, systemClock);
  const err = await t.open(() => {}).then(
    () => assert.fail('open should fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TpslabError);
  assert.equal(err.code, 'TPSLAB_E_UNAVAILABLE');
  assert.ok(err.message.includes(`${url}: not a tpslab node`), err.message);
  assert.ok(err.message.includes(dead), 'every endpoint is tried and named');
  assert.ok(!err.message.includes('<html>') && !err.message.includes('nginx'), err.message);
  assert.match(err.message, /tpslab net up/);
});
