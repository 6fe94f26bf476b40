/**
 * Latency histograms for beacons and the overseer.
 *
 * Values are recorded in whole microseconds in an HdrHistogram covering 1 µs .. 1 hour at
 * 3 significant digits (hdr-histogram-js in its pure-JS mode: WebAssembly is never enabled,
 * so nothing here needs `destroy()` and a histogram is freed like any other object).
 *
 * Beacons ship histograms encoded (`encode()`, hdr's compressed base64 V2 format); the
 * overseer decodes and *adds* them. Percentiles are only ever read from a merged histogram,
 * never averaged across beacons or seconds.
 *
 * About coordinated omission: tpslab's load is an open model. Every transaction has an
 * *intended* send time taken from the schedule, and the "corrected" latency is measured from
 * that intended time, so a stall in the sender (or a saturated target that makes sends
 * late) shows up in the latency instead of silently lowering the sample count. We do NOT
 * use hdr's `recordValueWithExpectedInterval`, which back-fills synthetic samples for a
 * closed-loop tester; with real intended times there is nothing to back-fill. The
 * "uncorrected" latency is measured from the actual send, and the schedule lag
 * (actual send − intended) is recorded separately.
 */
import { createRequire } from 'node:module';
import * as hdr from 'hdr-histogram-js';
import { TpslabError } from '../errors.js';
import type { DistributionPoint, LatencyPoint } from '../web/contract.js';

/** Lowest and highest trackable latencies, in microseconds. */
export const LOWEST_TRACKABLE_US = 1;
export const HIGHEST_TRACKABLE_US = 3_600_000_000; // 1 hour
export const SIGNIFICANT_DIGITS = 3;
/** Encoded histograms longer than this are refused (a canonical one is well under 300 kB). */
const MAX_ENCODED_CHARS = 4 * 1024 * 1024;
const US_PER_MS = 1000;

/** Latency figures of a histogram, in ms: the shape the reports chart (src/web/contract.ts). */
export type LatencySummary = LatencyPoint;
/** One point of a percentile distribution; `count` is how many values are ≤ `valueMs`. */
export type { DistributionPoint };

function newHdr(): hdr.JsHistogram {
  const h = hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: LOWEST_TRACKABLE_US,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    useWebAssembly: false,
  });
  if (!(h instanceof hdr.JsHistogram)) {
    throw new TpslabError('TPSLAB_E_INTERNAL', 'hdr-histogram-js built a non-JS histogram although WebAssembly was disabled');
  }
  return h;
}

// hdr's own V2 pieces (CommonJS, not re-exported by its index): inflating the payload and its
// ZigZag LEB128-64b9B counts, so the overseer can read a beacon's histogram without building one.
const requireCjs = createRequire(import.meta.url);
const { decompress } = requireCjs('hdr-histogram-js/dist/encoding.js') as { decompress(data: Uint8Array): Uint8Array };
const ZigZag = (requireCjs('hdr-histogram-js/dist/ZigZagEncoding.js') as { default: { decode(b: hdr.ByteBuffer): number } }).default;
const V2_COMPRESSED_COOKIE_BASE = 0x1c849304;
const V2_COOKIE_BASE = 0x1c849303;

/**
 * A decoded histogram as its non-zero buckets only (index in the canonical layout, count), as
 * the overseer adds them: three per beacon per second, each a few dozen buckets where a full
 * histogram is ~23k (92 kB to allocate and scan).
 */
export interface SparseHistogram {
  readonly indexes: number[];
  readonly counts: number[];
  readonly total: number;
}

let layout: hdr.JsHistogram | undefined;
/** One empty canonical histogram, kept to compare layouts with. */
function newLayout(): hdr.JsHistogram {
  return (layout ??= newHdr());
}

/** Milliseconds → whole microseconds inside the trackable range (negative → 0, above 1 h → 1 h). */
function toMicros(latencyMs: number): number {
  if (Number.isNaN(latencyMs)) {
    throw new TpslabError('TPSLAB_E_INTERNAL', 'a latency of NaN ms was recorded; the caller computed it from a missing timestamp');
  }
  const us = Math.round(latencyMs * US_PER_MS);
  if (us <= 0) return 0;
  return us > HIGHEST_TRACKABLE_US ? HIGHEST_TRACKABLE_US : us;
}

/** One histogram of latencies (or of schedule lag), recorded in µs and read in ms. */
export class LatencyHistogram {
  private readonly h: hdr.JsHistogram;

  /** `h`: an hdr histogram of the canonical layout (decode checks it), else a new empty one. */
  constructor(h?: hdr.JsHistogram) {
    this.h = h ?? newHdr();
  }

  /** Records one latency; clamps to 0 .. 1 hour (negative values count as 0). */
  record(latencyMs: number): void {
    this.h.recordValue(toMicros(latencyMs));
  }

