import { describe, expect, it } from 'vitest';
import {
  centredGram,
  covarianceSpectrum,
  type GeometryDescriptors,
  geometryDescriptors,
  gramKernel,
  RunlakeError,
  symmetricEigenvalues,
} from '../src/index.js';
import { gaussian, matmul, randomMatrix, randomOrthogonal } from './helpers/matrices.js';
import { pythonWith } from './helpers/python.js';

function close(actual: number | null, expected: number | null, rel: number, floor: number): boolean {
  if (actual === null || expected === null) return actual === expected;
  return Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), floor);
}

const SPECTRAL_KEYS = [
  'effective_rank',
  'participation_ratio',
  'stable_rank',
  'spectral_entropy',
  'alpha_req',
  'alpha_req_r2',
  'numerical_rank',
  'top_k_energy',
  'intrinsic_dim',
] as const satisfies readonly (keyof GeometryDescriptors)[];

describe('symmetricEigenvalues', () => {
  it('returns the diagonal of a diagonal matrix, descending', () => {
    const a = new Float64Array(16);
    [3, -1, 7, 0].forEach((v, i) => {
      a[i * 5] = v;
    });
    expect(Array.from(symmetricEigenvalues(a, 4))).toEqual([7, 3, 0, -1]);
  });

  it('recovers known spectra of Q·diag·Qᵀ, including repeated eigenvalues', () => {
    for (const [spectrum, seed] of [
      [[5, 4, 3, 2, 1, 0.5, -2, 1e-3], 1],
      [[2, 2, 2, 1, 1, -1, -1, -1, 0, 0], 2],
      [Array.from({ length: 60 }, (_, i) => (i + 1) ** -1.5), 3],
    ] as const) {
      const n = spectrum.length;
      const q = randomOrthogonal(n, seed);
      const qd = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) qd[j * n + i] = (q[i * n + j] as number) * (spectrum[i] as number);
      const a = matmul(qd, q, n, n, n); // Qᵀ diag Q (rows of q are the eigenvectors)
      const expected = [...spectrum].sort((x, y) => y - x);
      const got = symmetricEigenvalues(a, n);
      expected.forEach((v, i) => {
        expect(Math.abs((got[i] as number) - v)).toBeLessThan(1e-12 * Math.max(1, Math.abs(expected[0]!)));
      });
    }
  });

  it('handles n = 0, 1, 2 and does not mutate the input', () => {
    expect(symmetricEigenvalues(new Float64Array(0), 0)).toEqual(new Float64Array(0));
    expect(Array.from(symmetricEigenvalues(new Float64Array([-4]), 1))).toEqual([-4]);
    const a = new Float64Array([2, 1, 1, 2]);
    const got = symmetricEigenvalues(a, 2);
    expect(got[0]).toBeCloseTo(3, 14);
    expect(got[1]).toBeCloseTo(1, 14);
    expect(Array.from(a)).toEqual([2, 1, 1, 2]);
  });

  it('rejects non-square sizes and non-finite entries', () => {
    expect(() => symmetricEigenvalues(new Float64Array(6), 2)).toThrow(RunlakeError);
    expect(() => symmetricEigenvalues(new Float64Array(4), 1.5)).toThrow(/non-negative integer/);
    expect(() => symmetricEigenvalues(new Float64Array([1, Number.NaN, Number.NaN, 1]), 2)).toThrow(/finite/);
    expect(() => symmetricEigenvalues(new Float64Array([1, 0, 0, Number.POSITIVE_INFINITY]), 2)).toThrow(
      RunlakeError,
    );
  });
});

