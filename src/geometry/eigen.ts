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

/** Machine epsilon of float64 (2⁻⁵²), the convergence scale of the QL iteration. */
const EPSILON = 2 ** -52;

/** QL sweeps allowed per eigenvalue before giving up (EISPACK uses 30). */
const MAX_SWEEPS_PER_EIGENVALUE = 60;

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
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i] as number)) {
      const row = Math.floor(i / Math.max(n, 1));
      throw new RunlakeError(
        `symmetricEigenvalues: entry (${row}, ${i - row * n}) is ${a[i]}; the matrix must be finite`,
      );
    }
  }
  const diag = new Float64Array(n);
  if (n === 0) return diag;
  const sub = new Float64Array(n);
  tridiagonalize(Float64Array.from(a), n, diag, sub);
  tridiagonalQl(diag, sub, n);
  return diag.sort().reverse();
}

/**
 * Householder reduction of the lower triangle of `a` (overwritten) to a symmetric tridiagonal
 * matrix: `diag[k]` its diagonal, `sub[k]` the entry between rows k and k+1 (`sub[n−1] = 0`).
 * Each step applies H = I − β v vᵀ from both sides as the symmetric rank-2 update
 * A ← A − v wᵀ − w vᵀ with w = βAv − (β²vᵀAv/2) v, touching only the lower triangle, which
 * is what makes it 4n³/3 flops rather than 2n³.
 */
function tridiagonalize(a: Float64Array, n: number, diag: Float64Array, sub: Float64Array): void {
  const v = new Float64Array(n);
  const q = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const m0 = k + 1;
    diag[k] = a[k * n + k] as number;
    // Scale the column first so that the norm cannot overflow or underflow.
    let scale = 0;
    for (let i = m0; i < n; i++) scale += Math.abs(a[i * n + k] as number);
    if (scale === 0) {
      sub[k] = 0;
      continue;
    }
    let sigma = 0;
    for (let i = m0; i < n; i++) {
      const x = (a[i * n + k] as number) / scale;
      sigma += x * x;
    }
    const norm = scale * Math.sqrt(sigma);
    const x0 = a[m0 * n + k] as number;
    // The sign choice avoids cancellation in v₀ = x₀ − α.
    const alpha = x0 > 0 ? -norm : norm;
    let vnorm2 = 0;
    for (let i = m0; i < n; i++) {
      const vi = (a[i * n + k] as number) - (i === m0 ? alpha : 0);
      v[i] = vi;
      vnorm2 += vi * vi;
    }
    const beta = 2 / vnorm2;
    symmetricLowerTimes(a, n, m0, v, q);
    let vq = 0;
    for (let i = m0; i < n; i++) vq += (v[i] as number) * (q[i] as number);
    const half = (beta * beta * vq) / 2;
    // Reuse q as w = βq − half·v.
    for (let i = m0; i < n; i++) q[i] = beta * (q[i] as number) - half * (v[i] as number);
    rankTwoUpdate(a, n, m0, v, q);
    sub[k] = alpha;
  }
  if (n >= 2) {
    diag[n - 2] = a[(n - 2) * n + (n - 2)] as number;
    sub[n - 2] = a[(n - 1) * n + (n - 2)] as number;
  }
  diag[n - 1] = a[n * n - 1] as number;
  sub[n - 1] = 0;
}

/**
 * q[m0..n) = A₂₂ v for the trailing block A₂₂ = A[m0.., m0..], reading only its lower triangle:
 * row i contributes A_ij·v_j to q_i and A_ij·v_i to q_j (j < i). Rows go four at a time, so each
 * v_j and q_j is loaded once per four matrix entries; the 4×4 corner on the diagonal is done
 * entry by entry. This product is half of the tridiagonalisation's flops.
 */
function symmetricLowerTimes(a: Float64Array, n: number, m0: number, v: Float64Array, q: Float64Array): void {
  q.fill(0, m0, n);
  let i = m0;
  for (; i + 3 < n; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    const v0 = v[i] as number;
    const v1 = v[i + 1] as number;
    const v2 = v[i + 2] as number;
    const v3 = v[i + 3] as number;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = m0; j < i; j++) {
      const a0 = a[r0 + j] as number;
      const a1 = a[r1 + j] as number;
      const a2 = a[r2 + j] as number;
      const a3 = a[r3 + j] as number;
      const vj = v[j] as number;
      s0 += a0 * vj;
      s1 += a1 * vj;
      s2 += a2 * vj;
      s3 += a3 * vj;
      q[j] = (q[j] as number) + (a0 * v0 + a1 * v1 + (a2 * v2 + a3 * v3));
    }
    q[i] = (q[i] as number) + s0;
    q[i + 1] = (q[i + 1] as number) + s1;
    q[i + 2] = (q[i + 2] as number) + s2;
    q[i + 3] = (q[i + 3] as number) + s3;
    for (let r = 0; r < 4; r++) {
      const row = (i + r) * n;
      const vr = v[i + r] as number;
      let s = 0;
      for (let c = i; c < i + r; c++) {
        const arc = a[row + c] as number;
        s += arc * (v[c] as number);
        q[c] = (q[c] as number) + arc * vr;
      }
      q[i + r] = (q[i + r] as number) + s + (a[row + i + r] as number) * vr;
    }
  }
  for (; i < n; i++) {
    const row = i * n;
    const vi = v[i] as number;
    let s = 0;
    for (let j = m0; j < i; j++) {
      const aij = a[row + j] as number;
      s += aij * (v[j] as number);
      q[j] = (q[j] as number) + aij * vi;
    }
    q[i] = (q[i] as number) + s + (a[row + i] as number) * vi;
  }
}

