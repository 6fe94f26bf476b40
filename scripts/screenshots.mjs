// Makes the README's screenshots from a real run: `npm run build && node scripts/screenshots.mjs`.
// Runs scenarios/examples/ramp-knee.yaml-like load (30 s) with the dashboard, shoots the dashboard
// mid-run, then the HTML report the run wrote. Needs /usr/bin/chromium.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const out = join(root, 'docs/img');
const dir = await mkdtemp(join(tmpdir(), 'tpslab-shots-'));
const scenario = join(dir, 'shots.yaml');
await writeFile(
  scenario,
  `name: readme
target: { kind: embedded, nodes: 3 }
accounts: { count: 2000 }
load:
  stages:
    - { kind: ramp, fromPerSec: 100, toPerSec: 600, durationSec: 15 }
    - { kind: constant, ratePerSec: 600, durationSec: 10 }
    - { kind: burst, basePerSec: 300, burstPerSec: 1200, burstSec: 2, everySec: 5, durationSec: 10 }
beacons: { count: 2 }
thresholds: ["lost == 0", "latency.p99 < 1s"]
`,
);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const child = spawn(process.execPath, [join(root, 'dist/src/cli/main.js'), 'run', scenario, '--results', join(dir, 'results.db'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
let stderr = '';
let stdout = '';
child.stdout.on('data', (d) => (stdout += d));
child.stderr.on('data', (d) => (stderr += d));
const url = await new Promise((res, rej) => {
  const t = setInterval(() => {
    const m = /dashboard: (http\S+)/.exec(stderr);
    if (m) {
      clearInterval(t);
      res(m[1]);
    }
  }, 100);
  child.on('close', () => rej(new Error(`run ended early:\n${stderr}`)));
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(url);
await page.waitForFunction(`document.querySelector('#live-status')?.textContent?.includes('running')`, undefined, { timeout: 120_000 });
await page.waitForTimeout(28_000);
await page.screenshot({ path: join(out, 'dashboard.png'), fullPage: false });
await new Promise((r) => child.on('close', r));
const { reportPath } = JSON.parse(stdout);
await page.goto(`file://${reportPath}`);
await page.waitForFunction(`[...document.querySelectorAll('[data-chart]')].every((x) => x.getAttribute('data-rendered') === 'true')`);
await page.screenshot({ path: join(out, 'report.png'), fullPage: false });
await browser.close();
console.log(`wrote ${join(out, 'dashboard.png')} and ${join(out, 'report.png')} (report ${reportPath})`);
