import { resolve } from 'node:path';
import type { Command } from 'commander';
import { buildExperimentData, formatExperiment, writeExperimentReport } from '../experiments/experiment-report.js';
import { ExperimentStore } from '../experiments/experiment-store.js';
import { loadFindMax, runFindMax } from '../experiments/find-max.js';
import { parseIntOption } from './common.js';
import { EXIT } from './exit-codes.js';
import { interruptOnSignals } from './interrupt.js';
import { experimentProgress } from './experiment-progress.js';

export interface FindMaxCommandOptions {
  results?: string;
  maxProbes?: number;
  maxTime?: number;
  json?: boolean;
  quiet?: boolean;
  report: boolean;
  reportOut?: string;
}

export function registerFindMax(program: Command): void {
  program
    .command('find-max')
    .description('find the highest offered rate that still meets service levels (latency, committed share, lost): step up, bisect, confirm; every probe is a stored run')
    .argument('<file>', 'find-max YAML file: base scenario, rate field and bounds, service levels (docs/experiments.md)')
    .option('--results <file>', "results database for every probe (overrides the base scenario's results.db)")
    .option('--max-probes <n>', 'probes at most, the confirmation included (overrides maxProbes)', parseIntOption('--max-probes', 2, 100))
    .option('--max-time <sec>', 'total time budget in seconds (overrides maxTotalSec)', parseIntOption('--max-time', 1, 604_800))
    .option('--json', 'print the search report data as JSON instead of the table')
    .option('--quiet', 'no progress lines, only the result')
    .option('--no-report', 'do not write the HTML report at the end')
    .option('--report-out <file>', 'where to write the HTML report (default: <search id>.html beside the results database)')
    .addHelpText('after', `\nExit codes: ${EXIT.ok} an answer was found and confirmed, ${EXIT.thresholdBreach} no rate met the service levels or the answer did not hold, ${EXIT.error} error, ${EXIT.usage} usage, ${EXIT.sigint}/${EXIT.sigterm} interrupted by SIGINT/SIGTERM (the run under way is stored as aborted; what was done is printed and reported).\nExample:\n  tpslab find-max scenarios/experiments/find-max.yaml --results knee.db --max-probes 8`)
    .action(async (file: string, o: FindMaxCommandOptions) => {
      process.exitCode = await findMaxCommand(file, o);
    });
}

export async function findMaxCommand(file: string, o: FindMaxCommandOptions): Promise<number> {
  const plan = await loadFindMax(file, { ...(o.results ? { results: o.results } : {}), ...(o.maxProbes ? { maxProbes: o.maxProbes } : {}), ...(o.maxTime ? { maxTotalSec: o.maxTime } : {}) });
  const progress = experimentProgress(o.quiet ?? false);
  // Ctrl-C stops the run under way (stored as aborted); what was done is printed and reported.
  const interrupt = interruptOnSignals((line) => process.stderr.write(`\n${line}\n`));
  let result;
  try {
    result = await runFindMax(plan, { log: progress.log, outputs: [progress.output], signal: interrupt.signal });
  } finally {
    interrupt.dispose();
  }
  progress.clear();
  const store = ExperimentStore.open(result.dbPath, { mustExist: true });
  let data;
  try {
    data = buildExperimentData(store, result.searchId);
  } finally {
    store.close();
  }
  let reportPath: string | undefined;
  if (o.report) reportPath = await writeExperimentReport(data, o.reportOut ?? resolve(result.dbPath, '..', `${result.searchId}.html`));
  console.log(o.json ? JSON.stringify({ ...data, ...(reportPath ? { reportPath } : {}) }, null, 2) : `${formatExperiment(data)}${reportPath ? `\n  report: ${reportPath}` : ''}`);
  if (interrupt.signal.aborted) return interrupt.exitCode();
  return result.answer.ratePerSec !== null && result.answer.confirmed ? EXIT.ok : EXIT.thresholdBreach;
}
