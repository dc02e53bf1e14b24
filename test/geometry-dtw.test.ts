import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dtwDistance,
  dtwPath,
  dtwTopK,
  dtwTopKBruteForce,
  dtwTopKWithStats,
  dtwWarp,
  keoghEnvelope,
  lbKeogh,
} from '../src/geometry/index.js';
import { mulberry32 } from '../src/index.js';
import { RunlakeError } from '../src/lake/index.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
const rng = mulberry32;

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function randomWalk(rand: () => number, n: number): Float64Array {
  const out = new Float64Array(n);
  let x = 0;
  for (let i = 0; i < n; i++) {
    x += gaussian(rand);
    out[i] = x;
  }
  return out;
}

function zNormalize(x: Float64Array): Float64Array {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let varSum = 0;
  for (const v of x) varSum += (v - mean) ** 2;
  const sd = Math.sqrt(varSum / x.length) || 1;
  return x.map((v) => (v - mean) / sd);
}

/** Independent reference: plain O(n²) DTW over the full matrix, optional band, sqrt of summed squares. */
function plainDtw(a: ArrayLike<number>, b: ArrayLike<number>, band = Number.POSITIVE_INFINITY): number {
  const n = a.length;
  const D: number[][] = Array.from({ length: n + 1 }, () =>
    new Array<number>(n + 1).fill(Number.POSITIVE_INFINITY),
  );
  (D[0] as number[])[0] = 0;
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= n; j++) {
      if (Math.abs(i - j) > band) continue;
      const d = (a[i - 1] as number) - (b[j - 1] as number);
      const row = D[i] as number[];
      const prevRow = D[i - 1] as number[];
      row[j] = d * d + Math.min(prevRow[j - 1] as number, prevRow[j] as number, row[j - 1] as number);
    }
  }
  return Math.sqrt((D[n] as number[])[n] as number);
}

function euclidean(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s);
}

const seriesPair = fc
  .integer({ min: 1, max: 40 })
  .chain((n) =>
    fc.tuple(
      fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
      fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
      fc.integer({ min: 0, max: n + 2 }),
    ),
  );

