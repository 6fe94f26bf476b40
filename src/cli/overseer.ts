import type { Command } from 'commander';
import { TpslabError } from '../errors.js';
import { NatsOverseer } from '../transport/nats-overseer.js';
import { parseIntOption } from './common.js';
import { EXIT } from './exit-codes.js';
import { addNatsOptions, natsOptions, type NatsFlags } from './nats-options.js';
import { runCommand, type RunCommandOptions } from './run.js';

export interface OverseerCommandOptions extends RunCommandOptions, NatsFlags {
  minBeacons?: number;
  wait: number;
  heartbeatMs: number;
}

export function registerOverseer(program: Command): void {
  const cmd = program
    .command('overseer')
    .description("run a benchmark with beacons on other machines: beacons join over NATS (tpslab beacon --nats URL); the rest is as tpslab run")
    .argument('[scenario]', 'scenario YAML file (docs/scenario.md); beacons.count is how many beacons to wait for')
    .requiredOption('--nats <url>', 'NATS server URL(s), comma-separated (nats://host:4222, tls://host:4222)')
    .option('--min-beacons <n>', 'after --wait, go on with at least this many beacons (default: beacons.count, all of them)', parseIntOption('--min-beacons', 1, 100_000))
    .option('--wait <sec>', 'how long to wait for beacons to join', parseIntOption('--wait', 1, 86_400), 120)
    .option('--heartbeat-ms <ms>', 'heartbeat interval both ways; a beacon silent for twice this is missing and its unsent work is reassigned', parseIntOption('--heartbeat-ms', 50, 60_000), 1000)
    .option('--results <file>', "results database to store the run in (overrides the scenario's results.db)")
    .option('--json', 'print the summary as JSON instead of the table')
    .option('--quiet', 'no progress lines, only the summary')
    .option('--no-ui', 'do not serve the live dashboard')
    .option('--ui-port <n>', 'port of the live dashboard (0 picks a free one)', parseIntOption('--ui-port', 0, 65535), 0)
    .option('--ui-host <address>', 'address the dashboard listens on (0.0.0.0 in a container)', '127.0.0.1')
    .option('--no-report', 'do not write the HTML report at the end')
    .option('--report-out <file>', 'where to write the HTML report (default: report-<run id>.html beside the results database)');
  addNatsOptions(cmd)
    .addHelpText('after', `\nExit codes: ${EXIT.ok} passed, ${EXIT.thresholdBreach} a threshold was breached, ${EXIT.error} error (also: beacons did not join), ${EXIT.usage} usage.\nExample:\n  tpslab overseer --nats nats://10.0.0.5:4222 scenarios/examples/ramp-knee.yaml\n  (on each load machine) tpslab beacon --nats nats://10.0.0.5:4222 --name beacon-1`)
    .action(async (file: string | undefined, o: OverseerCommandOptions) => {
      process.exitCode = await overseerCommand(file, o);
    });
}

export async function overseerCommand(file: string | undefined, o: OverseerCommandOptions): Promise<number> {
  const log = (line: string): void => {
    if (!o.quiet) process.stderr.write(`${line}\n`);
  };
  const session = await NatsOverseer.open({ ...natsOptions(o), heartbeatMs: o.heartbeatMs, log });
  try {
    const code = await runCommand(file, o, async (s) => {
      const min = o.minBeacons ?? s.beacons.count;
      if (min > s.beacons.count) throw new TpslabError('TPSLAB_E_USAGE', `--min-beacons ${min} is more than the scenario's beacons.count (${s.beacons.count})`);
      const joined = await session.waitForBeacons(s.beacons.count, min, o.wait * 1000);
      return { scenario: { ...s, beacons: { ...s.beacons, count: joined.length } }, options: { fleet: session.fleet(joined.map((j) => j.name)) } };
    });
    log(session.describe());
    return code;
  } finally {
    await session.close();
  }
}
