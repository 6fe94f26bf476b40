// Docs list every error code, CLI flag and metric: these tests keep them in step with the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';
import { ERROR_SPECS } from '../src/errors.js';
import { createNodeMetrics } from '../src/ledger/node-metrics.js';
import { registerOrderingMetrics } from '../src/ledger/ordering-metrics.js';

const docs = (name: string): string => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

test('docs/errors.md lists every error code', () => {
  const text = docs('errors.md');
  const missing = Object.keys(ERROR_SPECS).filter((c) => !text.includes(`\`${c}\``));
  assert.deepEqual(missing, [], `add these codes to docs/errors.md: ${missing.join(', ')}`);
});

test('docs/cli.md documents every command and flag', async () => {
  const text = docs('cli.md');
  const missing: string[] = [];
  const walk = (cmd: Command, path: string): void => {
    for (const sub of cmd.commands) {
      const full = `${path} ${sub.name()}`.trim();
      if (sub.commands.length === 0 && !text.includes(`tpslab ${full}`)) missing.push(`command "tpslab ${full}"`);
      for (const opt of sub.options) if (opt.long && !text.includes(`\`${opt.long}`)) missing.push(`${full} ${opt.long}`);
      walk(sub, full);
    }
  };
  walk(await buildProgram(), '');
  assert.deepEqual(missing, [], `document in docs/cli.md: ${missing.join(', ')}`);
});

test('docs/metrics.md lists every tpslab metric', async () => {
  const text = docs('metrics.md');
  const metrics = createNodeMetrics('node');
  registerOrderingMetrics(metrics.registry, () => ({ termsLed: 0, stepDowns: 0, appendsRefused: 0, leaseRenewFailures: 0, term: 0, leading: false }));
  const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => n.startsWith('tpslab_'));
  assert.ok(names.length > 5);
  const missing = names.filter((n) => !text.includes(`\`${n}\``));
  assert.deepEqual(missing, [], `add to docs/metrics.md: ${missing.join(', ')}`);
});
