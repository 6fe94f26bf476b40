// Faults drawn on the charts in Debian's Chromium: on the live dashboard as they begin and end
// (they were only drawn in the HTML report), and on the report, with the sampled TPS estimate.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { reportHtml } from '../../src/harness/report.js';
import { webAssets } from '../../src/web/assets.js';
import type { FaultInfo, ReportData } from '../../src/web/contract.js';
import { LiveRun } from '../../src/web/live.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { tempDir } from '../testkit/index.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;
const ARTIFACTS = new URL('../../../test-artifacts/', import.meta.url).pathname;

let browser: Browser;
let dir: { path: string; remove(): Promise<void> };

const fault = (index: number, label: string, startSec: number | null, endSec: number | null): FaultInfo => ({ index, kind: 'pause', label, plannedAtSec: startSec ?? 0, startSec, endSec, beforeTps: null, recoverySec: null });

/** Every time chart's number of marks, by chart name (once every chart is drawn). */
async function marksByChart(page: Page): Promise<Record<string, string | null>> {
  // Browser-side expressions are strings: this file compiles without the DOM library.
  return page.evaluate(`Object.fromEntries([...document.querySelectorAll('figure[data-chart]')].filter((f) => f.getAttribute('data-empty') !== 'true').map((f) => [f.getAttribute('data-chart'), f.getAttribute('data-marks')]))`);
}

async function waitMarks(page: Page, charts: string[], n: number): Promise<void> {
  const names = JSON.stringify(charts);
  await page.waitForFunction(`${names}.every((c) => document.querySelector('figure[data-chart="' + c + '"]')?.getAttribute('data-marks') === '${n}')`, undefined, { timeout: 15_000 });
}

describe('fault marks in a browser', { skip }, () => {
  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    dir = await tempDir('tpslab-fault-marks-');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
    await dir?.remove();
  });

  it('regression: the live dashboard drew no faults; each is shaded on every chart as it begins, listed, and kept when it ends', async () => {
    const live = new LiveRun({ runId: 'run-live', name: 'faulted', scenario: { name: 'faulted' } });
    const web: WebServer = await startWebServer({ live, port: 0 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      live.setStatus('running', { startMs: Date.now() - 6000 });
      for (let s = 0; s < 6; s++) live.addSecond({ second: s, targetRate: 50, sent: 50, committed: s === 3 ? 0 : 50, failed: 0, expired: 0, late: 0, inFlight: 5, errors: s === 3 ? { TPSLAB_E_UNAVAILABLE: 2 } : {} });
      await page.goto(web.url);
      const charts = ['send-rate', 'committed-tps', 'cumulative-committed', 'latency-over-time', 'in-flight', 'errors'];
      await page.waitForFunction(`document.querySelector('figure[data-chart="committed-tps"]')?.getAttribute('data-marks') === '0'`, undefined, { timeout: 15_000 });
      assert.equal(await page.locator('#live-faults table').count(), 0, 'no faults panel before any fault');

      // A pause begins at 2.5 s: every chart shades it, to now while it is on.
      live.setFaults([fault(0, 'pause node2', 2.5, null), fault(1, 'kill node1 (restart after 2 s)', null, null)]);
      await waitMarks(page, charts.filter((c) => c !== 'latency-over-time'), 1);
      assert.match(await page.locator('#live-faults').innerText(), /pause node2/);
      assert.match((await page.locator('figure[data-chart="committed-tps"]').getAttribute('aria-description')) ?? '', /1\. pause node2/);

      // It ends, the kill begins: two marks; a new second still redraws with them.
      live.setFaults([fault(0, 'pause node2', 2.5, 4), fault(1, 'kill node1 (restart after 2 s)', 4.5, null)]);
      live.addSecond({ second: 6, targetRate: 50, sent: 50, committed: 50, failed: 0, expired: 0, late: 0, inFlight: 5, errors: {} });
      await waitMarks(page, charts.filter((c) => c !== 'latency-over-time'), 2);
      const rows = await page.locator('#live-faults tbody tr').allInnerTexts();
      assert.equal(rows.length, 2);
      assert.match(rows[0]!, /pause node2\s+2\.5 s\s+2\.5 s\s+4\.0 s.*judged at the end/); // planned, began, ended; recovery once the run is over
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-faults.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
      await web.close();
    }
  });

  it('the report shades its faults on every chart over time and shows the sampled TPS estimate against the full count', async () => {
    const base = JSON.parse(readFileSync(new URL('../../../test/web/fixtures/report.json', import.meta.url), 'utf8')) as ReportData;
    const data: ReportData = {
      ...base,
      faults: [fault(0, 'pause node2', 10, 12), { ...fault(1, 'partition nodes-tracker of node1', 20, 23), kind: 'partition', beforeTps: 100, recoverySec: 1 }],
      sampledTps: { nodes: 3, sampledPerInterval: 2, intervalMs: 1000, intervals: 8, estimatedTotal: 1202, fullTotal: 1200, error: 0.0016667 },
    };
    const file = join(dir.path, 'report.html');
    await writeFile(file, reportHtml(data, await webAssets()));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`file://${file}`);
      await waitMarks(page, ['send-rate', 'committed-tps', 'cumulative-committed', 'latency-over-time'], 2);
      const marks = await marksByChart(page);
      assert.equal(marks['latency-distribution'], '0', 'the distribution chart has no time axis: no marks');
      assert.match(await page.locator('#report-faults').innerText(), /partition nodes-tracker of node1/);
      const sampled = await page.locator('#sampled-tps').innerText();
      assert.match(sampled, /1,202 accepted, from 2 of 3 nodes every 1 s \(8 intervals\)/);
      assert.match(sampled, /1,200/);
      assert.match(sampled, /\+0\.167%/);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});
