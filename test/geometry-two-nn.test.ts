import { describe, expect, it } from 'vitest';
import { descriptorInputs } from '../src/geometry/descriptor-inputs.js';
import { twoNearestFromGram, twoNearestSquaredDistances } from '../src/geometry/two-nn.js';
import { centredGram, covarianceSpectrum } from '../src/index.js';
import { randomMatrix } from './helpers/matrices.js';

function means(x: Float32Array | Float64Array, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < d; k++) mean[k] = (mean[k] as number) + (x[i * d + k] as number);
  for (let k = 0; k < d; k++) mean[k] = (mean[k] as number) / n;
  return mean;
}

/** The reference: the scan of the full float64 Gram, as geometryDescriptors did before screening. */
function reference(x: Float32Array | Float64Array, n: number, d: number): Float64Array {
  return twoNearestFromGram(centredGram(x, n, d), n);
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

describe('twoNearestSquaredDistances (float32 screening + exact refinement)', () => {
  it('is bitwise the scan of the float64 Gram for random matrices of many shapes', () => {
    for (const [n, d] of [
      [3, 1],
      [5, 2],
      [9, 4],
      [17, 33],
      [64, 7],
      [130, 50],
      [257, 96],
    ] as const) {
      const x64 = randomMatrix(n, d, 31 * n + d);
      for (const x of [x64, Float32Array.from(x64)]) {
        const got = twoNearestSquaredDistances(x, means(x, n, d), n, d);
        expect(Array.from(got), `${n}×${d} ${x.constructor.name}`).toEqual(Array.from(reference(x, n, d)));
        const js = withKernel('js', () => twoNearestSquaredDistances(x, means(x, n, d), n, d));
        expect(Array.from(js)).toEqual(Array.from(got));
      }
    }
  });

  it('handles duplicate, near-duplicate and all-equal rows exactly', () => {
    const n = 120;
    const d = 40;
    const x = randomMatrix(n, d, 7);
    // Rows 10…19 repeat rows 0…9 (distance 0: never neighbours); row 30 is row 31 nudged in its
    // last bits, far below the float32 screen's resolution; row 40 repeats row 41 except one entry.
    x.copyWithin(10 * d, 0, 10 * d);
    for (let k = 0; k < d; k++) x[30 * d + k] = (x[31 * d + k] as number) * (1 + 2 ** -40 * (k % 3));
    x.copyWithin(40 * d, 41 * d, 42 * d);
    x[40 * d + 5] = (x[40 * d + 5] as number) + 1e-9;
    for (const m of [x, Float32Array.from(x)]) {
      expect(Array.from(twoNearestSquaredDistances(m, means(m, n, d), n, d))).toEqual(
        Array.from(reference(m, n, d)),
      );
    }
    // Every row the same: nobody has a neighbour at positive distance.
    const same = new Float64Array(6 * 3).fill(2.5);
    expect(Array.from(twoNearestSquaredDistances(same, means(same, 6, 3), 6, 3))).toEqual(
      new Array(12).fill(Number.POSITIVE_INFINITY),
    );
    // Two rows: one neighbour each, so r₂ is missing.
    const pair = new Float64Array([0, 0, 3, 4]);
    expect(Array.from(twoNearestSquaredDistances(pair, means(pair, 2, 2), 2, 2))).toEqual([
      25,
      Number.POSITIVE_INFINITY,
      25,
      Number.POSITIVE_INFINITY,
    ]);
  });

  it('is exact at extreme scales (the float32 screen rescales by a power of two)', () => {
    const n = 50;
    const d = 12;
    const base = randomMatrix(n, d, 8);
    for (const scale of [1e-160, 1e-30, 1e30, 1e150]) {
      const x = base.map((v) => v * scale);
      expect(Array.from(twoNearestSquaredDistances(x, means(x, n, d), n, d)), `scale ${scale}`).toEqual(
        Array.from(reference(x, n, d)),
      );
    }
  });
});

describe('descriptorInputs (the geometryDescriptors pipeline)', () => {
  it('gives covarianceSpectrum’s eigenvalues and the Gram scan’s distances, bitwise, for n < d, n = d and n > d', () => {
    for (const [n, d] of [
      [1, 5],
      [2, 3],
      [3, 8],
      [20, 20],
      [30, 11],
      [200, 90],
      [700, 190],
    ] as const) {
      const x = Float32Array.from(randomMatrix(n, d, 5 * n + d));
      const got = descriptorInputs(x, n, d);
      const want = covarianceSpectrum(x, n, d);
      expect(Array.from(got.eigenvalues), `${n}×${d}`).toEqual(Array.from(want.eigenvalues));
      expect(Array.from(got.rowNorms)).toEqual(Array.from(want.rowNorms));
      expect(got.nonzeroRows).toBe(want.nonzeroRows);
      if (n >= 3) expect(Array.from(got.neighbours as Float64Array)).toEqual(Array.from(reference(x, n, d)));
      else expect(got.neighbours).toBeNull();
    }
  });
});

describe('the helper thread in geometryDescriptors (compiled package: its worker script is in dist/)', () => {
  it('takes part of the scatter, half of each large tridiagonalisation step and TwoNN, bitwise equal to one thread', async () => {
    // Imported by URL so type checking does not need a built dist/. The sources (what the rest of
    // this file runs) find no compiled worker script, so they compute everything on one thread.
    const dist = (await import(
      new URL('../dist/index.js', import.meta.url).href
    )) as typeof import('../src/index.js');
    const threads = (await import(
      new URL('../dist/geometry/gram-thread.js', import.meta.url).href
    )) as typeof import('../src/geometry/gram-thread.js');
    const { geometryDescriptors } = await import('../src/index.js');
    // d = 300: the steps with ≥ 160 trailing rows are split between the threads.
    const n = 640;
    const d = 300;
    let handedOff = 0;
    for (let i = 0; i < 40 && handedOff < 4; i++) {
      const x = Float32Array.from(randomMatrix(n, d, 200 + i));
      // Every other matrix has duplicate and near-duplicate rows (TwoNN's exact fallbacks).
      if (i % 2 === 1) {
        x.copyWithin(50 * d, 0, 20 * d);
        for (let k = 0; k < d; k++) x[100 * d + k] = (x[101 * d + k] as number) * (1 + 2 ** -20);
      }
      const before = threads.gramHelperStats().handedOff;
      const got = dist.geometryDescriptors(x, n, d);
      if (threads.gramHelperStats().handedOff > before) handedOff++;
      expect(JSON.stringify(got)).toBe(JSON.stringify(geometryDescriptors(x, n, d)));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(handedOff).toBe(4);
    expect(threads.gramHelperStats().failed).toBe(0);
    const tridiagonal = (await import(
      new URL('../dist/geometry/tridiagonal.js', import.meta.url).href
    )) as typeof import('../src/geometry/tridiagonal.js');
    expect(tridiagonal.tridiagonalHelperStats().sharedSteps).toBeGreaterThan(0);
  });
});
