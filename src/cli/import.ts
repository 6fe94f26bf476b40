import type { Command } from 'commander';
import { importBeaconResults } from '../transport/import-results.js';

export function registerImport(program: Command): void {
  program
    .command('import')
    .description("store beacons' result files (written when the overseer was gone) as a run in results.db")
    .argument('<files...>', 'tpslab-beacon-<run>-<name>.jsonl files from "tpslab beacon --nats"')
    .option('--results <file>', 'results database to store the run in', 'results.db')
    .option('--name <name>', 'name of the imported run', 'imported beacon results')
    .option('--json', 'print the result as JSON')
    .action(async (files: string[], o: { results: string; name: string; json?: boolean }) => {
      const r = await importBeaconResults(files, o.results, o.name);
      if (o.json) console.log(JSON.stringify(r, null, 2));
      else {
        console.log(`imported ${r.reports} reports as run ${r.runId} in ${r.dbPath} (status aborted, not reconciled)`);
        console.log(`  sent ${r.summary.sent}   committed ${r.summary.committed}   failed ${r.summary.failed}   lost ${r.summary.lost}   pending ${r.summary.pending}`);
        if (r.unfinished.length) console.log(`  unfinished (no final report): ${r.unfinished.join(', ')}`);
      }
    });
}
