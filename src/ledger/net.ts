/**
 * A whole reference network on one machine: a tracker, a sequencer and N
 * nodes as child processes on free ports, described by `<dir>/network.json`
 * for other commands (net status, net down, the harness).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { copyFile, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TpslabError } from '../errors.js';
import { ensureDevGenesis } from './dev-genesis.js';
import { loadGenesis, type Genesis } from './genesis.js';
import type { Endpoint } from './node.js';
import { SERVICE_ORDER, type ServiceName } from './net-services.js';
import { launchNatsServer, startNatsCluster, waitHealthy } from './nats-cluster.js';
import { withFileLock } from './file-lock.js';
import { isAlive, isSameProcess, processStartOf } from './pid-alive.js';

export { isAlive };

export interface RoleProcess {
  id: string;
  role: 'tracker' | 'sequencer' | 'replica' | 'nats' | ServiceName;
  url: string;
  /** nats servers: the monitoring base URL (`/healthz`). */
  monitorUrl?: string;
  pid: number;
  /** When that pid's process started (/proc/<pid>/stat): a later process that reuses the pid is not signalled as this one. */
  pidStart?: string;
  dataDir: string;
  logFile: string;
  blockLog?: string;
  /** Arguments after `--data DIR --port N`, to restart it the same way. */
  args: string[];
}

export interface NetworkFile {
  version: 1;
  network: string;
  dir: string;
  genesis: string;
  faucetKey: string;
  startedAtMs: number;
  tracker: RoleProcess;
  /** The sequencer nodes were given first (with replicated ordering: seq1 of `sequencers`). */
  sequencer: RoleProcess;
  /** Replicated ordering (`net up --sequencers N`): every sequencer, and the NATS servers holding the log. */
  sequencers?: RoleProcess[];
  nats?: RoleProcess[];
  nodes: RoleProcess[];
  /** Services started with `net up --with` (faucet, indexer, lb). */
  services?: RoleProcess[];
}

export interface NetUpOptions {
  dir: string;
  nodes: number;
  heartbeatMs?: number;
  blockIntervalMs?: number;
  /** Services to start with the network (`--with lb,faucet,indexer`). */
  with?: readonly ServiceName[];
  /** Sequencers; more than one orders on a replicated log: a 3-server NATS JetStream cluster is started too. */
  sequencers?: number;
  /** Children outlive this process (for `net up --detach`). */
  detached?: boolean;
  /** Start on this genesis file (copied to `<dir>/genesis.json`; e.g. a replay dataset's) instead of a development one; there is then no faucet key (`faucetKey` is ""). */
  genesis?: string;
  /** Passed to the sequencer and every node (`tpslab node --snapshot-every`, `--snapshot-every-txs`); absent: the node's default. */
  snapshotEvery?: number;
  snapshotEveryTxs?: number;
  onProgress?: (line: string) => void;
}

const CLI = resolve(fileURLToPath(import.meta.url), '../../cli/main.js');
/** Ledger roles start through the entry that loads only them (src/cli/role-main.ts): a faster (re)start. */
const ROLE_CLI = resolve(fileURLToPath(import.meta.url), '../../cli/role-main.js');
const START_TIMEOUT_MS = 20_000;

export function networkFilePath(dir: string): string {
  return join(dir, 'network.json');
}

