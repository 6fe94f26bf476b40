import { hostname } from 'node:os';
import type { Command } from 'commander';
import { TpslabError } from '../errors.js';
import { runBeaconOverIpc } from '../harness/beacon-process.js';
import { BEACON_NAME } from '../transport/nats-messages.js';
import { runNatsBeacon } from '../transport/nats-beacon.js';
import { parseIntOption } from './common.js';
import { addNatsOptions, natsOptions, type NatsFlags } from './nats-options.js';

interface BeaconCommandOptions extends Partial<NatsFlags> {
  ipc?: boolean;
  name?: string;
  wait: number;
  resultsDir: string;
  clockSkewMs?: number;
  dropReport: number[];
}

/** A default name: `beacon-<index>` in a Kubernetes Indexed Job, else host and pid. */
export function defaultBeaconName(env = process.env): string {
  if (env.JOB_COMPLETION_INDEX !== undefined) return `beacon-${env.JOB_COMPLETION_INDEX}`;
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
}

export function registerBeacon(program: Command): void {
  const cmd = program
    .command('beacon')
    .description('run a load-generating beacon: on another machine with --nats (joins a "tpslab overseer"), or started by "tpslab run" with --ipc')
    .option('--ipc', 'talk to the parent overseer over the child-process channel (set by tpslab run)')
    .option('--nats <url>', 'join a run over NATS: server URL(s), comma-separated')
    .option('--name <name>', 'this beacon\'s name, unique in the run: letters, digits, "-", "_" (default: beacon-$JOB_COMPLETION_INDEX in an Indexed Job, else host-pid)')
    .option('--wait <sec>', 'how long to wait for an overseer to answer, and after the plan for it to come back if it went silent', parseIntOption('--wait', 1, 86_400), 300)
    .option('--results-dir <dir>', 'where to write the results if the overseer is gone at the end (tpslab import loads them)', '.')
    .option('--clock-skew-ms <ms>', 'testing: run this beacon on a clock shifted by this many ms', parseIntOption('--clock-skew-ms', -86_400_000, 86_400_000))
    .option('--drop-report <seq>', 'testing: do not publish report number <seq> the first time (repeatable); the overseer must ask again', (v: string, acc: number[]) => [...acc, parseIntOption('--drop-report', 0, 1e9)(v)], [] as number[]);
  addNatsOptions(cmd).action(async (o: BeaconCommandOptions) => {
    if (o.ipc) {
      await runBeaconOverIpc();
      process.disconnect?.();
      return;
    }
    if (!o.nats) throw new TpslabError('TPSLAB_E_USAGE', 'a beacon needs a transport: --nats URL (join a "tpslab overseer" over NATS), or --ipc (started by "tpslab run")');
    const name = o.name ?? defaultBeaconName();
    if (!BEACON_NAME.test(name)) throw new TpslabError('TPSLAB_E_USAGE', `--name "${name}" must be 1-64 letters, digits, "-" or "_" (it becomes part of NATS subjects)`);
    const log = (line: string): void => void process.stderr.write(`[${name}] ${line}\n`);
    const r = await runNatsBeacon({
      ...natsOptions(o as NatsFlags),
      name,
      waitMs: o.wait * 1000,
      resultsDir: o.resultsDir,
      ...(o.clockSkewMs !== undefined ? { clockSkewMs: o.clockSkewMs } : {}),
      dropReports: o.dropReport,
      log,
    });
    log(`done (run ${r.runId})${r.resultsFile ? `; results in ${r.resultsFile}` : ''}`);
  });
}
