/**
 * `tpslab lb`: runs HAProxy (master-worker) with a configuration generated
 * from the tracker's membership and keeps it current: when the set of nodes
 * changes, the new configuration is written, checked with `haproxy -c`, and
 * loaded by a reload (SIGUSR2 to the master) that keeps the listening sockets,
 * so no connection is dropped. A tracker that cannot be reached, or a view
 * with no nodes, leaves the running configuration as it is.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TpslabError } from '../../errors.js';
import { DEFAULT_CHECK, renderHaproxyConfig, serversFromMembers, type LbConfig, type LbServer } from './haproxy-config.js';

const run = promisify(execFile);
export const DEFAULT_HAPROXY = '/usr/sbin/haproxy';

export interface BalancerOptions {
  dataDir: string;
  trackerUrl: string;
  host?: string;
  /** 0 picks a free port. */
  httpPort?: number;
  statsPort?: number;
  tls?: { port?: number; certPath: string; keyPath: string };
  checkIntervalMs?: number;
  fall?: number;
  rise?: number;
  /** How often the tracker's view is read. */
  pollMs?: number;
  haproxyBin?: string;
}

export interface RunningBalancer {
  url: string;
  tlsUrl: string | undefined;
  statsUrl: string;
  configPath: string;
  runtimeSocket: string;
  readonly servers: readonly LbServer[];
  readonly reloads: number;
  /** One command on HAProxy's runtime API, e.g. "show stat". */
  runtime(command: string): Promise<string>;
  close(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function members(trackerUrl: string): Promise<LbServer[]> {
  const res = await fetch(`${trackerUrl}/v1/members`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new TpslabError('TPSLAB_E_REMOTE', `tracker ${trackerUrl} answered HTTP ${res.status}`);
  const view = (await res.json()) as { members: { id: string; role: string; url: string }[] };
  return serversFromMembers(view.members);
}

export function runtimeCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let out = '';
    const timer = setTimeout(() => sock.destroy(new Error(`no answer to "${command}" within ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => sock.end(`${command}\n`));
    sock.on('data', (d: Buffer) => (out += d.toString()));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(new TpslabError('TPSLAB_E_HAPROXY', `HAProxy's runtime API at ${socketPath}: ${err.message}`, { cause: err }));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

async function checkConfig(bin: string, path: string): Promise<void> {
  try {
    await run(bin, ['-c', '-q', '-f', path], { timeout: 20_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new TpslabError('TPSLAB_E_HAPROXY', `HAProxy rejected ${path}: ${(e.stderr || e.stdout || e.message).trim().slice(0, 2000)}`, { cause: err });
  }
}

async function waitListening(host: string, port: number, child: ChildProcess, logPath: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = await readFile(logPath, 'utf8').catch(() => '');
      throw new TpslabError('TPSLAB_E_HAPROXY', `HAProxy exited while starting (${child.exitCode ?? child.signalCode}): ${log.trim().slice(-2000)}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new TpslabError('TPSLAB_E_HAPROXY', `HAProxy did not listen on ${host}:${port} within ${timeoutMs} ms; see ${logPath}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An HAProxy left running by an earlier `tpslab lb` that was killed -9 (its
 * master outlives it) would hold the ports: stop it if it is still ours.
 */
async function stopStale(pidPath: string, configPath: string): Promise<void> {
  const pid = Number((await readFile(pidPath, 'utf8').catch(() => '')).trim().split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes('haproxy') || !cmdline.includes(configPath)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100; i++) {
    if (!(await readFile(`/proc/${pid}/cmdline`, 'utf8').then(() => true, () => false))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  process.kill(pid, 'SIGKILL');
}

export async function startBalancer(o: BalancerOptions): Promise<RunningBalancer> {
  const host = o.host ?? '127.0.0.1';
  const bin = o.haproxyBin ?? DEFAULT_HAPROXY;
  const httpPort = o.httpPort || (await freePort(host));
  const statsPort = o.statsPort || (await freePort(host));
  let tls: LbConfig['tls'];
  if (o.tls) {
    let pem: string;
    try {
      pem = `${(await readFile(o.tls.certPath, 'utf8')).trim()}\n${(await readFile(o.tls.keyPath, 'utf8')).trim()}\n`;
    } catch (err) {
      throw new TpslabError('TPSLAB_E_CONFIG', `cannot read the TLS certificate or key (${(err as Error).message}); give PEM files with --tls-cert and --tls-key`, { cause: err });
    }
    const pemPath = join(o.dataDir, 'tls.pem');
    await writeFile(pemPath, pem, { mode: 0o600 });
    tls = { port: o.tls.port || (await freePort(host)), pemPath };
  }
  const configPath = join(o.dataDir, 'haproxy.cfg');
  const runtimeSocket = join(o.dataDir, 'haproxy.sock');
  const base = {
    host,
    httpPort,
    statsPort,
    runtimeSocket,
    checkIntervalMs: o.checkIntervalMs ?? DEFAULT_CHECK.checkIntervalMs,
    fall: o.fall ?? DEFAULT_CHECK.fall,
    rise: o.rise ?? DEFAULT_CHECK.rise,
    ...(tls ? { tls } : {}),
  };
  let servers = await members(o.trackerUrl);
  const write = async (list: readonly LbServer[]): Promise<void> => {
    const tmp = `${configPath}.new`;
    await writeFile(tmp, renderHaproxyConfig({ ...base, servers: list }));
    await checkConfig(bin, tmp);
    await rename(tmp, configPath);
  };
  await write(servers);

  const logPath = join(o.dataDir, 'haproxy.log');
  const pidPath = join(o.dataDir, 'haproxy.pid');
  await stopStale(pidPath, configPath);
  const log = await open(logPath, 'a');
  const child = spawn(bin, ['-W', '-db', '-f', configPath, '-p', pidPath], { stdio: ['ignore', log.fd, log.fd] });
  await log.close();
  await waitListening(host, httpPort, child, logPath);

  let reloads = 0;
  let closed = false;
  let polling = false;
  const poll = async (): Promise<void> => {
    if (polling || closed) return;
    polling = true;
    try {
      const now = await members(o.trackerUrl);
      if (now.length > 0 && JSON.stringify(now) !== JSON.stringify(servers)) {
        await write(now);
        servers = now;
        child.kill('SIGUSR2');
        reloads++;
      }
    } catch {
      // Tracker unreachable or a bad view: keep the running configuration.
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), o.pollMs ?? 500);

  const url = (port: number, scheme: string): string => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: url(httpPort, 'http'),
    tlsUrl: tls ? url(tls.port, 'https') : undefined,
    statsUrl: `${url(statsPort, 'http')}/stats`,
    configPath,
    runtimeSocket,
    get servers() {
      return servers;
    },
    get reloads() {
      return reloads;
    },
    runtime: (command) => runtimeCommand(runtimeSocket, command),
    async close() {
      closed = true;
      clearInterval(timer);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
