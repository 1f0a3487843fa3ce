import type uPlot from 'uplot';
import { describe, expect, it } from 'vitest';

import { axisSize, formatRange, formatSi, labelWidth, timeDecimals, timeValues } from '../../../renderer/src/views/timeline/axes';

describe('timeline y axes', () => {
  it('labels values with SI prefixes and three significant digits at most', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [0.5, '0.5'],
      [12.5, '12.5'],
      [999, '999'],
      [1000, '1k'],
      [10_000, '10k'],
      [200_000, '200k'],
      [1_200_000, '1.2M'],
      [1_250_000, '1.25M'],
      [999_999, '1M'],
      [2.5e9, '2.5G'],
      [-5000, '-5k'],
    ];
    for (const [v, text] of cases) expect(formatSi(v), String(v)).toBe(text);
  });

  it('sizes an axis to its widest label, never below the width every chart reserves', () => {
    const u = {} as uPlot;
    const size = axisSize(56) as (self: uPlot, values: string[] | null, axisIdx: number, cycleNum: number) => number;
    // uPlot asks once before it has labels.
    expect(size(u, null, 1, 0)).toBe(56);
    expect(size(u, ['0', '5k'], 1, 1)).toBe(56);
    const wide = '123456789012345678';
    expect(size(u, ['0', wide], 1, 1)).toBeGreaterThanOrEqual(Math.ceil(labelWidth(wide)) + 15);
    expect(size(u, ['0', wide], 1, 1)).toBeGreaterThan(56);
  });
});

describe('timeline time labels', () => {
  it('give the time axis as many decimals as its step needs', () => {
    expect([1, 0.5, 0.1, 0.02, 0.001, 1e-6, 2e-7].map(timeDecimals)).toEqual([0, 1, 1, 2, 3, 6, 7]);
    const u = {} as uPlot;
    expect(timeValues(u, [137.829, 137.83, 137.831], 0, 50, 0.001)).toEqual(['137.829', '137.830', '137.831']);
  });

  it('keep a zoomed range apart in one unit', () => {
    expect(formatRange(137.829e9, 137.83e9)).toBe('137.82900 – 137.83000 s');
    expect(formatRange(0, 1e9)).toBe('0.00 – 1.00 s');
    expect(formatRange(21_000, 21_471)).toBe('21.000 – 21.471 µs');
    expect(formatRange(100, 600)).toBe('100 – 600 ns');
  });
});
