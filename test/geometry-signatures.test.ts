import { describe, expect, it } from 'vitest';
import {
  buildSignature,
  combinedScore,
  cosineDistance,
  cosineSimilarity,
  DEFAULT_MATCH_WEIGHTS,
  dtwDistance,
  dtwSimilarity,
  dtwTopKBruteForce,
  editDistance,
  editSimilarity,
  eventTokens,
  type MatchCandidate,
  type MatchRow,
  type MatchWeights,
  matchSignatures,
  matchSignaturesWithStats,
  paa,
  prepareSignaturePool,
  resampleTrajectory,
  type SignatureEvent,
  zNormalize,
} from '../src/geometry/index.js';
import { mulberry32 } from '../src/index.js';
import { RunlakeError } from '../src/lake/index.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
const rng = mulberry32;

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function uniform(rand: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * rand();
}

function expectRunlakeError(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(RunlakeError);
  expect((caught as Error).message).toMatch(message);
}

function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] as number;
  return s / x.length;
}

describe('resampleTrajectory', () => {
  it('reproduces a function linear in step exactly on the fraction grid', () => {
    const rand = rng(1);
    const steps: number[] = [];
    let s = 37;
    for (let i = 0; i < 83; i++) {
      steps.push(s);
      s += 1 + Math.floor(rand() * 500);
    }
    const values = steps.map((x) => 3 + 0.5 * x);
    const points = 128;
    const out = resampleTrajectory(steps, values, 'fraction', points);
    expect(out).toHaveLength(points);
    const lo = steps[0] as number;
    const hi = steps[steps.length - 1] as number;
    for (let k = 0; k < points; k++) {
      const step = lo + (k / (points - 1)) * (hi - lo);
      expect(out[k]).toBeCloseTo(3 + 0.5 * step, 8);
    }
    expect(out[0]).toBe(values[0]);
    expect(out[points - 1]).toBe(values[values.length - 1]);
  });

  it('reproduces a function linear in log(1 + step) exactly on the log_step grid', () => {
    const steps = [0, 1, 2, 5, 10, 30, 100, 250, 1000, 4000, 10000];
    const values = steps.map((x) => 2 - 0.7 * Math.log1p(x));
    const points = 64;
    const out = resampleTrajectory(steps, values, 'log_step', points);
    const l0 = Math.log1p(0);
    const l1 = Math.log1p(10000);
    for (let k = 0; k < points; k++) {
      const l = l0 + (k / (points - 1)) * (l1 - l0);
      expect(out[k]).toBeCloseTo(2 - 0.7 * l, 10);
    }
  });

  it('places grid points by fraction of training vs by log-step', () => {
    const steps = Array.from({ length: 1001 }, (_, i) => i);
    const frac = resampleTrajectory(steps, steps, 'fraction', 3);
    const log = resampleTrajectory(steps, steps, 'log_step', 3);
    expect(Array.from(frac)).toEqual([0, 500, 1000]);
    // The log grid's midpoint is at ln(1 + step) = ln(1001)/2, i.e. step = √1001 − 1 ≈ 30.64.
    expect(log[0]).toBe(0);
    expect(log[1]).toBeCloseTo(Math.sqrt(1001) - 1, 1);
    expect(log[2]).toBe(1000);
  });

  it('drops nulls and NaN before interpolating, and uses the usable span', () => {
    const out = resampleTrajectory([0, 1, 2, 3, 4], [null, 0, null, Number.NaN, 3], 'fraction', 4);
    // Usable points (1, 0) and (4, 3): a line from 0 to 3 over steps 1…4.
    expect(Array.from(out)).toEqual([0, 1, 2, 3]);
    const f32 = resampleTrajectory(new Float32Array([0, 10]), new Float32Array([1, 2]), 'fraction', 3);
    expect(Array.from(f32)).toEqual([1, 1.5, 2]);
  });

  it('rejects unsorted and duplicate steps, naming the problem', () => {
    expectRunlakeError(
      () => resampleTrajectory([0, 5, 3], [1, 2, 3], 'fraction', 8),
      /steps.*unsorted.*index 2/,
    );
    expectRunlakeError(
      () => resampleTrajectory([0, 5, 5], [1, 2, 3], 'fraction', 8),
      /steps.*duplicate step 5/,
    );
    // Even when the offending step's value is null.
    expectRunlakeError(() => resampleTrajectory([0, 5, 5], [1, 2, null], 'fraction', 8), /duplicate/);
  });

  it('rejects other bad input', () => {
    expectRunlakeError(() => resampleTrajectory([0, 1], [1], 'fraction', 8), /differ in length/);
    expectRunlakeError(
      () => resampleTrajectory([0, 1], [1, 2], 'fraction', 1),
      /points must be an integer ≥ 2/,
    );
    expectRunlakeError(() => resampleTrajectory([0, 1], [1, 2], 'linear' as never, 8), /grid must be/);
    expectRunlakeError(() => resampleTrajectory([0, 1], [1, null], 'fraction', 8), /fewer than 2 usable/);
    expectRunlakeError(() => resampleTrajectory([-1, 1], [1, 2], 'log_step', 8), /≥ 0 on the log_step grid/);
    expectRunlakeError(
      () => resampleTrajectory([0, 1], [1, Number.POSITIVE_INFINITY], 'fraction', 8),
      /values has a non-finite value/,
    );
    expectRunlakeError(
      () => resampleTrajectory([0, Number.NaN], [1, 2], 'fraction', 8),
      /steps has a non-finite/,
    );
  });
});

