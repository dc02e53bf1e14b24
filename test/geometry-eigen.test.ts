import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { geometryDescriptors, symmetricEigenvalues } from '../src/index.js';
import { matmul, randomMatrix, randomOrthogonal } from './helpers/matrices.js';

/** Qᵀ·diag(spectrum)·Q for a seeded random orthogonal Q: a symmetric matrix with a known spectrum. */
function withSpectrum(spectrum: readonly number[], seed: number): Float64Array {
  const n = spectrum.length;
  const q = randomOrthogonal(n, seed);
  const qd = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) qd[j * n + i] = (q[i * n + j] as number) * (spectrum[i] as number);
  return matmul(qd, q, n, n, n);
}

function expectSpectrum(got: Float64Array, spectrum: readonly number[], tol: number, label: string): void {
  const want = [...spectrum].sort((x, y) => y - x);
  expect(got.length, label).toBe(want.length);
  want.forEach((v, i) => {
    expect(Math.abs((got[i] as number) - v), `${label} λ${i}`).toBeLessThanOrEqual(tol);
  });
}

function withKernel<T>(kernel: string | undefined, run: () => T): T {
  const previous = process.env.RUNLAKE_GEOMETRY_KERNEL;
  if (kernel === undefined) delete process.env.RUNLAKE_GEOMETRY_KERNEL;
  else process.env.RUNLAKE_GEOMETRY_KERNEL = kernel;
  try {
    return run();
  } finally {
    if (previous === undefined) delete process.env.RUNLAKE_GEOMETRY_KERNEL;
    else process.env.RUNLAKE_GEOMETRY_KERNEL = previous;
  }
}

// Sizes around the SIMD path's row groups of four (counted from the bottom, with 0–3 rows above
// them and an odd or even first column), and larger ones where most of the work is in the kernels.
const SIZES = [8, 9, 10, 11, 12, 13, 16, 17, 18, 19, 33, 64, 65, 130, 203];

describe('symmetricEigenvalues: the grouped SIMD tridiagonalisation', () => {
  it('recovers known spectra (distinct, repeated, rank-deficient, indefinite) at every size mod 4', () => {
    for (const n of SIZES) {
      const spectra: [string, number[]][] = [
        ['power law', Array.from({ length: n }, (_, i) => (i + 1) ** -1.3)],
        ['repeated', Array.from({ length: n }, (_, i) => [3, 3, 3, -1, 0.5][i % 5] as number)],
        ['rank 3', Array.from({ length: n }, (_, i) => (i < 3 ? 10 - i : 0))],
        ['indefinite', Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (1 + i / n))],
      ];
      for (const [label, spectrum] of spectra) {
        const a = withSpectrum(spectrum, 1000 + n);
        const scale = Math.max(...spectrum.map(Math.abs));
        expectSpectrum(symmetricEigenvalues(a, n), spectrum, 1e-12 * scale * Math.sqrt(n), `${label} n=${n}`);
      }
    }
  });

  it('reads only the lower triangle (the upper one may hold anything finite)', () => {
    for (const n of [9, 12, 31, 64]) {
      const spectrum = Array.from({ length: n }, (_, i) => Math.cos(i));
      const a = withSpectrum(spectrum, 2000 + n);
      const junk = Float64Array.from(a);
      const noise = randomMatrix(n, n, 3000 + n);
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) junk[i * n + j] = 1e3 * (noise[i * n + j] as number);
      expect(Array.from(symmetricEigenvalues(junk, n)), `n=${n}`).toEqual(
        Array.from(symmetricEigenvalues(a, n)),
      );
    }
  });

  it('agrees with the JavaScript path on random symmetric matrices, and leaves the input alone', () => {
    for (const n of SIZES) {
      const g = randomMatrix(n, n, 4000 + n);
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j <= i; j++) {
          const v = (g[i * n + j] as number) + (g[j * n + i] as number);
          a[i * n + j] = v;
          a[j * n + i] = v;
        }
      const copy = Float64Array.from(a);
      const fast = symmetricEigenvalues(a, n);
      const js = withKernel('js', () => symmetricEigenvalues(a, n));
      let norm = 0;
      for (const v of js) norm = Math.max(norm, Math.abs(v));
      js.forEach((v, i) => {
        expect(Math.abs((fast[i] as number) - v), `n=${n} λ${i}`).toBeLessThanOrEqual(
          1e-13 * norm * Math.sqrt(n),
        );
      });
      // The trace is the sum of the eigenvalues.
      let trace = 0;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        trace += a[i * n + i] as number;
        sum += fast[i] as number;
      }
      expect(Math.abs(trace - sum)).toBeLessThanOrEqual(1e-12 * norm * n);
      expect(Array.from(a)).toEqual(Array.from(copy));
    }
  });

  it('handles the zero matrix, a diagonal one and n = 0, 1', () => {
    expect(Array.from(symmetricEigenvalues(new Float64Array(0), 0))).toEqual([]);
    expect(Array.from(symmetricEigenvalues(new Float64Array([7]), 1))).toEqual([7]);
    expect(Array.from(symmetricEigenvalues(new Float64Array(20 * 20), 20))).toEqual(new Array(20).fill(0));
    const n = 21;
    const diagonal = new Float64Array(n * n);
    for (let i = 0; i < n; i++) diagonal[i * n + i] = i - 10;
    expect(Array.from(symmetricEigenvalues(diagonal, n))).toEqual(
      Array.from({ length: n }, (_, i) => 10 - i),
    );
  });
});

