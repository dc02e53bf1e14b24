/**
 * Centred covariance spectrum of a representation matrix, from the smaller of its Gram and
 * covariance matrices, plus the uncentred row statistics the descriptors need.
 */
import { RunlakeError } from '../lake/index.js';
import { symmetricEigenvalues } from './eigen.js';
import { startGram } from './gram-thread.js';
import { checkShape, columnMeans, gramOf, rowStatistics, tileKernelKind } from './tiles.js';

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
  const mean = columnMeans(x, n, d);
  // Decompose the smaller matrix: tridiagonalising m×m costs 4m³/3, forming it min(n,d)·m²
  // products. With n > d and the Gram kept for TwoNN, forming the d×d scatter as well (n·d²
  // products) and tridiagonalising it is still cheaper than tridiagonalising the n×n Gram
  // (4n³/3 − 4d³/3 − nd² > 0 whenever n > d).
  const useGram = n <= d;
  let gram: Float64Array | null = null;
  // With n > d the Gram is only wanted for TwoNN: it can run on the helper thread meanwhile.
  const pending = !useGram && options.keepGram && n >= 2 ? startGram(x, mean, n, d) : null;
  if (useGram || (options.keepGram && !pending)) gram = gramOf(x, mean, n, d, false);
  let eigenvalues: Float64Array;
  if (n < 2) {
    eigenvalues = new Float64Array(Math.min(n, d));
  } else {
    const m = useGram ? n : d;
    const scatter = useGram ? (gram as Float64Array) : gramOf(x, mean, n, d, true);
    eigenvalues = symmetricEigenvalues(scatter, m);
    const inv = 1 / (n - 1);
    for (let i = 0; i < m; i++) eigenvalues[i] = Math.max(0, (eigenvalues[i] as number) * inv);
  }
  if (pending) gram = pending.wait() ?? gramOf(x, mean, n, d, false);
  return { eigenvalues, via: useGram ? 'gram' : 'covariance', rowNorms, unitRowSum, nonzeroRows, gram };
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
  checkShape(x, n, d, 'centredGram');
  return gramOf(x, columnMeans(x, n, d), n, d, false);
}

/** Options for {@link gramMatrix}. */
export interface GramMatrixOptions {
  /** Multiply the columns (AᵀA, cols×cols) instead of the rows (AAᵀ, rows×rows). */
  readonly byColumns?: boolean;
  /** Column means subtracted while packing (length cols); default none (A as it is). */
  readonly mean?: Float64Array;
}

/**
 * AAᵀ or AᵀA of a row-major rows×cols A (optionally with column means subtracted first), full and
 * symmetric, accumulated in float64 by the same tiled kernel as {@link centredGram}. Other geometry
 * code uses it for cross products: the column Gram of [X̃ Ỹ] holds X̃ᵀỸ as its off-diagonal block.
 *
 * @example
 * ```ts
 * gramMatrix(new Float64Array([1, 2, 3, 4]), 2, 2, { byColumns: true }); // Float64Array [10, 14, 14, 20]
 * ```
 */
export function gramMatrix(
  a: RowMatrix,
  rows: number,
  cols: number,
  options: GramMatrixOptions = {},
): Float64Array {
  checkShape(a, rows, cols, 'gramMatrix');
  const mean = options.mean ?? new Float64Array(cols);
  if (mean.length !== cols)
    throw new RunlakeError(`gramMatrix: mean has ${mean.length} values, expected ${cols}`);
  return gramOf(a, mean, rows, cols, options.byColumns === true);
}

/**
 * Which Gram kernel {@link covarianceSpectrum} and {@link centredGram} use: `'wasm-simd'` (the
 * WebAssembly `f64x2` tile kernel, about 3× faster) when the runtime supports WebAssembly SIMD,
 * else `'js'`. Setting the environment variable `RUNLAKE_GEOMETRY_KERNEL=js` forces the plain
 * JavaScript kernel; both give bitwise-identical results.
 *
 * @example
 * ```ts
 * gramKernel(); // 'wasm-simd' on Node 20
 * ```
 */
export function gramKernel(): 'wasm-simd' | 'js' {
  return tileKernelKind();
}
