// Latency histograms: percentiles on a known distribution, encode/decode, merging (never
// averaging percentiles), coordinated-omission correction in IntervalRecorder.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TpslabError } from '../../src/errors.js';
import { IntervalRecorder, LatencyHistogram, mergeEncoded } from '../../src/harness/histogram.js';

/** hdr precision at 3 significant digits: within 0.1% (+ 1 µs of rounding). */
function near(actual: number, expected: number, what: string): void {
  const tolerance = expected * 0.001 + 0.002;
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);
}

function uniform(): LatencyHistogram {
  const h = new LatencyHistogram();
  for (let ms = 1; ms <= 10_000; ms++) h.record(ms);
  return h;
}

describe('LatencyHistogram', () => {
  it('gives the percentiles of 1..10000 ms uniform within hdr precision', () => {
    const s = uniform().summary();
    assert.equal(s.count, 10_000);
    near(s.meanMs, 5000.5, 'mean');
    near(s.p50Ms, 5000, 'p50');
    near(s.p90Ms, 9000, 'p90');
    near(s.p99Ms, 9900, 'p99');
    near(s.p999Ms, 9990, 'p99.9');
    near(s.maxMs, 10_000, 'max');
    near(uniform().percentileMs(25), 2500, 'p25');
  });

  it('is all zeros when empty', () => {
    const h = new LatencyHistogram();
    assert.deepEqual(h.summary(), { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 });
    assert.equal(h.percentileMs(99), 0);
    assert.deepEqual(h.distribution(), []);
  });

  it('keeps microseconds and clamps to 0 .. 1 hour', () => {
    const h = new LatencyHistogram();
    h.record(0.25);
    assert.equal(h.percentileMs(100), 0.25);
    h.reset();
    h.record(-5);
    assert.equal(h.summary().maxMs, 0);
    h.record(10 * 3_600_000);
    h.record(Number.POSITIVE_INFINITY);
    assert.equal(h.count, 3);
    near(h.summary().maxMs, 3_600_000, 'max clamped to 1 h');
    assert.throws(() => h.record(Number.NaN), (e: unknown) => e instanceof TpslabError && e.code === 'TPSLAB_E_INTERNAL');
    assert.throws(() => h.percentileMs(101), TpslabError);
  });

  it('decodes what it encodes to the same summary and distribution', () => {
    const h = uniform();
    const copy = LatencyHistogram.decode(h.encode());
    assert.deepEqual(copy.summary(), h.summary());
    assert.deepEqual(copy.distribution(), h.distribution());
    assert.deepEqual(LatencyHistogram.decode(new LatencyHistogram().encode()).summary().count, 0);
  });

  it('refuses a bad encoding with TPSLAB_E_BEACON', () => {
    for (const bad of ['', 'not base64!', Buffer.from('hello world').toString('base64')]) {
      assert.throws(() => LatencyHistogram.decode(bad), (e: unknown) => e instanceof TpslabError && e.code === 'TPSLAB_E_BEACON', bad);
    }
  });

  it('merging the encoded histograms of 4 parts equals the histogram of all values', () => {
    const all = new LatencyHistogram();
    const parts = [0, 1, 2, 3].map(() => new LatencyHistogram());
    let seed = 42;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const ms = 1 + rand() * rand() * 2000;
      all.record(ms);
      parts[i % 4]!.record(ms);
    }
    const merged = mergeEncoded(parts.map((p) => p.encode()));
    assert.deepEqual(merged.summary(), all.summary());
    assert.deepEqual(merged.distribution(), all.distribution());
    const added = new LatencyHistogram();
    for (const p of parts) added.add(p);
    assert.deepEqual(added.summary(), all.summary());
  });

  it('add visits only the buckets up to the other\'s max, with the same result as hdr\'s own add (encodings equal)', () => {
    const parts = [[0, 0.001, 3, 17.5], [250, 1000, 3_600_000], [], [0.5, 0.5, 42]].map((values) => {
      const h = new LatencyHistogram();
      for (const v of values) h.record(v);
      return h;
    });
    const ours = new LatencyHistogram();
    const theirs = new LatencyHistogram();
    for (const p of parts) {
      ours.add(p);
      (theirs as unknown as { h: { add(x: unknown): void } }).h.add((p as unknown as { h: unknown }).h);
      assert.equal(ours.encode(), theirs.encode());
    }
    assert.equal(ours.count, 10);
    assert.deepEqual(ours.summary(), theirs.summary());
    assert.ok(Math.abs(ours.summary().maxMs - 3_600_000) / 3_600_000 < 0.001, 'the max within hdr precision');
  });

  it('a latency clamped to one hour decodes (it was refused as the wrong layout: its bucket reaches past the hour)', () => {
    const h = new LatencyHistogram();
    h.record(10 * 3_600_000);
    assert.equal(LatencyHistogram.decode(h.encode()).count, 1);
    assert.equal(LatencyHistogram.decodeSparse(h.encode()).total, 1);
  });

  it('decodeSparse + addSparse give the same histogram as decode + add (encodings equal), and the same errors', () => {
    const parts = [[0, 0.001, 3, 17.5], [250, 1000, 3_600_000], [], [0.5, 0.5, 42], [0], [10 * 3_600_000]].map((values) => {
      const h = new LatencyHistogram();
      for (const v of values) h.record(v);
      return h;
    });
    let seed = 7;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const busy = new LatencyHistogram();
    for (let i = 0; i < 5000; i++) busy.record(rand() * rand() * 30_000);
    parts.push(busy);
    const sparse = new LatencyHistogram();
    const full = new LatencyHistogram();
    for (const p of parts) {
      const text = p.encode();
      sparse.addSparse(LatencyHistogram.decodeSparse(text));
      full.add(LatencyHistogram.decode(text));
      assert.equal(sparse.encode(), full.encode());
      assert.deepEqual(sparse.summary(), full.summary());
    }
    assert.equal(sparse.count, 5012);
    for (const bad of ['', 'not base64!', Buffer.from('hello world').toString('base64')]) {
      assert.throws(() => LatencyHistogram.decodeSparse(bad), (e: unknown) => e instanceof TpslabError && e.code === 'TPSLAB_E_BEACON', bad);
    }
  });

  it('never averages percentiles: for a skewed split the mean of the parts p99 is wrong', () => {
    // Three fast beacons (~10 ms) and one slow one (100..1000 ms).
    const parts = [0, 1, 2, 3].map(() => new LatencyHistogram());
    for (let i = 0; i < 1000; i++) {
      for (let b = 0; b < 3; b++) parts[b]!.record(9 + (i % 3));
      parts[3]!.record(100 + (i * 900) / 999);
    }
    const merged = mergeEncoded(parts.map((p) => p.encode()));
    const averaged = parts.reduce((sum, p) => sum + p.percentileMs(99), 0) / parts.length;
    // The merged p99 is the 40th slowest of 4000: inside the slow beacon's top 4%.
    near(merged.percentileMs(99), 964, 'merged p99');
    assert.ok(averaged < 300, `averaged p99 ${averaged}`);
    assert.notEqual(Math.round(averaged), Math.round(merged.percentileMs(99)));
  });

  it('gives a log-spaced distribution ending at the max', () => {
    const h = uniform();
    const d = h.distribution();
    assert.ok(d.length >= 30 && d.length <= 120, `${d.length} points`);
    for (let i = 1; i < d.length; i++) {
      assert.ok(d[i]!.percentile >= d[i - 1]!.percentile);
      assert.ok(d[i]!.valueMs >= d[i - 1]!.valueMs);
      assert.ok(d[i]!.count >= d[i - 1]!.count);
    }
    const last = d.at(-1)!;
    assert.equal(last.percentile, 100);
    assert.equal(last.count, 10_000);
    assert.equal(last.valueMs, h.summary().maxMs);
    // Log spacing: more points above p90 than below p50.
    assert.ok(d.filter((p) => p.percentile > 90).length > d.filter((p) => p.percentile < 50).length);
  });
});