describe('fused multiply-adds (WebAssembly relaxed SIMD) in the kernels', () => {
  it('give the same descriptors as separate multiplies and adds (RUNLAKE_GEOMETRY_FMA=0, compiled package in a child process)', () => {
    // The choice is made once per process (V8 flags are process-wide), so the unfused kernels run in
    // a child process on the compiled package, on the same seeded matrices (n > d: the scatter, the
    // float32 screen and the shared tridiagonalisation; n < d: the Gram).
    const shapes: [number, number][] = [
      [600, 240],
      [90, 150],
    ];
    const script = `
      const { geometryDescriptors } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const { relaxedSimd } = await import(${JSON.stringify(new URL('../dist/geometry/wasm.js', import.meta.url).href)});
      const input = JSON.parse((await import('node:fs')).readFileSync(0, 'utf8'));
      const out = input.map(([n, d, x]) => geometryDescriptors(Float32Array.from(x), n, d));
      process.stdout.write(JSON.stringify({ fused: relaxedSimd(), out }));`;
    const inputs = shapes.map(([n, d], t) => [
      n,
      d,
      Array.from(Float32Array.from(randomMatrix(n, d, 5000 + t))),
    ]);
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, RUNLAKE_GEOMETRY_FMA: '0' },
      input: JSON.stringify(inputs),
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    expect(child.status, child.stderr).toBe(0);
    const unfused = JSON.parse(child.stdout) as { fused: boolean; out: Record<string, unknown>[] };
    expect(unfused.fused).toBe(false);
    inputs.forEach(([n, d, x], t) => {
      const got = geometryDescriptors(
        Float32Array.from(x as number[]),
        n as number,
        d as number,
      ) as unknown as Record<string, unknown>;
      const want = unfused.out[t] as Record<string, unknown>;
      // TwoNN is exact either way (the screen only chooses which pairs to refine in float64).
      expect(got.intrinsic_dim).toBe(want.intrinsic_dim);
      expect(got.numerical_rank).toBe(want.numerical_rank);
      for (const key of Object.keys(want)) {
        const a = [got[key]].flat() as (number | null)[];
        const b = [want[key]].flat() as (number | null)[];
        b.forEach((v, i) => {
          if (v === null) expect(a[i]).toBeNull();
          else
            expect(Math.abs((a[i] as number) - v), `${n}×${d} ${key}[${i}]`).toBeLessThanOrEqual(
              1e-11 * Math.abs(v),
            );
        });
      }
    });
  });
});
