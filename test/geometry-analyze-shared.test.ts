// The analysis pipeline's shared intermediates: prepared matrices (centred once, their own
// products cached) and the cross-product kernel must give bitwise what the stand-alone similarity
// gives, and the per-partition embeddings summary must load the same matrices as the row path.
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crossProduct, packColumns } from '../src/geometry/cross-product.js';
import {
  analyzeLake,
  attachGridId,
  geometryDescriptors,
  geometryDynamicsRow,
  type Lake,
  openLake,
  type PreparedRepresentation,
  preparedSimilarity,
  prepareRepresentation,
  RunlakeError,
  representationSimilarity,
  syntheticRuns,
  writeSyntheticEmbeddings,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';
import { randomMatrix } from './helpers/matrices.js';

/** Runs `fn` with the JavaScript kernels forced (RUNLAKE_GEOMETRY_KERNEL=js), then restores. */
function withJsKernel<T>(fn: () => T): T {
  const before = process.env.RUNLAKE_GEOMETRY_KERNEL;
  process.env.RUNLAKE_GEOMETRY_KERNEL = 'js';
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.RUNLAKE_GEOMETRY_KERNEL;
    else process.env.RUNLAKE_GEOMETRY_KERNEL = before;
  }
}

describe('crossProduct', () => {
  it('is AᵀB summed over the rows in order: bitwise by the JavaScript kernel, within rounding (fused multiply-adds) by WebAssembly', () => {
    for (const [n, da, db] of [
      [1, 1, 1],
      [7, 5, 9],
      [33, 16, 12],
      [64, 30, 31],
    ] as const) {
      const a = randomMatrix(n, da, n + da);
      const b = randomMatrix(n, db, n + db + 100);
      const expected = new Float64Array(da * db);
      const magnitude = new Float64Array(da * db);
      for (let i = 0; i < da; i++) {
        for (let j = 0; j < db; j++) {
          let s = 0;
          let m = 0;
          for (let k = 0; k < n; k++) {
            const p = (a[k * da + i] as number) * (b[k * db + j] as number);
            s += p;
            m += Math.abs(p);
          }
          expected[i * db + j] = s;
          magnitude[i * db + j] = m;
        }
      }
      const pa = packColumns(a, n, da);
      const pb = packColumns(b, n, db);
      const got = crossProduct(pa, pb);
      for (let e = 0; e < expected.length; e++) {
        // Each of the n steps rounds once (fused) or twice: within 2n·ε·Σ|products| of the sum.
        const bound = 2 * n * 2 ** -52 * (magnitude[e] as number);
        expect(Math.abs((got[e] as number) - (expected[e] as number))).toBeLessThanOrEqual(bound);
      }
      expect(Array.from(withJsKernel(() => crossProduct(pa, pb)))).toEqual(Array.from(expected));
      // Into a given buffer (stale contents are overwritten), by either kernel.
      const into = new Float64Array(da * db).fill(Number.NaN);
      expect(crossProduct(pa, pb, into)).toBe(into);
      expect(Array.from(into)).toEqual(Array.from(got));
      into.fill(7);
      withJsKernel(() => crossProduct(pa, pb, into));
      expect(Array.from(into)).toEqual(Array.from(expected));
    }
  });

  it('refuses operands with different row counts', () => {
    const a = packColumns(randomMatrix(4, 2, 1), 4, 2);
    const b = packColumns(randomMatrix(5, 2, 2), 5, 2);
    expect(() => crossProduct(a, b)).toThrow(/4 rows against 5/);
  });
});

