// bench latency-half-max reads each stage's p50/p99 from the roles' `tpslab_stage_seconds` buckets
// (bench/lib/stage-probe.ts): buckets of several replicas add up, quantiles interpolate inside a bucket.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketQuantile, parseGc, parseStageBuckets } from '../../bench/lib/stage-probe.js';

const node = (count1ms: number, count10ms: number, total: number): string =>
  [
    '# HELP tpslab_stage_seconds x',
    `tpslab_stage_seconds_bucket{le="0.001",role="replica",stage="feed"} ${count1ms}`,
    `tpslab_stage_seconds_bucket{le="0.01",role="replica",stage="feed"} ${count10ms}`,
    `tpslab_stage_seconds_bucket{le="+Inf",role="replica",stage="feed"} ${total}`,
    `tpslab_stage_seconds_sum{role="replica",stage="feed"} 1`,
    `tpslab_stage_seconds_count{role="replica",stage="feed"} ${total}`,
    'tpslab_tx_commit_latency_seconds_bucket{le="0.005",role="replica"} 99',
  ].join('\n');

describe('stage probe', () => {
  it('adds the buckets of every replica per stage and ignores other histograms', () => {
    const b = parseStageBuckets(node(10, 90, 100));
    parseStageBuckets(node(0, 100, 100), b);
    assert.deepEqual([...b.keys()], ['feed']);
    assert.deepEqual([...b.get('feed')!], [[0.001, 10], [0.01, 190], [Infinity, 200]]);
  });

  it('interpolates a quantile inside its bucket and says the last bound beyond it', () => {
    const b = parseStageBuckets(node(10, 90, 100)).get('feed')!;
    assert.equal(bucketQuantile(b, 0.05), 0.0005); // half of the first bucket's 10
    assert.ok(Math.abs(bucketQuantile(b, 0.5) - (0.001 + (0.009 * 40) / 80)) < 1e-12);
    assert.equal(bucketQuantile(b, 0.99), 0.01, 'beyond the last finite bound: that bound');
    assert.ok(Number.isNaN(bucketQuantile(new Map([[Infinity, 0]]), 0.5)), 'no observations: NaN');
  });

  it('sums garbage collection over its kinds and counts the pauses past 10 and 100 ms, and past 10 ms by kind', () => {
    const kind = (k: string, upTo10: number, upTo100: number, count: number, sum: number): string =>
      [
        `nodejs_gc_duration_seconds_bucket{le="0.001",kind="${k}",role="replica"} 0`,
        `nodejs_gc_duration_seconds_bucket{le="0.01",kind="${k}",role="replica"} ${upTo10}`,
        `nodejs_gc_duration_seconds_bucket{le="0.1",kind="${k}",role="replica"} ${upTo100}`,
        `nodejs_gc_duration_seconds_bucket{le="+Inf",kind="${k}",role="replica"} ${count}`,
        `nodejs_gc_duration_seconds_sum{kind="${k}",role="replica"} ${sum}`,
        `nodejs_gc_duration_seconds_count{kind="${k}",role="replica"} ${count}`,
      ].join('\n');
    const g = parseGc('node1', `${kind('minor', 90, 100, 100, 0.2)}\n${kind('major', 1, 3, 4, 0.5)}`);
    assert.deepEqual(g, { role: 'node1', totalMs: 700, pauses: 104, over10Ms: 13, over100Ms: 1, over10MsByKind: { minor: 10, major: 3 } });
  });
});
