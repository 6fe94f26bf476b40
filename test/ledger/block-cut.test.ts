// When the sequencer cuts blocks (blockIntervalMs): a transaction after a quiet spell waited a whole
// interval for its block even though the last block was cut long before (26 ms of the floor's 41 ms
// p50 in bench latency-half-max); blocks stay at least an interval apart.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { Sequencer } from '../../src/ledger/sequencer.js';
import { tempDir } from '../testkit/index.js';
import { chainGenesis, transfers } from './chain-fixture.js';

const INTERVAL_MS = 25;
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup) await c();
});

async function open(): Promise<{ seq: Sequencer; clock: ManualClock }> {
  const dir = await tempDir('tpslab-cut-');
  const clock = new ManualClock();
  const seq = await Sequencer.open(dir.path, chainGenesis(), { blockIntervalMs: INTERVAL_MS, fsync: false }, clock);
  cleanup.push(async () => {
    await seq.close();
    await dir.remove();
  });
  return { seq, clock };
}

describe('block cutting', () => {
  it('cuts a transaction that arrives after a quiet spell at once, not an interval later', async () => {
    const { seq, clock } = await open();
    const txs = transfers(2);
    seq.submit(txs[0]!);
    clock.advance(0);
    assert.equal(seq.mempoolSize, 0, 'the first transaction waits for no interval');
    clock.advance(100); // quiet
    seq.submit(txs[1]!);
    clock.advance(0);
    assert.equal(seq.mempoolSize, 0, 'nor does one after a quiet spell');
  });

  it('keeps blocks an interval apart: what arrives right after a cut waits for the rest of the interval', async () => {
    const { seq, clock } = await open();
    const txs = transfers(2);
    seq.submit(txs[0]!);
    clock.advance(0); // block 1 cut now
    clock.advance(10);
    seq.submit(txs[1]!);
    clock.advance(INTERVAL_MS - 10 - 1);
    assert.equal(seq.mempoolSize, 1, 'still within the interval since the last cut');
    clock.advance(1);
    assert.equal(seq.mempoolSize, 0, 'cut once the interval since the last cut has passed');
  });
});
