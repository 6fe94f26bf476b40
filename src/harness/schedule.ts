/**
 * Intended send times for an open-model run. Every transaction gets an offset
 * (ms from the start of the run) before the run begins; senders send at that
 * offset whatever happened to earlier ones, and latency is measured from it, so a
 * slow system cannot slow the load down (no coordinated omission).
 *
 * The stages describe a rate r(t) in tx/s. Its integral Λ(t) is the expected
 * number of transactions sent by t, and both arrival processes are built by
 * inverting Λ (time rescaling):
 * - uniform: the k-th transaction is at the first t with Λ(t) = k, k = 1, 2, ...
 *   so the count is floor(Λ(end)) and the density follows the rate exactly;
 * - poisson: unit-rate exponential steps in Λ, mapped back to time, which is an
 *   exact inhomogeneous Poisson process with intensity r(t).
 *
 * Cost: O(stages + bursts + transactions) time, one Float64Array of 8 bytes per
 * transaction; nothing is quadratic. 10,000/s for 3,600 s is 36 M offsets,
 * 288 MB (~275 MiB); see `openSchedule` for measured times.
 */
import { TpslabError } from '../errors.js';
import { createRng } from './rng.js';

export type Stage =
  | { kind: 'constant'; ratePerSec: number; durationSec: number }
  /** The rate changes linearly from `fromPerSec` to `toPerSec`. */
  | { kind: 'ramp'; fromPerSec: number; toPerSec: number; durationSec: number }
  /** `steps` equal-length constant steps; the first at `fromPerSec`, the last at `toPerSec`, evenly spaced between. */
  | { kind: 'steps'; fromPerSec: number; toPerSec: number; steps: number; durationSec: number }
  /**
   * Each period of `everySec` starts with `burstSec` at `burstPerSec` (instead of,
   * not on top of, the base rate) and continues at `basePerSec`; the first burst
   * is at offset 0 of the stage, and the last period is cut off at `durationSec`.
   */
  | { kind: 'burst'; basePerSec: number; burstPerSec: number; burstSec: number; everySec: number; durationSec: number };

export interface ScheduleOptions {
  arrival: 'uniform' | 'poisson';
  /** Seeds the poisson process (uniform is deterministic and ignores it). */
  seed: number;
}

/** A piece of the rate curve on which the rate is linear: r0 at startSec, r1 at startSec + durSec. */
interface Segment {
  startSec: number;
  durSec: number;
  r0: number;
  r1: number;
}

/** Most steps, or burst periods, in one stage: each is walked once when planning. */
const MAX_PIECES = 10_000_000;

function scenarioError(path: string, problem: string): TpslabError {
  return new TpslabError('TPSLAB_E_SCENARIO', `${path} ${problem}`, { details: { field: path } });
}

function checkNumber(stage: object, index: number, key: string, min: 0, inclusive: boolean, unit: string): void {
  const value = (stage as Record<string, unknown>)[key];
  const valid = `a finite number ${inclusive ? '>=' : '>'} ${min} (${unit})`;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (!inclusive && value === min)) {
    throw scenarioError(`stages[${index}].${key}`, `is ${JSON.stringify(value) ?? String(value)}; it must be ${valid}.`);
  }
}