describe('prepareRepresentation / preparedSimilarity', () => {
  const shapes: Array<[n: number, dx: number, dy: number]> = [
    [64, 16, 16], // feature route: X̃ᵀỸ is formed
    [50, 7, 13], // widths not a multiple of the 4-wide tiles
    [30, 40, 50], // n < min(dx, dy): the Gram route and the LQ Procrustes
    [12, 12, 20],
    [5, 3, 3],
    [3, 1, 2], // n < 4: no debiased CKA
  ];

  it('gives bitwise representationSimilarity, float32 or float64, with either kernel', () => {
    for (const [n, dx, dy] of shapes) {
      const x = Float32Array.from(randomMatrix(n, dx, n * 3 + dx));
      const y = randomMatrix(n, dy, n * 5 + dy);
      // A constant column is centred to exact zeros on both paths.
      for (let i = 0; i < n; i++) y[i * dy] = 2.5;
      const expected = representationSimilarity(x, y, n, dx, dy);
      const px = prepareRepresentation(x, n, dx);
      const py = prepareRepresentation(y, n, dy);
      expect(preparedSimilarity(px, py)).toEqual(expected);
      // Cached parts are reused: a second comparison gives the same again.
      expect(preparedSimilarity(px, py)).toEqual(expected);
      // With the JavaScript kernels (every geometry kernel switches, eigen.ts's too), against the
      // stand-alone call under the same switch.
      const [js, jsExpected] = withJsKernel(() => [
        preparedSimilarity(prepareRepresentation(x, n, dx), prepareRepresentation(y, n, dy)),
        representationSimilarity(x, y, n, dx, dy),
      ]);
      expect(js).toEqual(jsExpected);
    }
  });

  it('chains along a trajectory: each matrix prepared once serves both neighbours', () => {
    const n = 40;
    const d = 24;
    const xs = [1, 2, 3, 4].map((seed) => randomMatrix(n, d, seed));
    const prepared = xs.map((x) => prepareRepresentation(x, n, d));
    for (let t = 1; t < xs.length; t++) {
      expect(
        preparedSimilarity(prepared[t - 1] as PreparedRepresentation, prepared[t] as PreparedRepresentation),
      ).toEqual(representationSimilarity(xs[t - 1] as Float64Array, xs[t] as Float64Array, n, d, d));
    }
  });

  it('recycles a spent prepared matrix into the next one, with the same result as fresh buffers', () => {
    for (const [n, d] of [
      [40, 24],
      [37, 13], // a padded last panel: the reused buffer's padding must stay zero
    ] as const) {
      const xs = [5, 6, 7, 8].map((seed) => randomMatrix(n, d, seed));
      // A constant column in one matrix only: the recycled buffer held non-zero values there.
      for (let i = 0; i < n; i++) (xs[2] as Float64Array)[i * d + 1] = -1.25;
      let previous = prepareRepresentation(xs[0] as Float64Array, n, d);
      let spare: PreparedRepresentation | undefined;
      for (let t = 1; t < xs.length; t++) {
        const x = xs[t] as Float64Array;
        const current = prepareRepresentation(x, n, d, { recycle: spare });
        if (spare) expect(current.centred).toBe(spare.centred); // the buffers were taken over
        const fresh = prepareRepresentation(x, n, d);
        expect(Array.from(current.centred)).toEqual(Array.from(fresh.centred));
        expect(Array.from(current.packedColumns.packed)).toEqual(Array.from(fresh.packedColumns.packed));
        expect(preparedSimilarity(previous, current)).toEqual(
          representationSimilarity(xs[t - 1] as Float64Array, x, n, d, d),
        );
        spare = previous;
        previous = current;
      }
    }
    // A spare of another shape, or whose buffer is the input itself, is not taken.
    const x = randomMatrix(10, 4, 1);
    const other = prepareRepresentation(randomMatrix(10, 5, 2), 10, 5);
    expect(prepareRepresentation(x, 10, 4, { recycle: other }).centred).not.toBe(other.centred);
    const own = prepareRepresentation(x, 10, 4);
    const again = prepareRepresentation(own.centred, 10, 4, { recycle: own });
    expect(again.centred).not.toBe(own.centred);
    expect(Array.from(again.centred)).toEqual(Array.from(prepareRepresentation(own.centred, 10, 4).centred));
  });

  it('takes ‖X̃ᵀX̃‖² from the spectrum when given, within rounding of the recomputed CKA', () => {
    const n = 64;
    const d = 48;
    const x = randomMatrix(n, d, 21);
    const y = randomMatrix(n, d, 22).map((v, i) => v + 0.5 * (x[i] as number));
    const moment = (m: Float64Array) => {
      const g = geometryDescriptors(m, n, d);
      return ((n - 1) * (g.total_variance as number)) ** 2 / (g.participation_ratio as number);
    };
    const exact = representationSimilarity(x, y, n, d, d);
    const fromSpectrum = preparedSimilarity(
      prepareRepresentation(x, n, d, { selfMoment: moment(x) }),
      prepareRepresentation(y, n, d, { selfMoment: moment(y) }),
    );
    expect(Math.abs((fromSpectrum.cka as number) - (exact.cka as number))).toBeLessThan(1e-12);
    expect(Math.abs((fromSpectrum.debiasedCka as number) - (exact.debiasedCka as number))).toBeLessThan(
      1e-12,
    );
    expect(fromSpectrum.procrustesDistance).toBe(exact.procrustesDistance);
    expect(() => prepareRepresentation(x, n, d, { selfMoment: Number.NaN })).toThrow(/selfMoment must be/);
  });

  it('gives nulls for a zero matrix, as representationSimilarity does', () => {
    const zero = new Float64Array(20 * 4).fill(3); // identical rows: X̃ = 0
    const y = randomMatrix(20, 4, 9);
    const expected = representationSimilarity(zero, y, 20, 4, 4);
    expect(expected).toEqual({ cka: null, debiasedCka: null, procrustesDistance: null });
    expect(preparedSimilarity(prepareRepresentation(zero, 20, 4), prepareRepresentation(y, 20, 4))).toEqual(
      expected,
    );
  });

  it('names the entry that is not finite, and refuses matrices of different samples', () => {
    const x = randomMatrix(6, 3, 1);
    x[7] = Number.NaN;
    expect(() => prepareRepresentation(x, 6, 3)).toThrow(RunlakeError);
    expect(() => prepareRepresentation(x, 6, 3)).toThrow(/x entry \(2, 1\) is NaN/);
    expect(() => prepareRepresentation(randomMatrix(6, 3, 1), 6, 4)).toThrow(/expected n×d = 6×4/);
    const a = prepareRepresentation(randomMatrix(6, 3, 1), 6, 3);
    const b = prepareRepresentation(randomMatrix(7, 3, 2), 7, 3);
    expect(() => preparedSimilarity(a, b)).toThrow(/6 rows, y has 7/);
  });

  it('geometryDynamicsRow gives the same row from prepared, plain or mixed matrices', () => {
    const n = 48;
    const x0 = randomMatrix(n, 20, 11);
    const x1 = randomMatrix(n, 20, 12);
    const s0 = { step: 100, descriptors: geometryDescriptors(x0, n, 20) };
    const s1 = { step: 200, descriptors: geometryDescriptors(x1, n, 20) };
    const plain = geometryDynamicsRow(
      { ...s0, matrix: { x: x0, n, d: 20 } },
      { ...s1, matrix: { x: x1, n, d: 20 } },
    );
    expect(plain.cka_drift).not.toBeNull();
    const p0 = prepareRepresentation(x0, n, 20);
    const p1 = prepareRepresentation(x1, n, 20);
    expect(geometryDynamicsRow({ ...s0, matrix: p0 }, { ...s1, matrix: p1 })).toEqual(plain);
    expect(geometryDynamicsRow({ ...s0, matrix: p0 }, { ...s1, matrix: { x: x1, n, d: 20 } })).toEqual(plain);
  });
});

