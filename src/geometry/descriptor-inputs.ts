/**
 * Everything geometryDescriptors computes from X before its closed-form descriptors: the
 * covariance spectrum, the uncentred row statistics and TwoNN's two nearest squared distances per
 * row. Internal (not re-exported by the package): covarianceSpectrum is the public route to the
 * spectrum; this one is free to split the work differently because it never returns the Gram.
 */
import { symmetricEigenvalues } from './eigen.js';
import type { RowMatrix } from './gram.js';
import { startDescriptorJob } from './gram-thread.js';
import {
  checkDimensions,
  checkFinite,
  columnMeans,
  gramOf,
  gramPanelRows,
  PANEL,
  rowStatistics,
} from './tiles.js';
import { attachHelper, eigenvaluesOf, type SharedTridiagonal, sharedTridiagonalLink } from './tridiagonal.js';
import { twoNearestFromGram, twoNearestSquaredDistances } from './two-nn.js';

/** What {@link descriptorInputs} returns. */
export interface DescriptorInputs {
  /** Eigenvalues of X̃ᵀX̃/(n−1), descending, length min(n, d), clamped at 0. */
  readonly eigenvalues: Float64Array;
  /** L2 norms of the uncentred rows. */
  readonly rowNorms: Float64Array;
  /** Σ u_i over the nonzero uncentred rows, u_i = x_i/‖x_i‖. */
  readonly unitRowSum: Float64Array;
  /** How many uncentred rows are nonzero. */
  readonly nonzeroRows: number;
  /** r₁, r₂ of each row (`[2i]`, `[2i + 1]`, +∞ when missing), when n ≥ 3; else null. */
  readonly neighbours: Float64Array | null;
}

/**
 * Share of the scatter's tile work the calling thread keeps; the helper thread takes the rest, then
 * starts the TwoNN screen until the caller has its share done, then takes half of each large step
 * of the tridiagonalisation, then finishes the screen while the caller runs QL. The best share
 * depends on the machine and the shape, so it adapts from call to call: when the caller had to wait
 * for the helper (for its part of the scatter or for TwoNN), the caller takes more; otherwise a
 * little less. It starts where per-phase CPU time puts it for the bench's 1024 × 768. Results do not
 * depend on it (each tile is the same arithmetic whichever thread computes it).
 */
let callerScatterShare = 0.65;
/**
 * The calling thread's current share of the scatter (see `callerScatterShare`), for the bench and
 * diagnostics.
 *
 * @example
 * ```ts
 * callerScatterShareNow(); // 0.65 before the first call
 * ```
 */
export function callerScatterShareNow(): number {
  return callerScatterShare;
}

/** Bounds and steps of the adaptation, and the wait (ms) that counts as waiting. */
const SHARE_MIN = 0.4;
const SHARE_MAX = 0.95;
const SHARE_UP = 0.03;
const SHARE_DOWN = 0.01;
const WAITED_MS = 0.5;

/**
 * The spectrum, row statistics and TwoNN distances of a row-major n×d X, bitwise what
 * covarianceSpectrum (with `keepGram`) and a scan of its Gram give.
 *
 * @throws {RunlakeError} on a shape that does not match `x.length` or a non-finite entry.
 * @example
 * ```ts
 * descriptorInputs(new Float32Array([1, 0, -1, 0, 0, 2, 0, -2]), 4, 2).eigenvalues; // [2.666…, 0.666…]
 * ```
 */
export function descriptorInputs(x: RowMatrix, n: number, d: number): DescriptorInputs {
  checkDimensions(x, n, d, 'geometryDescriptors');
  const mean = columnMeans(x, n, d);
  // A NaN or ±∞ entry makes its column's sum non-finite, so the full scan (which names the entry)
  // is needed only then; this spares a pass over X on the calling thread's critical path.
  for (let k = 0; k < d; k++) {
    if (!Number.isFinite(mean[k] as number)) {
      checkFinite(x, d, 'geometryDescriptors');
      break;
    }
  }
  const wantNeighbours = n >= 3;
  if (n < 2)
    return { ...rowStatistics(x, n, d), eigenvalues: new Float64Array(Math.min(n, d)), neighbours: null };
  if (n <= d) {
    const stats = rowStatistics(x, n, d);
    // The Gram is the smaller matrix: its spectrum and its distances.
    const gram = gramOf(x, mean, n, d, false);
    const eigenvalues = scaled(symmetricEigenvalues(gram, n), n);
    return { ...stats, eigenvalues, neighbours: wantNeighbours ? twoNearestFromGram(gram, n) : null };
  }
  const panels = Math.ceil(d / PANEL);
  const split = Math.min(panels, Math.round(panels * Math.sqrt(callerScatterShare)));
  const link = sharedTridiagonalLink(d);
  const job = startDescriptorJob(x, mean, n, d, split, panels, wantNeighbours, link?.link ?? null);
  const handle = job && link ? attachHelper(link.link, link.work) : null;
  let shared: SharedTridiagonal | null = handle;
  let neighbours: Float64Array | null = null;
  let eigenvalues: Float64Array;
  let stats: ReturnType<typeof rowStatistics>;
  let waited = 0;
  try {
    const scatter = job ? job.scatter : new Float64Array(d * d);
    gramPanelRows(x, mean, n, d, true, 0, job ? split : panels, scatter, false);
    // The row statistics while the helper finishes its share of the scatter.
    stats = rowStatistics(x, n, d);
    const waitStart = performance.now();
    const scatterOk = job ? job.waitScatter() : true;
    waited += performance.now() - waitStart;
    if (job && !scatterOk) {
      gramPanelRows(x, mean, n, d, true, split, panels, scatter, false);
      shared = null;
    }
    // A finite X can still overflow the scatter; symmetricEigenvalues names the entry then. Only
    // the lower triangle was written (the rest may hold an earlier call's values).
    eigenvalues = scaled(
      lowerFinite(scatter, d)
        ? eigenvaluesOf(scatter, d, shared)
        : symmetricEigenvalues(symmetricFromLower(scatter, d), d),
      n,
    );
  } finally {
    // Always released and collected, so that the helper is free for the next call even after a
    // throw.
    handle?.helper.finish();
    const waitStart = performance.now();
    neighbours = job ? job.waitNeighbours() : null;
    waited += performance.now() - waitStart;
  }
  if (job) {
    callerScatterShare =
      waited > WAITED_MS
        ? Math.min(SHARE_MAX, callerScatterShare + SHARE_UP)
        : Math.max(SHARE_MIN, callerScatterShare - SHARE_DOWN);
  }
  if (wantNeighbours && neighbours === null) neighbours = twoNearestSquaredDistances(x, mean, n, d);
  return { ...stats, eigenvalues, neighbours };
}

/** Whether the lower triangle of the n×n `a`, diagonal included, is finite (x·0 sums, as allFinite). */
function lowerFinite(a: Float64Array, n: number): boolean {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = 0; j <= i; j++) s += (a[row + j] as number) * 0;
  }
  return s === 0;
}

/** A full symmetric copy of the lower triangle of the n×n `a`. */
function symmetricFromLower(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      out[i * n + j] = a[i * n + j] as number;
      out[j * n + i] = a[i * n + j] as number;
    }
  return out;
}

/** λ/(n−1), clamped at 0 (rounding in a positive semidefinite product can dip below). */
function scaled(eigenvalues: Float64Array, n: number): Float64Array {
  const inv = 1 / (n - 1);
  for (let i = 0; i < eigenvalues.length; i++) eigenvalues[i] = Math.max(0, (eigenvalues[i] as number) * inv);
  return eigenvalues;
}
