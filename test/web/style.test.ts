// The app's stylesheet, checked as text where a rule once hid what a card says.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

test('regression: dashboard cards truncated their values ("prepa…" for preparing)', async () => {
  const css = await readFile(fileURLToPath(new URL('../../../src/web/app/style.css', import.meta.url)), 'utf8');
  const rules = [...css.matchAll(/([^{}]*\.card-value[^{}]*)\{([^}]*)\}/g)].map((m) => ({ selector: m[1]!.trim(), body: m[2]! }));
  assert.ok(rules.length > 0, 'no .card-value rule found');
  for (const r of rules) {
    assert.doesNotMatch(r.body, /text-overflow\s*:\s*ellipsis/, `${r.selector} clips its value`);
    assert.doesNotMatch(r.body, /overflow\s*:\s*hidden/, `${r.selector} hides overflowing text`);
    assert.doesNotMatch(r.body, /white-space\s*:\s*nowrap/, `${r.selector} cannot wrap`);
  }
});
