import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { NodeClient } from '../../src/client/node-client.js';
import { readKeyFile } from '../../src/client/key-file.js';
import { netDown, netUp, type NetworkFile } from '../../src/ledger/net.js';
import type { KeyPair } from '../../src/protocol/signing.js';
import { http, transfer } from '../e2e/helpers.js';
import { fund, runCli, tempDir, testAccounts, waitFor } from '../testkit/index.js';
import { ServiceProcess } from './service-process.js';

const SENDERS = 20;

interface StatRow {
  pxname: string;
  svname: string;
  status: string;
  downtime: string;
  stot: string;
}

async function stats(statsUrl: string): Promise<StatRow[]> {
  const text = await (await fetch(`${statsUrl};csv`)).text();
  const [head, ...lines] = text.trim().split('\n');
  const cols = head!.replace(/^# /, '').split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])) as unknown as StatRow).filter((r) => r.pxname === 'nodes');
}

function firstBlockOverStream(url: string, options: WebSocket.ClientOptions = {}): Promise<{ type: string; height: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/v1/stream?from=1`, options);
    const t = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no block over ${url}/v1/stream within 10 s`));
    }, 10_000);
    ws.once('message', (d: Buffer) => {
      clearTimeout(t);
      ws.close();
      resolve(JSON.parse(d.toString()) as { type: string; height: number });
    });
    ws.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