function validateStages(stages: readonly Stage[]): void {
  if (!Array.isArray(stages)) throw scenarioError('stages', 'must be a list of stages.');
  stages.forEach((stage: Stage, i) => {
    if (typeof stage !== 'object' || stage === null) throw scenarioError(`stages[${i}]`, 'must be an object with a kind.');
    const kind: unknown = (stage as { kind?: unknown }).kind;
    const rate = (key: string): void => checkNumber(stage, i, key, 0, true, 'tx/s');
    switch (stage.kind) {
      case 'constant':
        rate('ratePerSec');
        break;
      case 'ramp':
        rate('fromPerSec');
        rate('toPerSec');
        break;
      case 'steps':
        rate('fromPerSec');
        rate('toPerSec');
        if (!Number.isInteger(stage.steps) || stage.steps < 1) {
          throw scenarioError(`stages[${i}].steps`, `is ${String(stage.steps)}; it must be a whole number >= 1 (>= 2 when fromPerSec differs from toPerSec).`);
        }
        if (stage.steps > MAX_PIECES) throw scenarioError(`stages[${i}].steps`, `is ${stage.steps}; at most ${MAX_PIECES} steps are allowed.`);
        if (stage.steps === 1 && stage.fromPerSec !== stage.toPerSec) {
          throw scenarioError(`stages[${i}].steps`, `is 1, but one step cannot go from ${stage.fromPerSec}/s to ${stage.toPerSec}/s; use steps >= 2 or a constant stage.`);
        }
        break;
      case 'burst':
        rate('basePerSec');
        rate('burstPerSec');
        checkNumber(stage, i, 'everySec', 0, false, 'seconds');
        checkNumber(stage, i, 'burstSec', 0, false, 'seconds');
        if (stage.burstSec > stage.everySec) {
          throw scenarioError(`stages[${i}].burstSec`, `is ${stage.burstSec}, longer than everySec (${stage.everySec}); a burst must fit in its period.`);
        }
        if (stage.durationSec / stage.everySec > MAX_PIECES) {
          throw scenarioError(`stages[${i}].everySec`, `is ${stage.everySec}, which makes more than ${MAX_PIECES} bursts in ${stage.durationSec} s; use a longer period.`);
        }
        break;
      default:
        throw scenarioError(`stages[${i}].kind`, `is ${JSON.stringify(kind) ?? String(kind)}; it must be one of "constant", "ramp", "steps", "burst".`);
    }
    checkNumber(stage, i, 'durationSec', 0, true, 'seconds');
  });
}

/** The rate curve as linear segments in time order. Bursts yield two segments per period. */
function* segmentsOf(stages: readonly Stage[]): Generator<Segment> {
  let stageStartSec = 0;
  for (const stage of stages) {
    const d = stage.durationSec;
    switch (stage.kind) {
      case 'constant':
        yield { startSec: stageStartSec, durSec: d, r0: stage.ratePerSec, r1: stage.ratePerSec };
        break;
      case 'ramp':
        yield { startSec: stageStartSec, durSec: d, r0: stage.fromPerSec, r1: stage.toPerSec };
        break;
      case 'steps':
        for (let i = 0; i < stage.steps; i++) {
          const r = stage.steps === 1 ? stage.fromPerSec : stage.fromPerSec + ((stage.toPerSec - stage.fromPerSec) * i) / (stage.steps - 1);
          const a = (d * i) / stage.steps;
          const b = (d * (i + 1)) / stage.steps;
          yield { startSec: stageStartSec + a, durSec: b - a, r0: r, r1: r };
        }
        break;
      case 'burst':
        for (let j = 0; j * stage.everySec < d; j++) {
          const periodStart = j * stage.everySec;
          const burstEnd = Math.min(periodStart + stage.burstSec, d);
          const periodEnd = Math.min((j + 1) * stage.everySec, d);
          yield { startSec: stageStartSec + periodStart, durSec: burstEnd - periodStart, r0: stage.burstPerSec, r1: stage.burstPerSec };
          if (periodEnd > burstEnd) yield { startSec: stageStartSec + burstEnd, durSec: periodEnd - burstEnd, r0: stage.basePerSec, r1: stage.basePerSec };
        }
        break;
    }
    stageStartSec += d;
  }
}

/**
 * Maps cumulative expected counts m (called with non-decreasing m) to the first
 * time Λ(t) = m, walking the segments once.
 */
class InverseCumulative {
  private readonly segments: Iterator<Segment>;
  private seg: Segment | undefined;
  private segStartCount = 0;
  private segEndCount = 0;

  constructor(
    stages: readonly Stage[],
    private readonly totalCount: number,
  ) {
    this.segments = segmentsOf(stages);
    this.advance();
  }

