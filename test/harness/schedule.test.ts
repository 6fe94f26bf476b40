// Intended send times: counts equal the integral of the rate, density follows it, poisson is seeded, traces are checked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { thrown } from '../testkit/index.js';
import { expectedCount, openSchedule, targetRateAt, traceSchedule, type Stage } from '../../src/harness/schedule.js';

const uniform = { arrival: 'uniform', seed: 1 } as const;


function assertAscending(offsets: Float64Array): void {
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i]! < offsets[i - 1]!) assert.fail(`offset ${i} (${offsets[i]}) < offset ${i - 1} (${offsets[i - 1]})`);
  }
}

/** How many offsets fall in [fromMs, toMs). */
function countIn(offsets: Float64Array, fromMs: number, toMs: number): number {
  let n = 0;
  for (const t of offsets) if (t >= fromMs && t < toMs) n++;
  return n;
}

describe('openSchedule, uniform arrival', () => {
  it('sends exactly the integral of a constant rate, evenly spaced', () => {
    const stages: Stage[] = [{ kind: 'constant', ratePerSec: 100, durationSec: 10 }];
    const out = openSchedule(stages, uniform);
    assert.equal(expectedCount(stages), 1000);
    assert.equal(out.length, 1000);
    assert.ok(Math.abs(out[0]! - 10) < 1e-9);
    assert.ok(Math.abs(out[999]! - 10_000) < 1e-9);
    for (let i = 1; i < out.length; i++) assert.ok(Math.abs(out[i]! - out[i - 1]! - 10) < 1e-6);
  });

  it('ramps from a rate of 0 with increasing density and count = integral', () => {
    const stages: Stage[] = [{ kind: 'ramp', fromPerSec: 0, toPerSec: 100, durationSec: 10 }];
    const out = openSchedule(stages, uniform);
    assert.equal(expectedCount(stages), 500);
    assert.equal(out.length, 500);
    assertAscending(out);
    assert.ok(out[0]! > 0 && out[499]! <= 10_000);
    // Λ(t) = 5t², so the count by each second is exactly 5t².
    for (let s = 1; s <= 10; s++) assert.equal(countIn(out, 0, s * 1000 + 1e-6), 5 * s * s, `by ${s} s`);
    const perSecond = Array.from({ length: 10 }, (_, s) => countIn(out, s * 1000 + 1e-6, (s + 1) * 1000 + 1e-6));
    for (let s = 1; s < 10; s++) assert.ok(perSecond[s]! > perSecond[s - 1]!, `density grows: ${perSecond.join(',')}`);
  });

  it('ramps down too', () => {
    const out = openSchedule([{ kind: 'ramp', fromPerSec: 100, toPerSec: 0, durationSec: 10 }], uniform);
    assert.equal(out.length, 500);
    assertAscending(out);
    assert.ok(countIn(out, 0, 5000) > countIn(out, 5000, 10_001));
  });

  it('climbs a staircase: each step sends its rate times its length', () => {
    const stages: Stage[] = [{ kind: 'steps', fromPerSec: 0, toPerSec: 100, steps: 5, durationSec: 10 }];
    const out = openSchedule(stages, uniform);
    assert.equal(expectedCount(stages), 500);
    assert.equal(out.length, 500);
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => countIn(out, i * 2000 + 1e-6, (i + 1) * 2000 + 1e-6)),
      [0, 50, 100, 150, 200],
    );
  });

  it('bursts at the start of each period, instead of the base rate', () => {
    const stages: Stage[] = [{ kind: 'burst', basePerSec: 10, burstPerSec: 100, burstSec: 1, everySec: 5, durationSec: 20 }];
    const out = openSchedule(stages, uniform);
    assert.equal(expectedCount(stages), 4 * (100 + 4 * 10));
    assert.equal(out.length, 560);
    for (let j = 0; j < 4; j++) {
      assert.equal(countIn(out, j * 5000 + 1e-6, j * 5000 + 1000 + 1e-6), 100, `burst ${j}`);
      assert.equal(countIn(out, j * 5000 + 1000 + 1e-6, (j + 1) * 5000 + 1e-6), 40, `base after burst ${j}`);
    }
  });

  it('cuts a last burst period off at the stage end', () => {
    const stages: Stage[] = [{ kind: 'burst', basePerSec: 0, burstPerSec: 10, burstSec: 2, everySec: 3, durationSec: 4 }];
    assert.equal(expectedCount(stages), 20 + 10);
    assert.equal(openSchedule(stages, uniform).length, 30);
  });

  it('handles fractional rates, carrying the fraction across stages', () => {
    const half: Stage[] = [{ kind: 'constant', ratePerSec: 0.5, durationSec: 9 }];
    assert.equal(expectedCount(half), 4.5);
    assert.deepEqual(Array.from(openSchedule(half, uniform)).map((t) => Math.round(t)), [2000, 4000, 6000, 8000]);
    const carried: Stage[] = [
      { kind: 'constant', ratePerSec: 1.5, durationSec: 1 },
      { kind: 'constant', ratePerSec: 1.5, durationSec: 1 },
    ];
    assert.equal(openSchedule(carried, uniform).length, 3);
    const third: Stage[] = [{ kind: 'constant', ratePerSec: 1 / 3, durationSec: 300 }];
    assert.equal(openSchedule(third, uniform).length, 100);
  });

  it('keeps each stage\'s offsets inside its window, skipping idle stages', () => {
    const stages: Stage[] = [
      { kind: 'constant', ratePerSec: 50, durationSec: 2 },
      { kind: 'constant', ratePerSec: 0, durationSec: 3 },
      { kind: 'ramp', fromPerSec: 0, toPerSec: 40, durationSec: 5 },
      { kind: 'constant', ratePerSec: 7, durationSec: 0 },
      { kind: 'steps', fromPerSec: 30, toPerSec: 10, steps: 3, durationSec: 3 },
    ];
    const out = openSchedule(stages, uniform);
    assertAscending(out);
    assert.equal(out.length, 100 + 0 + 100 + 60);
    assert.equal(countIn(out, 0, 2000 + 1e-6), 100);
    assert.equal(countIn(out, 2000 + 1e-6, 5000 + 1e-6), 0);
    assert.equal(countIn(out, 5000 + 1e-6, 10_000 + 1e-6), 100);
    assert.equal(countIn(out, 10_000 + 1e-6, 13_000 + 1e-6), 60);
    assert.ok(out[out.length - 1]! <= 13_000 + 1e-6);
  });

  it('ends on the last busy stage when trailing stages are idle', () => {
    const out = openSchedule(
      [
        { kind: 'constant', ratePerSec: 10, durationSec: 1 },
        { kind: 'constant', ratePerSec: 0, durationSec: 5 },
      ],
      uniform,
    );
    assert.equal(out.length, 10);
    assert.ok(Math.abs(out[9]! - 1000) < 1e-6);
  });

  it('plans nothing for no stages or zero rates', () => {
    assert.equal(openSchedule([], uniform).length, 0);
    assert.equal(openSchedule([{ kind: 'constant', ratePerSec: 0, durationSec: 10 }], { arrival: 'poisson', seed: 3 }).length, 0);
  });
});