/** Reads `<dir>/network.json`; `dirOrFile` may also name the file itself (any name). */
export async function readNetworkFile(dirOrFile: string): Promise<NetworkFile> {
  const dir = dirOrFile;
  const path = dirOrFile.endsWith('.json') ? dirOrFile : networkFilePath(dirOrFile);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new TpslabError('TPSLAB_E_CONFIG', `no network described at ${path}; start one with "tpslab net up --dir ${dir.endsWith('.json') ? '<dir>' : dir}"`);
  }
  try {
    return JSON.parse(text) as NetworkFile;
  } catch (err) {
    throw new TpslabError('TPSLAB_E_CONFIG', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}


export function allProcesses(net: NetworkFile): RoleProcess[] {
  const sequencers = net.sequencers ?? [net.sequencer];
  return [...(net.services ?? []), ...net.nodes, ...sequencers, net.tracker, ...(net.nats ?? [])];
}

/** Starts one role and waits until it has written its endpoint (and is healthy). */
async function launch(id: string, role: RoleProcess['role'], dataDir: string, args: string[], detached: boolean, port = 0): Promise<RoleProcess> {
  await mkdir(dataDir, { recursive: true });
  await rm(join(dataDir, 'endpoint.json'), { force: true });
  const logFile = join(dataDir, `${id}.log`);
  const log = await open(logFile, 'a');
  const command = role === 'replica' ? 'node' : role;
  const entry = role === 'replica' || role === 'sequencer' || role === 'tracker' ? ROLE_CLI : CLI;
  const child = spawn(process.execPath, [entry, command, '--data', dataDir, '--port', String(port), ...args], { stdio: ['ignore', log.fd, log.fd], detached });
  await log.close();
  if (detached) child.unref();
  let exit: string | undefined;
  child.on('exit', (code, sig) => (exit = `exited with ${sig ?? code}`));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exit) throw new TpslabError('TPSLAB_E_UNAVAILABLE', `${id} ${exit} while starting; see ${logFile}`);
    try {
      const e = JSON.parse(await readFile(join(dataDir, 'endpoint.json'), 'utf8')) as Endpoint;
      if (e.pid === child.pid) {
        const health = await fetch(`${e.url}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
        if (health) return { id, role, url: e.url, pid: e.pid, pidStart: processStartOf(e.pid), dataDir, logFile, args, ...(role === 'sequencer' || role === 'replica' ? { blockLog: join(dataDir, 'blocks.log') } : {}) };
      }
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new TpslabError('TPSLAB_E_TIMEOUT', `${id} did not become healthy within ${START_TIMEOUT_MS} ms; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True if nothing listens on 127.0.0.1:port (checked by binding it for a moment). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const srv = createServer();
    srv.once('error', () => resolvePromise(false));
    srv.listen(port, host, () => srv.close(() => resolvePromise(true)));
  });
}

/**
 * Starts a role on the port it had in an earlier network in the same
 * directory when that port is free (so addresses stay the same across
 * `net down` / `net up`), else on a new one, saying so.
 */
async function launchKeepingPort(
  previous: Map<string, number>,
  say: (line: string) => void,
  ...[id, role, dataDir, args, detached]: Parameters<typeof launch>
): Promise<RoleProcess> {
  const port = previous.get(id);
  if (port !== undefined) {
    if (await portIsFree(port)) {
      try {
        return await launch(id, role, dataDir, args, detached, port);
      } catch (err) {
        say(`${id}: could not start on its previous port ${port} (${(err as Error).message}); using a new port`);
      }
    } else say(`${id}: its previous port ${port} is in use; using a new port`);
  }
  return launch(id, role, dataDir, args, detached, 0);
}

/** A network on a given genesis: copied into `dir` so the network's directory holds everything it needs. */
async function givenGenesis(file: string, dir: string): Promise<{ genesis: Genesis; genesisPath: string; faucetKeyPath: string }> {
  await mkdir(dir, { recursive: true });
  const genesisPath = join(dir, 'genesis.json');
  const given = await readFile(file).catch((err: Error) => {
    throw new TpslabError('TPSLAB_E_CONFIG', `cannot read genesis file ${file}: ${err.message}`, { cause: err });
  });
  const existing = await readFile(genesisPath).catch(() => undefined);
  if (existing && !existing.equals(given)) {
    throw new TpslabError('TPSLAB_E_USAGE', `${dir} holds a network on another genesis than ${file}; give another --dir (or delete ${dir} to start over)`);
  }
  await copyFile(file, genesisPath);
  return { genesis: await loadGenesis(genesisPath), genesisPath, faucetKeyPath: '' };
}

/**
 * Starts tracker, sequencer and nodes; writes network.json. Reuses the data
 * of an earlier network in `dir`, and each role's previous port when it is free.
 */
export async function netUp(opts: NetUpOptions): Promise<NetworkFile> {
  const dir = resolve(opts.dir);
  const say = opts.onProgress ?? (() => {});
  const previous = new Map<string, number>();
  try {
    const old = await readNetworkFile(dir);
    const live = allProcesses(old).filter((p) => isSameProcess(p));
    if (live.length > 0) {
      throw new TpslabError(
        'TPSLAB_E_USAGE',
        `a network is already running in ${dir} (${live.map((p) => `${p.id} pid ${p.pid}`).join(', ')}); stop it with "tpslab net down --dir ${dir}", or restart one role with "tpslab net restart ROLE --dir ${dir}"`,
      );
    }
    for (const p of allProcesses(old)) previous.set(p.id, Number(new URL(p.url).port));
  } catch (err) {
    if (err instanceof TpslabError && err.code === 'TPSLAB_E_USAGE') throw err;
  }
  const dev = opts.genesis ? await givenGenesis(opts.genesis, dir) : await ensureDevGenesis(dir);
  const detached = opts.detached ?? false;
  const started: RoleProcess[] = [];
  try {
    const tracker = await launchKeepingPort(previous, say, 'tracker', 'tracker', join(dir, 'tracker'), ['--heartbeat-ms', String(opts.heartbeatMs ?? 1000)], detached);
    started.push(tracker);
    say(`tracker    ${tracker.url}`);
    const ordering = ['--block-interval-ms', String(opts.blockIntervalMs ?? 25)];
    const snapshots = [
      ...(opts.snapshotEvery !== undefined ? ['--snapshot-every', String(opts.snapshotEvery)] : []),
      ...(opts.snapshotEveryTxs !== undefined ? ['--snapshot-every-txs', String(opts.snapshotEveryTxs)] : []),
    ];
    let sequencers: RoleProcess[];
    let nats: RoleProcess[] | undefined;
    if ((opts.sequencers ?? 1) > 1) {
      // Replicated ordering: the log lives on 3 NATS servers (R3); each sequencer follows it, one leads.
      nats = (await startNatsCluster({ dir: join(dir, 'nats'), servers: 3, detached })).map((n) => ({ ...n, role: 'nats' as const }));
      started.push(...nats);
      for (const n of nats) say(`${n.id.padEnd(10)} ${n.url}`);
      const natsUrls = nats.map((n) => n.url).join(',');
      const settledSeq = await Promise.allSettled(
        Array.from({ length: opts.sequencers! }, async (_, i) => {
          const id = `seq${i + 1}`;
          const s = await launchKeepingPort(previous, say, id, 'sequencer', join(dir, id), ['--genesis', dev.genesisPath, '--tracker', tracker.url, '--id', id, '--nats', natsUrls, '--sequencer-id', id, ...ordering, ...snapshots], detached);
          started.push(s);
          return s;
        }),
      );
      const bad = settledSeq.find((r) => r.status === 'rejected');
      if (bad) throw (bad as PromiseRejectedResult).reason;
      sequencers = settledSeq.map((r) => (r as PromiseFulfilledResult<RoleProcess>).value);
    } else {
      sequencers = [await launchKeepingPort(previous, say, 'sequencer', 'sequencer', join(dir, 'sequencer'), ['--genesis', dev.genesisPath, '--tracker', tracker.url, ...ordering, ...snapshots], detached)];
      started.push(sequencers[0]!);
    }
    const sequencer = sequencers[0]!;
    for (const s of sequencers) say(`${s.id.padEnd(10)} ${s.url}`);
    const sequencerUrls = sequencers.map((s) => s.url).join(',');
    // The nodes share this machine's cores: one verify thread each unless there are cores to spare. More
    // threads than cores gain nothing, and each thread parses every sender's key and compiles its code again.
    const verifyThreads = Math.max(1, Math.floor(availableParallelism() / opts.nodes));
    // Start nodes in parallel; wait for all of them, so none is left running if another fails.
    const settled = await Promise.allSettled(
      Array.from({ length: opts.nodes }, async (_, i) => {
        const id = `node${i + 1}`;
        const n = await launchKeepingPort(previous, say, id, 'replica', join(dir, id), ['--genesis', dev.genesisPath, '--sequencer', sequencerUrls, '--tracker', tracker.url, '--id', id, '--verify-threads', String(verifyThreads), ...snapshots], detached);
        started.push(n);
        return n;
      }),
    );
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const nodes = settled.map((r) => (r as PromiseFulfilledResult<RoleProcess>).value);
    for (const n of nodes) say(`${n.id.padEnd(10)} ${n.url}`);
    const file: NetworkFile = {
      version: 1,
      network: dev.genesis.network,
      dir,
      genesis: dev.genesisPath,
      faucetKey: dev.faucetKeyPath,
      startedAtMs: Date.now(),
      tracker,
      sequencer,
      ...(nats ? { sequencers, nats } : {}),
      nodes,
    };
    const path = networkFilePath(dir);
    await writeFile(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
    if (opts.with?.length) {
      // Services read network.json, so they start after it is written; then it lists them too.
      file.services = [];
      for (const name of SERVICE_ORDER.filter((n) => opts.with!.includes(n))) {
        const svc = await launch(name, name, join(dir, name), ['--network', path], detached);
        started.push(svc);
        file.services.push(svc);
        say(`${name.padEnd(10)} ${svc.url}`);
      }
      await writeFile(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
      await rename(`${path}.tmp`, path);
    }
    return file;
  } catch (err) {
    await stopProcesses(started);
    throw err;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when all are gone. */
export async function stopProcesses(procs: readonly Pick<RoleProcess, 'pid' | 'pidStart'>[], graceMs = 5000): Promise<void> {
  // Only the processes recorded: a pid reused by another process since is left alone.
  for (const p of procs) if (isSameProcess(p)) process.kill(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (procs.some((p) => isSameProcess(p))) {
    if (Date.now() > deadline) {
      for (const p of procs) if (isSameProcess(p)) process.kill(p.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Restarts one role (after it stopped or was killed) on the same port, so
 * its peers reconnect to the same address; updates network.json.
 */
export async function restartRole(dir: string, id: string, opts: { detached?: boolean } = {}): Promise<RoleProcess> {
  const net = await readNetworkFile(resolve(dir));
  const old = allProcesses(net).find((p) => p.id === id);
  if (!old) throw new TpslabError('TPSLAB_E_USAGE', `no role "${id}" in ${dir}; roles: ${allProcesses(net).map((p) => p.id).join(', ')}`);
  if (isSameProcess(old)) await stopProcesses([old]);
  const port = Number(new URL(old.url).port);
  let fresh: RoleProcess;
  if (old.role === 'nats') {
    fresh = { ...(await launchNatsServer(old.id, old.dataDir, old.args, old.url, old.monitorUrl!, opts.detached ?? false)), role: 'nats' };
    await waitHealthy({ id: fresh.id, monitorUrl: fresh.monitorUrl!, logFile: fresh.logFile });
  } else fresh = await launch(old.id, old.role, old.dataDir, old.args, opts.detached ?? false, port);
  // Read again, under the lock: another role restarted meanwhile (two nodes killed together) wrote its new
  // pid since, and writing back the copy read above would drop it, so `net down` missed that process.
  // Written under the lock, or the new process is stopped: left running unrecorded, `net down` would miss it.
  await withNetworkFile(dir, async () => {
    const net = await readNetworkFile(resolve(dir));
    const swap = (list: RoleProcess[] | undefined): RoleProcess[] | undefined => list?.map((p) => (p.id === id ? fresh : p));
    net.sequencers = swap(net.sequencers);
    net.nats = swap(net.nats);
    if (net.tracker.id === id) net.tracker = fresh;
    else if (net.sequencer.id === id) net.sequencer = fresh;
    else if (net.services?.some((n) => n.id === id)) net.services = net.services.map((n) => (n.id === id ? fresh : n));
    else net.nodes = net.nodes.map((n) => (n.id === id ? fresh : n));
    const path = networkFilePath(net.dir);
    await writeFile(`${path}.tmp`, `${JSON.stringify(net, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
  }).catch(async (err: unknown) => {
    await stopProcesses([fresh]);
    throw err;
  });
  return fresh;
}

const networkFileLocks = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` after every earlier update of the same network.json has finished: by this process (queued), and by
 * any other (`network.json.lock`, file-lock.ts), such as a `net restart` while a run's fault injector restarts a role.
 */
export async function withNetworkFile<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const key = resolve(dir);
  const next = (networkFileLocks.get(key) ?? Promise.resolve()).catch(() => {}).then(() => withFileLock(`${networkFilePath(key)}.lock`, fn));
  networkFileLocks.set(key, next);
  try {
    return await next;
  } finally {
    if (networkFileLocks.get(key) === next) networkFileLocks.delete(key);
  }
}

export async function netDown(dir: string): Promise<RoleProcess[]> {
  const net = await readNetworkFile(resolve(dir));
  // Nodes first, then the sequencer, then the tracker: nobody loses its upstream while serving.
  const live = allProcesses(net).filter((p) => isSameProcess(p));
  // Services first: they use the nodes.
  await stopProcesses(live.filter((p) => (net.services ?? []).includes(p)));
  await stopProcesses(live.filter((p) => p.role === 'replica'));
  await stopProcesses(live.filter((p) => p.role !== 'replica' && p.role !== 'nats' && !(net.services ?? []).includes(p)));
  await stopProcesses(live.filter((p) => p.role === 'nats')); // last: sequencers resign their lease on it
  return live;
}

export interface StatusRow {
  id: string;
  role: string;
  url: string;
  pid: number;
  alive: boolean;
  height: number | undefined;
  lag: number | undefined;
  health: string;
  shards: string;
}

interface Probe {
  status?: string;
  height?: number;
  reason?: string;
}

async function probe(url: string): Promise<Probe | undefined> {
  try {
    const res = await fetch(url.endsWith('/healthz') ? url : `${url}/health`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as Probe;
  } catch {
    return undefined;
  }
}

/** Shard ranges as percentages of the key space, e.g. "0.0–33.3%". */
export function describeRanges(ranges: readonly { start: string; end: string }[]): string {
  if (ranges.length === 0) return '-';
  const pct = (v: string): string => ((Number(BigInt(v) >> 32n) / 2 ** 32) * 100).toFixed(1);
  return ranges.map((r) => `${pct(r.start)}–${pct(r.end)}%`).join(', ');
}

export async function netStatus(dir: string): Promise<StatusRow[]> {
  const net = await readNetworkFile(resolve(dir));
  const procs = [net.tracker, ...(net.sequencers ?? [net.sequencer]), ...net.nodes, ...(net.services ?? []), ...(net.nats ?? [])];
  const probes = await Promise.all(procs.map((p) => probe(p.role === 'nats' ? `${p.monitorUrl}/healthz` : p.url)));
  let view: { members: { id: string; ranges: { start: string; end: string }[] }[] } | undefined;
  try {
    view = (await (await fetch(`${net.tracker.url}/v1/members`, { signal: AbortSignal.timeout(2000) })).json()) as typeof view;
  } catch {
    view = undefined;
  }
  const seqHeight = probes[1]?.height;
  return procs.map((p, i) => {
    const pr = probes[i];
    const member = view?.members.find((m) => m.id === p.id);
    const height = p.role === 'tracker' || p.role === 'lb' || p.role === 'faucet' || p.role === 'nats' ? undefined : pr?.height;
    return {
      id: p.id,
      role: p.role,
      url: p.url,
      pid: p.pid,
      alive: isSameProcess(p),
      height,
      lag: p.role === 'replica' && height !== undefined && seqHeight !== undefined ? Math.max(0, seqHeight - height) : undefined,
      // Draining is up (serving, leaving balancers' pools), never reported as downtime.
      health: pr ? (pr.status === 'ok' ? 'ok' : pr.status === 'draining' ? 'draining (up)' : `${pr.status ?? 'unavailable'}: ${pr.reason ?? ''}`) : isSameProcess(p) ? 'not answering' : 'stopped',
      shards: p.role === 'replica' ? (member ? describeRanges(member.ranges) : 'not a member') : '-',
    };
  });
}