  private advance(): boolean {
    const next = this.segments.next();
    if (next.done) return false;
    this.seg = next.value;
    this.segStartCount = this.segEndCount;
    this.segEndCount += (next.value.durSec * (next.value.r0 + next.value.r1)) / 2;
    return true;
  }

  offsetMsAt(count: number): number {
    const m = count < this.totalCount ? count : this.totalCount; // rounding never runs past the last busy segment
    while (m > this.segEndCount && this.advance()) {
      // skip segments that end before m
    }
    const seg = this.seg;
    if (seg === undefined) return 0;
    const local = m - this.segStartCount;
    const slope = seg.durSec > 0 ? (seg.r1 - seg.r0) / seg.durSec : 0;
    // Solve r0·τ + slope·τ²/2 = local in the form that is stable for slope → 0 and r0 = 0.
    const denom = seg.r0 + Math.sqrt(Math.max(0, seg.r0 * seg.r0 + 2 * slope * local));
    let tau = denom > 0 ? (2 * local) / denom : 0;
    if (!(tau > 0)) tau = 0;
    else if (tau > seg.durSec) tau = seg.durSec;
    return (seg.startSec + tau) * 1000;
  }
}

/** Expected number of transactions: the integral of the rate (not rounded; uniform arrival yields its floor). */
export function expectedCount(stages: readonly Stage[]): number {
  validateStages(stages);
  let total = 0;
  for (const seg of segmentsOf(stages)) total += (seg.durSec * (seg.r0 + seg.r1)) / 2;
  return total;
}

function roughly(x: number): string {
  return x < 1e12 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3);
}

function allocate(length: number): Float64Array {
  try {
    return new Float64Array(length);
  } catch (err) {
    throw new TpslabError(
      'TPSLAB_E_SCENARIO',
      `stages plan about ${roughly(length)} transactions (${roughly(length / 131072)} MiB of send times), more than this process can hold; shorten the run or lower the rate.`,
      { cause: err, details: { field: 'stages' } },
    );
  }
}

/**
 * Intended send offsets in ms from the start, non-decreasing, for the stages in
 * sequence. Measured on a shared 2-core machine (Node 20): 10,000/s × 3,600 s
 * (36 M offsets, 288 MB, rss ~325 MB) builds in ~0.5-0.9 s uniform and
 * ~1.5-2 s poisson.
 * The result may be a view on a slightly (< 1/64) longer buffer, to spare a copy.
 */
export function openSchedule(stages: readonly Stage[], opts: ScheduleOptions): Float64Array {
  if (opts.arrival !== 'uniform' && opts.arrival !== 'poisson') {
    throw scenarioError('arrival', `is ${JSON.stringify(opts.arrival) ?? String(opts.arrival)}; it must be "uniform" or "poisson".`);
  }
  const total = expectedCount(stages);
  const inverse = new InverseCumulative(stages, total);
  if (opts.arrival === 'uniform') {
    const n = Math.floor(total + total * 1e-10 + 1e-9); // 999.9999999 from float sums still means 1000
    const out = allocate(n);
    let prev = 0;
    for (let k = 0; k < n; k++) {
      const t = inverse.offsetMsAt(k + 1);
      prev = t > prev ? t : prev;
      out[k] = prev;
    }
    return out;
  }
  const rng = createRng(opts.seed, 'schedule', 'seed');
  let out = allocate(Math.ceil(total + 6 * Math.sqrt(total) + 16));
  let n = 0;
  let prev = 0;
  for (let m = -Math.log(1 - rng.nextFloat()); m <= total; m -= Math.log(1 - rng.nextFloat())) {
    if (n === out.length) {
      const grown = allocate(Math.ceil(out.length * 1.25) + 16);
      grown.set(out);
      out = grown;
    }
    const t = inverse.offsetMsAt(m);
    prev = t > prev ? t : prev;
    out[n++] = prev;
  }
  return trimmed(out, n);
}