describe('analyzeLake loads each shard-referenced matrix by one reference', () => {
  const sweep = syntheticRuns({
    seeds: 2,
    layers: 2,
    modules: ['resid_post', 'mlp_out'],
    samples: 24,
    dim: 16,
  });
  const steps = sweep.steps.slice(0, 5);
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function lakeWith(shardModules: string[]): Promise<Lake> {
    const dir = tempDir();
    dirs.push(dir);
    const lake = await openLake(dir, { schema: 'squiggle' });
    const { grid_id } = attachGridId({ model: 'tiny-shared' });
    await lake.write(
      'runs',
      sweep.runs.map((r) => ({ run_id: r.runId, grid_id, seed: r.seed })),
    );
    await writeSyntheticEmbeddings(lake, sweep, { steps, shardModules });
    return lake;
  }

  const ORDER = 'ORDER BY run_id, module, layer, step';
  const valuesOf = (rows: Record<string, unknown>[]) => JSON.stringify(rows);

  it('writes the same geometry rows as from inline vectors, bit for bit', async () => {
    const sharded = await lakeWith(['resid_post', 'mlp_out']);
    const inline = await lakeWith([]);
    try {
      const a = await analyzeLake(sharded, { workers: 1, matchTop: 0 });
      const b = await analyzeLake(inline, { workers: 1, matchTop: 0 });
      expect(a.problems).toEqual([]);
      expect(a.stateRows).toBe(b.stateRows);
      expect(a.taskSeconds.descriptors).toBeGreaterThan(0);
      for (const table of ['geometry_state', 'geometry_dynamics']) {
        const fromShards = await sharded.query(`SELECT * FROM ${table} ${ORDER}`);
        const fromInline = await inline.query(`SELECT * FROM ${table} ${ORDER}`);
        expect(fromShards.length).toBeGreaterThan(0);
        expect(valuesOf(fromShards)).toBe(valuesOf(fromInline));
      }
      const [drift] = await sharded.query(
        'SELECT count(*) AS n FROM geometry_dynamics WHERE cka_drift IS NULL',
      );
      expect(Number(drift?.n)).toBe(0);
    } finally {
      sharded.close();
      inline.close();
    }
  });

  it('falls back to the rows when the references are not rows 0…n−1 of one array in order', async () => {
    const source = await lakeWith(['resid_post']);
    const dir = tempDir();
    dirs.push(dir);
    const lake = await openLake(dir, { schema: 'squiggle' });
    try {
      const run = sweep.runs[0]?.runId as string;
      const step = steps[2] as number;
      const rows = await source.query(
        `SELECT * EXCLUDE (vector) FROM embeddings WHERE module = 'resid_post' ORDER BY run_id, step, layer, sample_id`,
      );
      cpSync(path.join(source.baseOut, 'arrays'), path.join(dir, 'arrays'), { recursive: true });
      // At one checkpoint, samples s0000 and s0001 point at each other's rows.
      const swapped = rows.map((r) => {
        const ref = r.shard_ref as { row: number | bigint };
        const hit = r.run_id === run && r.step === step && r.layer === 1;
        const row = Number(ref.row);
        return hit && row < 2 ? { ...r, shard_ref: { ...ref, row: 1 - row } } : r;
      });
      await lake.write('embeddings', swapped);
      const summary = await analyzeLake(lake, { workers: 1, matchTop: 0 });
      expect(summary.problems).toEqual([]);
      const matrix = sweep.matrix(run, step, 1, 'resid_post');
      const d = sweep.dim;
      const permuted = Float32Array.from(matrix);
      permuted.set(matrix.subarray(d, 2 * d), 0);
      permuted.set(matrix.subarray(0, d), d);
      const [state] = await lake.query(
        `SELECT * FROM geometry_state WHERE run_id = '${run}' AND module = 'resid_post' AND layer = 1 AND step = ${step}`,
      );
      const expected = geometryDescriptors(permuted, sweep.samples, d);
      expect(state?.intrinsic_dim).toBe(expected.intrinsic_dim);
      expect(state?.effective_rank).toBe(expected.effective_rank);
      // The drift from the step before compares sample i with sample i: here the swapped rows.
      const before = sweep.matrix(run, steps[1] as number, 1, 'resid_post');
      const want = geometryDynamicsRow(
        {
          step: steps[1] as number,
          descriptors: geometryDescriptors(before, sweep.samples, d),
          matrix: { x: before, n: sweep.samples, d },
        },
        { step, descriptors: expected, matrix: { x: permuted, n: sweep.samples, d } },
      );
      const unpermuted = representationSimilarity(before, matrix, sweep.samples, d, d);
      expect(1 - (unpermuted.cka as number)).not.toBeCloseTo(want.cka_drift as number, 6);
      const [dynamics] = await lake.query(
        `SELECT cka_drift, procrustes_distance FROM geometry_dynamics WHERE run_id = '${run}' AND module = 'resid_post' AND layer = 1 AND step = ${step}`,
      );
      // CKA takes ‖X̃ᵀX̃‖² from the spectrum in the pipeline: equal to rounding, not bitwise.
      expect(dynamics?.cka_drift as number).toBeCloseTo(want.cka_drift as number, 11);
      expect(dynamics?.procrustes_distance).toBe(want.procrustes_distance);
      const [unswapped] = await lake.query(
        `SELECT effective_rank FROM geometry_state WHERE run_id = '${run}' AND module = 'resid_post' AND layer = 1 AND step = ${steps[1]}`,
      );
      expect(unswapped?.effective_rank).toBe(
        geometryDescriptors(sweep.matrix(run, steps[1] as number, 1, 'resid_post'), sweep.samples, d)
          .effective_rank,
      );
    } finally {
      lake.close();
      source.close();
    }
  });
});

