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

/** Vectors per register tile of the Gram kernel: 4×4 dot products share their operand loads. */
const PANEL = 4;

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
  // Decompose the smaller matrix: tridiagonalising m×m costs 4m³/3, forming it min(n,d)·m²
  // products. With n > d and the Gram kept for TwoNN, forming the d×d scatter as well (n·d²
  // products) and tridiagonalising it is still cheaper than tridiagonalising the n×n Gram
  // (4n³/3 − 4d³/3 − nd² > 0 whenever n > d).
  const useGram = n <= d;
  let gram: Float64Array | null = null;
  if (useGram || options.keepGram) gram = syrkPacked(packRows(centred, n, d), n, d);
  let eigenvalues: Float64Array;
  if (n < 2) {
    eigenvalues = new Float64Array(Math.min(n, d));
  } else {
    const m = useGram ? n : d;
    const scatter = useGram ? (gram as Float64Array) : syrkPacked(packColumns(centred, n, d), d, n);
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

/**
 * The centred Gram matrix X̃X̃ᵀ (n×n, full, row-major, unscaled; X̃ = X with its columns centred),
 * accumulated in float64 with the same register-tiled kernel as {@link covarianceSpectrum}. Its
 * entries give the pairwise squared distances d²_ij = K_ii + K_jj − 2K_ij.
 *
 * @throws {RunlakeError} on a shape that does not match `x.length` or a non-finite entry.
 * @example
 * ```ts
 * centredGram(new Float32Array([1, 0, -1, 0]), 2, 2); // Float64Array [1, -1, -1, 1]
 * ```
 */
export function centredGram(x: RowMatrix, n: number, d: number): Float64Array {
  checkShape(x, n, d);
  return syrkPacked(packRows(centreColumns(x, n, d), n, d), n, d);
}

/**
 * The rows of a row-major rows×cols A as panels of {@link PANEL} interleaved vectors:
 * `out[(p·cols + k)·4 + r] = A[4p + r, k]`, zero-padded to a multiple of 4 vectors, so that the
 * kernel streams both operands of a 4×4 tile sequentially.
 */
function packRows(a: Float64Array, rows: number, cols: number): Float64Array {
  const panels = Math.ceil(rows / PANEL);
  const out = new Float64Array(panels * cols * PANEL);
  for (let i = 0; i < rows; i++) {
    const p = (i / PANEL) | 0;
    let o = p * cols * PANEL + (i - p * PANEL);
    const row = i * cols;
    for (let k = 0; k < cols; k++, o += PANEL) out[o] = a[row + k] as number;
  }
  return out;
}

/** The columns of a row-major rows×cols A packed like {@link packRows} packs the rows of Aᵀ. */
function packColumns(a: Float64Array, rows: number, cols: number): Float64Array {
  const panels = Math.ceil(cols / PANEL);
  const out = new Float64Array(panels * rows * PANEL);
  for (let k = 0; k < rows; k++) {
    const row = k * cols;
    for (let j = 0; j < cols; j++) {
      const p = (j / PANEL) | 0;
      out[(p * rows + k) * PANEL + (j - p * PANEL)] = a[row + j] as number;
    }
  }
  return out;
}

/**
 * V·Vᵀ for `count` vectors of length `len` packed by {@link packRows}, as a full symmetric
 * count×count matrix. Each 4×4 tile of dot products is accumulated in 16 locals from 8 loads
 * per step (instead of 2 loads per product), only tiles on or below the diagonal are computed,
 * and each is mirrored. Sums run over k in order, one accumulator per entry.
 */
function syrkPacked(packed: Float64Array, count: number, len: number): Float64Array {
  const out = new Float64Array(count * count);
  const panels = Math.ceil(count / PANEL);
  const stride = len * PANEL;
  for (let pi = 0; pi < panels; pi++) {
    const bi = pi * stride;
    const end = bi + stride;
    for (let pj = 0; pj <= pi; pj++) {
      let c00 = 0;
      let c01 = 0;
      let c02 = 0;
      let c03 = 0;
      let c10 = 0;
      let c11 = 0;
      let c12 = 0;
      let c13 = 0;
      let c20 = 0;
      let c21 = 0;
      let c22 = 0;
      let c23 = 0;
      let c30 = 0;
      let c31 = 0;
      let c32 = 0;
      let c33 = 0;
      for (let ka = bi, kb = pj * stride; ka < end; ka += 4, kb += 4) {
        const b0 = packed[kb] as number;
        const b1 = packed[kb + 1] as number;
        const b2 = packed[kb + 2] as number;
        const b3 = packed[kb + 3] as number;
        let t = packed[ka] as number;
        c00 += t * b0;
        c01 += t * b1;
        c02 += t * b2;
        c03 += t * b3;
        t = packed[ka + 1] as number;
        c10 += t * b0;
        c11 += t * b1;
        c12 += t * b2;
        c13 += t * b3;
        t = packed[ka + 2] as number;
        c20 += t * b0;
        c21 += t * b1;
        c22 += t * b2;
        c23 += t * b3;
        t = packed[ka + 3] as number;
        c30 += t * b0;
        c31 += t * b1;
        c32 += t * b2;
        c33 += t * b3;
      }
      const i0 = pi * PANEL;
      const j0 = pj * PANEL;
      if (i0 + PANEL <= count) {
        // A full tile (j0 < i0 + 4 ≤ count too): rows i0…i0+3, then mirrored into columns.
        let o = i0 * count + j0;
        out[o] = c00;
        out[o + 1] = c01;
        out[o + 2] = c02;
        out[o + 3] = c03;
        o += count;
        out[o] = c10;
        out[o + 1] = c11;
        out[o + 2] = c12;
        out[o + 3] = c13;
        o += count;
        out[o] = c20;
        out[o + 1] = c21;
        out[o + 2] = c22;
        out[o + 3] = c23;
        o += count;
        out[o] = c30;
        out[o + 1] = c31;
        out[o + 2] = c32;
        out[o + 3] = c33;
        o = j0 * count + i0;
        out[o] = c00;
        out[o + 1] = c10;
        out[o + 2] = c20;
        out[o + 3] = c30;
        o += count;
        out[o] = c01;
        out[o + 1] = c11;
        out[o + 2] = c21;
        out[o + 3] = c31;
        o += count;
        out[o] = c02;
        out[o + 1] = c12;
        out[o + 2] = c22;
        out[o + 3] = c32;
        o += count;
        out[o] = c03;
        out[o + 1] = c13;
        out[o + 2] = c23;
        out[o + 3] = c33;
      } else {
        // The last, partial tile row: only the entries inside the matrix.
        const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let r = 0; r < PANEL && i0 + r < count; r++) {
          for (let c = 0; c < PANEL && j0 + c < count; c++) {
            const value = tile[r * PANEL + c] as number;
            out[(i0 + r) * count + j0 + c] = value;
            out[(j0 + c) * count + i0 + r] = value;
          }
        }
      }
    }
  }
  return out;
}