describe('dtwDistance', () => {
  it('with band ≥ n equals an independent plain O(n²) DTW, and a banded one for any band', () => {
    fc.assert(
      fc.property(seriesPair, ([xs, ys, band]) => {
        const a = Float64Array.from(xs);
        const b = Float64Array.from(ys);
        expect(dtwDistance(a, b, xs.length)).toBeCloseTo(plainDtw(xs, ys), 9);
        expect(dtwDistance(a, b, band)).toBeCloseTo(plainDtw(xs, ys, band), 9);
      }),
      { numRuns: 300 },
    );
  });

  it('with band 0 equals the Euclidean distance; is symmetric; DTW(a, a) = 0', () => {
    fc.assert(
      fc.property(seriesPair, ([xs, ys, band]) => {
        const a = Float64Array.from(xs);
        const b = Float64Array.from(ys);
        expect(dtwDistance(a, b, 0)).toBeCloseTo(euclidean(xs, ys), 9);
        expect(dtwDistance(a, b, band)).toBe(dtwDistance(b, a, band));
        expect(dtwDistance(a, a, band)).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts Float32Array and gives a shifted copy a smaller DTW than Euclidean distance', () => {
    const n = 64;
    const a = new Float32Array(n);
    const b = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = Math.sin(i / 4);
      b[i] = Math.sin((i - 3) / 4);
    }
    const dtw = dtwDistance(a, b, 5);
    expect(dtw).toBeLessThan(euclidean(a, b) / 3);
    expect(dtw).toBeLessThan(dtwDistance(a, b, 0));
  });

  it('early-abandons to Infinity only when the true distance exceeds bestSoFar', () => {
    const rand = rng(7);
    for (let t = 0; t < 200; t++) {
      const a = randomWalk(rand, 50);
      const b = randomWalk(rand, 50);
      const band = Math.floor(rand() * 10);
      const exact = dtwDistance(a, b, band);
      const bsf = exact * (0.5 + rand());
      const got = dtwDistance(a, b, band, bsf);
      if (got === Number.POSITIVE_INFINITY) expect(exact).toBeGreaterThan(bsf);
      else expect(got).toBe(exact);
      expect(dtwDistance(a, b, band, exact)).toBe(exact);
    }
  });
});

describe('keoghEnvelope and lbKeogh', () => {
  it('the envelope is the running max/min over the window', () => {
    fc.assert(
      fc.property(seriesPair, ([xs, , band]) => {
        const { upper, lower } = keoghEnvelope(Float64Array.from(xs), band);
        for (let i = 0; i < xs.length; i++) {
          const win = xs.slice(Math.max(0, i - band), i + band + 1);
          // `+ 0` maps -0 to +0: the envelope's value is what matters, and which signed zero a
          // running max keeps among equal zeros is not part of its contract.
          expect(upper[i]! + 0).toBe(Math.max(...win) + 0);
          expect(lower[i]! + 0).toBe(Math.min(...win) + 0);
        }
      }),
    );
  });

  it('lbKeogh ≤ dtwDistance for random series and bands, and abandons only above bestSoFar', () => {
    fc.assert(
      fc.property(seriesPair, fc.double({ min: 0, max: 50, noNaN: true }), ([xs, ys, band], bsf) => {
        const q = Float64Array.from(xs);
        const c = Float64Array.from(ys);
        const env = keoghEnvelope(q, band);
        const lb = lbKeogh(c, env);
        expect(lb).toBeLessThanOrEqual(dtwDistance(q, c, band) * (1 + 1e-12) + 1e-12);
        const early = lbKeogh(c, env, bsf);
        if (early === Number.POSITIVE_INFINITY) expect(lb).toBeGreaterThan(bsf);
        else expect(early).toBe(lb);
      }),
      { numRuns: 500 },
    );
  });
});

describe('dtwPath', () => {
  it('distance equals dtwDistance bitwise and maxDeviation ≤ band', () => {
    fc.assert(
      fc.property(seriesPair, ([xs, ys, band]) => {
        const a = Float64Array.from(xs);
        const b = Float64Array.from(ys);
        const p = dtwPath(a, b, band);
        expect(p.distance).toBe(dtwDistance(a, b, band));
        expect(p.maxDeviation).toBeLessThanOrEqual(band);
        expect(p.pathLength).toBeGreaterThanOrEqual(xs.length);
        expect(p.pathLength).toBeLessThanOrEqual(2 * xs.length - 1);
      }),
      { numRuns: 300 },
    );
  });

  it('recovers the shift of a delayed copy as queryOffset', () => {
    const rand = rng(11);
    const n = 128;
    const base = randomWalk(rand, n + 40);
    for (const s of [-7, -3, 0, 2, 5, 9]) {
      // a = base[20 …], b[t] = a[t − s]: b shows a's features s steps later; edges padded from base.
      const a = base.slice(20, 20 + n);
      const b = base.slice(20 - s, 20 - s + n);
      const p = dtwPath(a, b, 12);
      expect(Math.abs(p.queryOffset - s)).toBeLessThanOrEqual(1);
      expect(p.maxDeviation).toBeLessThanOrEqual(12);
    }
  });
});

describe('dtwTopK', () => {
  const rand = rng(2024);
  const n = 128;
  const pool = Array.from({ length: 300 }, () => randomWalk(rand, n));
  const zPool = pool.map(zNormalize);

  it('returns exactly the brute-force indices and bitwise distances on random-walk pools', () => {
    for (const [p, name] of [
      [pool, 'raw'],
      [zPool, 'z-normalised'],
    ] as const) {
      for (const band of [0, 3, 12, 40, 200]) {
        for (const k of [1, 5, 10, 37]) {
          for (let qi = 0; qi < 2; qi++) {
            const query = qi === 0 ? (p[17] as Float64Array) : zNormalize(randomWalk(rand, n));
            const pruned = dtwTopK(query, p, k, band);
            const brute = dtwTopKBruteForce(query, p, k, band);
            expect(pruned, `${name} band=${band} k=${k}`).toEqual(brute);
            pruned.forEach((h, i) => {
              expect(h.distance).toBe(brute[i]?.distance); // Object.is: bitwise equal
            });
          }
        }
      }
    }
  });

  it('is exact with ties (duplicated candidates tie by index) and with k larger than the pool', () => {
    const query = zPool[3] as Float64Array;
    const dupPool = [...zPool.slice(0, 50), ...zPool.slice(0, 50), ...zPool.slice(0, 50)];
    expect(dtwTopK(query, dupPool, 7, 10)).toEqual(dtwTopKBruteForce(query, dupPool, 7, 10));
    const small = zPool.slice(0, 4);
    expect(dtwTopK(query, small, 10, 10)).toEqual(dtwTopKBruteForce(query, small, 10, 10));
    expect(dtwTopK(query, small, 10, 10)).toHaveLength(4);
  });

  it("ranks the query's noisy copy first", () => {
    const query = zNormalize(randomWalk(rand, n));
    const noisy = query.map((v) => v + 0.05 * gaussian(rand));
    const withCopy = [...zPool.slice(0, 150), noisy, ...zPool.slice(150)];
    const hits = dtwTopK(query, withCopy, 5, 12);
    expect(hits[0]?.index).toBe(150);
    expect(hits).toEqual(dtwTopKBruteForce(query, withCopy, 5, 12));
  });

  it('prunes on a random-walk pool, and the stats account for every candidate', () => {
    const query = zNormalize(randomWalk(rand, n));
    const { results, stats } = dtwTopKWithStats(query, zPool, 10, 12);
    expect(results).toEqual(dtwTopKBruteForce(query, zPool, 10, 12));
    expect(stats.lbPruned + stats.dtwAbandoned).toBeGreaterThan(0);
    expect(stats.lbPruned + stats.dtwAbandoned + stats.dtwFull).toBe(zPool.length);
  });
});

describe('dtwTopK two-round search (seed, then early-abandoned bounds) and reversed LB_Keogh', () => {
  const rand = rng(77);
  const n = 128;
  // Well past the 256-candidate seed, so the early-abandoned second round and the reversed bound run.
  const pool = Array.from({ length: 1500 }, () => zNormalize(randomWalk(rand, n)));

  it('matches brute force exactly for copies, fresh queries, several k and bands', () => {
    for (const band of [0, 5, 13, 127]) {
      for (const k of [1, 10, 40]) {
        for (const query of [
          (pool[900] as Float64Array).map((v) => v + 0.1 * gaussian(rand)),
          zNormalize(randomWalk(rand, n)),
        ]) {
          const { results, stats } = dtwTopKWithStats(query, pool, k, band);
          const brute = dtwTopKBruteForce(query, pool, k, band);
          expect(results, `band=${band} k=${k}`).toEqual(brute);
          results.forEach((h, i) => {
            expect(h.distance).toBe(brute[i]?.distance);
          });
          expect(stats.lbPruned + stats.dtwAbandoned + stats.dtwFull).toBe(pool.length);
        }
      }
    }
  });

  it('keeps ties across the seed boundary (the smaller index wins) and Float32 pools', () => {
    const query = pool[10] as Float64Array;
    // Exact duplicates of seed members placed after the seed tie on distance with them.
    const dupPool = [...pool.slice(0, 400), ...pool.slice(0, 400)];
    expect(dtwTopK(query, dupPool, 9, 13)).toEqual(dtwTopKBruteForce(query, dupPool, 9, 13));
    const f32 = pool.map((s) => Float32Array.from(s));
    const q32 = Float32Array.from(pool[1200] as Float64Array);
    expect(dtwTopK(q32, f32, 10, 13)).toEqual(dtwTopKBruteForce(q32, f32, 10, 13));
  });

  it('prunes most of a large pool', () => {
    const query = zNormalize(randomWalk(rand, n));
    const { stats } = dtwTopKWithStats(query, pool, 10, 13);
    expect(stats.lbPruned).toBeGreaterThan(pool.length / 2);
  });

  it('still rejects a non-finite candidate whose bound is abandoned early, with the same error', () => {
    const bad = Float64Array.from(pool[5] as Float64Array, (v) => v + 50);
    bad[n - 1] = Number.NaN; // far outside the envelope first, so the bound abandons before the NaN
    const withBad = [...pool.slice(0, 1000), bad, ...pool.slice(1000)];
    const query = pool[3] as Float64Array;
    expect(() => dtwTopK(query, withBad, 5, 13)).toThrow(
      /candidate 1000 has a non-finite value \(NaN\) at index 127/,
    );
    expect(() => dtwTopKBruteForce(query, withBad, 5, 13)).toThrow(/candidate 1000 has a non-finite/);
    const inf = Float64Array.from(pool[6] as Float64Array);
    inf[0] = Number.POSITIVE_INFINITY;
    expect(() => dtwTopK(query, [inf, ...pool], 5, 13)).toThrow(/candidate 0 has a non-finite/);
  });
});

describe('input validation', () => {
  const a = Float64Array.from([1, 2, 3]);
  const b = Float64Array.from([1, 2]);
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['unequal lengths', () => dtwDistance(a, b, 1), /lengths differ.*3 vs 2/],
    ['negative band', () => dtwDistance(a, a, -1), /band must be a non-negative integer, got -1/],
    ['non-integer band', () => dtwPath(a, a, 1.5), /band must be a non-negative integer, got 1.5/],
    [
      'NaN value',
      () => dtwDistance(Float64Array.from([1, Number.NaN, 3]), a, 1),
      /non-finite value \(NaN\) at index 1/,
    ],
    ['Infinity value', () => keoghEnvelope(Float32Array.from([Number.POSITIVE_INFINITY]), 0), /non-finite/],
    ['empty series', () => dtwDistance(new Float64Array(0), new Float64Array(0), 0), /empty/],
    ['k < 1', () => dtwTopK(a, [a], 0, 1), /k must be an integer ≥ 1, got 0/],
    ['non-integer k', () => dtwTopKBruteForce(a, [a], 2.5, 1), /k must be an integer/],
    ['candidate length', () => dtwTopK(a, [a, b], 1, 1), /query vs candidate 1: 3 vs 2/],
    [
      'candidate non-finite',
      () => dtwTopK(a, [Float64Array.from([0, Number.NaN, 0])], 1, 1),
      /candidate 0 has a non-finite/,
    ],
    ['envelope length', () => lbKeogh(b, keoghEnvelope(a, 1)), /lengths differ/],
    ['negative bestSoFar', () => dtwDistance(a, a, 1, -1), /bestSoFar/],
  ];
  it.each(cases)('%s throws a RunlakeError naming the problem', (_name, fn, message) => {
    expect(fn).toThrow(RunlakeError);
    expect(fn).toThrow(message);
  });
});

describe('dtwWarp: a match drawn on its query’s time axis', () => {
  it('warps a delayed copy back onto the original', () => {
    const a = Float64Array.from([0, 0, 1, 2, 1, 0, 0, 0]);
    const b = Float64Array.from([0, 0, 0, 0, 1, 2, 1, 0]);
    expect(Array.from(dtwWarp(a, b, 3))).toEqual(Array.from(a));
    // Without room to warp (band 0) the path is the diagonal, so b comes back unchanged.
    expect(Array.from(dtwWarp(a, b, 0))).toEqual(Array.from(b));
  });

  it('averages the b values the path matches to one a index, on the path dtwPath summarises', () => {
    const a = Float64Array.from([0, 1, 1, 1, 0]);
    const b = Float64Array.from([0, 0.5, 1.5, 1, 0]);
    const warped = dtwWarp(a, b, 2);
    expect(warped).toHaveLength(5);
    expect(Array.from(dtwWarp(a, a, 2))).toEqual(Array.from(a));
    // Every b value lands somewhere, so the warped mean stays within b's range.
    for (const v of warped) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1.5);
    }
  });

  it('refuses series of different lengths, naming them', () => {
    expect(() => dtwWarp(Float64Array.from([1, 2]), Float64Array.from([1, 2, 3]), 1)).toThrow(
      /first vs second/,
    );
  });
});
