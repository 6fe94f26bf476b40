/**
 * A NATS cluster with JetStream on this machine, for replicated ordering (`net up --sequencers 3`) and
 * the tests: N `nats-server` processes (Debian's 2.9.10 will do) on free loopback ports, each with a
 * config file and a JetStream store under its own directory, routes to all the others.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { TpslabError } from '../errors.js';
import { processStartOf } from './pid-alive.js';

export interface NatsServerProcess {
  id: string;
  /** Client URL, nats://127.0.0.1:PORT. */
  url: string;
  /** Monitoring base URL (`/healthz`, `/jsz`). */
  monitorUrl: string;
  pid: number;
  /** When that process started (pid-alive.ts), to tell it from a later one reusing the pid. */
  pidStart?: string | undefined;
  dataDir: string;
  logFile: string;
  /** Arguments of nats-server, to restart it the same way. */
  args: string[];
}

/** Most bytes in one message: a block is one message (8 MiB, NATS's recommended maximum). */
export const NATS_MAX_PAYLOAD = '8MB';
const START_TIMEOUT_MS = 20_000;

/** A port free on 127.0.0.1 at the time of asking (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ClusterOptions {
  dir: string;
  servers: number;
  /** Children outlive this process (`net up --detach`). */
  detached?: boolean;
  /** Ids of the servers (default nats1, nats2, ...). */
  ids?: string[];
}

interface ServerPorts {
  client: number;
  cluster: number;
  monitor: number;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * The ports an earlier cluster in `dir` had (read from its config files), when every one is free again:
 * a cluster started again in the same directory keeps its addresses. Undefined otherwise (all new ports:
 * the routes name every server's cluster port, so the set is kept whole or not at all).
 */
async function previousPorts(dir: string, ids: readonly string[]): Promise<ServerPorts[] | undefined> {
  const out: ServerPorts[] = [];
  for (const id of ids) {
    const conf = await readFile(join(dir, id, 'nats.conf'), 'utf8').catch(() => undefined);
    const client = conf && /^listen: 127\.0\.0\.1:(\d+)$/m.exec(conf)?.[1];
    const monitor = conf && /^http: 127\.0\.0\.1:(\d+)$/m.exec(conf)?.[1];
    const cluster = conf && /cluster \{[^}]*listen: 127\.0\.0\.1:(\d+)/.exec(conf)?.[1];
    if (!client || !monitor || (ids.length > 1 && !cluster)) return undefined;
    out.push({ client: Number(client), monitor: Number(monitor), cluster: Number(cluster ?? 0) });
  }
  for (const p of out) for (const port of [p.client, p.monitor, ...(ids.length > 1 ? [p.cluster] : [])]) if (!(await portIsFree(port))) return undefined;
  return out;
}

/**
 * Writes the configs and starts every server; resolves once each reports JetStream healthy. Started again
 * in the same directory, the servers keep their earlier ports when all of them are free.
 */
export async function startNatsCluster(o: ClusterOptions): Promise<NatsServerProcess[]> {
  const ids = o.ids ?? Array.from({ length: o.servers }, (_, i) => `nats${i + 1}`);
  const ports = (await previousPorts(o.dir, ids)) ?? (await Promise.all(ids.map(async () => ({ client: await freePort(), cluster: await freePort(), monitor: await freePort() }))));
  const started: NatsServerProcess[] = [];
  try {
    for (const [i, id] of ids.entries()) {
      const dataDir = join(o.dir, id);
      await mkdir(dataDir, { recursive: true });
      const p = ports[i]!;
      const routes = ports.filter((_, j) => j !== i).map((q) => `nats-route://127.0.0.1:${q.cluster}`);
      const conf = [
        `server_name: ${id}`,
        `listen: 127.0.0.1:${p.client}`,
        `http: 127.0.0.1:${p.monitor}`,
        `max_payload: ${NATS_MAX_PAYLOAD}`,
        `jetstream { store_dir: ${JSON.stringify(join(dataDir, 'jetstream'))} }`,
        ...(ids.length > 1 ? [`cluster { name: tpslab, listen: 127.0.0.1:${p.cluster}, routes: [${routes.join(', ')}] }`] : []),
        '',
      ].join('\n');
      const confFile = join(dataDir, 'nats.conf');
      await writeFile(confFile, conf);
      started.push(await launchNatsServer(id, dataDir, ['-c', confFile], `nats://127.0.0.1:${p.client}`, `http://127.0.0.1:${p.monitor}`, o.detached ?? false));
    }
    await Promise.all(started.map((s) => waitHealthy(s)));
    return started;
  } catch (err) {
    for (const s of started) process.kill(s.pid, 'SIGKILL');
    throw err;
  }
}

/** Starts one server (again) with the given arguments; returns without waiting for health. */
export async function launchNatsServer(id: string, dataDir: string, args: string[], url: string, monitorUrl: string, detached: boolean): Promise<NatsServerProcess> {
  const logFile = join(dataDir, `${id}.log`);
  const log = await open(logFile, 'a');
  const child = spawn('nats-server', args, { stdio: ['ignore', log.fd, log.fd], detached });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new TpslabError('TPSLAB_E_NATS', `cannot start nats-server (${e.message}); install it (apt-get install nats-server) for replicated ordering`)));
  });
  await log.close();
  await spawned;
  if (detached) child.unref();
  return { id, url, monitorUrl, pid: child.pid!, pidStart: processStartOf(child.pid!), dataDir, logFile, args };
}

/** Waits until the server's `/healthz` says JetStream is up (in a cluster: it has a meta leader). */
export async function waitHealthy(s: Pick<NatsServerProcess, 'id' | 'monitorUrl' | 'logFile'>, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${s.monitorUrl}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new TpslabError('TPSLAB_E_TIMEOUT', `${s.id} did not report JetStream healthy within ${timeoutMs} ms; see ${s.logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