interface Case {
  name: string;
  n: number;
  d: number;
  x: Float32Array | Float64Array;
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  cases.push({ name: 'random n>d', n: 40, d: 25, x: randomMatrix(40, 25, 11) });
  cases.push({ name: 'random n<d', n: 20, d: 60, x: randomMatrix(20, 60, 12) });
  cases.push({
    name: 'low rank 5',
    n: 50,
    d: 40,
    x: matmul(randomMatrix(50, 5, 13), randomMatrix(5, 40, 14), 50, 5, 40),
  });
  const pl = randomMatrix(80, 60, 15);
  for (let i = 0; i < 80; i++)
    for (let j = 0; j < 60; j++) pl[i * 60 + j] = (pl[i * 60 + j] as number) * (j + 1) ** -0.9;
  cases.push({ name: 'power law', n: 80, d: 60, x: matmul(pl, randomOrthogonal(60, 16), 80, 60, 60) });
  const shifted = randomMatrix(60, 30, 17);
  const offset = randomMatrix(1, 30, 18);
  for (let i = 0; i < 60; i++)
    for (let j = 0; j < 30; j++)
      shifted[i * 30 + j] =
        (shifted[i * 30 + j] as number) * (j % 3 === 0 ? 4 : 0.5) + 5 * (offset[j] as number);
  cases.push({ name: 'anisotropic shifted', n: 60, d: 30, x: shifted });
  cases.push({ name: 'float32 n>d', n: 70, d: 50, x: Float32Array.from(randomMatrix(70, 50, 19)) });
  cases.push({ name: 'float32 n<d', n: 30, d: 45, x: Float32Array.from(randomMatrix(30, 45, 20)) });
  cases.push({ name: 'tiny n=3', n: 3, d: 4, x: randomMatrix(3, 4, 21) });
  return cases;
}

const py = pythonWith(['numpy']);

describe.skipIf(py.skip)('geometryDescriptors agree with numpy', () => {
  it('matches every descriptor and the spectrum within 1e-6 relative', () => {
    expect(py.available, py.reason).toBe(true);
    const cases = buildCases();
    const payload = cases.map((c) => ({
      name: c.name,
      n: c.n,
      d: c.d,
      x: Array.from(c.x),
      topK: 5,
      topEigenvalues: 16,
    }));
    const reference = JSON.parse(
      py.runPython('geometry_reference.py', [], JSON.stringify(payload)),
    ) as Record<string, GeometryDescriptors & { eigenvalues: number[] }>;
    let worst = 0;
    const track = (a: number, b: number, floor: number): void => {
      worst = Math.max(worst, Math.abs(a - b) / Math.max(Math.abs(b), floor));
    };
    for (const c of cases) {
      const ref = reference[c.name]!;
      const got = geometryDescriptors(c.x, c.n, c.d, { topK: 5, topEigenvalues: 16 });
      const lambda = covarianceSpectrum(c.x, c.n, c.d).eigenvalues;
      const lambda1 = ref.eigenvalues[0]!;
      expect(lambda.length, c.name).toBe(ref.eigenvalues.length);
      ref.eigenvalues.forEach((v, i) => {
        track(lambda[i] as number, v, 1e-6 * lambda1);
        expect(close(lambda[i] as number, v, 1e-6, 1e-6 * lambda1), `${c.name} λ${i}`).toBe(true);
      });
      ref.top_eigenvalues!.forEach((v, i) => {
        expect(close(got.top_eigenvalues![i]!, v, 1e-6, 1e-6 * lambda1), `${c.name} top λ${i}`).toBe(true);
      });
      for (const key of [
        ...SPECTRAL_KEYS,
        'anisotropy',
        'norm_mean',
        'norm_std',
        'total_variance',
        'top_k',
      ] as const) {
        const a = got[key] as number | null;
        const b = ref[key] as number | null;
        if (a !== null && b !== null) track(a, b, 1e-6);
        expect(close(a, b, 1e-6, 1e-6), `${c.name} ${key}: ${a} vs ${b}`).toBe(true);
      }
      expect(got.n_samples).toBe(c.n);
      expect(got.dim).toBe(c.d);
    }
    expect(reference['low rank 5']!.numerical_rank).toBe(5);
    console.info(`geometry descriptors: max relative error vs numpy ${worst.toExponential(2)}`);
  });
});

