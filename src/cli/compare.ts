import type { Command } from 'commander';
import { TpslabError } from '../errors.js';
import { buildCompareData, defaultReportFile, formatCompare, writeReport } from '../harness/report.js';
import { ResultsStore } from '../harness/store.js';

export interface CompareCommandOptions {
  db: string;
  out?: string;
  json?: boolean;
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('compare two stored runs: print the differences and write a self-contained HTML comparison')
    .argument('<runA>', 'first run id (the baseline), or "latest"')
    .argument('<runB>', 'second run id, or "latest"')
    .option('--db <file>', 'results database to read', 'results.db')
    .option('--out <file>', 'HTML file to write (default: compare-<a>-vs-<b>.html in the current directory)')
    .option('--json', 'print the comparison data as JSON on stdout instead of the table and HTML')
    .addHelpText('after', '\nΔ is B − A. Prints the table, then the path of the written file. See docs/reports.md.\nExample:\n  tpslab compare 2026-11-21T21-12-44Z-bd80 latest')
    .action(async (a: string, b: string, o: CompareCommandOptions) => {
      await compareCommand(a, b, o);
    });
}

export async function compareCommand(a: string, b: string, o: CompareCommandOptions): Promise<void> {
  if (o.out !== undefined && o.json) throw new TpslabError('TPSLAB_E_USAGE', '--out writes HTML and cannot be combined with --json (which prints to stdout); redirect stdout instead');
  const store = ResultsStore.open(o.db, { mustExist: true });
  let data;
  try {
    data = buildCompareData(store, a, b);
  } finally {
    store.close();
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return;
  }
  console.log(`${formatCompare(data)}\n`);
  console.log(await writeReport(data, o.out ?? defaultReportFile(data)));
}
