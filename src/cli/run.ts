import { resolve } from 'node:path';
import type { Command } from 'commander';
import { preciseClock } from '../clock.js';
import { asTpslabError } from '../errors.js';
import { faultRunOptions } from '../faults/injector.js';
import { observabilityOutputs, parseFraction } from './observability.js';
import { runScenario, type RunHooks, type RunOptions } from '../harness/overseer.js';
import { buildReportData, writeReport } from '../harness/report.js';
import { defaultScenario, loadScenario, type Scenario } from '../harness/scenario.js';
import { ResultsStore } from '../harness/store.js';
import { writeJunit } from '../harness/junit.js';
import { formatSummary } from '../harness/summary.js';
import { ExplorerBackend } from '../web/explorer-api.js';
import { LiveRun } from '../web/live.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { parseIntOption } from './common.js';
import { EXIT } from './exit-codes.js';
import { progressWriter } from './progress.js';

export interface RunCommandOptions {
  results?: string;
  json?: boolean;
  quiet?: boolean;
  ui: boolean;
  uiPort: number;
  report: boolean;
  reportOut?: string;
  junit?: string;
  metricsPort?: number;
  jsonl?: string;
  sampleNodes?: number;
  sampleIntervalMs?: number;
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
    .option('--junit <file>', 'also write the threshold verdicts as JUnit XML to this file (for CI test reports)')
    .option('--metrics-port <n>', 'serve Prometheus metrics of the run at http://127.0.0.1:<n>/metrics (0 picks a free port)', parseIntOption('--metrics-port', 0, 65535))
    .option('--jsonl <file>', 'append one JSON line per completed second to this file')
    .option('--sample-nodes <fraction>', "estimate global TPS from this fraction of the nodes' /stats each interval, and print its error against every node", parseFraction('--sample-nodes'))
    .option('--sample-interval-ms <ms>', 'how often --sample-nodes reads the nodes', parseIntOption('--sample-interval-ms', 100, 3_600_000), 2000)
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
  const obs = await observabilityOutputs(o, s.seed, log, resolve(s.results.db));
  const live = o.ui ? new LiveRun({ runId: '', name: s.name, scenario: s }) : undefined;
  let web: WebServer | undefined;
  if (live) {
    try {
      web = await startWebServer({ live, port: o.uiPort, portOption: '--ui-port', ...(o.uiHost ? { host: o.uiHost } : {}) });
    } catch (err) {
      await obs.close(); // a metrics server left listening would keep the process alive
      throw err;
    }
    process.stderr.write(`dashboard: ${web.url}\n`); // printed even with --quiet: the server is up either way
  }
  let runId: string | undefined;
  const hooks: RunHooks = {
    log,
    progress: progressWriter(process.stderr, { quiet: o.quiet ?? false }),
    created: (id) => {
      runId = id;
      live?.setRunId(id);
    },
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
  // SIGINT/SIGTERM: stop the beacons, tear the network down, store the run as aborted, write
  // a partial report, exit 130/143. A second signal exits at once.
  const interrupt = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) {
      process.stderr.write(`\n${sig} again: exiting now; the network and temporary files may be left behind\n`);
      process.exit(sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint);
    }
    process.stderr.write(`${tty ? '\r\x1b[K' : ''}${sig}: stopping the beacons and tearing down the network (again to exit at once)\n`);
    interrupt.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const interruptedCode = (): number => (interrupt.signal.reason === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint);
  let dbPath = resolve(s.results.db);
  /** The run is stored whatever happens here: a report that cannot be written is a warning, not a failed run. */
  const report = async (id: string, db: string): Promise<string | undefined> => {
    if (!o.report) return undefined;
    let store: ResultsStore | undefined;
    try {
      store = ResultsStore.open(db, { mustExist: true });
      const out = o.reportOut ?? resolve(db, '..', `report-${id}.html`);
      return await writeReport(buildReportData(store, id), out);
    } catch (err) {
      const e = asTpslabError(err);
      log(`warning: the report was not written (${e.code}: ${e.message}); write it later with "tpslab report ${id} --db ${db}"`);
      return undefined;
    } finally {
      store?.close();
    }
  };
  try {
    const faults = faultRunOptions(s, resolve(s.results.db), preciseClock);
    if (live) faults.injector?.watch((f) => live.setFaults(f));
    const result = await runScenario(s, hooks, { ...prepared.options, ...faults, outputs: [...(prepared.options.outputs ?? []), ...(faults.outputs ?? []), ...obs.outputs], signal: interrupt.signal });
    dbPath = result.dbPath;
    if (tty && !o.quiet) process.stderr.write('\r\x1b[K');
    await obs.settled(); // the sampled estimate is stored before the report reads it
    const reportPath = await report(result.runId, result.dbPath);
    if (o.junit !== undefined) {
      const file = await writeJunit({ id: result.runId, name: s.name, status: result.status, thresholds: result.thresholds, durationSec: result.summary.durationSec }, o.junit);
      if (!o.quiet) log(`junit: ${file}`);
    }
    live?.finish(result.summary, result.thresholds, reportPath);
    live?.setStatus('finished');
    console.log(o.json ? JSON.stringify({ ...result, ...(reportPath ? { reportPath } : {}) }, null, 2) : formatSummary(result));
    if (reportPath && !o.json) console.log(`  report: ${reportPath}`);
    if (result.status === 'aborted') return interruptedCode();
    return result.status === 'passed' ? EXIT.ok : EXIT.thresholdBreach;
  } catch (err) {
    const e = asTpslabError(err);
    live?.setStatus('failed', { error: e.message });
    // CI shows the failed (or interrupted) run as an erroring test case rather than no report at all.
    if (o.junit !== undefined && runId !== undefined) {
      await writeJunit({ id: runId, name: s.name, status: interrupt.signal.aborted ? 'aborted' : 'failed', error: `${e.code}: ${e.message}`, thresholds: [] }, o.junit).catch(() => undefined);
    }
    if (!interrupt.signal.aborted || runId === undefined) throw err;
    // Interrupted before the load started: nothing measured, but the run and a report say so.
    const reportPath = await report(runId, dbPath);
    if (o.json) console.log(JSON.stringify({ runId, dbPath, status: 'aborted', error: { code: e.code, message: e.message }, ...(reportPath ? { reportPath } : {}) }, null, 2));
    else console.log(`run ${runId}: ABORTED (${e.message})\n  stored in ${dbPath} as run ${runId}${reportPath ? `\n  report: ${reportPath}` : ''}`);
    return interruptedCode();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await obs.close();
    await web?.close();
  }
}
