import type { Command } from 'commander';
import { startTracker } from '../ledger/tracker-server.js';
import { writeEndpoint } from '../ledger/node.js';
import { parseIntOption, untilSignal } from './common.js';
import { TpslabError } from '../errors.js';

export function registerTracker(program: Command): void {
  program
    .command('tracker')
    .description('run the tracker: membership, heartbeats, failure detection and shard allocation')
    .option('--port <n>', 'TCP port; 0 picks a free one', parseIntOption('--port', 0, 65535), 0)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--data <dir>', 'directory for endpoint.json (so a tracker on port 0 can be found)')
    .option('--heartbeat-ms <ms>', 'heartbeat interval handed to members; silent for twice this means removed', parseIntOption('--heartbeat-ms', 10, 600_000), 1000)
    .option('--overlap <fraction>', 'fraction of each shard also covered by the next member, 0 to 0.99', '0')
    .addHelpText('after', '\nExample:\n  tpslab tracker --port 7100 --heartbeat-ms 500')
    .action(async (o: { port: number; host: string; data?: string; heartbeatMs: number; overlap: string }) => {
      const overlap = Number(o.overlap);
      if (!Number.isFinite(overlap) || overlap < 0 || overlap >= 1) throw new TpslabError('TPSLAB_E_USAGE', `--overlap must be a number from 0 to 0.99, got "${o.overlap}"`);
      const t = await startTracker({ host: o.host, port: o.port, tracker: { heartbeatIntervalMs: o.heartbeatMs, overlap } });
      if (o.data) {
        const { mkdir } = await import('node:fs/promises');
        await mkdir(o.data, { recursive: true });
        await writeEndpoint(o.data, { url: t.url, port: t.port, pid: process.pid, network: '', role: 'tracker' });
      }
      console.log(`tpslab tracker listening on ${t.url} (heartbeat every ${o.heartbeatMs} ms, removal after ${2 * o.heartbeatMs} ms of silence)`);
      const sig = await untilSignal();
      console.log(`${sig}: stopping`);
      await t.close();
    });
}