/**
 * The same offsets as `openSchedule`, one at a time, in O(1) memory: a beacon walks the run's
 * whole schedule lazily instead of receiving it (`next()` is NaN past the last). Same stages
 * and options, same values in the same order (test/harness/plan-stream.test.ts checks it).
 */
export class OpenOffsets {
  private readonly inverse: InverseCumulative;
  private readonly total: number;
  private readonly uniformCount: number;
  private readonly rng: ReturnType<typeof createRng> | undefined;
  private k = 0;
  private m = 0;
  private prev = 0;

  constructor(stages: readonly Stage[], opts: ScheduleOptions) {
    if (opts.arrival !== 'uniform' && opts.arrival !== 'poisson') {
      throw scenarioError('arrival', `is ${JSON.stringify(opts.arrival) ?? String(opts.arrival)}; it must be "uniform" or "poisson".`);
    }
    this.total = expectedCount(stages);
    this.inverse = new InverseCumulative(stages, this.total);
    this.uniformCount = Math.floor(this.total + this.total * 1e-10 + 1e-9);
    if (opts.arrival === 'poisson') {
      this.rng = createRng(opts.seed, 'schedule', 'seed');
      this.m = -Math.log(1 - this.rng.nextFloat());
    }
  }

  /** The next intended offset in ms, or NaN when the schedule is over. */
  next(): number {
    let t: number;
    if (this.rng === undefined) {
      if (this.k >= this.uniformCount) return Number.NaN;
      t = this.inverse.offsetMsAt(++this.k);
    } else {
      if (!(this.m <= this.total)) return Number.NaN;
      t = this.inverse.offsetMsAt(this.m);
      this.m -= Math.log(1 - this.rng.nextFloat());
    }
    this.prev = t > this.prev ? t : this.prev;
    return this.prev;
  }
}

/** The first n entries: a view when little is wasted (saves a copy of a large plan), else a copy. */
function trimmed(out: Float64Array, n: number): Float64Array {
  if (n === out.length) return out;
  return out.length - n <= out.length / 64 ? out.subarray(0, n) : out.slice(0, n);
}

/** Target rate (tx/s) at `offsetMs` from the start; 0 before the start and after the last stage. */
export function targetRateAt(stages: readonly Stage[], offsetMs: number): number {
  validateStages(stages);
  const t = offsetMs / 1000;
  if (!(t >= 0)) return 0;
  let stageStartSec = 0;
  for (const stage of stages) {
    const d = stage.durationSec;
    const tau = t - stageStartSec;
    stageStartSec += d;
    if (tau >= d) continue;
    switch (stage.kind) {
      case 'constant':
        return stage.ratePerSec;
      case 'ramp':
        return stage.fromPerSec + ((stage.toPerSec - stage.fromPerSec) * tau) / d;
      case 'steps': {
        if (stage.steps === 1) return stage.fromPerSec;
        const i = Math.min(stage.steps - 1, Math.floor((tau * stage.steps) / d));
        return stage.fromPerSec + ((stage.toPerSec - stage.fromPerSec) * i) / (stage.steps - 1);
      }
      case 'burst': {
        const j = Math.floor(tau / stage.everySec);
        return tau - j * stage.everySec < stage.burstSec ? stage.burstPerSec : stage.basePerSec;
      }
    }
  }
  return 0;
}

// ---------------------------------------------------------------- traces

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function traceError(source: string, line: number, column: string, problem: string): TpslabError {
  return new TpslabError('TPSLAB_E_TRACE', `Trace ${source}, line ${line}: ${problem}`, { details: { source, line, column } });
}

