import type { Command } from 'commander';
import { TpslabError } from '../errors.js';
import { evaluateGates, parseGate, scenarioDifferences, type GateResult } from '../harness/gate.js';
import { buildCompareData, defaultReportFile, formatCompare, writeReport } from '../harness/report.js';
import { ResultsStore } from '../harness/store.js';
import { EXIT } from './exit-codes.js';

export interface CompareCommandOptions {
  db: string;
  dbB?: string;
  out?: string;
  json?: boolean;
  failIf?: string[];
  includeAborted?: boolean;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('compare two stored runs: print the differences and write a self-contained HTML comparison; with --fail-if, a regression gate for CI')
    .argument('<runA>', 'first run id (the baseline), or "latest"')
    .argument('<runB>', 'second run id, or "latest"')
    .option('--db <file>', 'results database to read (run A, and run B unless --db-b)', 'results.db')
    .option('--db-b <file>', 'results database to read run B from (e.g. the baseline kept from main, the candidate from this build)')
    .option('--out <file>', 'HTML file to write (default: compare-<a>-vs-<b>.html in the current directory)')
    .option('--json', 'print the comparison data (with gate results) as JSON on stdout instead of the table and HTML')
    .option('--fail-if <expr>', 'exit 3 when the change from A to B meets this condition, e.g. "latency.p99 > +10%", "tps.avg < -5%", "lost > 0"; repeatable', collect)
    .option('--include-aborted', '"latest" may pick an aborted run (by default it skips them)')
    .addHelpText('after', `\nΔ is B − A. Prints the table, then the path of the written file. See docs/reports.md.\nExit codes: ${EXIT.ok} no gate failed, ${EXIT.thresholdBreach} a --fail-if gate failed, ${EXIT.error} error, ${EXIT.usage} usage.\nExamples:\n  tpslab compare 2026-11-21T21-12-44Z-bd80 latest\n  tpslab compare latest latest --db baseline.db --db-b results.db --fail-if "latency.p99 > +10%" --fail-if "tps.avg < -5%"`)
    .action(async (a: string, b: string, o: CompareCommandOptions) => {
      process.exitCode = await compareCommand(a, b, o);
    });
}

export async function compareCommand(a: string, b: string, o: CompareCommandOptions): Promise<number> {
  if (o.out !== undefined && o.json) throw new TpslabError('TPSLAB_E_USAGE', '--out writes HTML and cannot be combined with --json (which prints to stdout); redirect stdout instead');
  const gates = (o.failIf ?? []).map(parseGate);
  const store = ResultsStore.open(o.db, { mustExist: true });
  let storeB: ResultsStore | undefined;
  let data;
  try {
    storeB = o.dbB === undefined ? undefined : ResultsStore.open(o.dbB, { mustExist: true });
    data = buildCompareData(store, a, b, { ...(storeB ? { storeB } : {}), skipAborted: !o.includeAborted });
  } finally {
    store.close();
    storeB?.close();
  }
  const differences = scenarioDifferences(data.a.run.scenario, data.b.run.scenario);
  if (differences.length) {
    process.stderr.write(`warning: the runs' scenarios differ in ${differences.join(', ')}; the comparison may not be like for like\n`);
  }
  const results = gates.length ? evaluateGates(gates, data.a.summary, data.b.summary) : [];
  const code = results.some((r) => r.failed) ? EXIT.thresholdBreach : EXIT.ok;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ ...data, scenarioDifferences: differences, gates: results }, null, 2)}\n`);
    return code;
  }
  console.log(`${formatCompare(data)}\n`);
  if (results.length) console.log(`${formatGates(results)}\n`);
  console.log(await writeReport(data, o.out ?? defaultReportFile(data)));
  return code;
}

export function formatGates(results: readonly GateResult[]): string {
  return ['  gates (fail when the condition holds for the change from A to B):',
    ...results.map((r) => `    ${r.failed ? 'FAIL' : 'pass'}  ${r.gate}  (change ${r.changeText})`)].join('\n');
}