describe('zNormalize', () => {
  it('gives mean 0 and population variance 1', () => {
    const rand = rng(2);
    const x = Array.from({ length: 97 }, () => 5 + 3 * gaussian(rand));
    const z = zNormalize(x);
    expect(mean(z)).toBeCloseTo(0, 12);
    let v = 0;
    for (const t of z) v += t * t;
    expect(v / z.length).toBeCloseTo(1, 12);
    expect(Array.from(zNormalize([1, 2, 3])).map((t) => Number(t.toFixed(6)))).toEqual([
      -1.224745, 0, 1.224745,
    ]);
  });

  it('maps a constant series to zeros, including rounding-noisy constants', () => {
    expect(Array.from(zNormalize([5, 5, 5]))).toEqual([0, 0, 0]);
    expect(Array.from(zNormalize(new Array(7).fill(0.1)))).toEqual(new Array(7).fill(0));
    expect(Array.from(zNormalize([0]))).toEqual([0]);
  });

  it('rejects empty and non-finite series', () => {
    expectRunlakeError(() => zNormalize([]), /series is empty/);
    expectRunlakeError(() => zNormalize([1, Number.NaN]), /non-finite value \(NaN\) at index 1/);
  });
});

describe('paa', () => {
  it('is the block mean when the length is divisible', () => {
    expect(Array.from(paa([1, 2, 3, 4, 5, 6, 7, 8], 4))).toEqual([1.5, 3.5, 5.5, 7.5]);
    expect(Array.from(paa([1, 2, 3], 3))).toEqual([1, 2, 3]);
    expect(Array.from(paa([1, 2, 3], 1))).toEqual([2]);
  });

  it('splits straddling points with fractional weights when not divisible', () => {
    const out = paa([1, 2, 3], 2);
    expect(out[0]).toBeCloseTo((1 + 0.5 * 2) / 1.5, 14);
    expect(out[1]).toBeCloseTo((0.5 * 2 + 3) / 1.5, 14);
    // segments > length: each point is repeated over the windows it covers.
    expect(Array.from(paa([1, 2], 4))).toEqual([1, 1, 2, 2]);
  });

  it('preserves the mean and matches a fine-grid reference', () => {
    const rand = rng(3);
    for (const [n, m] of [
      [100, 32],
      [128, 32],
      [77, 13],
      [5, 3],
    ] as const) {
      const x = Array.from({ length: n }, () => gaussian(rand));
      const p = paa(x, m);
      expect(mean(p)).toBeCloseTo(mean(x), 12);
      // Reference: repeat each point m times (length n·m), then take block means of n.
      const fine = x.flatMap((v) => new Array<number>(m).fill(v));
      for (let j = 0; j < m; j++) expect(p[j]).toBeCloseTo(mean(fine.slice(j * n, (j + 1) * n)), 12);
    }
  });

  it('rejects bad segments', () => {
    expectRunlakeError(() => paa([1, 2], 0), /segments must be an integer ≥ 1/);
    expectRunlakeError(() => paa([1, 2], 1.5), /segments/);
  });
});

