// The dashboard, explorer, report and comparison in a real browser (Debian's Chromium driven by
// playwright-core). Screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readKeyFile } from '../../src/client/key-file.js';
import { NodeClient } from '../../src/client/node-client.js';
import { netUp, stopProcesses, type NetworkFile } from '../../src/ledger/net.js';
import { keyPairFromLabel, signTx } from '../../src/protocol/signing.js';
import { CLI, runCli, tempDir, waitFor } from '../testkit/index.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(fileURLToPath(import.meta.url), '../../../../test-artifacts');
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

let browser: Browser;
let dir: { path: string; remove(): Promise<void> };

before(async () => {
  if (skip) return;
  await mkdir(ARTIFACTS, { recursive: true });
  dir = await tempDir('tpslab-browser-');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await dir?.remove();
});

/** A page that records console errors and page errors. */
async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return { page, errors };
}

const scenarioYaml = (name: string, rate: number): string => `
name: ${name}
target: { kind: embedded, nodes: 2 }
accounts: { count: 200 }
load:
  stages:
    - { kind: ramp, fromPerSec: ${rate / 2}, toPerSec: ${rate}, durationSec: 3 }
    - { kind: constant, ratePerSec: ${rate}, durationSec: 5 }
beacons: { count: 2 }
thresholds: ["lost == 0"]
`;

async function allChartsRendered(page: Page): Promise<number> {
  // Browser-side expressions are strings: this file compiles without the DOM library.
  await page.waitForFunction(
    `(() => { const c = [...document.querySelectorAll('[data-chart]')]; return c.length > 0 && c.every((x) => x.getAttribute('data-rendered') === 'true'); })()`,
    undefined,
    { timeout: 20_000 },
  );
  return page.locator('[data-chart]').count();
}

describe('in a browser', { skip }, () => {
  const runIds: string[] = [];

  it('the dashboard shows live numbers that change during a run', async () => {
    const file = join(dir.path, 'live.yaml');
    await writeFile(file, scenarioYaml('live', 60));
    const child: ChildProcess = spawn(process.execPath, [CLI, 'run', file, '--results', join(dir.path, 'runs.db'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      const url = await waitFor('the dashboard URL', () => /dashboard: (http\S+)/.exec(stderr)?.[1], 30_000);
      const { page, errors } = await newPage();
      await page.goto(url);
      await page.waitForFunction(`document.querySelector('#live-status')?.textContent?.includes('running')`, undefined, { timeout: 60_000 });
      const read = async (): Promise<number> => Number(((await page.locator('#live-committed').textContent()) ?? '').replace(/[^0-9]/g, '') || 0);
      const first = await waitFor('committed to be above 0', async () => ((await read()) > 0 ? read() : undefined), 20_000);
      const later = await waitFor('committed to grow', async () => {
        const v = await read();
        return v > first ? v : undefined;
      }, 20_000);
      assert.ok(later > first);
      // Per-beacon and per-node tables fill in from the live events.
      await page.waitForFunction(`document.querySelectorAll('#live-beacons-table tbody tr').length === 2`, undefined, { timeout: 20_000 });
      await page.waitForFunction(`document.querySelectorAll('#live-nodes-table tbody tr').length >= 4`, undefined, { timeout: 20_000 });
      await allChartsRendered(page);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      const code = await exited;
      assert.equal(code, 0, stderr);
    }
    runIds.push((JSON.parse(stdout) as { runId: string }).runId);
  });

  it('a report and a comparison render all their charts with no console errors', async () => {
    const file = join(dir.path, 'second.yaml');
    await writeFile(file, scenarioYaml('second', 90));
    const r = await runCli(['run', file, '--results', join(dir.path, 'runs.db'), '--json', '--no-ui', '--quiet'], 120_000);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { runId: string; reportPath: string };
    runIds.push(result.runId);
    assert.ok(existsSync(result.reportPath), 'tpslab run wrote its report');
    const compareOut = join(dir.path, 'compare.html');
    const c = await runCli(['compare', runIds[0]!, runIds[1]!, '--db', join(dir.path, 'runs.db'), '--out', compareOut]);
    assert.equal(c.code, 0, c.stderr);
    for (const [name, path] of [['report', result.reportPath], ['compare', compareOut]] as const) {
      const { page, errors } = await newPage();
      await page.goto(`file://${path}`);
      const charts = await allChartsRendered(page);
      assert.ok(charts >= (name === 'report' ? 5 : 3), `${name}: ${charts} charts`);
      await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
      assert.deepEqual(errors, [], `${name} console`);
      await page.close();
    }
  });

  describe('the explorer', () => {
    let net: NetworkFile;
    let explorer: ChildProcess | undefined;
    before(async () => {
      net = await netUp({ dir: join(dir.path, 'explorer-net'), nodes: 2, blockIntervalMs: 20 });
    });
    after(async () => {
      if (explorer && explorer.exitCode === null) {
        const gone = new Promise((r) => explorer!.once('exit', r));
        explorer.kill('SIGTERM');
        await gone;
      }
      await stopProcesses([...net.nodes, net.sequencer, net.tracker], 3000);
    });

    it('finds a transaction the test submitted, its account, and the members with their shards', async () => {
      const faucet = await readKeyFile(net.faucetKey);
      const client = new NodeClient(net.nodes[0]!.url);
      const to = keyPairFromLabel('explorer-recipient');
      const tx = signTx(
        { kind: 'transfer', nonce: (await client.account(faucet.address)).nonce, fee: 0n, deps: [], inputs: [{ account: faucet.publicKey, amount: 42n }], outputs: [{ account: to.publicKey, amount: 42n }] },
        [faucet],
        net.network,
      );
      assert.equal((await client.submit(tx, { waitMs: 20_000 })).status, 'committed');
      explorer = spawn(process.execPath, [CLI, 'explorer', '--network', join(net.dir, 'network.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      explorer.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const url = await waitFor('the explorer URL', () => /(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 20_000);
      const { page, errors } = await newPage();
      await page.goto(url);
      await page.waitForSelector('#explorer-blocks tr', { timeout: 20_000 });
      await page.fill('#explorer-search', tx.id.toString('hex'));
      await page.press('#explorer-search', 'Enter');
      await page.waitForFunction(`/committed/i.test(document.querySelector('#explorer-tx')?.textContent ?? '')`, undefined, { timeout: 20_000 });
      assert.match((await page.locator('#explorer-tx').textContent()) ?? '', new RegExp(tx.id.toString('hex').slice(0, 16)));
      await page.screenshot({ path: join(ARTIFACTS, 'explorer-tx.png'), fullPage: true });
      await page.fill('#explorer-search', to.address);
      await page.press('#explorer-search', 'Enter');
      await page.waitForFunction(`/42/.test(document.querySelector('#explorer-account')?.textContent ?? '')`, undefined, { timeout: 20_000 });
      await page.waitForFunction(`(document.querySelector('#explorer-members')?.textContent ?? '').includes('node2')`, undefined, { timeout: 20_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'explorer-account.png'), fullPage: true });
      assert.deepEqual(errors, []);
      await page.close();
    });
  });
});
