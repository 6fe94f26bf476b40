import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { renderHaproxyConfig, serversFromMembers, type LbConfig } from '../../src/ledger/lb/haproxy-config.js';
import { tempDir, thrown } from '../testkit/index.js';

const BASE: LbConfig = { host: '127.0.0.1', httpPort: 8080, statsPort: 8404, runtimeSocket: '/run/x/haproxy.sock', checkIntervalMs: 500, fall: 2, rise: 2, servers: [] };

test('config: nodes from the membership, checked on /health with drain as NOLB, stats, runtime socket for hitless reloads', () => {
  const servers = serversFromMembers([
    { id: 'node2', role: 'replica', url: 'http://127.0.0.1:7002' },
    { id: 'sequencer', role: 'sequencer', url: 'http://127.0.0.1:7000' },
    { id: 'node1', role: 'replica', url: 'http://127.0.0.1:7001' },
  ]);
  assert.deepEqual(servers.map((s) => s.id), ['node1', 'node2'], 'the sequencer is never a public backend');
  const cfg = renderHaproxyConfig({ ...BASE, servers });
  assert.match(cfg, /^ {2}server node1 127\.0\.0\.1:7001 check$/m);
  assert.match(cfg, /^ {2}server node2 127\.0\.0\.1:7002 check$/m);
  assert.match(cfg, /option httpchk GET \/health\?draining=404\n {2}http-check disable-on-404\n {2}http-check expect status 200/);
  assert.match(cfg, /default-server inter 500ms .*fall 2 rise 2/);
  assert.match(cfg, /stats socket \/run\/x\/haproxy\.sock mode 600 level admin expose-fd listeners/);
  assert.match(cfg, /bind 127\.0\.0\.1:8404\n {2}stats enable\n {2}stats uri \/stats/);
  assert.match(cfg, /timeout tunnel 1h/, 'WebSocket streams outlive the HTTP timeouts');
  assert.match(cfg, /http-request deny deny_status 403 if \{ path_beg \/admin \/v1\/internal \}/);
  assert.match(cfg, /retry-on conn-failure empty-response response-timeout/);
  assert.doesNotMatch(cfg, /ssl crt/);
});

test('config: TLS termination with the given PEM; odd member ids become safe server names', () => {
  const cfg = renderHaproxyConfig({ ...BASE, tls: { port: 8443, pemPath: '/etc/tpslab/tls.pem' }, servers: [{ id: 'eu west#1', host: '127.0.0.1', port: 9000 }, { id: 'eu west#1', host: '127.0.0.1', port: 9001 }] });
  assert.match(cfg, /bind 127\.0\.0\.1:8443 ssl crt \/etc\/tpslab\/tls\.pem/);
  assert.match(cfg, /server eu_west_1 127\.0\.0\.1:9000 check/);
  assert.match(cfg, /server eu_west_1_ 127\.0\.0\.1:9001 check/);
});

test('config: paths HAProxy cannot hold and unreachable addresses are refused with TPSLAB_E_CONFIG', () => {
  assert.equal(thrown(() => renderHaproxyConfig({ ...BASE, runtimeSocket: '/tmp/a b.sock' })).code, 'TPSLAB_E_CONFIG');
  assert.match(thrown(() => renderHaproxyConfig({ ...BASE, servers: [{ id: 'n', host: 'a;b', port: 1 }] })).message, /member n/);
});

test('config: haproxy -c accepts what we generate', async () => {
  const dir = await tempDir('tpslab-haproxy-cfg-');
  try {
    const path = join(dir.path, 'haproxy.cfg');
    await writeFile(path, renderHaproxyConfig({ ...BASE, runtimeSocket: join(dir.path, 's.sock'), servers: [{ id: 'node1', host: '127.0.0.1', port: 7001 }] }));
    const r = await promisify(execFile)('/usr/sbin/haproxy', ['-c', '-f', path]);
    assert.match(r.stdout + r.stderr, /Configuration file is valid/);
  } finally {
    await dir.remove();
  }
});
