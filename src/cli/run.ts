import { resolve } from 'node:path';
import type { Command } from 'commander';
import { asTpslabError } from '../errors.js';
import { runScenario, type RunHooks, type RunOptions } from '../harness/overseer.js';
import { buildReportData, writeReport } from '../harness/report.js';
import { defaultScenario, loadScenario, type Scenario } from '../harness/scenario.js';
import { ResultsStore } from '../harness/store.js';
import { formatSummary } from '../harness/summary.js';
import { ExplorerBackend } from '../web/explorer-api.js';
import { LiveRun } from '../web/live.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { parseIntOption } from './common.js';
import { EXIT } from './exit-codes.js';

export interface RunCommandOptions {
  results?: string;
  json?: boolean;
  quiet?: boolean;
  ui: boolean;
  uiPort: number;
  report: boolean;
  reportOut?: string;
  /** Address the dashboard listens on (default 127.0.0.1). */
  uiHost?: string;
}

/** Before the run: may change the scenario and give run options (tpslab overseer waits for its beacons here). */
export type PrepareRun = (s: Scenario) => Promise<{ scenario: Scenario; options: RunOptions }>;

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a benchmark: stand up or reach the target, provision, drive it from beacons, report and judge; without a scenario, the default (3-node network, about a minute)')
    .argument('[scenario]', 'scenario YAML file (docs/scenario.md); default: the built-in scenario (scenarios/default.yaml)')
    .option('--results <file>', "results database to store the run in (overrides the scenario's results.db)")
    .option('--json', 'print the summary as JSON instead of the table')
    .option('--quiet', 'no progress lines, only the summary')
    .option('--no-ui', 'do not serve the live dashboard')
    .option('--ui-port <n>', 'port of the live dashboard (0 picks a free one)', parseIntOption('--ui-port', 0, 65535), 0)
    .option('--no-report', 'do not write the HTML report at the end')
    .option('--report-out <file>', 'where to write the HTML report (default: report-<run id>.html beside the results database)')
    .addHelpText('after', `\nExit codes: ${EXIT.ok} passed, ${EXIT.thresholdBreach} a threshold was breached, ${EXIT.error} error, ${EXIT.usage} usage.\nExamples:\n  tpslab run\n  tpslab run scenarios/examples/ramp-knee.yaml --results runs.db`)
    .action(async (file: string | undefined, o: RunCommandOptions) => {
      process.exitCode = await runCommand(file, o);
    });
}

export async function runCommand(file: string | undefined, o: RunCommandOptions, prepare?: PrepareRun): Promise<number> {
  let s: Scenario = file ? await loadScenario(file) : defaultScenario();
  if (o.results) s = { ...s, results: { ...s.results, db: o.results } };
  const prepared = prepare ? await prepare(s) : { scenario: s, options: {} };
  s = prepared.scenario;
  const tty = process.stderr.isTTY;
  const log = (line: string): void => {
    if (!o.quiet) process.stderr.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
  };
  let lastPrinted = 0;
  const live = o.ui ? new LiveRun({ runId: '', name: s.name, scenario: s }) : undefined;
  let web: WebServer | undefined;
  if (live) {
    web = await startWebServer({ live, port: o.uiPort, ...(o.uiHost ? { host: o.uiHost } : {}) });
    process.stderr.write(`dashboard: ${web.url}\n`); // printed even with --quiet: the server is up either way
  }
  const hooks: RunHooks = {
    log,
    progress: (line) => {
      if (o.quiet) return;
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else if (Date.now() - lastPrinted >= 5000) {
        lastPrinted = Date.now();
        process.stderr.write(`${line}\n`);
      }
    },
    created: (runId) => live?.setRunId(runId),
    target: (t) => {
      live?.watchNodes(t.roles);
      if (t.kind !== 'tpslab') return; // the explorer reads the reference network's API
      const tracker = t.roles.find((r) => r.role === 'tracker')?.url;
      web?.setExplorer(new ExplorerBackend({ network: t.network, endpoints: t.endpoints, ...(tracker ? { tracker } : {}) }));
    },
    started: (x) => live?.setStatus('running', { startMs: x.startMs }),
    finishing: () => {
      live?.stopWatchingNodes();
      live?.setStatus('finishing');
    },
    second: (row) => live?.addSecond(row),
    beacons: (b) => live?.setBeacons(b),
  };
  try {
    const result = await runScenario(s, hooks, prepared.options);
    if (tty && !o.quiet) process.stderr.write('\r\x1b[K');
    let reportPath: string | undefined;
    if (o.report) {
      // The run is stored whatever happens here: a report that cannot be written is a warning, not a failed run.
      const store = ResultsStore.open(result.dbPath, { mustExist: true });
      try {
        const out = o.reportOut ?? resolve(result.dbPath, '..', `report-${result.runId}.html`);
        reportPath = await writeReport(buildReportData(store, result.runId), out);
      } catch (err) {
        const e = asTpslabError(err);
        log(`warning: the report was not written (${e.code}: ${e.message}); write it later with "tpslab report ${result.runId} --db ${result.dbPath}"`);
      } finally {
        store.close();
      }
    }
    live?.finish(result.summary, result.thresholds, reportPath);
    live?.setStatus('finished');
    console.log(o.json ? JSON.stringify({ ...result, ...(reportPath ? { reportPath } : {}) }, null, 2) : formatSummary(result));
    if (reportPath && !o.json) console.log(`  report: ${reportPath}`);
    return result.status === 'passed' ? EXIT.ok : EXIT.thresholdBreach;
  } catch (err) {
    live?.setStatus('failed', { error: asTpslabError(err).message });
    throw err;
  } finally {
    await web?.close();
  }
}