describe('openSchedule, poisson arrival', () => {
  it('has the planned mean rate and exponential gaps (fixed seed)', () => {
    const out = openSchedule([{ kind: 'constant', ratePerSec: 1000, durationSec: 20 }], { arrival: 'poisson', seed: 7 });
    assertAscending(out);
    // 20,000 expected, σ ≈ 141: allow 4σ.
    assert.ok(Math.abs(out.length - 20_000) < 4 * 141, `count ${out.length}`);
    assert.ok(out[0]! >= 0 && out[out.length - 1]! <= 20_000);
    let sum = 0;
    let sumSq = 0;
    for (let i = 1; i < out.length; i++) {
      const gap = out[i]! - out[i - 1]!;
      sum += gap;
      sumSq += gap * gap;
    }
    const mean = sum / (out.length - 1);
    const cv = Math.sqrt(sumSq / (out.length - 1) - mean * mean) / mean;
    assert.ok(Math.abs(mean - 1) < 0.03, `mean gap ${mean} ms`);
    assert.ok(Math.abs(cv - 1) < 0.05, `coefficient of variation ${cv} (1 for exponential gaps)`);
  });

  it('follows a ramp: a quarter of the load in the first half', () => {
    const out = openSchedule([{ kind: 'ramp', fromPerSec: 0, toPerSec: 4000, durationSec: 10 }], { arrival: 'poisson', seed: 11 });
    assertAscending(out);
    const firstHalf = countIn(out, 0, 5000);
    assert.ok(Math.abs(out.length - 20_000) < 4 * 141, `count ${out.length}`);
    assert.ok(Math.abs(firstHalf / out.length - 0.25) < 0.015, `first half share ${firstHalf / out.length}`);
  });

  it('is reproducible from its seed and changes with it', () => {
    const stages: Stage[] = [{ kind: 'burst', basePerSec: 50, burstPerSec: 500, burstSec: 0.5, everySec: 2, durationSec: 10 }];
    const a = openSchedule(stages, { arrival: 'poisson', seed: 42 });
    const b = openSchedule(stages, { arrival: 'poisson', seed: 42 });
    const c = openSchedule(stages, { arrival: 'poisson', seed: 43 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
});

describe('targetRateAt', () => {
  const stages: Stage[] = [
    { kind: 'ramp', fromPerSec: 0, toPerSec: 100, durationSec: 10 },
    { kind: 'steps', fromPerSec: 10, toPerSec: 40, steps: 4, durationSec: 8 },
    { kind: 'burst', basePerSec: 5, burstPerSec: 50, burstSec: 1, everySec: 4, durationSec: 8 },
  ];
  it('reads the rate curve, with the later stage at a boundary', () => {
    assert.equal(targetRateAt(stages, -1), 0);
    assert.equal(targetRateAt(stages, 0), 0);
    assert.equal(targetRateAt(stages, 2500), 25);
    assert.equal(targetRateAt(stages, 10_000), 10);
    assert.equal(targetRateAt(stages, 12_500), 20);
    assert.equal(targetRateAt(stages, 17_999), 40);
    assert.equal(targetRateAt(stages, 18_000), 50);
    assert.equal(targetRateAt(stages, 19_500), 5);
    assert.equal(targetRateAt(stages, 22_500), 50);
    assert.equal(targetRateAt(stages, 26_000), 0);
  });
});

describe('stage validation', () => {
  const cases: [string, Stage[], string][] = [
    ['negative rate', [{ kind: 'constant', ratePerSec: -1, durationSec: 1 }], 'stages[0].ratePerSec'],
    ['NaN duration', [{ kind: 'ramp', fromPerSec: 0, toPerSec: 1, durationSec: Number.NaN }], 'stages[0].durationSec'],
    ['one step that must climb', [{ kind: 'steps', fromPerSec: 1, toPerSec: 2, steps: 1, durationSec: 1 }], 'stages[0].steps'],
    ['fractional steps', [{ kind: 'steps', fromPerSec: 1, toPerSec: 2, steps: 2.5, durationSec: 1 }], 'stages[0].steps'],
    ['burst longer than its period', [{ kind: 'burst', basePerSec: 1, burstPerSec: 2, burstSec: 3, everySec: 2, durationSec: 9 }], 'stages[0].burstSec'],
    ['zero period', [{ kind: 'burst', basePerSec: 1, burstPerSec: 2, burstSec: 0, everySec: 0, durationSec: 9 }], 'stages[0].everySec'],
    ['unknown kind', [{ kind: 'sine' } as unknown as Stage], 'stages[0].kind'],
    ['microsecond bursts for an hour', [{ kind: 'burst', basePerSec: 1, burstPerSec: 2, burstSec: 1e-7, everySec: 1e-6, durationSec: 3600 }], 'stages[0].everySec'],
    ['a plan too large to hold', [{ kind: 'constant', ratePerSec: 1e12, durationSec: 1e6 }], 'stages plan about'],
  ];
  for (const [name, stages, field] of cases) {
    it(`refuses ${name}, naming ${field}`, () => {
      const err = thrown(() => openSchedule(stages, uniform));
      assert.equal(err.code, 'TPSLAB_E_SCENARIO');
      assert.ok(err.message.startsWith(field), err.message);
    });
  }
  it('refuses an unknown arrival and a non-finite seed', () => {
    const stages: Stage[] = [{ kind: 'constant', ratePerSec: 1, durationSec: 1 }];
    assert.match(thrown(() => openSchedule(stages, { arrival: 'bursty' as 'uniform', seed: 1 })).message, /^arrival/);
    assert.match(thrown(() => openSchedule(stages, { arrival: 'poisson', seed: Number.NaN })).message, /^seed/);
  });
});

describe('traceSchedule', () => {
  it('reads the named column, with CRLF, a BOM, quotes and blank lines', () => {
    const csv = '\uFEFFid,"offsetMs",note\r\n1,0,a\r\n2,"12.5","x, y"\r\n\r\n3,12.5,\r\n4,1e3,z\r\n';
    assert.deepEqual(Array.from(traceSchedule(csv, 'offsetMs', 'load.csv')), [0, 12.5, 12.5, 1000]);
  });

  const errors: [string, string, number, RegExp][] = [
    ['an empty file', '', 1, /empty/],
    ['a header only', 'offsetMs\n', 2, /no data rows/],
    ['a missing column', 'id,atMs\n1,2\n', 1, /no column "offsetMs".*"id", "atMs"/],
    ['a non-number', 'offsetMs\n1\n2\nsoon\n', 4, /"soon", which is not a number/],
    ['an empty value', 'id,offsetMs\n1,5\n2,\n', 3, /"", which is not a number/],
    ['a short row', 'id,offsetMs\n1\n', 2, /1 field\(s\), but the column is field 2/],
    ['a negative offset', 'offsetMs\n-5\n', 2, />= 0/],
    ['decreasing offsets', 'offsetMs\n10\n20\n15\n', 4, /15 ms is less than 20 ms on line 3/],
    ['an unclosed quote', 'offsetMs\n"12\n', 2, /never closed/],
  ];
  for (const [name, csv, line, problem] of errors) {
    it(`refuses ${name} with the source and line ${line}`, () => {
      const err = thrown(() => traceSchedule(csv, 'offsetMs', 'trace.csv'));
      assert.equal(err.code, 'TPSLAB_E_TRACE');
      assert.ok(err.message.startsWith(`Trace trace.csv, line ${line}: `), err.message);
      assert.match(err.message, problem);
      assert.equal(err.details?.['line'], line);
    });
  }
});