  /** Records `count` latencies of `us` µs, as toMicros gives them. */
  recordMicros(us: number, count: number): void {
    this.h.recordValueWithCount(us, count);
  }

  /** The lowest µs value counted in the same bucket as `us` (≤ 1 hour). */
  lowestEquivalentMicros(us: number): number {
    return this.h.lowestEquivalentValue(us);
  }

  /** The highest µs value counted in the same bucket as `us`. */
  highestEquivalentMicros(us: number): number {
    return this.h.highestEquivalentValue(us);
  }

  /**
   * Adds every value of `other` into this histogram (the only correct way to combine them).
   * Every instance has the canonical layout, so only the buckets up to `other`'s max are visited:
   * hdr's own add scans all ~23k buckets up to 1 hour, and the overseer adds three histograms per
   * beacon per second. The same result as hdr's add (a test compares the encodings).
   */
  add(other: LatencyHistogram): void {
    const o = other.h;
    const h = this.h;
    if (o.totalCount === 0) return;
    const last = o.countsArrayIndex(o.maxValue);
    let total = 0;
    for (let i = 0; i <= last; i++) {
      const n = o.getCountAtIndex(i);
      if (n > 0) {
        h.addToCountAtIndex(i, n);
        total += n;
      }
    }
    h.setTotalCount(h.totalCount + total);
    // With a lowest discernible value of 1 µs there is no unit magnitude to round by: hdr's add sets the same.
    h.maxValue = Math.max(h.maxValue, o.maxValue);
    h.minNonZeroValue = Math.min(h.minNonZeroValue, o.minNonZeroValue);
  }

