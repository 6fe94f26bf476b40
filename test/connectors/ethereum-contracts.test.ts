// The committed contract artifacts (ABI and bytecode) are what solc makes from the committed
// Solidity sources: nothing compiles at run time, and nothing drifts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';

const SCRIPT = resolve(fileURLToPath(import.meta.url), '../../../../scripts/compile-contracts.mjs');

test('src/connectors/ethereum/contracts/artifacts.ts is what solc compiles from the .sol sources', async () => {
  const r = await promisify(execFile)(process.execPath, [SCRIPT, '--check']).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(r.code, 0, r.stderr);
});