describe('event tokens, edit distance, cosine distance', () => {
  it('orders tokens by step, ties by type name', () => {
    expect(
      eventTokens([
        { eventType: 'reexpansion', step: 900 },
        { eventType: 'rank_collapse', step: 300 },
        { eventType: 'phase_shift', step: 300 },
        { eventType: 'bifurcation', step: 1200 },
      ]),
    ).toEqual(['phase_shift', 'rank_collapse', 'reexpansion', 'bifurcation']);
    expect(eventTokens([])).toEqual([]);
    expectRunlakeError(() => eventTokens([{ eventType: '', step: 1 }]), /events\[0\]\.eventType/);
    expectRunlakeError(() => eventTokens([{ eventType: 'x', step: Number.NaN }]), /events\[0\]\.step/);
  });

  it('computes Levenshtein distances on token sequences', () => {
    expect(editDistance([...'kitten'], [...'sitting'])).toBe(3);
    expect(editDistance([...'flaw'], [...'lawn'])).toBe(2);
    expect(editDistance([], ['a', 'b'])).toBe(2);
    expect(editDistance(['a', 'b'], [])).toBe(2);
    expect(editDistance([], [])).toBe(0);
    expect(editDistance(['rank_collapse', 'reexpansion'], ['rank_collapse', 'reexpansion'])).toBe(0);
    expect(editDistance(['rank_collapse', 'reexpansion'], ['reexpansion', 'rank_collapse'])).toBe(2);
    const rand = rng(4);
    const alphabet = ['a', 'b', 'c'];
    for (let t = 0; t < 50; t++) {
      const a = Array.from(
        { length: Math.floor(rand() * 6) },
        () => alphabet[Math.floor(rand() * 3)] as string,
      );
      const b = Array.from(
        { length: Math.floor(rand() * 6) },
        () => alphabet[Math.floor(rand() * 3)] as string,
      );
      const d = editDistance(a, b);
      expect(d).toBe(editDistance(b, a));
      expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
      expect(d).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
    }
  });

  it('computes cosine distances', () => {
    expect(cosineDistance([1, 0], [0, 1])).toBe(1);
    expect(cosineDistance([1, 2], [2, 4])).toBeCloseTo(0, 15);
    expect(cosineDistance([1, 2], [-1, -2])).toBeCloseTo(2, 15);
    expect(cosineDistance([0, 0], [1, 1])).toBe(1);
    expect(cosineDistance(new Float32Array([3, 4]), [4, 3])).toBeCloseTo(1 - 24 / 25, 7);
    expectRunlakeError(() => cosineDistance([1, 2], [1]), /differ in length/);
    expectRunlakeError(() => cosineDistance([1, Number.NaN], [1, 2]), /a has a non-finite/);
  });

  it('bounds the similarities and the combined score', () => {
    expect(dtwSimilarity(0, 128)).toBe(1);
    expect(dtwSimilarity(Math.sqrt(128), 128)).toBeCloseTo(0.5, 15);
    expect(cosineSimilarity(0)).toBe(1);
    expect(cosineSimilarity(2)).toBe(0);
    expect(editSimilarity(0, 0, 0)).toBe(1);
    expect(editSimilarity(3, 3, 2)).toBe(0);
    expect(combinedScore({ dtw: 0.9, cosine: 0.8, edit: 1 }, DEFAULT_MATCH_WEIGHTS)).toBeCloseTo(0.88, 14);
    expect(combinedScore({ dtw: 1, cosine: 1, edit: 1 }, { dtw: 2, cosine: 0, edit: 0 })).toBe(1);
  });
});