  /** Adds a `decodeSparse` result: the same as adding the decoded histogram. */
  addSparse(o: SparseHistogram): void {
    const n = o.indexes.length;
    if (n === 0) return;
    const h = this.h;
    for (let k = 0; k < n; k++) h.addToCountAtIndex(o.indexes[k]!, o.counts[k]!);
    h.setTotalCount(h.totalCount + o.total);
    // What hdr's decode then add would set: max from the highest bucket, min from the lowest non-zero one above 0.
    h.maxValue = Math.max(h.maxValue, h.highestEquivalentValue(h.valueFromIndex(o.indexes[n - 1]!)));
    const low = o.indexes[0] === 0 ? o.indexes[1] : o.indexes[0];
    if (low !== undefined) h.minNonZeroValue = Math.min(h.minNonZeroValue, h.valueFromIndex(low));
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** Value at percentile `p` (0..100) in ms; 0 when empty. */
  percentileMs(p: number): number {
    if (!(p >= 0 && p <= 100)) {
      throw new TpslabError('TPSLAB_E_INTERNAL', `percentile must be between 0 and 100, got ${p}`);
    }
    if (this.h.totalCount === 0) return 0;
    return this.h.getValueAtPercentile(p) / US_PER_MS;
  }

  summary(): LatencySummary {
    if (this.h.totalCount === 0) {
      return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    }
    return {
      count: this.h.totalCount,
      meanMs: this.meanUs() / US_PER_MS,
      p50Ms: this.percentileMs(50),
      p90Ms: this.percentileMs(90),
      p99Ms: this.percentileMs(99),
      p999Ms: this.percentileMs(99.9),
      // The highest value equivalent to the max, so a decoded copy reports the same max.
      maxMs: this.h.highestEquivalentValue(this.h.maxValue) / US_PER_MS,
    };
  }

  /**
   * The mean, summed over the bucket counts with hdr's median-equivalent values (what hdr's own
   * `mean` gives), without its percentile iterator, which costs ≈2 ms a histogram.
   */
  private meanUs(): number {
    const h = this.h;
    const total = h.totalCount;
    let sum = 0;
    let seen = 0;
    for (let i = 0; i < h.countsArrayLength && seen < total; i++) {
      const c = h.getCountAtIndex(i);
      if (c === 0) continue;
      sum += h.medianEquivalentValue(h.valueFromIndex(i)) * c;
      seen += c;
    }
    return sum / total;
  }

  /** hdr's compressed base64 (V2) encoding: what beacons ship and results.db stores. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.h);
  }

  /** Decodes `encode()` output. Anything else is a bad message from a beacon: TPSLAB_E_BEACON. */
  static decode(text: string): LatencyHistogram {
    if (typeof text !== 'string' || text.length === 0 || text.length > MAX_ENCODED_CHARS) {
      throw new TpslabError(
        'TPSLAB_E_BEACON',
        `an encoded histogram must be a non-empty base64 string of at most ${MAX_ENCODED_CHARS} characters, got ${typeof text === 'string' ? `${text.length} characters` : typeof text}`,
      );
    }
    let decoded: hdr.Histogram;
    try {
      decoded = hdr.decodeFromCompressedBase64(text, 32, false);
    } catch (err) {
      throw new TpslabError(
        'TPSLAB_E_BEACON',
        `an encoded histogram could not be decoded (${err instanceof Error ? err.message : String(err)}); expected hdr compressed base64 V2 from LatencyHistogram.encode()`,
        { cause: err },
      );
    }
    if (
      !(decoded instanceof hdr.JsHistogram) ||
      decoded.numberOfSignificantValueDigits !== SIGNIFICANT_DIGITS ||
      decoded.lowestDiscernibleValue !== LOWEST_TRACKABLE_US ||
      // maxValue is the top of its bucket: a value clamped to one hour sits in a bucket reaching past it.
      decoded.lowestEquivalentValue(decoded.maxValue) > HIGHEST_TRACKABLE_US
    ) {
      throw new TpslabError(
        'TPSLAB_E_BEACON',
        `an encoded histogram has the wrong layout (${SIGNIFICANT_DIGITS} significant digits, values in µs from ${LOWEST_TRACKABLE_US} to ${HIGHEST_TRACKABLE_US} expected); is the beacon running the same tpslab version?`,
      );
    }
    // Every instance has the canonical layout: one decoded with it is used as it is (the overseer
    // decodes three per beacon per second; a copy scans every bucket), any other is copied into it.
    const canonical = newLayout();
    if (decoded.highestTrackableValue === canonical.highestTrackableValue && decoded.bucketCount === canonical.bucketCount && decoded.subBucketCount === canonical.subBucketCount && decoded.unitMagnitude === canonical.unitMagnitude && !decoded.autoResize) {
      return new LatencyHistogram(decoded);
    }
    const out = new LatencyHistogram();
    out.h.add(decoded);
    return out;
  }

  /**
   * Decodes `encode()` output into its non-zero buckets without building a histogram (what the
   * overseer merges; see SparseHistogram). Same checks and errors as `decode`: anything the fast
   * reading does not recognise goes through `decode`, which says what is wrong.
   */
  static decodeSparse(text: string): SparseHistogram {
    const fast = typeof text === 'string' && text.length > 0 && text.length <= MAX_ENCODED_CHARS ? readSparse(text) : undefined;
    return fast ?? sparseOf(LatencyHistogram.decode(text).h);
  }

  reset(): void {
    this.h.reset();
  }

  /**
   * Percentile distribution for charts, from hdr's percentile iteration (log-spaced towards
   * 100%, about 50-100 points; the last point is the max at percentile 100). Empty → [].
   */
  distribution(): DistributionPoint[] {
    const total = this.h.totalCount;
    if (total === 0) return [];
    const halvings = Math.max(1, Math.log2(total));
    const ticksPerHalfDistance = Math.min(10, Math.max(1, Math.round(75 / halvings)));
    const it = this.h.percentileIterator;
    it.reset(ticksPerHalfDistance);
    const out: DistributionPoint[] = [];
    // hasNext() is stateful in hdr-histogram-js: call it exactly once per step.
    while (it.hasNext()) {
      const v = it.next();
      out.push({
        valueMs: this.h.highestEquivalentValue(v.valueIteratedTo) / US_PER_MS,
        percentile: v.percentileLevelIteratedTo,
        count: v.totalCountToThisValue,
      });
    }
    return out;
  }
}

/** The canonical-layout V2 payload of `text` as non-zero buckets; undefined when it is anything else. */
function readSparse(text: string): SparseHistogram | undefined {
  try {
    // Headers are read with Buffer's own readers: hdr's ByteBuffer reverses bytes in place, which
    // would scramble a Buffer (its slice is a view, not a copy).
    const outer = Buffer.from(text, 'base64');
    if ((outer.readUInt32BE(0) & ~0xf0) !== V2_COMPRESSED_COOKIE_BASE) return undefined;
    const inner = Buffer.from(decompress(new Uint8Array(outer)));
    if (inner.length < 40 || (inner.readUInt32BE(0) & ~0xf0) !== V2_COOKIE_BASE) return undefined;
    const payloadBytes = inner.readInt32BE(4);
    const digits = inner.readInt32BE(12);
    const lowest = Number(inner.readBigInt64BE(16));
    const highest = Number(inner.readBigInt64BE(24));
    const buf = new hdr.ByteBuffer(inner);
    buf.position = 40;
    const canonical = newLayout();
    if (digits !== SIGNIFICANT_DIGITS || lowest !== LOWEST_TRACKABLE_US || highest > HIGHEST_TRACKABLE_US || highest < LOWEST_TRACKABLE_US) return undefined;
    const end = buf.position + payloadBytes;
    if (payloadBytes < 0 || end > buf.data.length) return undefined;
    const indexes: number[] = [];
    const counts: number[] = [];
    let total = 0;
    let index = 0;
    while (buf.position < end) {
      const c = ZigZag.decode(buf);
      if (c < 0) index -= c;
      else {
        if (c > 0) {
          indexes.push(index);
          counts.push(c);
          total += c;
        }
        index++;
      }
    }
    // Buckets past the layout (or a value above one hour) would not fit the canonical histogram.
    if (buf.position !== end || index > canonical.countsArrayLength) return undefined;
    if (indexes.length > 0 && canonical.valueFromIndex(indexes.at(-1)!) > HIGHEST_TRACKABLE_US) return undefined;
    return { indexes, counts, total };
  } catch {
    return undefined;
  }
}

function sparseOf(h: hdr.JsHistogram): SparseHistogram {
  const indexes: number[] = [];
  const counts: number[] = [];
  if (h.totalCount > 0) {
    const last = h.countsArrayIndex(h.maxValue);
    for (let i = 0; i <= last; i++) {
      const c = h.getCountAtIndex(i);
      if (c > 0) {
        indexes.push(i);
        counts.push(c);
      }
    }
  }
  return { indexes, counts, total: h.totalCount };
}

/** Decodes and adds a list of encoded histograms (e.g. one per beacon for one second). */
export function mergeEncoded(list: readonly string[]): LatencyHistogram {
  const merged = new LatencyHistogram();
  for (const text of list) merged.addSparse(LatencyHistogram.decodeSparse(text));
  return merged;
}

/** The three encoded histograms of one interval, as a beacon ships them. */
export interface EncodedInterval {
  corrected: string;
  uncorrected: string;
  lag: string;
}

/**
 * What a beacon records per interval: latency corrected for coordinated omission (from the
 * intended send time), uncorrected latency (from the actual send), and schedule lag
 * (actual send − intended). Lag is recorded per send with `recordLag`, not by `recordCommit`,
 * so transactions that never commit still count in it.
 */
export class IntervalRecorder {
  private readonly corrected = new RunRecorder();
  private readonly uncorrected = new RunRecorder();
  private readonly lag = new RunRecorder();

