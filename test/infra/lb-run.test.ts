import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { readKeyFile } from '../../src/client/key-file.js';
import { NodeClient } from '../../src/client/node-client.js';
import { netDown, netUp, type NetworkFile } from '../../src/ledger/net.js';
import { StreamCollector } from '../e2e/helpers.js';
import { runCli, tempDir } from '../testkit/index.js';
import { ServiceProcess } from './service-process.js';

interface RunJson {
  status: string;
  summary: { sent: number; committed: number; failed: number; lost: number };
}

const scenario = (endpoint: string, faucetKey: string): string => `
name: through-the-balancer
target: { kind: endpoints, endpoints: [${JSON.stringify(endpoint)}], faucetKey: ${JSON.stringify(faucetKey)} }
accounts: { count: 60 }
load:
  stages:
    - { kind: constant, ratePerSec: 40, durationSec: 6 }
beacons: { count: 2 }
thresholds: ['lost == 0', 'failed == 0', 'reconciliation.missing == 0']
`;

describe('tpslab run through tpslab lb', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let net: NetworkFile;
  let lb: ServiceProcess;
  let ep: { url: string; tlsUrl: string };
  let cert: string;

  before(async () => {
    dir = await tempDir('tpslab-lb-run-');
    net = await netUp({ dir: dir.path, nodes: 3, heartbeatMs: 250, blockIntervalMs: 10 });
    cert = join(dir.path, 'cert.pem');
    const key = join(dir.path, 'key.pem');
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const data = join(dir.path, 'lb');
    lb = await ServiceProcess.start(['lb', '--network', net.dir, '--data', data, '--check-interval-ms', '200', '--poll-ms', '200', '--tls-cert', cert, '--tls-key', key], data);
    ep = JSON.parse(await readFile(join(data, 'endpoint.json'), 'utf8')) as typeof ep;
  });
  after(async () => {
    delete process.env.NODE_EXTRA_CA_CERTS;
    await lb?.kill('SIGTERM');
    await netDown(dir.path);
    await dir.remove();
  });

  it('a run through the balancer sees no failed or lost transaction when a node is killed -9 mid-run', async () => {
    const file = join(dir.path, 'http.yaml');
    await writeFile(file, scenario(ep.url, net.faucetKey));
    // The kill lands once the load is under way (its accounts' transfers committing), however slowly the
    // run starts on a loaded machine: a fixed sleep could fire before the load or after it.
    const faucet = (await readKeyFile(net.faucetKey)).address;
    const stream = await StreamCollector.open(net.nodes[0]!.url, `?from=${(await new NodeClient(net.nodes[0]!.url).head()).height + 1}`);
    const running = runCli(['run', file, '--results', join(dir.path, 'runs.db'), '--json', '--no-ui', '--quiet'], 120_000);
    const loadTxs = (c: StreamCollector): number => c.blocks.reduce((n, b) => n + b.txs!.filter((t) => t.sender !== faucet).length, 0);
    try {
      await stream.until('40 of the load\'s transfers to commit', (c) => loadTxs(c) >= 40, 60_000);
    } finally {
      stream.ws.terminate();
    }
    process.kill(net.nodes[1]!.pid, 'SIGKILL');
    const r = await running;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const res = JSON.parse(r.stdout) as RunJson;
    assert.equal(res.status, 'passed');
    assert.equal(res.summary.committed, 240);
  });

  it('the same run over TLS with the test certificate', async () => {
    process.env.NODE_EXTRA_CA_CERTS = cert;
    const file = join(dir.path, 'tls.yaml');
    await writeFile(file, scenario(ep.tlsUrl, net.faucetKey));
    const r = await runCli(['run', file, '--results', join(dir.path, 'runs-tls.db'), '--json', '--no-ui', '--quiet'], 120_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const res = JSON.parse(r.stdout) as RunJson;
    assert.equal(res.status, 'passed');
    assert.equal(res.summary.committed, 240);
  });
});
