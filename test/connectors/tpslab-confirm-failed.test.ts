// How the tpslab connector hands the beacon a transaction the network dropped: a retryable code
// (dropped for now, such as TPSLAB_E_PREDECESSOR_REFUSED) as a resend after DROPPED_RETRY_MS; a
// final one, or a failure without a code, as failed for good.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preciseClock } from '../../src/clock.js';
import { BeaconClient } from '../../src/connectors/tpslab/client.js';
import { Confirmer, DROPPED_RETRY_MS } from '../../src/connectors/tpslab/confirm.js';

test('regression: successors dropped because their nonce was refused 429 reached the beacon as final failures; now as resends', async () => {
  const seen: [string, string, number | undefined][] = [];
  const sink = { committed: () => {}, failed: (id: string, code: string, retryAfterMs?: number) => void seen.push([id, code, retryAfterMs]), log: () => {} };
  // Never opened: no request goes out; events are fed as the commit stream would.
  const client = new BeaconClient(['http://127.0.0.1:9']);
  const confirmer = new Confirmer({ method: 'stream', pollIntervalMs: 60_000, clock: preciseClock }, client, sink, { sentBefore: () => [] });
  try {
    confirmer.onEvent(JSON.stringify({ type: 'failed', id: 'a', code: 'TPSLAB_E_PREDECESSOR_REFUSED', message: 'nonce 3 was refused' }));
    confirmer.onEvent(JSON.stringify({ type: 'failed', id: 'b', code: 'TPSLAB_E_PREDECESSOR_FAILED', message: 'nonce 3 failed' }));
    confirmer.onEvent(JSON.stringify({ type: 'failed', id: 'c' }));
    confirmer.onEvent(JSON.stringify({ type: 'failed', id: 'd', code: 'NOT_OURS' }));
    assert.deepEqual(seen, [
      ['a', 'TPSLAB_E_PREDECESSOR_REFUSED', DROPPED_RETRY_MS],
      ['b', 'TPSLAB_E_PREDECESSOR_FAILED', undefined],
      ['c', 'TPSLAB_E_REMOTE', undefined],
      ['d', 'NOT_OURS', undefined],
    ]);
  } finally {
    confirmer.close();
    await client.close();
  }
});