describe('buildSignature', () => {
  it('builds the z-series and the PAA vector with documented method names', () => {
    const steps = Array.from({ length: 200 }, (_, i) => i * 50);
    const values = steps.map((s) => 10 + Math.sin(s / 1000));
    const events: SignatureEvent[] = [
      { eventType: 'reexpansion', step: 6000 },
      { eventType: 'rank_collapse', step: 2000 },
    ];
    const sig = buildSignature(steps, values, events);
    expect(sig).not.toBeNull();
    if (sig === null) return;
    expect(sig.series).toHaveLength(128);
    expect(sig.paa).toHaveLength(32);
    expect(sig.seriesMethod).toBe('z128');
    expect(sig.paaMethod).toBe('paa32-z');
    expect(sig.grid).toBe('fraction');
    expect(sig.eventTokens).toEqual(['rank_collapse', 'reexpansion']);
    expect([sig.stepMin, sig.stepMax, sig.nPoints]).toEqual([0, 9950, 200]);
    expect(Array.from(sig.series)).toEqual(
      Array.from(zNormalize(resampleTrajectory(steps, values, 'fraction', 128))),
    );
    expect(Array.from(sig.paa)).toEqual(Array.from(paa(sig.series, 32)));
    expect(mean(sig.paa)).toBeCloseTo(0, 12);

    const small = buildSignature(steps, values, [], { grid: 'log_step', points: 40, paaSegments: 12 });
    expect(small?.seriesMethod).toBe('z40');
    expect(small?.paaMethod).toBe('paa12-z');
    expect(small?.stepMin).toBe(0);
  });

  it('returns null with fewer than 2 usable points, and rejects bad options', () => {
    expect(buildSignature([0, 1, 2], [null, 4, Number.NaN], [])).toBeNull();
    expect(buildSignature([], [], [])).toBeNull();
    expectRunlakeError(() => buildSignature([0, 1], [1, 2], [], { paaSegments: 200 }), /paaSegments \(200\)/);
    expectRunlakeError(() => buildSignature([0, 1], [1, 2], [], { points: 0 }), /points must be/);
    expectRunlakeError(() => buildSignature([1, 0], [1, 2], []), /unsorted/);
  });
});

// ---------------------------------------------------------------------------------------------
// Matching on a synthetic pool

interface Shape {
  collapseAt: number;
  depth: number;
  width: number;
  drift: number;
  waveAmp: number;
  waveFreq: number;
  wavePhase: number;
  recovery: number;
  /** The run's own slow wiggles (amplitude, frequency, phase): what tells two similar runs apart. */
  wiggles: Array<[number, number, number]>;
}

function randomShape(rand: () => number): Shape {
  return {
    collapseAt: uniform(rand, 0.08, 0.85),
    depth: uniform(rand, 0.1, 1),
    width: uniform(rand, 0.02, 0.15),
    drift: uniform(rand, -0.8, 0.8),
    waveAmp: uniform(rand, 0, 0.3),
    waveFreq: 1 + Math.floor(rand() * 4),
    wavePhase: uniform(rand, 0, 2 * Math.PI),
    recovery: uniform(rand, 0, 1),
    wiggles: Array.from({ length: 3 }, () => [
      uniform(rand, 0.05, 0.15),
      uniform(rand, 2, 7),
      uniform(rand, 0, 2 * Math.PI),
    ]),
  };
}

/** An "effective rank"-like curve over the fraction of training x ∈ [0, 1]. */
function shapeAt(sh: Shape, x: number): number {
  const dip = Math.exp(-(((x - sh.collapseAt) / sh.width) ** 2));
  // After the collapse the curve settles at a level between the collapsed and the original one.
  const settle = (1 - sh.recovery) * sh.depth * (1 / (1 + Math.exp(-(x - sh.collapseAt) / (sh.width / 2))));
  let y =
    1 +
    sh.drift * x -
    sh.depth * dip -
    settle +
    sh.waveAmp * Math.sin(2 * Math.PI * sh.waveFreq * x + sh.wavePhase);
  for (const [amp, freq, phase] of sh.wiggles) y += amp * Math.sin(2 * Math.PI * freq * x + phase);
  return y;
}

function shapeEvents(sh: Shape, totalSteps: number): SignatureEvent[] {
  const events: SignatureEvent[] = [];
  if (sh.depth > 0.3)
    events.push({ eventType: 'rank_collapse', step: Math.round(sh.collapseAt * totalSteps) });
  if (sh.depth > 0.3 && sh.recovery > 0.5) {
    events.push({ eventType: 'reexpansion', step: Math.round((sh.collapseAt + 2 * sh.width) * totalSteps) });
  }
  if (sh.waveAmp > 0.2) events.push({ eventType: 'phase_shift', step: Math.round(0.5 * totalSteps) });
  return events;
}

