// The synthetic sweep the write benchmark uses: 4 grids × 5 seeds, event rows as plain JS objects
// (the shape exp_engine logs), generated deterministically.
import { gridRecord } from '../dist/index.js';

export const GRID_COUNT = 4;
export const SEEDS = [1, 2, 3, 4, 5];
export const OPS = ['insert', 'delete', 'query', 'update'];

/** The grids: params as a sweep would pass them, and the grid id runlake derives from them. */
export function makeGrids() {
  return Array.from({ length: GRID_COUNT }, (_, index) => {
    const params = {
      algo: 'memorypair',
      accountant: 'zcdp',
      gamma_bar: [0.5, 1, 2, 4][index],
      lambda_: 0.01,
      stream: 'rotmnist',
    };
    return { index, params, gridId: gridRecord(params).grid_id };
  });
}

/**
 * Rows per (grid, seed) partition, in grid-major order: `total` split as evenly as possible over
 * the 20 partitions (the first `total % 20` get one more). bench/pandas_write.py uses the same rule.
 */
export function partitionCounts(total) {
  const partitions = GRID_COUNT * SEEDS.length;
  const base = Math.floor(total / partitions);
  const extra = total % partitions;
  return Array.from({ length: GRID_COUNT }, (_, g) =>
    SEEDS.map((_, s) => base + (g * SEEDS.length + s < extra ? 1 : 0)),
  );
}

// mulberry32: small, fast and deterministic.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The event rows of one grid (all its seeds), as one array of objects with the same key order:
 * `{ seed, event_id, op, regret, acc, step }`. The grid id is not in the rows: it comes from the
 * params, as with `writeEventRows(rows, base, params)`.
 */
export function generateGridRows(gridIndex, countsOfGrid) {
  const random = rng(0x5eed + gridIndex);
  const rows = new Array(countsOfGrid.reduce((a, b) => a + b, 0));
  let r = 0;
  for (let s = 0; s < SEEDS.length; s++) {
    const seed = SEEDS[s];
    for (let event_id = 0; event_id < countsOfGrid[s]; event_id++) {
      const op = OPS[(random() * OPS.length) | 0];
      // Skewed towards small regret, like a converging learner; never an exact integer.
      const u = random();
      const regret = u * u + 1e-9;
      const acc = 0.5 + 0.49 * random();
      rows[r++] = { seed, event_id, op, regret, acc, step: event_id >> 2 };
    }
  }
  return rows;
}

/** All rows of the sweep, one array per grid. */
export function generateSweep(totalRows, grids) {
  const counts = partitionCounts(totalRows);
  return grids.map((grid) => generateGridRows(grid.index, counts[grid.index]));
}