describe('geometryDescriptors invariances', () => {
  const n = 45;
  const d = 30;
  const base = matmul(randomMatrix(n, d, 31), randomMatrix(d, d, 32), n, d, d);
  const ref = geometryDescriptors(base, n, d);

  it('is unchanged by a random orthogonal change of basis X → XQ', () => {
    const rotated = geometryDescriptors(matmul(base, randomOrthogonal(d, 33), n, d, d), n, d);
    for (const key of [...SPECTRAL_KEYS, 'anisotropy', 'norm_mean', 'norm_std', 'total_variance'] as const) {
      expect(close(rotated[key] as number, ref[key] as number, 1e-9, 1e-9), key).toBe(true);
    }
    ref.top_eigenvalues!.forEach((v, i) => {
      expect(close(rotated.top_eigenvalues![i]!, v, 1e-9, 1e-9 * ref.top_eigenvalues![0]!)).toBe(true);
    });
  });

  it('scales eigenvalues by c² under X → cX and keeps the scale-free descriptors', () => {
    const c = 3.5;
    const scaled = geometryDescriptors(
      base.map((v) => v * c),
      n,
      d,
    );
    ref.top_eigenvalues!.forEach((v, i) => {
      expect(
        close(scaled.top_eigenvalues![i]!, c * c * v, 1e-10, 1e-10 * c * c * ref.top_eigenvalues![0]!),
      ).toBe(true);
    });
    for (const key of [
      'effective_rank',
      'participation_ratio',
      'stable_rank',
      'spectral_entropy',
      'alpha_req',
      'anisotropy',
      'intrinsic_dim',
    ] as const) {
      expect(close(scaled[key], ref[key], 1e-10, 1e-10), key).toBe(true);
    }
    expect(close(scaled.total_variance, c * c * ref.total_variance!, 1e-12, 0)).toBe(true);
  });

  it('is translation-invariant except for the uncentred descriptors', () => {
    const shift = randomMatrix(1, d, 34);
    const moved = geometryDescriptors(
      base.map((v, i) => v + 10 * (shift[i % d] as number)),
      n,
      d,
    );
    // Centred-spectrum and distance descriptors do not see a common shift of the rows.
    for (const key of [...SPECTRAL_KEYS, 'total_variance'] as const) {
      expect(close(moved[key] as number, ref[key] as number, 1e-8, 1e-8), key).toBe(true);
    }
    // anisotropy and the row norms are of the uncentred rows, so they move.
    expect(Math.abs(moved.anisotropy! - ref.anisotropy!)).toBeGreaterThan(0.1);
    expect(moved.norm_mean).not.toBeCloseTo(ref.norm_mean!, 3);
  });
});

describe('geometryDescriptors degenerate inputs', () => {
  it('all-zero X gives nulls for the undefined descriptors, never NaN', () => {
    const g = geometryDescriptors(new Float32Array(12), 4, 3);
    expect(g.total_variance).toBe(0);
    expect(g.numerical_rank).toBe(0);
    expect(g.norm_mean).toBe(0);
    expect(g.norm_std).toBe(0);
    for (const key of [
      'effective_rank',
      'participation_ratio',
      'stable_rank',
      'spectral_entropy',
      'alpha_req',
      'top_k_energy',
      'anisotropy',
      'intrinsic_dim',
    ] as const) {
      expect(g[key], key).toBeNull();
    }
  });

  it('a single row has no covariance', () => {
    const g = geometryDescriptors(new Float64Array([1, 2, 3]), 1, 3);
    expect(g.total_variance).toBeNull();
    expect(g.effective_rank).toBeNull();
    expect(g.anisotropy).toBeNull();
    expect(g.norm_mean).toBeCloseTo(Math.sqrt(14), 12);
    for (const v of Object.values(g)) if (typeof v === 'number') expect(Number.isNaN(v)).toBe(false);
  });

  it('rejects a shape mismatch and non-finite entries', () => {
    expect(() => geometryDescriptors(new Float64Array(5), 2, 3)).toThrow(RunlakeError);
    expect(() => geometryDescriptors(new Float64Array([1, Number.NaN]), 1, 2)).toThrow(/finite/);
  });
});

