// The experiment page and the fault marks, drawn by the browser app in Debian's Chromium.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { experimentHtml } from '../../src/experiments/experiment-report.js';
import { webAssets } from '../../src/web/assets.js';
import type { ExperimentData } from '../../src/web/experiment-contract.js';
import { tempDir } from '../testkit/index.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

let browser: Browser;
let dir: { path: string; remove(): Promise<void> };

const figures = (tps: number, p99Ms: number) => ({ tps, p99Ms, offered: 30, sent: 30, committed: 30, failed: 0, lost: 0 });

const SWEEP: ExperimentData = {
  kind: 'experiment',
  generatedAt: '2026-11-29T05:00:00.000Z',
  experiment: { id: 'sweep-x', kind: 'sweep', name: 'two-by-two', startedAt: '2026-11-29T04:00:00.000Z' },
  axes: [{ path: 'beacons.count', values: [1, 2] }, { path: 'target.nodes', values: [1, 3] }],
  runs: [
    { seq: 0, runId: 'r0', params: { 'beacons.count': 1, 'target.nodes': 1 }, label: 'beacons.count=1, target.nodes=1', status: 'passed', figures: figures(10, 100) },
    { seq: 1, runId: 'r1', params: { 'beacons.count': 1, 'target.nodes': 3 }, label: 'beacons.count=1, target.nodes=3', status: 'passed', figures: figures(9, 120) },
    { seq: 2, runId: 'r2', params: { 'beacons.count': 2, 'target.nodes': 1 }, label: 'beacons.count=2, target.nodes=1', status: 'passed', figures: figures(20, 150) },
    { seq: 3, params: { 'beacons.count': 2, 'target.nodes': 3 }, label: 'beacons.count=2, target.nodes=3', status: 'failed', note: 'TPSLAB_E_BEACON: boom' },
  ],
};

describe('experiment page', { skip }, () => {
  before(async () => {
    dir = await tempDir('tpslab-experiment-page-');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
    await dir?.remove();
  });

  it('draws a sweep: one row per cell and the three charts across the grid, one line per other-axis value', async () => {
    const file = join(dir.path, 'sweep.html');
    await writeFile(file, experimentHtml(SWEEP, await webAssets()));
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    await page.waitForSelector('figure[data-chart="sweep-lost"][data-rendered="true"]');
    assert.equal(await page.locator('#experiment-runs tbody tr').count(), 4);
    for (const name of ['sweep-tps', 'sweep-p99', 'sweep-lost']) {
      const legend = await page.locator(`figure[data-chart="${name}"] .u-legend`).innerText();
      assert.match(legend, /target\.nodes=1/);
      assert.match(legend, /target\.nodes=3/);
    }
    assert.match(await page.locator('#experiment-runs').innerText(), /TPSLAB_E_BEACON: boom/);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