describe('runlake analyze on worker threads (compiled)', () => {
  const sweep = syntheticRuns({
    seeds: 3,
    layers: 2,
    modules: ['resid_post', 'mlp_out'],
    samples: 24,
    dim: 16,
  });
  const dirs = [tempDir(), tempDir()];

  it('writes the same dynamics, events and matches (matched on the workers) as the calling thread', async () => {
    for (const dir of dirs) {
      const lake = await openLake(dir, { schema: 'squiggle' });
      try {
        const { grid_id } = attachGridId({ model: 'tiny-workers' });
        await lake.write(
          'runs',
          sweep.runs.map((r) => ({ run_id: r.runId, grid_id, seed: r.seed })),
        );
        await writeSyntheticEmbeddings(lake, sweep, { shardModules: ['resid_post'] });
      } finally {
        lake.close();
      }
    }
    const parallel = runlake('analyze', dirs[0] as string, '--workers', '2', '--json');
    expect(parallel.stderr).toBe('');
    expect(JSON.parse(parallel.stdout).stages.matches).toBeGreaterThan(0);
    expect(runlake('analyze', dirs[1] as string, '--workers', '1').code).toBe(0);
    const read = async (dir: string) => {
      const lake = await openLake(dir);
      try {
        return {
          dynamics: await lake.query('SELECT * FROM geometry_dynamics ORDER BY ALL'),
          events: await lake.query('SELECT * FROM events ORDER BY ALL'),
          matches: await lake.query('SELECT * FROM matches ORDER BY ALL'),
        };
      } finally {
        lake.close();
      }
    };
    const [a, b] = [await read(dirs[0] as string), await read(dirs[1] as string)];
    expect(a.matches.length).toBeGreaterThan(0);
    expect(a).toEqual(b);
  });
});