describe('covarianceSpectrum', () => {
  it('uses the smaller of the Gram and covariance matrices', () => {
    expect(covarianceSpectrum(randomMatrix(5, 9, 41), 5, 9).via).toBe('gram');
    expect(covarianceSpectrum(randomMatrix(9, 5, 42), 9, 5).via).toBe('covariance');
  });

  it('computes the example spectrum', () => {
    const s = covarianceSpectrum(new Float32Array([1, 0, -1, 0, 0, 2, 0, -2]), 4, 2);
    expect(s.eigenvalues[0]).toBeCloseTo(8 / 3, 12);
    expect(s.eigenvalues[1]).toBeCloseTo(2 / 3, 12);
  });
});

/** The old path: centre in float64, then one plain dot product per Gram entry. */
function naiveCentredGram(x: ArrayLike<number>, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (x[i * d + j] as number) / n;
  const c = Float64Array.from({ length: n * d }, (_, t) => (x[t] as number) - (mean[t % d] as number));
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (c[i * d + k] as number) * (c[j * d + k] as number);
      g[i * n + j] = s;
    }
  return g;
}

describe('register-tiled kernels against the plain path', () => {
  it('centredGram agrees with plain dot products for sizes around the 4×4 tile (float32 and float64)', () => {
    for (const [n, d] of [
      [1, 3],
      [2, 2],
      [3, 7],
      [5, 4],
      [8, 8],
      [13, 6],
      [17, 33],
    ] as const) {
      const x64 = randomMatrix(n, d, 100 + n * d);
      for (const x of [x64, Float32Array.from(x64)]) {
        const got = centredGram(x, n, d);
        const want = naiveCentredGram(x, n, d);
        expect(got).toHaveLength(n * n);
        let scale = 0;
        for (const v of want) scale = Math.max(scale, Math.abs(v));
        for (let t = 0; t < n * n; t++) {
          expect(Math.abs((got[t] as number) - (want[t] as number))).toBeLessThanOrEqual(
            1e-13 * Math.max(scale, 1),
          );
        }
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(got[i * n + j]).toBe(got[j * n + i]);
      }
    }
    expect(() => centredGram(new Float32Array(5), 2, 3)).toThrow(RunlakeError);
  });

  it('the covariance route (tiled scatter) and the Gram route give the same spectrum', () => {
    for (const [n, d] of [
      [9, 5],
      [23, 7],
      [41, 18],
    ] as const) {
      const x = randomMatrix(n, d, 7 * n + d);
      const viaScatter = covarianceSpectrum(x, n, d);
      expect(viaScatter.via).toBe('covariance');
      // The Gram route, from the plain Gram: its d nonzero eigenvalues are the same.
      const fromGram = symmetricEigenvalues(naiveCentredGram(x, n, d), n);
      for (let i = 0; i < d; i++) {
        const want = Math.max(0, (fromGram[i] as number) / (n - 1));
        expect(Math.abs((viaScatter.eigenvalues[i] as number) - want)).toBeLessThan(
          1e-12 * (fromGram[0] as number),
        );
      }
      // keepGram returns the tiled Gram.
      const kept = covarianceSpectrum(x, n, d, { keepGram: true }).gram as Float64Array;
      expect(Array.from(kept)).toEqual(Array.from(centredGram(x, n, d)));
    }
  });

  it('the unrolled tridiagonalisation recovers spectra for every size mod 4', () => {
    for (let n = 3; n <= 14; n++) {
      const spectrum = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -1 : 1) * (i + 1) ** -1.2);
      const q = randomOrthogonal(n, 500 + n);
      const qd = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) qd[j * n + i] = (q[i * n + j] as number) * (spectrum[i] as number);
      const a = matmul(qd, q, n, n, n);
      const expected = [...spectrum].sort((x, y) => y - x);
      const got = symmetricEigenvalues(a, n);
      expected.forEach((v, i) => {
        expect(Math.abs((got[i] as number) - v)).toBeLessThan(1e-13);
      });
    }
  });

  it('the WebAssembly SIMD kernels agree with the JS kernels (RUNLAKE_GEOMETRY_KERNEL=js)', () => {
    expect(['wasm-simd', 'js']).toContain(gramKernel());
    const previous = process.env.RUNLAKE_GEOMETRY_KERNEL;
    const run = (kernel: string | undefined) => {
      if (kernel === undefined) delete process.env.RUNLAKE_GEOMETRY_KERNEL;
      else process.env.RUNLAKE_GEOMETRY_KERNEL = kernel;
      try {
        return [
          [61, 19],
          [18, 45],
          [4, 4],
          [7, 2],
          [90, 40],
        ].map(([n, d]) => {
          const x = Float32Array.from(
            randomMatrix(n as number, d as number, (n as number) + 3 * (d as number)),
          );
          const spectrum = covarianceSpectrum(x, n as number, d as number, { keepGram: true });
          return {
            gram: Array.from(centredGram(x, n as number, d as number)),
            eigenvalues: Array.from(spectrum.eigenvalues),
            kept: Array.from(spectrum.gram as Float64Array),
          };
        });
      } finally {
        if (previous === undefined) delete process.env.RUNLAKE_GEOMETRY_KERNEL;
        else process.env.RUNLAKE_GEOMETRY_KERNEL = previous;
      }
    };
    const js = run('js');
    const fast = run(undefined);
    // The Gram kernels agree bitwise (toEqual on numbers is Object.is). The tridiagonalisation
    // kernel adds its row sums in two lanes, so the eigenvalues agree to rounding.
    expect(fast.map((c) => c.gram)).toEqual(js.map((c) => c.gram));
    expect(fast.map((c) => c.kept)).toEqual(js.map((c) => c.kept));
    fast.forEach((c, t) => {
      const want = (js[t] as (typeof js)[number]).eigenvalues;
      c.eigenvalues.forEach((v, i) => {
        expect(Math.abs(v - (want[i] as number))).toBeLessThanOrEqual(
          1e-12 * Math.max(want[0] as number, 1e-300),
        );
      });
    });
  });
});

