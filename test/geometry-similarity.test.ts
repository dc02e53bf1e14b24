import { describe, expect, it } from 'vitest';
import {
  debiasedLinearCka,
  descriptorDynamics,
  GEOMETRY_DESCRIPTORS,
  geometryDescriptors,
  geometryDynamicsRow,
  linearCka,
  procrustesDistance,
  RunlakeError,
  representationSimilarity,
} from '../src/index.js';
import { gaussian, matmul, randomMatrix, randomOrthogonal } from './helpers/matrices.js';
import { pythonWith } from './helpers/python.js';

/** X scaled per column by `scales` (a non-isotropic scaling). */
function scaleColumns(x: Float64Array, d: number, scales: (j: number) => number): Float64Array {
  return x.map((v, i) => v * scales(i % d));
}
/** Low-rank n×d: n×r Gaussian times r×d Gaussian, plus `noise`·Gaussian. */
function lowRank(n: number, d: number, r: number, seed: number, noise = 0): Float64Array {
  const base = matmul(randomMatrix(n, r, seed), randomMatrix(r, d, seed + 1), n, r, d);
  const g = gaussian(seed + 2);
  return base.map((v) => v + noise * g());
}

interface Case {
  name: string;
  n: number;
  dx: number;
  dy: number;
  x: Float64Array | Float32Array;
  y: Float64Array | Float32Array;
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  const add = (name: string, n: number, dx: number, dy: number, x: Case['x'], y: Case['y']): void => {
    cases.push({ name, n, dx, dy, x, y });
  };
  // Gaussian pairs on both sides of n = dx + dy (feature vs Gram route) and n = min(dx, dy)
  // (cross-product vs LQ route of Procrustes).
  add('gauss n>d', 120, 10, 14, randomMatrix(120, 10, 1), randomMatrix(120, 14, 2));
  add('gauss n<d', 30, 50, 70, randomMatrix(30, 50, 3), randomMatrix(30, 70, 4));
  add('gauss n between', 40, 25, 60, randomMatrix(40, 25, 5), randomMatrix(40, 60, 6));
  add('gauss wide x narrow y', 60, 90, 5, randomMatrix(60, 90, 7), randomMatrix(60, 5, 8));
  add('tiny n=4', 4, 3, 6, randomMatrix(4, 3, 9), randomMatrix(4, 6, 10));
  // Correlated: Y a noisy linear map of X.
  const xa = randomMatrix(80, 20, 11);
  const ya = matmul(xa, randomMatrix(20, 30, 12), 80, 20, 30).map((v, i) => v + 0.5 * gaussian(13 + i)());
  add('linear map + noise', 80, 20, 30, xa, ya);
  // Low rank and anisotropic.
  add('low rank n>d', 150, 24, 24, lowRank(150, 24, 3, 20), lowRank(150, 24, 5, 30, 0.01));
  add('low rank n<d', 20, 64, 48, lowRank(20, 64, 4, 40), lowRank(20, 64, 4, 40, 0.1).subarray(0, 20 * 48));
  const aniso = scaleColumns(randomMatrix(100, 16, 50), 16, (j) => 2 ** -j);
  add(
    'anisotropic',
    100,
    16,
    16,
    aniso,
    scaleColumns(randomMatrix(100, 16, 51), 16, (j) => 1 + j),
  );
  const shifted = randomMatrix(70, 12, 60).map((v, i) => v + 1000 + (i % 12));
  add('shifted (large mean)', 70, 12, 40, shifted, randomMatrix(70, 40, 61));
  add(
    'float32',
    50,
    30,
    80,
    Float32Array.from(randomMatrix(50, 30, 70)),
    Float32Array.from(randomMatrix(50, 80, 71)),
  );
  return cases;
}

function relErr(actual: number | null, expected: number | null, floor: number): number {
  if (actual === null || expected === null) return actual === expected ? 0 : Number.POSITIVE_INFINITY;
  return Math.abs(actual - expected) / Math.max(Math.abs(expected), floor);
}

const py = pythonWith(['numpy', 'scipy']);

