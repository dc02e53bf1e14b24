/**
 * Eigenvalues of dense symmetric matrices, without eigenvectors.
 *
 * Why a solver of our own: ml-matrix's `EigenvalueDecomposition` always accumulates the
 * eigenvectors, which costs another O(n³) (and n² memory) that the geometry descriptors never
 * use — they only need the spectrum. Householder tridiagonalisation of the lower triangle
 * (about 4n³/3 flops) followed by implicit QL on the tridiagonal matrix (O(n²)) is the classic
 * EISPACK `tred1` + `tql1` pair and is all that is needed.
 */
import { RunlakeError } from '../lake/index.js';
import { allFinite } from './tiles.js';
import { eigenvaluesOf } from './tridiagonal.js';

/**
 * Eigenvalues of a symmetric n×n row-major matrix, sorted descending. Only the lower triangle
 * is read (the matrix is assumed symmetric); the input is copied and never mutated.
 *
 * Householder reflections reduce the matrix to tridiagonal form, then the implicit QL
 * algorithm with the Wilkinson shift (the eigenvalue of the leading 2×2 block closest to its
 * first diagonal entry, as in EISPACK `tql1`) diagonalises it. Accuracy is backward stable:
 * each eigenvalue is within a small multiple of ε·‖A‖₂ of the exact one.
 *
 * @throws {RunlakeError} when `n` is not a non-negative integer, `a.length !== n * n`, or an
 *   entry is NaN or ±Infinity.
 * @example
 * ```ts
 * symmetricEigenvalues(new Float64Array([2, 1, 1, 2]), 2); // Float64Array [3, 1]
 * ```
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 0) {
    throw new RunlakeError(`symmetricEigenvalues: size must be a non-negative integer, got ${n}`);
  }
  if (a.length !== n * n) {
    throw new RunlakeError(
      `symmetricEigenvalues: a ${n}×${n} matrix needs ${n * n} entries, got ${a.length} (not square)`,
    );
  }
  if (!allFinite(a)) {
    for (let i = 0; i < a.length; i++) {
      if (Number.isFinite(a[i] as number)) continue;
      const row = Math.floor(i / Math.max(n, 1));
      throw new RunlakeError(
        `symmetricEigenvalues: entry (${row}, ${i - row * n}) is ${a[i]}; the matrix must be finite`,
      );
    }
  }
  return eigenvaluesOf(a, n);
}
