import type { Command } from 'commander';
import { TpslabError } from '../errors.js';
import { runBeaconOverIpc } from '../harness/beacon-process.js';

export function registerBeacon(program: Command): void {
  program
    .command('beacon')
    .description('run a load-generating beacon; started by the overseer (tpslab run), not by hand')
    .option('--ipc', 'talk to the parent overseer over the child-process channel')
    .action(async (o: { ipc?: boolean }) => {
      if (!o.ipc) throw new TpslabError('TPSLAB_E_USAGE', 'a beacon needs a transport: --ipc (started by "tpslab run"); beacons across machines over NATS come later');
      await runBeaconOverIpc();
      process.disconnect?.();
    });
}