describe.skipIf(py.skip)('similarity agrees with numpy/scipy', () => {
  it('CKA, debiased CKA and Procrustes within 1e-6 relative', () => {
    expect(py.available, py.reason).toBe(true);
    const cases = buildCases();
    const payload = cases.map((c) => ({ ...c, x: Array.from(c.x), y: Array.from(c.y) }));
    const reference = JSON.parse(
      py.runPython('similarity_reference.py', [], JSON.stringify(payload)),
    ) as Record<
      string,
      {
        cka: number;
        cka_debiased: number;
        cka_debiased_raw: number;
        cka_debiased_ucentred: number;
        procrustes_svd: number;
        procrustes_scipy: number;
        procrustes_scipy_direct: number;
      }
    >;
    for (const c of cases) {
      const ref = reference[c.name];
      if (!ref) throw new Error(`no reference for ${c.name}`);
      // The reference's two formulations agree with each other first.
      expect(relErr(ref.cka_debiased_ucentred, ref.cka_debiased, 1e-3), c.name).toBeLessThan(1e-9);
      // Song's estimator on the uncentred Gram matrices agrees too (translation invariance),
      // except where a mean of 1000 makes numpy's uncentred sums cancel catastrophically.
      if (!c.name.startsWith('shifted')) {
        expect(relErr(ref.cka_debiased_raw, ref.cka_debiased, 1e-3), c.name).toBeLessThan(1e-8);
      }
      expect(relErr(ref.procrustes_scipy, ref.procrustes_svd, 1e-3), c.name).toBeLessThan(1e-9);
      expect(relErr(ref.procrustes_scipy_direct, ref.procrustes_svd, 1e-3), c.name).toBeLessThan(1e-9);

      const cka = linearCka(c.x, c.y, c.n, c.dx, c.dy);
      const debiased = debiasedLinearCka(c.x, c.y, c.n, c.dx, c.dy);
      const procrustes = procrustesDistance(c.x, c.y, c.n, c.dx, c.dy);
      expect(relErr(cka, ref.cka, 1e-6), `${c.name} cka ${cka} vs ${ref.cka}`).toBeLessThan(1e-6);
      expect(
        relErr(debiased, ref.cka_debiased, 1e-3),
        `${c.name} debiased ${debiased} vs ${ref.cka_debiased}`,
      ).toBeLessThan(1e-6);
      expect(
        relErr(procrustes, ref.procrustes_scipy, 1e-6),
        `${c.name} procrustes ${procrustes} vs ${ref.procrustes_scipy}`,
      ).toBeLessThan(1e-6);
      // The combined pass returns the same numbers.
      const all = representationSimilarity(c.x, c.y, c.n, c.dx, c.dy);
      expect(all.cka).toBe(cka);
      expect(all.debiasedCka).toBe(debiased);
      expect(all.procrustesDistance).toBe(procrustes);
      // Symmetric in X and Y.
      expect(relErr(linearCka(c.y, c.x, c.n, c.dy, c.dx), cka, 1e-6)).toBeLessThan(1e-9);
      expect(relErr(procrustesDistance(c.y, c.x, c.n, c.dy, c.dx), procrustes, 1e-6)).toBeLessThan(1e-9);
    }
  });
});