/** Splits one CSV line (RFC 4180 quoting, no newlines inside quotes). Returns a problem string on bad quoting. */
function splitCsvLine(line: string): string[] | string {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) return `a quoted field that starts at character ${i + 1} is never closed.`;
        value += line.slice(j, q);
        if (line.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      const comma = line.indexOf(',', j);
      const rest = line.slice(j, comma < 0 ? line.length : comma);
      if (rest.trim() !== '') return `unexpected text ${JSON.stringify(rest)} after a quoted field.`;
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    } else {
      const comma = line.indexOf(',', i);
      fields.push(line.slice(i, comma < 0 ? line.length : comma));
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

/** The field at `index`, or a problem string. Lines without quotes take a fast path. */
function fieldAt(line: string, index: number): string | { problem: string } {
  if (line.indexOf('"') < 0) {
    let start = 0;
    for (let f = 0; f < index; f++) {
      const comma = line.indexOf(',', start);
      if (comma < 0) return { problem: `it has ${f + 1} field(s), but the column is field ${index + 1}.` };
      start = comma + 1;
    }
    const end = line.indexOf(',', start);
    return line.slice(start, end < 0 ? line.length : end);
  }
  const fields = splitCsvLine(line);
  if (typeof fields === 'string') return { problem: fields };
  const value = fields[index];
  return value ?? { problem: `it has ${fields.length} field(s), but the column is field ${index + 1}.` };
}

/**
 * Parses a CSV trace: a header row, then one row per transaction whose `column`
 * holds its send offset in ms (non-decreasing, >= 0). Blank lines are skipped;
 * CRLF, a UTF-8 BOM and RFC 4180 quotes (not spanning lines) are accepted.
 * `source` (a file name) is quoted in errors, which are TPSLAB_E_TRACE with the
 * 1-based line number.
 */
export function traceSchedule(csvText: string, column: string, source: string): Float64Array {
  const text = csvText.charCodeAt(0) === 0xfeff ? csvText.slice(1) : csvText;
  let lines = 1;
  for (let p = text.indexOf('\n'); p >= 0; p = text.indexOf('\n', p + 1)) lines++;
  const out = new Float64Array(Math.max(0, lines - 1));
  let n = 0;
  let columnIndex = -1;
  let lineNo = 0;
  let prev = 0;
  let prevLine = 0;
  for (let pos = 0; pos < text.length; ) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    const line = text.charCodeAt(end - 1) === 13 && end > pos ? text.slice(pos, end - 1) : text.slice(pos, end);
    pos = end + 1;
    lineNo++;
    if (line.trim() === '') continue;
    if (columnIndex < 0) {
      const header = splitCsvLine(line);
      if (typeof header === 'string') throw traceError(source, lineNo, column, `the header row is not valid CSV: ${header}`);
      const names = header.map((h) => h.trim());
      const matches = names.filter((h) => h === column).length;
      if (matches === 0) {
        throw traceError(source, lineNo, column, `the header has no column ${JSON.stringify(column)}; its columns are ${names.map((h) => JSON.stringify(h)).join(', ')}.`);
      }
      if (matches > 1) throw traceError(source, lineNo, column, `the header names column ${JSON.stringify(column)} ${matches} times; rename the others.`);
      columnIndex = names.indexOf(column);
      continue;
    }
    const field = fieldAt(line, columnIndex);
    if (typeof field !== 'string') throw traceError(source, lineNo, column, field.problem);
    const raw = field.trim();
    if (!NUMBER.test(raw)) {
      throw traceError(source, lineNo, column, `column ${JSON.stringify(column)} is ${JSON.stringify(raw)}, which is not a number; it must be a send offset in ms (e.g. 12.5).`);
    }
    const value = Number(raw);
    if (value < 0) throw traceError(source, lineNo, column, `column ${JSON.stringify(column)} is ${raw}; send offsets must be >= 0 ms.`);
    if (value < prev) {
      throw traceError(source, lineNo, column, `offset ${raw} ms is less than ${prev} ms on line ${prevLine}; offsets must be non-decreasing (sort the trace by ${JSON.stringify(column)}).`);
    }
    prev = value;
    prevLine = lineNo;
    out[n++] = value;
  }
  if (columnIndex < 0) throw traceError(source, Math.max(1, lineNo), column, `the trace is empty; it needs a header row naming column ${JSON.stringify(column)} and at least one data row.`);
  if (n === 0) throw traceError(source, lineNo + 1, column, 'the trace has a header but no data rows; it needs at least one transaction.');
  return trimmed(out, n);
}