describe('tpslab lb: HAProxy in front of 3 nodes (kill -9, drain, TLS, WebSocket, stats)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let net: NetworkFile;
  let lb: ServiceProcess;
  let ep: { url: string; tlsUrl: string; statsUrl: string };
  let ca: string;
  let faucet: KeyPair;
  const accounts = testAccounts('lb-senders', SENDERS);
  const nonces = accounts.map(() => 0n);
  let failed = 0;

  /** One round: every sender sends one transfer through `base`; returns once all are committed (any failure is counted). */
  async function round(client: NodeClient): Promise<void> {
    const txs = accounts.map((k, i) => transfer(k, accounts[(i + 1) % SENDERS]!, 1n, nonces[i]!, net.network));
    let res;
    try {
      res = await client.submitBatch(txs);
    } catch (err) {
      failed += txs.length;
      throw err;
    }
    const refused = res.results.filter((r) => 'error' in r && r.error.code !== 'TPSLAB_E_DUPLICATE');
    failed += refused.length;
    assert.deepEqual(refused, [], 'no transaction refused through the balancer');
    accounts.forEach((_, i) => (nonces[i] = nonces[i]! + 1n));
    for (const tx of txs) {
      const id = tx.id.toString('hex');
      await waitFor(`${id} to commit`, async () => {
        const s = await client.status(id);
        if (s.status === 'failed') failed++;
        return s.status === 'committed' || s.status === 'failed' ? s.status : undefined;
      });
    }
  }

  before(async () => {
    dir = await tempDir('tpslab-lb-');
    net = await netUp({ dir: dir.path, nodes: 3, heartbeatMs: 250, blockIntervalMs: 10 });
    faucet = await readKeyFile(net.faucetKey);
    const cert = join(dir.path, 'cert.pem');
    const key = join(dir.path, 'key.pem');
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    ca = await readFile(cert, 'utf8');
    const data = join(dir.path, 'lb');
    lb = await ServiceProcess.start(['lb', '--network', net.dir, '--data', data, '--check-interval-ms', '200', '--poll-ms', '200', '--tls-cert', cert, '--tls-key', key], data);
    ep = JSON.parse(await readFile(join(data, 'endpoint.json'), 'utf8')) as typeof ep;
    await waitFor('3 nodes UP behind HAProxy', async () => (await stats(ep.statsUrl)).filter((r) => r.svname.startsWith('node') && r.status === 'UP').length === 3);
    await fund(new NodeClient(ep.url), faucet, accounts, 1_000_000n);
  });
  after(async () => {
    await lb?.kill('SIGTERM');
    await netDown(dir.path);
    await dir.remove();
  });

  it('serves the API and the commit stream (WebSocket pass-through) and hides admin routes', async () => {
    const client = new NodeClient(ep.url);
    await round(client);
    assert.equal((await client.head()).network, net.network);
    const ev = await firstBlockOverStream(ep.url.replace(/^http/, 'ws'));
    assert.deepEqual([ev.type, ev.height], ['block', 1]);
    assert.equal((await http(ep.url, '/admin/drain', { method: 'POST' })).status, 403);
    const page = await fetch(ep.statsUrl);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Statistics Report/);
  });

  it('kill -9 of one node: HAProxy takes it out within its check window and no transaction fails; the tracker drops it and the config reloads', async () => {
    const client = new NodeClient(ep.url);
    const victim = net.nodes[1]!;
    process.kill(victim.pid, 'SIGKILL');
    for (let i = 0; i < 4; i++) await round(client);
    await waitFor(`${victim.id} DOWN or removed`, async () => {
      const row = (await stats(ep.statsUrl)).find((r) => r.svname === victim.id);
      return row === undefined || row.status.startsWith('DOWN');
    }, 10_000);
    await waitFor(`${victim.id} removed from the configuration after the tracker drops it`, async () => !(await readFile(join(dir.path, 'lb', 'haproxy.cfg'), 'utf8')).includes(`server ${victim.id} `), 10_000);
    await round(client);
    assert.equal(failed, 0);
  });

  it('drain: the node leaves the pool (NOLB, no downtime counted) and clients see no error', async () => {
    const client = new NodeClient(ep.url);
    const drained = net.nodes[2]!;
    const r = await runCli(['node', 'drain', '--node', drained.url]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(`${drained.id} NOLB`, async () => (await stats(ep.statsUrl)).find((x) => x.svname === drained.id)?.status === 'NOLB');
    const before = (await stats(ep.statsUrl)).find((x) => x.svname === drained.id)!;
    for (let i = 0; i < 3; i++) await round(client);
    const afterRow = (await stats(ep.statsUrl)).find((x) => x.svname === drained.id)!;
    assert.equal(afterRow.downtime, '0', 'draining is not downtime');
    assert.equal(afterRow.stot, before.stot, 'no new sessions went to the draining node');
    assert.equal(failed, 0);
    const health = await http(drained.url, '/health');
    assert.equal((health.body as { status: string }).status, 'draining');
    assert.equal((await runCli(['node', 'drain', '--node', drained.url, '--undo'])).code, 0);
    await waitFor(`${drained.id} UP again`, async () => (await stats(ep.statsUrl)).find((x) => x.svname === drained.id)?.status === 'UP');
  });

  it('TLS with the test certificate: API and WebSocket stream over https/wss', async () => {
    const agent = new Agent({ connect: { ca } });
    try {
      const res = await undiciFetch(`${ep.tlsUrl}/v1/head`, { dispatcher: agent });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { network: string }).network, net.network);
      const ev = await firstBlockOverStream(ep.tlsUrl.replace(/^https/, 'wss'), { ca });
      assert.equal(ev.type, 'block');
      await assert.rejects(fetch(`${ep.tlsUrl}/v1/head`), 'an untrusted certificate is refused by default');
    } finally {
      await agent.close();
    }
  });

  it('an lb killed -9 and started again stops the HAProxy it left behind', async () => {
    const pidFile = join(dir.path, 'lb', 'haproxy.pid');
    const orphan = Number((await readFile(pidFile, 'utf8')).trim());
    await lb.restart('SIGKILL');
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(`the orphaned HAProxy ${orphan} to stop`, () => !alive(orphan));
    const fresh = JSON.parse(await readFile(join(dir.path, 'lb', 'endpoint.json'), 'utf8')) as typeof ep;
    await waitFor('the new HAProxy to serve', async () => (await http(fresh.url, '/v1/head')).status === 200);
  });
});