/** A run's trajectory of a shape: its own checkpoint count, total steps, scale, offset and noise. */
function trajectoryCandidate(
  rand: () => number,
  sh: Shape,
  signatureId: string,
  runId: string,
  noise: number,
): MatchCandidate {
  const nCheck = 50 + Math.floor(rand() * 251);
  const totalSteps = 1000 * (1 + Math.floor(rand() * 200));
  const scale = uniform(rand, 0.5, 50);
  const offset = uniform(rand, -10, 100);
  const steps: number[] = [];
  const values: (number | null)[] = [];
  for (let i = 0; i < nCheck; i++) {
    const step = Math.round((i / (nCheck - 1)) * totalSteps);
    if (steps.length > 0 && step <= (steps[steps.length - 1] as number)) continue;
    steps.push(step);
    const x = step / totalSteps;
    values.push(offset + scale * (shapeAt(sh, x) + noise * gaussian(rand)));
  }
  // A few missing values, as a real log would have.
  if (noise > 0) values[1 + Math.floor(rand() * (values.length - 2))] = null;
  const sig = buildSignature(steps, values, shapeEvents(sh, totalSteps));
  if (sig === null) throw new Error('unreachable: every synthetic trajectory has ≥ 50 points');
  return { signatureId, runId, series: sig.series, paa: sig.paa, eventTokens: sig.eventTokens };
}

const N_BASE = 220;
const N_QUERIES = 24;

function syntheticPool(): { pool: MatchCandidate[]; queries: MatchCandidate[] } {
  const rand = rng(20240611);
  const shapes = Array.from({ length: N_BASE }, () => randomShape(rand));
  const pool = shapes.map((sh, i) =>
    trajectoryCandidate(rand, sh, `base-${String(i).padStart(3, '0')}`, `run-${i}`, 0.01),
  );
  const copies = shapes
    .slice(0, N_QUERIES)
    .map((sh, i) =>
      trajectoryCandidate(rand, sh, `copy-${String(i).padStart(3, '0')}`, `copy-run-${i}`, 0.03),
    );
  return { pool: [...pool, ...copies], queries: pool.slice(0, N_QUERIES) };
}

const { pool: POOL, queries: QUERIES } = syntheticPool();
const PREPARED_POOL = prepareSignaturePool(POOL);

function rowsOf(rows: MatchRow[], method: MatchRow['method']): MatchRow[] {
  return rows.filter((r) => r.method === method);
}

function codeUnitOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Reference: full DTW, cosine and edit for every candidate, then a plain sort. */
function bruteForceCombined(
  query: MatchCandidate,
  pool: readonly MatchCandidate[],
  topK: number,
  band: number,
  weights: MatchWeights,
): Array<{ id: string; score: number; distance: number }> {
  const L = query.series.length;
  return pool
    .filter((c) => c.signatureId !== query.signatureId)
    .map((c) => {
      const score = combinedScore(
        {
          dtw: dtwSimilarity(dtwDistance(query.series, c.series, band), L),
          cosine: cosineSimilarity(cosineDistance(query.paa, c.paa)),
          edit: editSimilarity(
            editDistance(query.eventTokens, c.eventTokens),
            query.eventTokens.length,
            c.eventTokens.length,
          ),
        },
        weights,
      );
      return { id: c.signatureId, score, distance: 1 - score };
    })
    .sort((a, b) => b.score - a.score || codeUnitOrder(a.id, b.id))
    .slice(0, topK);
}

