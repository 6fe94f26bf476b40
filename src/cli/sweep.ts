import { resolve } from 'node:path';
import type { Command } from 'commander';
import { buildExperimentData, formatExperiment, writeExperimentReport } from '../experiments/experiment-report.js';
import { ExperimentStore } from '../experiments/experiment-store.js';
import { loadSweep } from '../experiments/sweep-plan.js';
import { runSweep } from '../experiments/sweep.js';
import { EXIT } from './exit-codes.js';
import { interruptOnSignals } from './interrupt.js';
import { experimentProgress } from './experiment-progress.js';

export interface SweepCommandOptions {
  results?: string;
  json?: boolean;
  quiet?: boolean;
  dryRun?: boolean;
  report: boolean;
  reportOut?: string;
}

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('run a scenario over a grid of field values (e.g. beacons.count: [2, 4, 8, 16]); every cell is a stored run, one report compares them')
    .argument('<file>', 'sweep YAML file: base scenario and grid (docs/experiments.md)')
    .option('--results <file>', "results database for every cell (overrides the base scenario's results.db)")
    .option('--json', 'print the sweep report data as JSON instead of the table')
    .option('--quiet', 'no progress lines, only the result')
    .option('--dry-run', 'validate every cell and list them; run nothing')
    .option('--no-report', 'do not write the HTML report at the end')
    .option('--report-out <file>', 'where to write the HTML report (default: <sweep id>.html beside the results database)')
    .addHelpText('after', `\nEvery cell is validated before anything runs. Exit codes: ${EXIT.ok} every cell passed its thresholds, ${EXIT.thresholdBreach} a cell breached or failed, ${EXIT.error} error, ${EXIT.usage} usage, ${EXIT.sigint}/${EXIT.sigterm} interrupted by SIGINT/SIGTERM (the run under way is stored as aborted; what was done is printed and reported).\nExample:\n  tpslab sweep scenarios/experiments/sweep-clients.yaml --results sweep.db`)
    .action(async (file: string, o: SweepCommandOptions) => {
      process.exitCode = await sweepCommand(file, o);
    });
}

export async function sweepCommand(file: string, o: SweepCommandOptions): Promise<number> {
  const plan = await loadSweep(file, o.results ? { results: o.results } : {});
  if (o.dryRun) {
    const cells = plan.cells.map((c) => ({ cell: c.index + 1, params: c.params, label: c.label }));
    console.log(o.json ? JSON.stringify({ name: plan.name, axes: plan.axes, cells }, null, 2) : [`sweep ${plan.name}: ${cells.length} valid cells`, ...cells.map((c) => `  ${c.cell}. ${c.label}`)].join('\n'));
    return EXIT.ok;
  }
  const progress = experimentProgress(o.quiet ?? false);
  // Ctrl-C stops the run under way (stored as aborted); what was done is printed and reported.
  const interrupt = interruptOnSignals((line) => process.stderr.write(`\n${line}\n`));
  let result;
  try {
    result = await runSweep(plan, { log: progress.log, outputs: [progress.output], signal: interrupt.signal });
  } finally {
    interrupt.dispose();
  }
  progress.clear();
  const store = ExperimentStore.open(result.dbPath, { mustExist: true });
  let data;
  try {
    data = buildExperimentData(store, result.sweepId);
  } finally {
    store.close();
  }
  let reportPath: string | undefined;
  if (o.report) reportPath = await writeExperimentReport(data, o.reportOut ?? resolve(result.dbPath, '..', `${result.sweepId}.html`));
  console.log(o.json ? JSON.stringify({ ...data, ...(reportPath ? { reportPath } : {}) }, null, 2) : `${formatExperiment(data)}${reportPath ? `\n  report: ${reportPath}` : ''}`);
  if (interrupt.signal.aborted) return interrupt.exitCode();
  return result.cells.every((c) => c.status === 'passed') ? EXIT.ok : EXIT.thresholdBreach;
}
