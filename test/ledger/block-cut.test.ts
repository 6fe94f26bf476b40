// When the sequencer cuts blocks (blockIntervalMs): a transaction after a quiet spell waited a whole
// interval for its block even though the last block was cut long before (26 ms of the floor's 41 ms
// p50 in bench latency-half-max); blocks stay at least an interval apart.
import assert from 'node:assert/strict';
import { once } from 'node:events';
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

async function open(opts: { blockMaxTxs?: number; maxBlocksInFlight?: number } = {}): Promise<{ seq: Sequencer; clock: ManualClock }> {
  const dir = await tempDir('tpslab-cut-');
  const clock = new ManualClock();
  const seq = await Sequencer.open(dir.path, chainGenesis(), { blockIntervalMs: INTERVAL_MS, fsync: false, ...opts }, clock);
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

  it('block_wait counts from when the block\'s longest-waiting transaction became ready, also for what a full block left (it counted those from the cut)', async () => {
    const { seq, clock } = await open({ blockMaxTxs: 2, maxBlocksInFlight: 1 });
    const waitsMs: number[] = [];
    const sizes: number[] = [];
    seq.stageSink = (stage, seconds) => void (stage === 'block_wait' && waitsMs.push(seconds * 1000));
    seq.on('commit', ({ block }) => sizes.push(block.txs.length));
    const [a, b, c, d] = transfers(1); // four senders, nonce 0 each
    seq.submit(a!); // t=0: cut at once (block 1), on its way to disk until awaited below
    clock.advance(0);
    const block1 = once(seq, 'commit');
    clock.advance(1);
    seq.submit(b!); // t=1
    clock.advance(9);
    seq.submit(c!); // t=10: a full block is pending, but block 1 is still in flight
    clock.advance(2);
    seq.submit(d!); // t=12
    clock.advance(3); // t=15
    await block1; // block 1 lands: block 2 is cut now, full (b, c); d is left over
    clock.advance(0);
    await once(seq, 'commit');
    clock.advance(INTERVAL_MS); // t=40: an interval after block 2, d's block
    await once(seq, 'commit');
    assert.deepEqual(sizes, [1, 2, 1]);
    assert.deepEqual(waitsMs, [0, 15 - 1, 40 - 12], 'b ready at 1 ms cut at 15 ms; d ready at 12 ms cut at 40 ms (not 40 - 15)');
  });
});
