import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TpslabError } from '../../src/errors.js';
import { evaluateThresholds, parseThreshold, parseThresholds, THRESHOLD_METRIC_NAMES, THRESHOLD_OPS, type Threshold } from '../../src/harness/thresholds.js';

function thresholdError(fn: () => unknown, ...parts: (string | RegExp)[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TpslabError, `expected a TpslabError, got ${String(err)}`);
    assert.equal(err.code, 'TPSLAB_E_THRESHOLD');
    for (const p of parts) {
      if (typeof p === 'string') assert.ok(err.message.includes(p), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(p)}`);
      else assert.match(err.message, p);
    }
    return true;
  });
}

describe('parseThreshold', () => {
  test('reads metric, operator and value, with or without spaces', () => {
    const t = parseThreshold('latency.p99 < 250ms', 0);
    assert.deepEqual(t, { expr: 'latency.p99 < 250ms', index: 0, metric: 'latency.p99', kind: 'latency', op: '<', value: 250, unit: 'ms' });
    assert.deepEqual(parseThreshold('  lost==0 ', 3), { expr: 'lost==0', index: 3, metric: 'lost', kind: 'count', op: '==', value: 0 });
    assert.equal(parseThreshold('tps.avg>=1e3', 0).value, 1000);
    assert.equal(parseThreshold('latency.max <= 2.5 s', 0).value, 2500);
  });

  test('accepts every operator', () => {
    for (const op of THRESHOLD_OPS) {
      const t = parseThreshold(`committed ${op} 10`, 0);
      assert.equal(t.op, op);
      assert.equal(t.value, 10);
    }
  });

  test('accepts every documented metric', () => {
    assert.equal(THRESHOLD_METRIC_NAMES.length, 23);
    for (const m of ['tps.avg', 'tps.peak', 'sent', 'committed', 'failed', 'lost', 'pending', 'schedule_lag.p99', 'reconciliation.missing', 'reconciliation.unexpected']) {
      assert.ok(THRESHOLD_METRIC_NAMES.includes(m as never), m);
    }
    for (const stat of ['p50', 'p90', 'p99', 'p999', 'max', 'mean']) {
      assert.ok(THRESHOLD_METRIC_NAMES.includes(`latency.${stat}` as never));
      assert.ok(THRESHOLD_METRIC_NAMES.includes(`latency_uncorrected.${stat}` as never));
    }
    for (const m of THRESHOLD_METRIC_NAMES) assert.equal(parseThreshold(`${m} >= 1`, 0).metric, m);
  });

  test('converts latency units to milliseconds; no unit means ms', () => {
    assert.equal(parseThreshold('latency.p50 < 12', 0).value, 12);
    assert.equal(parseThreshold('latency.p50 < 12ms', 0).value, 12);
    assert.equal(parseThreshold('latency.p50 < 2s', 0).value, 2000);
    assert.equal(parseThreshold('latency.p50 < 500us', 0).value, 0.5);
    assert.equal(parseThreshold('latency_uncorrected.p999 < 1.5s', 0).value, 1500);
    assert.equal(parseThreshold('schedule_lag.p99 < 20', 0).value, 20);
  });

  test('unknown metric names the entry, the expression and the valid metrics', () => {
    thresholdError(() => parseThreshold('latency.p95 < 10ms', 2), 'thresholds[2]', '"latency.p95 < 10ms"', 'unknown metric "latency.p95"', 'latency.p99', 'reconciliation.unexpected');
    thresholdError(() => parseThreshold('lots == 0', 0), '(did you mean "lost"?)');
  });

  test('unknown or missing operator lists the operators', () => {
    thresholdError(() => parseThreshold('lost = 0', 1), 'thresholds[1]', '"lost = 0"', 'unknown operator "="', '< <= > >= == !=');
    thresholdError(() => parseThreshold('lost =< 0', 1), 'unknown operator "=<"');
    thresholdError(() => parseThreshold('lost 0', 1), 'missing the comparison', '< <= > >= == !=');
  });

  test('a bad or missing value is an error', () => {
    thresholdError(() => parseThreshold('lost == ', 0), 'thresholds[0]', 'is not a number');
    thresholdError(() => parseThreshold('lost == zero', 0), '"zero" is not a number');
    thresholdError(() => parseThreshold('latency.p99 < ms', 0), '"ms" is not a number');
  });

  test('unknown units list the valid ones; counts and tps take no unit', () => {
    thresholdError(() => parseThreshold('latency.p99 < 3min', 4), 'thresholds[4]', 'unknown unit "min"', 'ms, s, us');
    thresholdError(() => parseThreshold('lost == 0ms', 0), 'lost is a count and takes no unit', 'remove "ms"');
    thresholdError(() => parseThreshold('tps.avg > 100/s', 0), 'tps.avg is a rate per second and takes no unit');
  });

  test('empty and metric-less expressions are errors', () => {
    thresholdError(() => parseThreshold('   ', 5), 'thresholds[5]', 'is empty', '<metric> <op> <value>[unit]');
    thresholdError(() => parseThreshold('< 5', 0), 'missing the metric');
  });

  test('parseThresholds numbers each entry by position', () => {
    const ts = parseThresholds(['lost == 0', 'latency.p99 < 1s']);
    assert.deepEqual(
      ts.map((t) => [t.index, t.metric, t.value]),
      [
        [0, 'lost', 0],
        [1, 'latency.p99', 1000],
      ],
    );
    thresholdError(() => parseThresholds(['lost == 0', 'bogus > 1']), 'thresholds[1]', 'bogus');
  });
});

describe('evaluateThresholds', () => {
  const metrics = { lost: 0, failed: 2, 'tps.avg': 950.5, 'latency.p99': 240, 'latency.max': 1200 };
  const run = (...exprs: string[]) => evaluateThresholds(parseThresholds(exprs), metrics);

  test('passes and fails by operator', () => {
    assert.deepEqual(
      run('lost == 0', 'failed == 0', 'failed != 0', 'tps.avg >= 950.5', 'tps.avg > 950.5', 'failed < 2', 'failed <= 2').map((r) => r.passed),
      [true, false, true, true, false, false, true],
    );
  });

  test('compares latency in milliseconds after unit conversion', () => {
    assert.deepEqual(
      run('latency.p99 < 250ms', 'latency.p99 < 0.25s', 'latency.p99 < 240000us', 'latency.max <= 1.2s', 'latency.max < 1s').map((r) => r.passed),
      [true, true, false, true, false],
    );
  });

  test('reports the expression, metric and actual value', () => {
    assert.deepEqual(run('failed == 0'), [{ threshold: 'failed == 0', metric: 'failed', actual: 2, actualText: '2', passed: false }]);
  });

  test('regression: threshold results lacked units (latency.p99 <= 2s (actual 3031.039))', () => {
    const text = (expr: string, m: Record<string, number>): string => evaluateThresholds([parseThreshold(expr, 0)], m)[0]!.actualText;
    assert.equal(text('latency.p99 <= 2s', { 'latency.p99': 3031.039 }), '3.03s');
    assert.equal(text('latency.p99 <= 2000ms', { 'latency.p99': 3031.039 }), '3031ms');
    assert.equal(text('latency.p99 <= 2000', { 'latency.p99': 3031.039 }), '3031ms');
    assert.equal(text('latency.p50 < 500us', { 'latency.p50': 0.25 }), '250us');
    assert.equal(text('latency.p50 < 1s', { 'latency.p50': 12.5 }), '0.013s');
    assert.equal(text('tps.avg >= 50', { 'tps.avg': 500 / 11 }), '45.45 tx/s');
    assert.equal(text('lost == 0', { lost: 5538 }), '5538');
  });

  test('a metric missing from the map fails with actual undefined', () => {
    assert.deepEqual(run('reconciliation.missing == 0'), [{ threshold: 'reconciliation.missing == 0', metric: 'reconciliation.missing', actual: undefined, actualText: 'n/a', passed: false }]);
    const nan = evaluateThresholds([parseThreshold('sent > 0', 0)], { sent: Number.NaN });
    assert.deepEqual(nan, [{ threshold: 'sent > 0', metric: 'sent', actual: undefined, actualText: 'n/a', passed: false }]);
  });

  test('ignores inherited properties of the map', () => {
    const t: Threshold = parseThreshold('sent > 0', 0);
    const metricsWithProto = Object.create({ sent: 5 }) as Record<string, number>;
    assert.equal(evaluateThresholds([t], metricsWithProto)[0]?.passed, false);
  });

  test('an empty list evaluates to no results', () => {
    assert.deepEqual(evaluateThresholds([], metrics), []);
  });
});
