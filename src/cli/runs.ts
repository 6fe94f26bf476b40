import type { Command } from 'commander';
import { formatRuns, listRunRows } from '../harness/runs-list.js';
import { ResultsStore } from '../harness/store.js';
import { parseIntOption } from './common.js';

export interface RunsCommandOptions {
  db: string;
  json?: boolean;
  limit?: number;
}

export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('list the runs stored in a results database, newest first: id, name, status, committed TPS, p99 latency')
    .option('--db <file>', 'results database to read', 'results.db')
    .option('--json', 'print the list as JSON on stdout')
    .option('--limit <n>', 'show only the newest n runs', parseIntOption('--limit', 1, 1_000_000))
    .addHelpText('after', '\nSee docs/reports.md.\nExamples:\n  tpslab runs\n  tpslab runs --db ci.db --json --limit 5')
    .action((o: RunsCommandOptions) => {
      runsCommand(o);
    });
}

export function runsCommand(o: RunsCommandOptions): void {
  const store = ResultsStore.open(o.db, { mustExist: true });
  try {
    const rows = listRunRows(store, o.limit ?? -1);
    process.stdout.write(o.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatRuns(rows)}\n`);
  } finally {
    store.close();
  }
}
