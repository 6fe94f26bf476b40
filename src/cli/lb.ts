import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { TpslabError } from '../errors.js';
import { DEFAULT_HAPROXY, startBalancer } from '../ledger/lb/balancer.js';
import { readNetworkFile } from '../ledger/net.js';
import { writeEndpoint, type Endpoint } from '../ledger/node.js';
import { parseIntOption, untilSignal } from './common.js';

interface LbCliOptions {
  network: string;
  data?: string;
  host: string;
  port: number;
  statsPort: number;
  tlsPort: number;
  tlsCert?: string;
  tlsKey?: string;
  checkIntervalMs: number;
  fall: number;
  rise: number;
  pollMs: number;
  haproxy: string;
}

export function registerLb(program: Command): void {
  program
    .command('lb')
    .description("run HAProxy in front of the network's nodes: configuration from the tracker's membership, kept current by hitless reloads; health checks, draining, stats page, TLS, WebSocket pass-through")
    .requiredOption('--network <file>', 'network.json of the network (written by "tpslab net up"), or its directory: the tracker to follow')
    .option('--data <dir>', 'directory for haproxy.cfg, the runtime socket, tls.pem, haproxy.log and endpoint.json (default: <network dir>/lb)')
    .option('--host <addr>', 'address HAProxy listens on', '127.0.0.1')
    .option('--port <n>', 'HTTP port; 0 picks a free one', parseIntOption('--port', 0, 65535), 0)
    .option('--stats-port <n>', 'port of the stats page (/stats); 0 picks a free one', parseIntOption('--stats-port', 0, 65535), 0)
    .option('--tls-port <n>', 'HTTPS port (with --tls-cert and --tls-key); 0 picks a free one', parseIntOption('--tls-port', 0, 65535), 0)
    .option('--tls-cert <file>', 'PEM certificate (chain) for TLS termination')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--check-interval-ms <ms>', 'interval of health checks on /health', parseIntOption('--check-interval-ms', 50, 60_000), 500)
    .option('--fall <n>', 'failed checks before a node is taken out', parseIntOption('--fall', 1, 100), 2)
    .option('--rise <n>', 'passed checks before a node is put back', parseIntOption('--rise', 1, 100), 2)
    .option('--poll-ms <ms>', "how often the tracker's membership is read", parseIntOption('--poll-ms', 50, 600_000), 500)
    .option('--haproxy <path>', 'the haproxy binary', DEFAULT_HAPROXY)
    .addHelpText('after', '\nExamples:\n  tpslab lb --network .tpslab/net --port 8080 --stats-port 8404\n  tpslab lb --network .tpslab/net --tls-cert cert.pem --tls-key key.pem --tls-port 8443')
    .action(async (o: LbCliOptions) => {
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new TpslabError('TPSLAB_E_USAGE', 'TLS needs both --tls-cert and --tls-key');
      const net = await readNetworkFile(o.network);
      const data = resolve(o.data ?? join(net.dir, 'lb'));
      await mkdir(data, { recursive: true });
      const lb = await startBalancer({
        dataDir: data,
        trackerUrl: net.tracker.url,
        host: o.host,
        httpPort: o.port,
        statsPort: o.statsPort,
        ...(o.tlsCert && o.tlsKey ? { tls: { port: o.tlsPort, certPath: o.tlsCert, keyPath: o.tlsKey } } : {}),
        checkIntervalMs: o.checkIntervalMs,
        fall: o.fall,
        rise: o.rise,
        pollMs: o.pollMs,
        haproxyBin: o.haproxy,
      });
      const endpoint: Endpoint & { tlsUrl?: string; statsUrl: string } = { url: lb.url, port: Number(new URL(lb.url).port), pid: process.pid, network: net.network, role: 'lb', statsUrl: lb.statsUrl, ...(lb.tlsUrl ? { tlsUrl: lb.tlsUrl } : {}) };
      await writeEndpoint(data, endpoint);
      console.log(`tpslab lb: HAProxy on ${lb.url}${lb.tlsUrl ? ` and ${lb.tlsUrl}` : ''}, stats ${lb.statsUrl}, ${lb.servers.length} node(s): ${lb.servers.map((s) => s.id).join(', ')}`);
      const sig = await untilSignal();
      console.log(`${sig}: stopping HAProxy`);
      await lb.close();
    });
}