describe('invariances', () => {
  const shapes = [
    { n: 200, d: 12 }, // feature route, cross-product Procrustes
    { n: 24, d: 40 }, // Gram route, LQ Procrustes
  ];
  for (const { n, d } of shapes) {
    it(`CKA(X, XQ) = CKA(X, cXQ + 1bᵀ) = 1 and Procrustes(X, XQ) ≈ 0 (n=${n}, d=${d})`, () => {
      const x = randomMatrix(n, d, 100 + n);
      const xq = matmul(x, randomOrthogonal(d, 200 + n), n, d, d);
      const affine = xq.map((v, i) => -3.7 * v + 50 + (i % d) * 0.3);
      expect(linearCka(x, xq, n, d, d)).toBeCloseTo(1, 9);
      expect(linearCka(x, affine, n, d, d)).toBeCloseTo(1, 9);
      expect(debiasedLinearCka(x, xq, n, d, d)).toBeCloseTo(1, 9);
      expect(debiasedLinearCka(x, affine, n, d, d)).toBeCloseTo(1, 9);
      expect(procrustesDistance(x, xq, n, d, d)).toBeCloseTo(0, 9);
      expect(procrustesDistance(x, affine, n, d, d)).toBeCloseTo(0, 9);
      // CKA(X, X) is exactly in range (clamped against rounding).
      expect(linearCka(x, x, n, d, d)).toBeLessThanOrEqual(1);
    });
  }

  it('CKA and Procrustes are not invariant to a non-isotropic scaling', () => {
    const n = 100;
    const d = 10;
    const x = randomMatrix(n, d, 300);
    const stretched = scaleColumns(x, d, (j) => (j === 0 ? 10 : 1));
    const cka = linearCka(x, stretched, n, d, d) as number;
    expect(cka).toBeLessThan(0.9);
    expect(debiasedLinearCka(x, stretched, n, d, d) as number).toBeLessThan(0.9);
    expect(procrustesDistance(x, stretched, n, d, d) as number).toBeGreaterThan(0.05);
  });

  it('debiased CKA removes the bias of biased CKA on unrelated wide matrices', () => {
    const n = 40;
    const x = randomMatrix(n, 8, 400);
    const y = randomMatrix(n, 300, 401);
    expect(linearCka(x, y, n, 8, 300) as number).toBeGreaterThan(0.2);
    expect(Math.abs(debiasedLinearCka(x, y, n, 8, 300) as number)).toBeLessThan(0.1);
  });
});

describe('undefined values are null', () => {
  it('a zero centred matrix (identical rows) or n = 1', () => {
    const same = Float64Array.from({ length: 6 * 3 }, (_, i) => [0.1, 0.7, -3][i % 3] as number);
    const y = randomMatrix(6, 4, 500);
    expect(linearCka(same, y, 6, 3, 4)).toBeNull();
    expect(debiasedLinearCka(same, y, 6, 3, 4)).toBeNull();
    expect(procrustesDistance(same, y, 6, 3, 4)).toBeNull();
    expect(linearCka(new Float64Array([1, 2]), new Float64Array([3]), 1, 2, 1)).toBeNull();
    expect(procrustesDistance(new Float64Array([1, 2]), new Float64Array([3]), 1, 2, 1)).toBeNull();
  });

  it('debiased CKA needs n ≥ 4 and a nonzero U-centred Gram matrix', () => {
    const x = randomMatrix(3, 5, 600);
    expect(linearCka(x, x, 3, 5, 5)).toBeCloseTo(1, 12);
    expect(debiasedLinearCka(x, x, 3, 5, 5)).toBeNull();
    // A regular simplex: K = I − 11ᵀ/n off the diagonal is −1/n = a_i + a_j.
    const n = 6;
    const simplex = Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
    const y = randomMatrix(n, 4, 601);
    expect(linearCka(simplex, y, n, n, 4)).not.toBeNull();
    expect(debiasedLinearCka(simplex, y, n, n, 4)).toBeNull();
  });
});

describe('bad input', () => {
  const x = randomMatrix(10, 10, 700);
  it('names the argument with the wrong length', () => {
    const y = new Float64Array(99);
    for (const fn of [linearCka, debiasedLinearCka, procrustesDistance, representationSimilarity]) {
      expect(() => fn(x, y, 10, 10, 10)).toThrow(RunlakeError);
      expect(() => fn(x, y, 10, 10, 10)).toThrow(/y has 99 values, expected n×dy = 10×10 = 100/);
    }
    expect(() => linearCka(new Float32Array(5), x, 10, 10, 10)).toThrow(/x has 5 values/);
  });
  it('names the argument with a non-finite entry', () => {
    const bad = Float64Array.from(x);
    bad[23] = Number.NaN;
    expect(() => linearCka(x, bad, 10, 10, 10)).toThrow(/y entry \(2, 3\) is NaN/);
    bad[23] = Number.POSITIVE_INFINITY;
    expect(() => procrustesDistance(bad, x, 10, 10, 10)).toThrow(/x entry \(2, 3\) is Infinity/);
  });
  it('rejects sizes that are not positive integers', () => {
    expect(() => linearCka(x, x, 0, 10, 10)).toThrow(/n must be a positive integer, got 0/);
    expect(() => linearCka(x, x, 10, 2.5, 10)).toThrow(/dx must be a positive integer/);
  });
});

