import { describe, expect, it } from 'vitest';
import { bandOf, emaSmooth, meanPerColumn, minMaxPerColumn, pixelColumn, pixelGridOf } from '../src/index.js';

describe('series reduction for the metric charts', () => {
  it('smooths with the debiased EMA TensorBoard draws', () => {
    expect(Array.from(emaSmooth([1, 3, 3], 0))).toEqual([1, 3, 3]);
    const smoothed = emaSmooth([1, 3, 3], 0.5);
    // Debiased: the first point is the first value, not half of it.
    expect(smoothed[0]).toBe(1);
    expect(smoothed[1]).toBeCloseTo((0.25 + 1.5) / 0.75, 12);
    expect(smoothed[2]).toBeCloseTo((0.125 + 0.75 + 1.5) / 0.875, 12);
    // A constant stays constant at any weight.
    expect(Array.from(emaSmooth([2, 2, 2, 2], 0.99)).every((v) => Math.abs(v - 2) < 1e-12)).toBe(true);
  });

  it('passes non-finite values through without moving the average', () => {
    const smoothed = emaSmooth([1, Number.NaN, Number.POSITIVE_INFINITY, 1], 0.9);
    expect(smoothed[1]).toBeNaN();
    expect(smoothed[2]).toBe(Number.POSITIVE_INFINITY);
    expect(smoothed[3]).toBeCloseTo(1, 12);
  });

  it('refuses a weight outside [0, 1)', () => {
    expect(() => emaSmooth([1], 1)).toThrow(/smoothing must be in \[0, 1\), got 1/);
    expect(() => emaSmooth([1], -0.1)).toThrow(RangeError);
    expect(() => emaSmooth([1], Number.NaN)).toThrow(RangeError);
  });

  it('keeps each pixel column’s min and max at their own steps, and short runs whole', () => {
    const grid = { x0: 0, x1: 9, width: 2 };
    expect(pixelColumn(0, grid)).toBe(0);
    expect(pixelColumn(4, grid)).toBe(0);
    expect(pixelColumn(5, grid)).toBe(1);
    expect(pixelColumn(9, grid)).toBe(1);
    const steps = Array.from({ length: 10 }, (_, i) => i);
    const values = [5, 5, 9, 1, 5, 5, 5, -3, 5, 5];
    expect(minMaxPerColumn({ step: steps, value: values }, grid)).toEqual({
      step: [2, 3, 5, 7],
      value: [9, 1, 5, -3],
    });
    expect(minMaxPerColumn({ step: [1, 2], value: [3, 4] }, grid)).toEqual({ step: [1, 2], value: [3, 4] });
    expect(pixelGridOf([{ step: [], value: [] }], 10)).toBeUndefined();
    expect(
      pixelGridOf(
        [
          { step: [4, 8], value: [0, 0] },
          { step: [2], value: [0] },
        ],
        10,
      ),
    ).toEqual({
      x0: 2,
      x1: 8,
      width: 10,
    });
  });

  it('averages runs per column into bands, with no spread for a lone run', () => {
    const grid = { x0: 0, x1: 3, width: 2 };
    const a = meanPerColumn({ step: [0, 1, 2, 3], value: [1, 3, 5, Number.NaN] }, grid);
    expect(a).toEqual({ column: [0, 1], step: [0.5, 2], value: [2, 5] });
    const b = meanPerColumn({ step: [0, 1], value: [4, 4] }, grid);
    const band = bandOf([a, b], 2);
    expect(band.count).toEqual([2, 1]);
    expect(band.mean).toEqual([3, 5]);
    expect(band.std[0]).toBeCloseTo(Math.SQRT2, 12);
    expect(band.std[1]).toBeNull();
    // Far from zero, the two-pass spread keeps its digits.
    const far = bandOf(
      [1000.01, 999.99, 1000].map((v) => ({ column: [0], step: [0], value: [v] })),
      1,
    );
    expect(far.std[0]).toBeCloseTo(0.01, 10);
  });
});