describe('matchSignatures', () => {
  it('ranks each query’s own noisy copy first under dtw and combined', () => {
    expect(POOL.length).toBeGreaterThanOrEqual(200);
    let cosineFirst = 0;
    QUERIES.forEach((q, i) => {
      const copy = `copy-${String(i).padStart(3, '0')}`;
      const rows = matchSignatures(q, PREPARED_POOL, { topK: 5 });
      expect(rowsOf(rows, 'dtw')[0]?.candidateSignatureId, `dtw, query ${q.signatureId}`).toBe(copy);
      expect(rowsOf(rows, 'combined')[0]?.candidateSignatureId, `combined, query ${q.signatureId}`).toBe(
        copy,
      );
      if (rowsOf(rows, 'cosine')[0]?.candidateSignatureId === copy) cosineFirst++;
      for (const m of ['dtw', 'cosine', 'edit', 'combined'] as const) {
        const r = rowsOf(rows, m);
        expect(r.map((x) => x.rank)).toEqual([1, 2, 3, 4, 5]);
        for (let k = 1; k < r.length; k++) {
          expect((r[k] as MatchRow).distance).toBeGreaterThanOrEqual((r[k - 1] as MatchRow).distance);
        }
        expect(r.every((x) => x.candidateSignatureId !== q.signatureId)).toBe(true);
      }
    });
    // PAA is coarser, so it is not held to rank 1 for every query, but it should mostly agree.
    expect(cosineFirst).toBeGreaterThanOrEqual(QUERIES.length * 0.8);
  });

  it('fills rows as the matches dataset expects', () => {
    const q = QUERIES[0] as MatchCandidate;
    const rows = matchSignatures(q, POOL, { topK: 3 });
    expect(rows.map((r) => r.method)).toEqual([
      'dtw',
      'dtw',
      'dtw',
      'cosine',
      'cosine',
      'cosine',
      'edit',
      'edit',
      'edit',
      'combined',
      'combined',
      'combined',
    ]);
    const band = Math.round(128 / 10);
    for (const r of rows) {
      expect(r.querySignatureId).toBe(q.signatureId);
      expect(r.distance).toBeGreaterThanOrEqual(0);
      expect(r.score).not.toBeNull();
      expect(r.score as number).toBeGreaterThanOrEqual(0);
      expect(r.score as number).toBeLessThanOrEqual(1);
      const cand = POOL.find((c) => c.signatureId === r.candidateSignatureId) as MatchCandidate;
      expect(r.candidateRunId).toBe(cand.runId);
      if (r.method === 'dtw' || r.method === 'combined') {
        expect(r.alignment?.band).toBe(band);
        expect(r.alignment?.path_length).toBeGreaterThanOrEqual(128);
        expect(r.alignment?.max_deviation).toBeLessThanOrEqual(band);
      } else {
        expect(r.alignment).toBeNull();
      }
      if (r.method === 'combined') expect(r.distance).toBe(1 - (r.score as number));
      if (r.method === 'dtw') expect(r.distance).toBe(dtwDistance(q.series, cand.series, band));
      if (r.method === 'cosine') expect(r.distance).toBe(cosineDistance(q.paa, cand.paa));
      if (r.method === 'edit') expect(r.distance).toBe(editDistance(q.eventTokens, cand.eventTokens));
    }
  });

  it('returns exactly the brute-force dtw top-k', () => {
    const sorted = [...POOL].sort((a, b) => codeUnitOrder(a.signatureId, b.signatureId));
    for (const q of QUERIES.slice(0, 8)) {
      for (const band of [0, 5, 13, 127]) {
        const others = sorted.filter((c) => c.signatureId !== q.signatureId);
        const ref = dtwTopKBruteForce(
          q.series,
          others.map((c) => c.series),
          10,
          band,
        ).map((h) => ({ id: (others[h.index] as MatchCandidate).signatureId, distance: h.distance }));
        const got = rowsOf(matchSignatures(q, PREPARED_POOL, { topK: 10, band }), 'dtw').map((r) => ({
          id: r.candidateSignatureId,
          distance: r.distance,
        }));
        expect(got).toEqual(ref);
      }
    }
  });

  it('returns exactly the brute-force combined top-k, and prunes most DTW work', () => {
    const weightSets: MatchWeights[] = [
      DEFAULT_MATCH_WEIGHTS,
      { dtw: 1, cosine: 0, edit: 0 },
      { dtw: 0.2, cosine: 0.5, edit: 0.3 },
      { dtw: 0, cosine: 1, edit: 1 },
    ];
    let pruned = 0;
    let considered = 0;
    for (const q of QUERIES.slice(0, 10)) {
      for (const weights of weightSets) {
        for (const [topK, band] of [
          [1, 13],
          [10, 13],
          [25, 6],
        ] as const) {
          const { rows, stats } = matchSignaturesWithStats(q, PREPARED_POOL, { topK, band, weights });
          const got = rowsOf(rows, 'combined').map((r) => ({
            id: r.candidateSignatureId,
            score: r.score,
            distance: r.distance,
          }));
          expect(got).toEqual(bruteForceCombined(q, POOL, topK, band, weights));
          expect(stats.boundPruned + stats.dtwAbandoned + stats.dtwFull).toBe(POOL.length - 1);
          pruned += stats.boundPruned + stats.dtwAbandoned;
          considered += POOL.length - 1;
        }
      }
    }
    expect(pruned / considered).toBeGreaterThan(0.5);
  });

  it('is exact on ties: duplicate candidates rank by signatureId', () => {
    const q = QUERIES[3] as MatchCandidate;
    const twin = POOL[100] as MatchCandidate;
    const pool = [
      ...POOL,
      { ...twin, signatureId: 'zz-twin', runId: 'twin-run' },
      { ...twin, signatureId: 'aa-twin', runId: 'twin-run' },
    ];
    for (const weights of [DEFAULT_MATCH_WEIGHTS, { dtw: 1, cosine: 0, edit: 0 }]) {
      const rows = matchSignatures(q, pool, { topK: 40, weights });
      const ids = rowsOf(rows, 'combined').map((r) => r.candidateSignatureId);
      expect(rowsOf(rows, 'combined').map((r) => ({ id: r.candidateSignatureId, score: r.score }))).toEqual(
        bruteForceCombined(q, pool, 40, 13, weights).map((r) => ({ id: r.id, score: r.score })),
      );
      if (ids.includes(twin.signatureId)) {
        expect(ids.indexOf('aa-twin')).toBeLessThan(ids.indexOf(twin.signatureId));
        expect(ids.indexOf(twin.signatureId)).toBeLessThan(ids.indexOf('zz-twin'));
      }
    }
  });

  it('honours excludeRunIds and excludeSignatureIds', () => {
    const q = QUERIES[5] as MatchCandidate;
    const rows = matchSignatures(q, PREPARED_POOL, { topK: 5, excludeRunIds: new Set(['copy-run-5']) });
    expect(rows.some((r) => r.candidateRunId === 'copy-run-5')).toBe(false);
    const rows2 = matchSignatures(q, PREPARED_POOL, {
      topK: 5,
      excludeSignatureIds: new Set(['copy-005', 'base-010']),
    });
    expect(
      rows2.some((r) => r.candidateSignatureId === 'copy-005' || r.candidateSignatureId === 'base-010'),
    ).toBe(false);
    expect(rowsOf(rows2, 'dtw')).toHaveLength(5);
    // Excluding every run leaves nothing.
    const all = new Set(POOL.map((c) => c.runId));
    expect(matchSignatures(q, PREPARED_POOL, { excludeRunIds: all })).toEqual([]);
    // A pool smaller than topK returns what there is, ranked.
    const small = matchSignatures(q, POOL.slice(4, 8), { topK: 10 });
    expect(rowsOf(small, 'combined').map((r) => r.rank)).toEqual([1, 2, 3]);
  });

  it('gives the same rows for an array and a prepared pool', () => {
    const q = QUERIES[7] as MatchCandidate;
    expect(matchSignatures(q, POOL, { topK: 4 })).toEqual(matchSignatures(q, PREPARED_POOL, { topK: 4 }));
  });

  it('rejects malformed pools, queries and options', () => {
    const q = QUERIES[0] as MatchCandidate;
    const c = POOL[50] as MatchCandidate;
    expectRunlakeError(() => prepareSignaturePool([c, { ...c }]), /duplicate signatureId "base-050"/);
    expectRunlakeError(
      () => prepareSignaturePool([c, { ...c, signatureId: 'x', series: new Float64Array(64) }]),
      /series lengths differ \(x: 64 vs 128\)/,
    );
    expectRunlakeError(
      () => matchSignatures({ ...q, signatureId: 'q', series: new Float64Array(64) }, PREPARED_POOL),
      /query.series has length 64/,
    );
    expectRunlakeError(
      () => matchSignatures({ ...q, signatureId: 'q', paa: new Float64Array(8) }, PREPARED_POOL),
      /query.paa has length 8/,
    );
    expectRunlakeError(() => matchSignatures(q, PREPARED_POOL, { topK: 0 }), /topK must be an integer ≥ 1/);
    expectRunlakeError(() => matchSignatures(q, PREPARED_POOL, { band: -1 }), /band must be a non-negative/);
    expectRunlakeError(
      () => matchSignatures(q, PREPARED_POOL, { weights: { dtw: -1, cosine: 1, edit: 1 } }),
      /weights.dtw must be a finite number ≥ 0/,
    );
    expectRunlakeError(
      () => matchSignatures(q, PREPARED_POOL, { weights: { dtw: 0, cosine: 0, edit: 0 } }),
      /weights must not all be zero/,
    );
    expectRunlakeError(
      () => matchSignatures(q, [{ ...c, series: [1, 2] as unknown as Float64Array }]),
      /pool\[0\] \(base-050\)\.series must be a Float64Array/,
    );
  });
});
