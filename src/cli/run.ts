import type { Command } from 'commander';
import { defaultScenario, loadScenario, type Scenario } from '../harness/scenario.js';
import { runScenario } from '../harness/overseer.js';
import { formatSummary } from '../harness/summary.js';
import { EXIT } from './exit-codes.js';

export interface RunCommandOptions {
  results?: string;
  json?: boolean;
  quiet?: boolean;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a benchmark: stand up or reach the target, provision, drive it from beacons, report and judge; without a scenario, the default (3-node network, about a minute)')
    .argument('[scenario]', 'scenario YAML file (docs/scenario.md); default: the built-in scenario (scenarios/default.yaml)')
    .option('--results <file>', "results database to store the run in (overrides the scenario's results.db)")
    .option('--json', 'print the summary as JSON instead of the table')
    .option('--quiet', 'no progress lines, only the summary')
    .addHelpText('after', `\nExit codes: ${EXIT.ok} passed, ${EXIT.thresholdBreach} a threshold was breached, ${EXIT.error} error, ${EXIT.usage} usage.\nExamples:\n  tpslab run\n  tpslab run scenarios/examples/ramp.yaml --results runs.db`)
    .action(async (file: string | undefined, o: RunCommandOptions) => {
      process.exitCode = await runCommand(file, o);
    });
}

export async function runCommand(file: string | undefined, o: RunCommandOptions): Promise<number> {
  let s: Scenario = file ? await loadScenario(file) : defaultScenario();
  if (o.results) s = { ...s, results: { ...s.results, db: o.results } };
  const tty = process.stderr.isTTY;
  let lastPrinted = 0;
  const result = await runScenario(s, {
    log: (line) => {
      if (!o.quiet) process.stderr.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
    },
    progress: (line) => {
      if (o.quiet) return;
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else if (Date.now() - lastPrinted >= 5000) {
        lastPrinted = Date.now();
        process.stderr.write(`${line}\n`);
      }
    },
  });
  if (tty && !o.quiet) process.stderr.write('\r\x1b[K');
  console.log(o.json ? JSON.stringify(result, null, 2) : formatSummary(result));
  return result.status === 'passed' ? EXIT.ok : EXIT.thresholdBreach;
}
