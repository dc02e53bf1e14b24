/**
 * Centred covariance spectrum of a representation matrix, from the smaller of its Gram and
 * covariance matrices, plus the uncentred row statistics the descriptors need.
 */
import { RunlakeError } from '../lake/index.js';
import { symmetricEigenvalues } from './eigen.js';

/** A dense row-major matrix of samples × features, float32 as stored or float64. */
export type RowMatrix = Float32Array | Float64Array;

/** Options for {@link covarianceSpectrum}. */
export interface CovarianceSpectrumOptions {
  /**
   * Also return the centred Gram matrix X̃X̃ᵀ (n×n, full), which pairwise distances need
   * (TwoNN). When n ≤ d it is computed anyway; when n > d it costs an extra n²d/2 products.
   */
  readonly keepGram?: boolean;
}

/** What {@link covarianceSpectrum} returns. */
export interface CovarianceSpectrum {
  /** Eigenvalues λ of X̃ᵀX̃/(n−1), descending, length min(n, d), clamped at 0 (all 0 when n = 1). */
  readonly eigenvalues: Float64Array;
  /** Which matrix was decomposed: the n×n Gram X̃X̃ᵀ or the d×d scatter X̃ᵀX̃. */
  readonly via: 'gram' | 'covariance';
  /** L2 norms of the uncentred rows. */
  readonly rowNorms: Float64Array;
  /** Σ u_i over the nonzero uncentred rows, u_i = x_i/‖x_i‖ (length d), for anisotropy. */
  readonly unitRowSum: Float64Array;
  /** How many uncentred rows are nonzero (the rows in {@link unitRowSum}). */
  readonly nonzeroRows: number;
  /** The centred Gram X̃X̃ᵀ (n×n, row-major, unscaled), when n ≤ d or `keepGram` was set. */
  readonly gram: Float64Array | null;
}

/** Rows per tile of the blocked Gram product: 16 rows of 768 doubles stay in L2. */
const TILE = 16;

/**
 * Eigenvalues of the sample covariance X̃ᵀX̃/(n−1) of a row-major n×d matrix X, with X̃ = X
 * with its columns centred. The nonzero eigenvalues of X̃ᵀX̃ and X̃X̃ᵀ coincide, so the smaller
 * of the two is decomposed (min(n, d)³ instead of max(n, d)³). Everything is accumulated in
 * float64 whatever the input type. Eigenvalues below 0 (rounding in a positive semidefinite
 * product, at most ~ε·λ₁ in magnitude) are clamped to 0.
 *
 * @throws {RunlakeError} on a shape that does not match `x.length` or a non-finite entry.
 * @example
 * ```ts
 * const x = new Float32Array([1, 0, -1, 0, 0, 2, 0, -2]); // 4 rows × 2 columns
 * covarianceSpectrum(x, 4, 2).eigenvalues; // Float64Array [2.666…, 0.666…]
 * ```
 */
export function covarianceSpectrum(
  x: RowMatrix,
  n: number,
  d: number,
  options: CovarianceSpectrumOptions = {},
): CovarianceSpectrum {
  checkShape(x, n, d);
  const { rowNorms, unitRowSum, nonzeroRows } = rowStatistics(x, n, d);
  const centred = centreColumns(x, n, d);
  const useGram = n <= d;
  let gram: Float64Array | null = null;
  if (useGram || options.keepGram) gram = gramOfRows(centred, n, d);
  let eigenvalues: Float64Array;
  if (n < 2) {
    eigenvalues = new Float64Array(Math.min(n, d));
  } else {
    const m = useGram ? n : d;
    const scatter = useGram ? (gram as Float64Array) : gramOfRows(transpose(centred, n, d), d, n);
    eigenvalues = symmetricEigenvalues(scatter, m);
    const inv = 1 / (n - 1);
    for (let i = 0; i < m; i++) eigenvalues[i] = Math.max(0, (eigenvalues[i] as number) * inv);
  }
  return { eigenvalues, via: useGram ? 'gram' : 'covariance', rowNorms, unitRowSum, nonzeroRows, gram };
}

function checkShape(x: RowMatrix, n: number, d: number): void {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 1 || d < 1) {
    throw new RunlakeError(`covarianceSpectrum: shape must be positive integers, got ${n}×${d}`);
  }
  if (x.length !== n * d) {
    throw new RunlakeError(`covarianceSpectrum: a ${n}×${d} matrix needs ${n * d} entries, got ${x.length}`);
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i] as number)) {
      throw new RunlakeError(
        `covarianceSpectrum: entry (${Math.floor(i / d)}, ${i % d}) is ${x[i]}; X must be finite`,
      );
    }
  }
}

function rowStatistics(
  x: RowMatrix,
  n: number,
  d: number,
): { rowNorms: Float64Array; unitRowSum: Float64Array; nonzeroRows: number } {
  const rowNorms = new Float64Array(n);
  const unitRowSum = new Float64Array(d);
  let nonzeroRows = 0;
  for (let i = 0; i < n; i++) {
    const row = i * d;
    let ss = 0;
    for (let j = 0; j < d; j++) {
      const v = x[row + j] as number;
      ss += v * v;
    }
    const norm = Math.sqrt(ss);
    rowNorms[i] = norm;
    if (norm === 0) continue;
    nonzeroRows++;
    const inv = 1 / norm;
    for (let j = 0; j < d; j++) unitRowSum[j] = (unitRowSum[j] as number) + (x[row + j] as number) * inv;
  }
  return { rowNorms, unitRowSum, nonzeroRows };
}

/** X − 1μᵀ in float64; centring before any product keeps shifted data from cancelling. */
function centreColumns(x: RowMatrix, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (x[row + j] as number);
  }
  for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / n;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) out[row + j] = (x[row + j] as number) - (mean[j] as number);
  }
  return out;
}

function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = a[row + j] as number;
  }
  return out;
}

/**
 * A·Aᵀ for a row-major rows×cols A, as a full symmetric rows×rows matrix. Every entry is a
 * dot product of two contiguous rows; tiles of {@link TILE}×{@link TILE} row pairs keep both
 * operands cache-resident, and only the lower triangle is computed, then mirrored.
 */
function gramOfRows(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * rows);
  for (let ib = 0; ib < rows; ib += TILE) {
    const iEnd = Math.min(ib + TILE, rows);
    for (let jb = 0; jb <= ib; jb += TILE) {
      const jEnd = Math.min(jb + TILE, rows);
      for (let i = ib; i < iEnd; i++) {
        const ri = i * cols;
        const jStop = Math.min(jEnd, i + 1);
        for (let j = jb; j < jStop; j++) {
          const value = dot(a, ri, j * cols, cols);
          out[i * rows + j] = value;
          out[j * rows + i] = value;
        }
      }
    }
  }
  return out;
}

/** Dot product of a[p..p+len) and a[q..q+len) with four accumulators (fewer dependency stalls). */
function dot(a: Float64Array, p: number, q: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += (a[p + k] as number) * (a[q + k] as number);
    s1 += (a[p + k + 1] as number) * (a[q + k + 1] as number);
    s2 += (a[p + k + 2] as number) * (a[q + k + 2] as number);
    s3 += (a[p + k + 3] as number) * (a[q + k + 3] as number);
  }
  for (; k < len; k++) s0 += (a[p + k] as number) * (a[q + k] as number);
  return s0 + s1 + (s2 + s3);
}