describe('the Gram helper thread (compiled package: its worker script is in dist/)', () => {
  it('computes the TwoNN Gram of a tall matrix off-thread, bitwise equal to the calling thread', async () => {
    // Imported by URL so type checking does not need a built dist/.
    const dist = (await import(
      new URL('../dist/index.js', import.meta.url).href
    )) as typeof import('../src/index.js');
    const threads = (await import(
      new URL('../dist/geometry/gram-thread.js', import.meta.url).href
    )) as typeof import('../src/geometry/gram-thread.js');
    const n = 600;
    const d = 300;
    const x = Float32Array.from(randomMatrix(n, d, 91));
    const expected = dist.centredGram(x, n, d);
    // The helper starts on the first call that could use it; later calls hand the Gram over.
    let handedOff = 0;
    for (let i = 0; i < 50 && handedOff < 3; i++) {
      const before = threads.gramHelperStats().handedOff;
      const spectrum = dist.covarianceSpectrum(x, n, d, { keepGram: true });
      expect(spectrum.via).toBe('covariance');
      expect(
        Buffer.compare(Buffer.from((spectrum.gram as Float64Array).buffer), Buffer.from(expected.buffer)),
      ).toBe(0);
      if (threads.gramHelperStats().handedOff > before) handedOff++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(handedOff).toBe(3);
    expect(threads.gramHelperStats().failed).toBe(0);
    // The Gram a caller keeps is its own: a later call does not overwrite it.
    const kept = dist.covarianceSpectrum(x, n, d, { keepGram: true }).gram as Float64Array;
    dist.covarianceSpectrum(Float32Array.from(randomMatrix(n, d, 92)), n, d, { keepGram: true });
    expect(Buffer.compare(Buffer.from(kept.buffer), Buffer.from(expected.buffer))).toBe(0);
    const a = dist.geometryDescriptors(x, n, d);
    expect(a.intrinsic_dim).toBe(geometryDescriptors(x, n, d).intrinsic_dim);
  });
});