describe('descriptorDynamics', () => {
  it('computes deltas and per-step rates for every tracked descriptor', () => {
    const prev = { step: 1000, descriptors: { effective_rank: 40, anisotropy: 0.5, norm_mean: 2 } };
    const curr = { step: 1500, descriptors: { effective_rank: 35, anisotropy: 0.6, norm_mean: null } };
    const d = descriptorDynamics(prev, curr);
    expect(Object.keys(d).sort()).toEqual(
      GEOMETRY_DESCRIPTORS.flatMap((name) => [`delta_${name}`, `rate_${name}`]).sort(),
    );
    expect(d.delta_effective_rank).toBe(-5);
    expect(d.rate_effective_rank).toBe(-0.01);
    expect(d.delta_anisotropy).toBeCloseTo(0.1, 12);
    expect(d.rate_anisotropy).toBeCloseTo(0.0002, 15);
    // Null on either side, or missing, propagates.
    expect(d.delta_norm_mean).toBeNull();
    expect(d.rate_norm_mean).toBeNull();
    expect(d.delta_intrinsic_dim).toBeNull();
    expect(d.rate_intrinsic_dim).toBeNull();
  });

  it('throws when the steps are not increasing', () => {
    const a = { step: 10, descriptors: {} };
    expect(() => descriptorDynamics(a, { step: 10, descriptors: {} })).toThrow(RunlakeError);
    expect(() => descriptorDynamics(a, { step: 5, descriptors: {} })).toThrow(
      /curr\.step \(5\) must come after prev\.step \(10\)/,
    );
    expect(() => geometryDynamicsRow(a, { step: 9, descriptors: {} })).toThrow(RunlakeError);
  });
});

describe('geometryDynamicsRow', () => {
  const n = 60;
  const d = 16;
  const x0 = randomMatrix(n, d, 800);
  const x1 = x0.map((v, i) => v + 0.3 * gaussian(801 + i)());
  const prev = { step: 100, descriptors: geometryDescriptors(x0, n, d), matrix: { x: x0, n, d } };
  const curr = { step: 300, descriptors: geometryDescriptors(x1, n, d), matrix: { x: x1, n, d } };

  it('fills steps, deltas and the drift columns', () => {
    const row = geometryDynamicsRow(prev, curr);
    expect(row.step).toBe(300);
    expect(row.step_prev).toBe(100);
    const er0 = prev.descriptors.effective_rank as number;
    const er1 = curr.descriptors.effective_rank as number;
    expect(row.delta_effective_rank).toBeCloseTo(er1 - er0, 12);
    expect(row.rate_effective_rank).toBeCloseTo((er1 - er0) / 200, 12);
    expect(row.cka_drift).toBeCloseTo(1 - (linearCka(x0, x1, n, d, d) as number), 15);
    expect(row.cka_drift_debiased).toBeCloseTo(1 - (debiasedLinearCka(x0, x1, n, d, d) as number), 15);
    expect(row.procrustes_distance).toBe(procrustesDistance(x0, x1, n, d, d));
    expect(row.cka_drift as number).toBeGreaterThan(0);
    expect(row.cka_drift as number).toBeLessThan(0.2);
    // Exactly the geometry_dynamics value columns.
    expect(Object.keys(row).sort()).toEqual(
      [
        'step',
        'step_prev',
        'cka_drift',
        'cka_drift_debiased',
        'procrustes_distance',
        ...GEOMETRY_DESCRIPTORS.flatMap((name) => [`delta_${name}`, `rate_${name}`]),
      ].sort(),
    );
  });

  it('leaves drift null without both matrices, with different row counts, or when disabled', () => {
    const nulls = { cka_drift: null, cka_drift_debiased: null, procrustes_distance: null };
    const { matrix: _, ...bare } = curr;
    expect(geometryDynamicsRow(prev, bare)).toMatchObject(nulls);
    expect(geometryDynamicsRow(prev, { ...curr, matrix: null })).toMatchObject(nulls);
    const fewer = { ...curr, matrix: { x: x1.subarray(0, 50 * d), n: 50, d } };
    expect(geometryDynamicsRow(prev, fewer)).toMatchObject(nulls);
    expect(geometryDynamicsRow(prev, curr, { drift: false })).toMatchObject(nulls);
    expect(geometryDynamicsRow(prev, bare).delta_effective_rank).not.toBeNull();
  });
});
