import type { Command } from 'commander';
import { TpslabError } from '../errors.js';
import { junitRunOf, writeJunit } from '../harness/junit.js';
import { buildReportData, defaultReportFile, reportCsv, writeReport } from '../harness/report.js';
import { ResultsStore } from '../harness/store.js';

export interface ReportCommandOptions {
  db: string;
  out?: string;
  json?: boolean;
  csv?: boolean;
  junit?: string;
  includeAborted?: boolean;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML report of a stored run (opens offline), or print it as JSON or per-second CSV')
    .argument('[run]', 'run id, or "latest" for the newest run', 'latest')
    .option('--db <file>', 'results database to read', 'results.db')
    .option('--out <file>', 'HTML file to write (default: report-<runId>.html in the current directory)')
    .option('--json', 'print the report data as JSON on stdout instead of writing HTML')
    .option('--csv', 'print one CSV row per second on stdout instead of writing HTML')
    .option('--junit <file>', 'also write the threshold verdicts as JUnit XML to this file (for CI test reports)')
    .option('--include-aborted', '"latest" may pick an aborted run (by default it skips them)')
    .addHelpText('after', '\nPrints the path of the written file. See docs/reports.md.\nExamples:\n  tpslab report\n  tpslab report 2026-11-21T21-12-44Z-bd80 --db runs.db --out run.html\n  tpslab report latest --csv > seconds.csv')
    .action(async (run: string, o: ReportCommandOptions) => {
      await reportCommand(run, o);
    });
}

export async function reportCommand(run: string, o: ReportCommandOptions): Promise<void> {
  if (o.json && o.csv) throw new TpslabError('TPSLAB_E_USAGE', '--json and --csv cannot be combined; choose one');
  if (o.out !== undefined && (o.json || o.csv)) throw new TpslabError('TPSLAB_E_USAGE', `--out writes HTML and cannot be combined with --${o.json ? 'json' : 'csv'} (which print to stdout); redirect stdout instead`);
  const store = ResultsStore.open(o.db, { mustExist: true });
  let data;
  try {
    data = buildReportData(store, run, { skipAborted: !o.includeAborted });
  } finally {
    store.close();
  }
  if (o.junit !== undefined) {
    const file = await writeJunit(junitRunOf(data), o.junit);
    if (!o.json && !o.csv) console.log(file);
  }
  if (o.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else if (o.csv) process.stdout.write(reportCsv(data));
  else console.log(await writeReport(data, o.out ?? defaultReportFile(data)));
}