describe('IntervalRecorder', () => {
  it('measures corrected latency from the intended time, so it is ≥ uncorrected when sends lag', () => {
    const r = new IntervalRecorder();
    for (let i = 0; i < 1000; i++) {
      const intended = 1_700_000_000_000 + i; // one per ms
      const lag = i < 500 ? 0 : 50 + (i - 500); // the sender falls behind half-way
      const sent = intended + lag;
      r.recordLag(lag);
      r.recordCommit(intended, sent, sent + 10);
    }
    const snap = r.snapshot();
    const corrected = LatencyHistogram.decode(snap.corrected);
    const uncorrected = LatencyHistogram.decode(snap.uncorrected);
    const lag = LatencyHistogram.decode(snap.lag);
    assert.equal(corrected.count, 1000);
    assert.equal(uncorrected.count, 1000);
    assert.equal(lag.count, 1000);
    for (const p of [50, 90, 99, 100]) assert.ok(corrected.percentileMs(p) >= uncorrected.percentileMs(p), `p${p}`);
    near(uncorrected.percentileMs(99), 10, 'uncorrected p99');
    near(corrected.percentileMs(99), 10 + 50 + 489, 'corrected p99');
    near(lag.summary().maxMs, 549, 'max lag');
  });

  it('records runs of equal values once with their count: the same histograms as one record per value', () => {
    const r = new IntervalRecorder();
    const each = { lag: new LatencyHistogram(), corrected: new LatencyHistogram(), uncorrected: new LatencyHistogram() };
    const lags = [0, 0, 0, 0.0004, 0.2, 0.2, 0.2004, 3, 3, 3, 3, -1, -2, 0, 7.5, 7.5, 4000];
    for (let k = 0; k < 3; k++) {
      for (const [j, l] of lags.entries()) {
        r.recordLag(l);
        each.lag.record(l);
        // A block's commits: one instant; sends in runs; intended times all different.
        const intended = 1000 + j * 0.37;
        const sent = 2000 + Math.floor(j / 4);
        r.recordCommit(intended, sent, 5000);
        each.corrected.record(5000 - intended);
        each.uncorrected.record(5000 - sent);
      }
    }
    const snap = r.snapshot();
    for (const key of ['lag', 'corrected', 'uncorrected'] as const) {
      const got = LatencyHistogram.decode(snap[key]);
      assert.deepEqual(got.summary(), each[key].summary(), key);
      assert.deepEqual(got.distribution(), each[key].distribution(), key);
    }
    const next = r.snapshot();
    for (const enc of [next.corrected, next.uncorrected, next.lag]) assert.equal(LatencyHistogram.decode(enc).count, 0, 'the runs in progress went into the first snapshot');
  });

  it('records a run of distinct values in one bucket once: the same encoding as one record per value', () => {
    // A flat-out beacon far behind its schedule: each batch of 200 is sent at one instant, their
    // intended times 0.125 µs apart, so their lags differ yet mostly share an hdr bucket.
    const r = new IntervalRecorder();
    const each = new LatencyHistogram();
    for (let b = 0; b < 400; b++) {
      const now = 3 + b * 1.37;
      for (let k = 0; k < 200; k++) {
        const lag = now - (b * 200 + k) * 0.000125 + (b % 7 === 0 ? 900 : 0);
        r.recordLag(lag);
        each.record(lag);
      }
    }
    const lag = r.snapshot().lag;
    assert.equal(lag, each.encode());
    assert.deepEqual(LatencyHistogram.decode(lag).summary(), each.summary());
  });

  it('records values on the edges of a run\'s bucket as one record per value would (rounding to whole µs at .5, negatives, past 1 hour)', () => {
    // The run's bucket is checked before rounding (ms × 1000 within [lo − 0.5, hi + 0.5)): values
    // exactly at the half µs either side of a bucket, and clamped ones, must land where toMicros puts them.
    const r = new IntervalRecorder();
    const each = new LatencyHistogram();
    const values: number[] = [];
    for (const us of [1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 65_535, 65_536, 1_000_000, 3_599_999_999]) {
      for (const d of [-0.5, -0.4999, -0.0001, 0, 0.4999, 0.5, 0.5001]) values.push((us + d) / 1000);
    }
    values.push(-5, -0.0004, 0, 0.0004, 0.0005, 3_600_001, 7_200_000, 3_600_000, 3_599_999.9995);
    // In order and reversed, so each value meets runs opened by its neighbours from both sides.
    for (const v of [...values, ...values.slice().reverse(), ...values]) {
      r.recordLag(v);
      each.record(v);
    }
    assert.equal(r.snapshot().lag, each.encode());
  });

  it('resets on snapshot', () => {
    const r = new IntervalRecorder();
    r.recordCommit(0, 1, 5);
    r.recordLag(1);
    assert.equal(LatencyHistogram.decode(r.snapshot().corrected).count, 1);
    const next = r.snapshot();
    for (const enc of [next.corrected, next.uncorrected, next.lag]) assert.equal(LatencyHistogram.decode(enc).count, 0);
  });
});