  /** All three times in ms on the same clock. */
  recordCommit(intendedMs: number, sentMs: number, committedMs: number): void {
    this.corrected.record(committedMs - intendedMs);
    this.uncorrected.record(committedMs - sentMs);
  }

  recordLag(lagMs: number): void {
    this.lag.record(lagMs);
  }

  /** Returns the interval's histograms encoded and resets them for the next interval. */
  snapshot(): EncodedInterval {
    return { corrected: this.corrected.take(), uncorrected: this.uncorrected.take(), lag: this.lag.take() };
  }
}

/**
 * Records into a histogram, a run of values in the same bucket at once (recordValueWithCount of
 * the bucket's lowest value): exactly the same counts and encoding, less work per value on a
 * beacon's hot path, where close values come in runs (lags of a batch taken in one tick, a few µs
 * apart; commit latencies of one block's transactions sent in one batch). A value outside the
 * run's bucket costs two bucket-bound look-ups more than recording it directly.
 */
class RunRecorder {
  private readonly h = new LatencyHistogram();
  /** The run's bucket, [lo, hi] in µs (empty: lo > hi). */
  private lo = 1;
  private hi = 0;
  /**
   * The same bucket before rounding: toMicros(ms) is Math.round(ms × 1000), which is in [lo, hi]
   * exactly when ms × 1000 is in [lo − 0.5, hi + 0.5) (for lo ≥ 1; a NaN is in no range). One
   * multiplication and two comparisons per value in the run (the hot path: one lag per send).
   */
  private loX = 1;
  private hiX = 0;
  private run = 0;

  record(latencyMs: number): void {
    const x = latencyMs * US_PER_MS;
    if (x >= this.loX && x < this.hiX) {
      this.run++;
      return;
    }
    const us = toMicros(latencyMs);
    if (us >= this.lo && us <= this.hi) {
      this.run++;
      return;
    }
    this.flush();
    this.lo = this.h.lowestEquivalentMicros(us);
    this.hi = this.h.highestEquivalentMicros(us);
    // Bucket 0 (clamped negatives) and the clamped top take the exact path above.
    if (this.lo >= 1 && this.hi < HIGHEST_TRACKABLE_US) {
      this.loX = this.lo - 0.5;
      this.hiX = this.hi + 0.5;
    }
    this.run = 1;
  }

  private flush(): void {
    if (this.run > 0) this.h.recordMicros(this.lo, this.run);
    this.run = 0;
    this.lo = 1;
    this.hi = 0;
    this.loX = 1;
    this.hiX = 0;
  }

  /** The histogram so far, encoded; then empty. */
  take(): string {
    this.flush();
    const out = this.h.encode();
    this.h.reset();
    return out;
  }
}
