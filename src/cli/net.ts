import type { Command } from 'commander';
import { netDown, netStatus, netUp, readNetworkFile, restartRole, stopProcesses, type StatusRow } from '../ledger/net.js';
import { TpslabError } from '../errors.js';
import { parseIntOption, untilSignal } from './common.js';
import { parseServices, type ServiceName } from '../ledger/net-services.js';

const DEFAULT_DIR = '.tpslab/net';

export function registerNet(program: Command): void {
  const net = program.command('net').description('run a whole reference network on this machine: tracker, sequencer and nodes');
  net
    .command('up')
    .description('start a tracker, a sequencer and N nodes on free ports; writes <dir>/network.json; Ctrl-C stops everything')
    .option('--nodes <n>', 'number of nodes', parseIntOption('--nodes', 1, 64), 3)
    .option('--dir <dir>', 'network directory (genesis, faucet key, one data directory per role); an earlier network there is resumed', DEFAULT_DIR)
    .option('--heartbeat-ms <ms>', 'tracker heartbeat interval', parseIntOption('--heartbeat-ms', 10, 600_000), 1000)
    .option('--block-interval-ms <ms>', 'sequencer block interval', parseIntOption('--block-interval-ms', 1, 60_000), 25)
    .option('--sequencers <n>', 'sequencers; more than 1 orders on a replicated log: also starts a 3-server NATS JetStream cluster (nats-server on PATH), one sequencer leads, the others take over when it fails', parseIntOption('--sequencers', 1, 9), 1)
    .option('--detach', 'start in the background and return; stop with "tpslab net down"')
    .option('--with <services>', 'also start these services, comma-separated: lb, faucet, indexer (each in <dir>/<name>, with its defaults)', parseServices)
    .option('--genesis <file>', 'start on this genesis (e.g. a replay dataset\'s <dataset>.genesis.json) instead of a development one with a faucet')
    .option('--snapshot-every <blocks>', 'sequencer and nodes write a state snapshot every this many blocks (restarts replay only the log after it); 0 not by blocks; default: the node\'s (tpslab node --help)', parseIntOption('--snapshot-every', 0, 100_000_000))
    .option('--snapshot-every-txs <n>', 'sequencer and nodes also snapshot once this many transactions were applied since the last; 0 only by blocks; default: the node\'s', parseIntOption('--snapshot-every-txs', 0, 1_000_000_000))
    .addHelpText('after', '\nExamples:\n  tpslab net up --nodes 3\n  tpslab net up --detach && tpslab net status && tpslab net down\n  tpslab net up --with lb,faucet,indexer\n  tpslab net up --genesis btc.tpsds.genesis.json\n  tpslab net up --sequencers 3')
    .action(async (o: { nodes: number; dir: string; heartbeatMs: number; blockIntervalMs: number; sequencers: number; detach?: boolean; with?: ServiceName[]; genesis?: string; snapshotEvery?: number; snapshotEveryTxs?: number }) => {
      console.log(`starting a network of ${o.nodes} nodes${o.sequencers > 1 ? ` and ${o.sequencers} sequencers on a 3-server NATS JetStream cluster` : ''} in ${o.dir}`);
      const file = await netUp({ ...o, detached: o.detach ?? false, onProgress: (l) => console.log(`  ${l}`) });
      console.log(`network ${file.network} is up; described in ${file.dir}/network.json`);
      if (file.faucetKey) {
        console.log(`faucet key ${file.faucetKey}`);
        console.log(`try: tpslab tx send --node ${file.nodes[0]!.url} --key ${file.faucetKey} --to <address> --amount 1`);
      } else console.log(`started on ${o.genesis}: no faucet key (a replay needs none)`);
      if (o.detach) {
        console.log(`running in the background: "tpslab net status --dir ${o.dir}", "tpslab net down --dir ${o.dir}"`);
        return;
      }
      console.log('Ctrl-C to stop');
      const sig = await untilSignal();
      console.log(`${sig}: stopping the network`);
      // Roles restarted meanwhile ("net restart") have new pids: stop what network.json names now.
      const now = await readNetworkFile(file.dir).catch(() => file);
      await stopProcesses(now.services ?? []);
      await stopProcesses(now.nodes);
      await stopProcesses([...(now.sequencers ?? [now.sequencer]), now.tracker]);
      await stopProcesses(now.nats ?? []);
    });
  net
    .command('restart')
    .description('restart one role of a running (or partly stopped) network on the same port with the same data; it runs in the background')
    .argument('<role>', 'role id as "net status" shows it: tracker, sequencer, node1, node2, …')
    .option('--dir <dir>', 'network directory', DEFAULT_DIR)
    .addHelpText('after', '\nExamples:\n  tpslab net restart node2\n  tpslab net restart sequencer --dir .tpslab/net')
    .action(async (id: string, o: { dir: string }) => {
      const p = await restartRole(o.dir, id, { detached: true });
      console.log(`restarted ${p.id} on ${p.url} (pid ${p.pid}); log ${p.logFile}`);
    });
  net
    .command('down')
    .description('stop a network started with "net up --detach"')
    .option('--dir <dir>', 'network directory', DEFAULT_DIR)
    .action(async (o: { dir: string }) => {
      const stopped = await netDown(o.dir);
      console.log(stopped.length ? `stopped ${stopped.map((p) => p.id).join(', ')}` : 'nothing was running');
    });
  net
    .command('status')
    .description('print a table of every role: address, head, lag behind the sequencer, health, shard range')
    .option('--dir <dir>', 'network directory', DEFAULT_DIR)
    .option('--json', 'print JSON instead of a table')
    .action(async (o: { dir: string; json?: boolean }) => {
      const rows = await netStatus(o.dir);
      console.log(o.json ? JSON.stringify(rows, null, 2) : formatTable(rows));
      if (!rows.some((r) => r.alive)) {
        throw new TpslabError('TPSLAB_E_UNAVAILABLE', `nothing of the network in ${o.dir} is running; start it with "tpslab net up --dir ${o.dir}"`);
      }
    });
}

export function formatTable(rows: StatusRow[]): string {
  const header = ['ROLE', 'ID', 'ADDRESS', 'PID', 'HEAD', 'LAG', 'HEALTH', 'SHARDS'];
  const cells = rows.map((r) => [r.role, r.id, r.url, String(r.pid), r.height?.toString() ?? '-', r.lag?.toString() ?? '-', r.health, r.shards]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [header, ...cells].map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