/**
 * A₂₂ ← A₂₂ − v wᵀ − w vᵀ on the lower triangle of the trailing block (rows m0..n). Rows go four
 * at a time over the columns m0..i+3, which also rewrites the few upper-triangle entries of the
 * 4×4 diagonal corner; nothing ever reads the upper triangle, so that is harmless and keeps the
 * loop branch-free.
 */
function rankTwoUpdate(a: Float64Array, n: number, m0: number, v: Float64Array, w: Float64Array): void {
  let i = m0;
  for (; i + 3 < n; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    const v0 = v[i] as number;
    const v1 = v[i + 1] as number;
    const v2 = v[i + 2] as number;
    const v3 = v[i + 3] as number;
    const w0 = w[i] as number;
    const w1 = w[i + 1] as number;
    const w2 = w[i + 2] as number;
    const w3 = w[i + 3] as number;
    const stop = i + 4;
    for (let j = m0; j < stop; j++) {
      const vj = v[j] as number;
      const wj = w[j] as number;
      a[r0 + j] = (a[r0 + j] as number) - v0 * wj - w0 * vj;
      a[r1 + j] = (a[r1 + j] as number) - v1 * wj - w1 * vj;
      a[r2 + j] = (a[r2 + j] as number) - v2 * wj - w2 * vj;
      a[r3 + j] = (a[r3 + j] as number) - v3 * wj - w3 * vj;
    }
  }
  for (; i < n; i++) {
    const row = i * n;
    const vi = v[i] as number;
    const wi = w[i] as number;
    for (let j = m0; j <= i; j++) {
      a[row + j] = (a[row + j] as number) - vi * (w[j] as number) - wi * (v[j] as number);
    }
  }
}

/**
 * √(x² + y²): the plain formula when the squares neither overflow nor underflow (V8's Math.hypot
 * handles any arity and rescales, several times slower in the QL sweep), Math.hypot otherwise.
 */
function hypot(x: number, y: number): number {
  const s = x * x + y * y;
  return s > 1e-290 && s < 1e290 ? Math.sqrt(s) : Math.hypot(x, y);
}

/**
 * Implicit QL with Wilkinson shifts on a symmetric tridiagonal matrix (EISPACK `tql1`, as in
 * JAMA's `tql2` with the eigenvector updates removed). On return `diag` holds the eigenvalues
 * (unsorted) and `sub` is destroyed.
 */
function tridiagonalQl(diag: Float64Array, sub: Float64Array, n: number): void {
  let shift = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(diag[l] as number) + Math.abs(sub[l] as number));
    // Find the first negligible subdiagonal entry at or after l: the block l..m is unreduced.
    let m = l;
    while (m < n - 1 && Math.abs(sub[m] as number) > EPSILON * tst1) m++;
    if (m > l) {
      let sweeps = 0;
      do {
        if (++sweeps > MAX_SWEEPS_PER_EIGENVALUE) {
          throw new RunlakeError(`symmetricEigenvalues: QL iteration did not converge for eigenvalue ${l}`);
        }
        // Wilkinson shift from the leading 2×2 block.
        const g0 = diag[l] as number;
        const el = sub[l] as number;
        let p = ((diag[l + 1] as number) - g0) / (2 * el);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        diag[l] = el / (p + r);
        diag[l + 1] = el * (p + r);
        const dl1 = diag[l + 1] as number;
        const h0 = g0 - (diag[l] as number);
        for (let i = l + 2; i < n; i++) diag[i] = (diag[i] as number) - h0;
        shift += h0;
        // Implicit QL sweep of plane rotations from m−1 up to l.
        p = diag[m] as number;
        let c = 1;
        let c2 = 1;
        let c3 = 1;
        const el1 = sub[l + 1] as number;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          const ei = sub[i] as number;
          const g = c * ei;
          const h = c * p;
          r = hypot(p, ei);
          sub[i + 1] = s * r;
          s = ei / r;
          c = p / r;
          const di = diag[i] as number;
          p = c * di - s * g;
          diag[i + 1] = h + s * (c * g + s * di);
        }
        p = (-s * s2 * c3 * el1 * (sub[l] as number)) / dl1;
        sub[l] = s * p;
        diag[l] = c * p;
      } while (Math.abs(sub[l] as number) > EPSILON * tst1);
    }
    diag[l] = (diag[l] as number) + shift;
    sub[l] = 0;
  }
}
