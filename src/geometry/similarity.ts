/**
 * Representational similarity between two matrices of the same samples: linear CKA, its
 * debiased (U-statistic) form, and the orthogonal Procrustes distance. These are the drift
 * columns of the `geometry_dynamics` dataset.
 */
import { RunlakeError } from '../lake/index.js';
import { crossProduct, type PackedColumns, packColumns } from './cross-product.js';
import { symmetricEigenvalues } from './eigen.js';
import { gramMatrix, type RowMatrix } from './gram.js';
import { gramPanelRows } from './tiles.js';

/** float64 machine epsilon (2⁻⁵²). */
const EPSILON = 2 ** -52;

/**
 * Whether the CKA sums come from the feature route, which also forms X̃ᵀỸ for Procrustes. Every
 * entry point decides the same way, so each gives bitwise the same value as
 * {@link representationSimilarity}.
 */
function featureRoute(n: number, dx: number, dy: number): boolean {
  return n >= Math.min(dx, dy);
}

/** The three similarities of {@link representationSimilarity}; null marks an undefined value. */
export interface RepresentationSimilarity {
  /** {@link linearCka}. */
  readonly cka: number | null;
  /** {@link debiasedLinearCka}. */
  readonly debiasedCka: number | null;
  /** {@link procrustesDistance}. */
  readonly procrustesDistance: number | null;
}

/**
 * Linear CKA (Kornblith et al. 2019, "Similarity of Neural Network Representations
 * Revisited") between the row-major n×dx matrix X and the n×dy matrix Y, whose rows must be the
 * same n samples in the same order (the widths may differ):
 *
 *   CKA(X, Y) = ⟨K̃, L̃⟩_F / (‖K̃‖_F ‖L̃‖_F),  K̃ = X̃X̃ᵀ, L̃ = ỸỸᵀ (= HXXᵀH, HYYᵀH),
 *
 * with X̃, Ỹ the column-centred matrices. Equivalently, in feature space,
 * ‖ỸᵀX̃‖²_F / (‖X̃ᵀX̃‖_F ‖ỸᵀỸ‖_F). The cheaper of the two routes is taken — feature space
 * (n(dx+dy)²/2 products) when n > dx + dy, the n×n Gram matrices (n²(dx+dy)/2) otherwise — and
 * neither stores a matrix: the three Frobenius sums are streamed over blocked dot products,
 * accumulated in float64 whatever the input type.
 *
 * The value lies in [0, 1] (Cauchy–Schwarz on positive semidefinite matrices); the result is
 * clamped to that interval so that rounding cannot report 1 + 2⁻⁵². It is invariant to
 * orthogonal transforms and isotropic scaling of either side and to translating either side's
 * rows (X → cXQ + 1bᵀ), and **not** to a non-isotropic scaling or a general invertible linear map.
 *
 * @returns null when either centred matrix is zero (e.g. all rows identical, or n = 1).
 * @throws {RunlakeError} when a shape does not match the array lengths or an entry is not finite.
 * @example
 * ```ts
 * const x = Float64Array.from({ length: 100 * 8 }, () => Math.random());
 * linearCka(x, x, 100, 8, 8); // 1
 * ```
 */
export function linearCka(x: RowMatrix, y: RowMatrix, n: number, dx: number, dy: number): number | null {
  const { xc, yc } = prepare('linearCka', x, y, n, dx, dy);
  return ckaFromMoments(centredProducts(xc, yc, n, dx, dy, featureRoute(n, dx, dy)).moments);
}

/**
 * Debiased linear CKA: CKA with the biased HSIC estimator replaced by the unbiased U-statistic
 * estimator of Song et al. 2012 ("Feature Selection via Dependence Maximization", eq. 5), as used
 * for debiased CKA by Nguyen et al. 2021 and Murphy et al. 2024. With K = XXᵀ, L = YYᵀ and K̃, L̃
 * the same matrices with their diagonals set to zero,
 *
 *   HSIC₁(K, L) = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1)/((n−1)(n−2)) − 2·1ᵀK̃L̃1/(n−2)] / (n(n−3)),
 *   dCKA(X, Y) = HSIC₁(K, L) / √(HSIC₁(K, K) · HSIC₁(L, L)).
 *
 * HSIC₁ is unchanged by translating the rows, so the columns are centred first; then K1 = 0 and
 * the formula reduces to sums the blocked CKA pass already has: with k_i = K_ii, l_i = L_ii,
 * tr(K̃L̃) = ⟨K, L⟩ − Σk_il_i, 1ᵀK̃1 = −Σk_i, 1ᵀK̃L̃1 = Σk_il_i. The same numbers, up to the
 * common factor n(n−3), are the U-centred inner products of Székely & Rizzo 2014 (Kornblith's
 * `center_gram(unbiased=True)`).
 *
 * Unlike {@link linearCka}, the value can be **negative** (the bias that keeps biased CKA of
 * unrelated wide matrices well above 0 is removed); it lies in [−1, 1] by Cauchy–Schwarz in the
 * U-centred inner product, and the result is clamped to that interval against rounding only.
 * The invariances are those of {@link linearCka}.
 *
 * @returns null when n < 4 (the estimator needs four distinct samples) or when either HSIC₁(K, K)
 *   or HSIC₁(L, L) is zero to rounding (n(n−3)·HSIC₁ ≤ n·ε·‖K̃‖²_F) — a zero matrix, or points
 *   whose Gram matrix has the form a_i + a_j off the diagonal, such as a regular simplex.
 * @throws {RunlakeError} when a shape does not match the array lengths or an entry is not finite.
 * @example
 * ```ts
 * const x = Float64Array.from({ length: 100 * 8 }, () => Math.random());
 * const y = Float64Array.from({ length: 100 * 300 }, () => Math.random());
 * debiasedLinearCka(x, y, 100, 8, 300); // ≈ 0 (biased linearCka: ≈ 0.2)
 * ```
 */
export function debiasedLinearCka(
  x: RowMatrix,
  y: RowMatrix,
  n: number,
  dx: number,
  dy: number,
): number | null {
  const { xc, yc } = prepare('debiasedLinearCka', x, y, n, dx, dy);
  if (n < 4) return null;
  return debiasedCkaFromMoments(
    centredProducts(xc, yc, n, dx, dy, featureRoute(n, dx, dy)).moments,
    xc,
    yc,
    n,
    dx,
    dy,
  );
}

/**
 * Orthogonal Procrustes distance (Ding, Denain & Steinhardt 2021, "Grounding Representation
 * Similarity with Statistical Testing"; Schönemann 1966 for the minimiser): with X̃, Ỹ the
 * column-centred matrices scaled to unit Frobenius norm,
 *
 *   d(X, Y) = min_{QᵀQ = I} ‖X̃ − ỸQ‖²_F = 2 − 2‖X̃ᵀỸ‖_*,
 *
 * ‖·‖_* the nuclear norm (sum of singular values). When dx ≠ dy the narrower matrix is padded
 * with zero columns, which leaves the singular values of the dx×dy product X̃ᵀỸ unchanged, so
 * they are used as they are.
 *
 * The singular values are square roots of the eigenvalues of a small symmetric matrix:
 * - n ≥ min(dx, dy): M = X̃ᵀỸ (n·dx·dy products), then the smaller of MMᵀ and MᵀM;
 * - n < min(dx, dy): an LQ factorisation X̃_w = L·Q (Householder on the rows, L n×n lower
 *   triangular, Q with orthonormal rows) of the narrower side w, so that X̃_wᵀX̃_v = Qᵀ(LᵀX̃_v)
 *   has the singular values of the n×d_v matrix B = LᵀX̃_v; the eigenvalues of BBᵀ (n×n) are
 *   used. That costs about n²(2·min(dx, dy) + max(dx, dy)) + 4n³/3 instead of n·dx·dy plus a
 *   min(dx, dy)³ eigenproblem.
 * Eigenvalues at or below max(n, dx, dy)·ε·λ₁ (the rounding floor of a squared singular value)
 * are taken as 0, and the distance is clamped to [0, 2] against rounding.
 *
 * It is invariant to orthogonal transforms, isotropic scaling and translation of either side,
 * and symmetric; √d is a metric between such matrices modulo rotations (the distance between
 * their orbits under the orthogonal group). It is not invariant to non-isotropic scaling.
 *
 * @returns null when either centred matrix is zero (all rows identical, or n = 1).
 * @throws {RunlakeError} when a shape does not match the array lengths or an entry is not finite.
 * @example
 * ```ts
 * const x = Float64Array.from({ length: 50 * 4 }, () => Math.random());
 * procrustesDistance(x, x, 50, 4, 4); // ≈ 0
 * ```
 */
export function procrustesDistance(
  x: RowMatrix,
  y: RowMatrix,
  n: number,
  dx: number,
  dy: number,
): number | null {
  const { xc, yc } = prepare('procrustesDistance', x, y, n, dx, dy);
  return procrustesFromCentred(xc, yc, n, dx, dy, sumOfSquares(xc), sumOfSquares(yc));
}

/**
 * {@link linearCka}, {@link debiasedLinearCka} and {@link procrustesDistance} in one pass: the
 * matrices are validated and centred once and the CKA sums are shared, which is what
 * `geometry_dynamics` needs for every (layer, step) pair.
 *
 * @throws {RunlakeError} when a shape does not match the array lengths or an entry is not finite.
 * @example
 * ```ts
 * const x = Float64Array.from({ length: 64 * 16 }, () => Math.random());
 * representationSimilarity(x, x, 64, 16, 16); // { cka: 1, debiasedCka: 1, procrustesDistance: ≈0 }
 * ```
 */
export function representationSimilarity(
  x: RowMatrix,
  y: RowMatrix,
  n: number,
  dx: number,
  dy: number,
): RepresentationSimilarity {
  const { xc, yc } = prepare('representationSimilarity', x, y, n, dx, dy);
  const products = centredProducts(xc, yc, n, dx, dy, featureRoute(n, dx, dy));
  return similarityFromProducts(products, xc, yc, n, dx, dy);
}

/** The three similarities from the CKA sums (and X̃ᵀỸ when formed) of two centred matrices. */
function similarityFromProducts(
  products: CentredProducts,
  xc: Float64Array,
  yc: Float64Array,
  n: number,
  dx: number,
  dy: number,
  k?: Float64Array,
  l?: Float64Array,
): RepresentationSimilarity {
  const { moments } = products;
  return {
    cka: ckaFromMoments(moments),
    debiasedCka: n < 4 ? null : debiasedCkaFromMoments(moments, xc, yc, n, dx, dy, k, l),
    procrustesDistance:
      moments.traceK === 0 || moments.traceL === 0
        ? null
        : clamp(
            2 -
              (2 * nuclearNormOfCross(xc, yc, n, dx, dy, products.cross)) /
                Math.sqrt(moments.traceK * moments.traceL),
            0,
            2,
          ),
  };
}

/**
 * One matrix validated and column-centred once, with what {@link representationSimilarity} needs
 * of it alone cached: a trajectory compares each checkpoint with its predecessor and with its
 * successor, and {@link preparedSimilarity} then forms only the cross product X̃ᵀỸ per pair
 * instead of the column Gram of [X̃ Ỹ], whose X̃ᵀX̃ and ỸᵀỸ blocks each matrix would otherwise
 * have recomputed twice. Create it with {@link prepareRepresentation}.
 *
 * @example
 * ```ts
 * const p = prepareRepresentation(new Float32Array([1, 2, 3, 5, 5, 9]), 3, 2);
 * p.trace; // ‖X̃‖²_F = 32.666…
 * ```
 */
export class PreparedRepresentation {
  /** X̃ = X − 1μᵀ, row-major n×d, float64. */
  readonly centred: Float64Array;
  /** ‖X̃‖²_F = tr K̃. */
  readonly trace: number;
  #rowNorms: Float64Array | null = null;
  #selfMoment: number | null = null;
  #packed: PackedColumns | null = null;

  constructor(
    readonly n: number,
    readonly d: number,
    centred: Float64Array,
    selfMoment: number | null = null,
  ) {
    this.centred = centred;
    this.trace = sumOfSquares(centred);
    this.#selfMoment = selfMoment;
  }

  /** ‖x̃_i‖² per row (the diagonal of K̃), for the debiased CKA. */
  get rowSquaredNorms(): Float64Array {
    this.#rowNorms ??= rowSquaredNorms(this.centred, this.n, this.d);
    return this.#rowNorms;
  }

  /**
   * ‖X̃ᵀX̃‖²_F = ‖K̃‖²_F, summed over the entries of X̃ᵀX̃ in row-major order — as
   * {@link representationSimilarity} forms and sums it, so the value is bitwise the same.
   */
  get selfMoment(): number {
    this.#selfMoment ??= scatterMoment(this.centred, this.n, this.d);
    return this.#selfMoment;
  }

  /** The columns of X̃ packed for the cross-product kernel. */
  get packedColumns(): PackedColumns {
    this.#packed ??= packColumns(this.centred, this.n, this.d);
    return this.#packed;
  }

  /** Sets the packed columns when they were formed with X̃ (they must be X̃'s; checked by shape). */
  set packedColumns(packed: PackedColumns) {
    if (packed.rows !== this.n || packed.cols !== this.d) {
      throw new RunlakeError(
        `PreparedRepresentation: packed columns are ${packed.rows}×${packed.cols}, X̃ is ${this.n}×${this.d}`,
      );
    }
    this.#packed = packed;
  }
}

/** Options for {@link prepareRepresentation}. */
export interface PrepareRepresentationOptions {
  /**
   * ‖X̃ᵀX̃‖²_F when it is already known — (n−1)²·Σλ² for the eigenvalues λ of the covariance
   * X̃ᵀX̃/(n−1), i.e. ((n−1)·total_variance)² / participation_ratio from `geometryDescriptors` —
   * so that the d×d scatter (n·d²/2 products) is not formed again just for it. The CKA values then
   * agree with {@link representationSimilarity} to the rounding of that spectrum (about 1e-12
   * relative) instead of bitwise.
   */
  readonly selfMoment?: number;
  /**
   * A prepared matrix of the same shape that will not be used again, whose buffers (X̃ and its
   * packed columns, 1 MiB for 256×256) are overwritten for this one instead of allocating new
   * ones: along a trajectory the matrix two checkpoints back is done with. After the call,
   * `recycle` must not be used (its contents are this matrix's).
   */
  readonly recycle?: PreparedRepresentation;
}

/**
 * Validates and column-centres a row-major n×d matrix for {@link preparedSimilarity}.
 *
 * @throws {RunlakeError} when the shape does not match the array length or an entry is not finite.
 * @example
 * ```ts
 * const x = Float64Array.from({ length: 64 * 16 }, () => Math.random());
 * const px = prepareRepresentation(x, 64, 16);
 * preparedSimilarity(px, px); // { cka: 1, debiasedCka: 1, procrustesDistance: ≈0 }
 * ```
 */
export function prepareRepresentation(
  x: RowMatrix,
  n: number,
  d: number,
  options: PrepareRepresentationOptions = {},
): PreparedRepresentation {
  checkSize('prepareRepresentation', 'n', n);
  checkSize('prepareRepresentation', 'd', d);
  checkShape('prepareRepresentation', 'x', x, n, 'd', d);
  const { selfMoment } = options;
  if (selfMoment !== undefined && !(Number.isFinite(selfMoment) && selfMoment >= 0)) {
    throw new RunlakeError(
      `prepareRepresentation: selfMoment must be a finite number ≥ 0, got ${selfMoment}`,
    );
  }
  // The column sums double as the finiteness check: a non-finite entry makes its column's sum
  // non-finite, and only then is the matrix scanned for the entry to name (the scan also passes
  // finite columns whose sum overflowed, which are centred as before).
  const mean = columnSums(x, n, d);
  for (let j = 0; j < d; j++) {
    if (!Number.isFinite(mean[j] as number)) {
      checkMatrix('prepareRepresentation', 'x', x, n, 'd', d);
      break;
    }
  }
  const spare = options.recycle;
  // Not when x is one of its buffers (it would be overwritten while read).
  const reuse =
    spare !== undefined &&
    spare.n === n &&
    spare.d === d &&
    spare.centred !== x &&
    spare.packedColumns.packed !== x;
  const { centred, packed } = centreAndPack(
    x,
    n,
    d,
    mean,
    reuse ? spare.centred : new Float64Array(n * d),
    reuse ? spare.packedColumns.packed : new Float64Array(Math.ceil(d / 4) * n * 4),
  );
  const prepared = new PreparedRepresentation(n, d, centred, selfMoment ?? null);
  prepared.packedColumns = packed;
  return prepared;
}

/**
 * {@link representationSimilarity} of two prepared matrices of the same n samples, with bitwise
 * the same result. Where X̃ᵀỸ is formed (n ≥ min(dx, dy)), ‖X̃ᵀX̃‖² and ‖ỸᵀỸ‖² come from each
 * side's cache and only the dx×dy cross product is computed here (n·dx·dy products instead of
 * n(dx+dy)²/2); otherwise the Gram route of {@link representationSimilarity} runs on the centred
 * matrices.
 *
 * @throws {RunlakeError} when the two matrices have different row counts.
 * @example
 * ```ts
 * const [p0, p1, p2] = [x0, x1, x2].map((x) => prepareRepresentation(x, 256, 64));
 * preparedSimilarity(p0, p1); // p1's centring and X̃ᵀX̃ are reused by …
 * preparedSimilarity(p1, p2);
 * ```
 */
export function preparedSimilarity(
  a: PreparedRepresentation,
  b: PreparedRepresentation,
): RepresentationSimilarity {
  const { n, d: dx } = a;
  const dy = b.d;
  if (b.n !== n) {
    throw new RunlakeError(
      `preparedSimilarity: x has ${n} rows, y has ${b.n}; they must be the same samples`,
    );
  }
  let products: CentredProducts;
  if (featureRoute(n, dx, dy)) {
    // X̃ᵀỸ is used up within this call: the same buffer serves every pair of the shape.
    if (crossScratch === null || crossScratch.length !== dx * dy) crossScratch = new Float64Array(dx * dy);
    const cross = crossProduct(a.packedColumns, b.packedColumns, crossScratch);
    products = {
      moments: {
        kl: sumOfSquaredEntries(cross),
        kk: a.selfMoment,
        ll: b.selfMoment,
        traceK: a.trace,
        traceL: b.trace,
      },
      cross,
    };
  } else products = centredProducts(a.centred, b.centred, n, dx, dy, false);
  return similarityFromProducts(
    products,
    a.centred,
    b.centred,
    n,
    dx,
    dy,
    a.rowSquaredNorms,
    b.rowSquaredNorms,
  );
}

/** The buffer {@link preparedSimilarity} forms X̃ᵀỸ in, kept for the next pair of the same shape. */
let crossScratch: Float64Array | null = null;

/** ⟨K̃, L̃⟩, ‖K̃‖², ‖L̃‖² and the traces of the centred Gram matrices. */
interface GramMoments {
  readonly kl: number;
  readonly kk: number;
  readonly ll: number;
  readonly traceK: number;
  readonly traceL: number;
}

function ckaFromMoments(m: GramMoments): number | null {
  if (m.kk === 0 || m.ll === 0) return null;
  return clamp(m.kl / Math.sqrt(m.kk * m.ll), 0, 1);
}

function debiasedCkaFromMoments(
  m: GramMoments,
  xc: Float64Array,
  yc: Float64Array,
  n: number,
  dx: number,
  dy: number,
  knownK?: Float64Array,
  knownL?: Float64Array,
): number | null {
  const k = knownK ?? rowSquaredNorms(xc, n, dx);
  const l = knownL ?? rowSquaredNorms(yc, n, dy);
  let pkl = 0;
  let pkk = 0;
  let pll = 0;
  for (let i = 0; i < n; i++) {
    const ki = k[i] as number;
    const li = l[i] as number;
    pkl += ki * li;
    pkk += ki * ki;
    pll += li * li;
  }
  // n(n−3)·HSIC₁ for centred data; the common factor cancels in the ratio.
  const a = 1 / ((n - 1) * (n - 2));
  const b = 2 / (n - 2);
  const hkl = m.kl - pkl + a * m.traceK * m.traceL - b * pkl;
  const hkk = m.kk - pkk + a * m.traceK * m.traceK - b * pkk;
  const hll = m.ll - pll + a * m.traceL * m.traceL - b * pll;
  if (!(hkk > n * EPSILON * m.kk) || !(hll > n * EPSILON * m.ll)) return null;
  return clamp(hkl / Math.sqrt(hkk * hll), -1, 1);
}

function procrustesFromCentred(
  xc: Float64Array,
  yc: Float64Array,
  n: number,
  dx: number,
  dy: number,
  normX2: number,
  normY2: number,
): number | null {
  if (normX2 === 0 || normY2 === 0) return null;
  const nuclear = nuclearNormOfCross(xc, yc, n, dx, dy, null);
  return clamp(2 - (2 * nuclear) / Math.sqrt(normX2 * normY2), 0, 2);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

// ── validation and centring ─────────────────────────────────────────────────────────────────

function prepare(
  fn: string,
  x: RowMatrix,
  y: RowMatrix,
  n: number,
  dx: number,
  dy: number,
): { xc: Float64Array; yc: Float64Array } {
  checkSize(fn, 'n', n);
  checkSize(fn, 'dx', dx);
  checkSize(fn, 'dy', dy);
  checkMatrix(fn, 'x', x, n, 'dx', dx);
  checkMatrix(fn, 'y', y, n, 'dy', dy);
  return { xc: centreColumns(x, n, dx), yc: centreColumns(y, n, dy) };
}

function checkSize(fn: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RunlakeError(`${fn}: ${name} must be a positive integer, got ${value}`);
  }
}

function checkMatrix(fn: string, name: string, a: RowMatrix, n: number, widthName: string, d: number): void {
  checkShape(fn, name, a, n, widthName, d);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i] as number)) {
      throw new RunlakeError(
        `${fn}: ${name} entry (${Math.floor(i / d)}, ${i % d}) is ${a[i]}; ${name} must be finite`,
      );
    }
  }
}

function checkShape(fn: string, name: string, a: RowMatrix, n: number, widthName: string, d: number): void {
  if (!(a instanceof Float32Array || a instanceof Float64Array)) {
    throw new RunlakeError(`${fn}: ${name} must be a Float32Array or Float64Array`);
  }
  if (a.length !== n * d) {
    throw new RunlakeError(
      `${fn}: ${name} has ${a.length} values, expected n×${widthName} = ${n}×${d} = ${n * d}`,
    );
  }
}

/**
 * The column means of {@link centreColumns} — Σ_i x[i, j] over the rows in order, divided by n —
 * in one pass that also finds the constant columns, whose mean is their value itself so that they
 * centre to exact zeros.
 */
function columnSums(x: RowMatrix, n: number, d: number): Float64Array {
  const sum = new Float64Array(d);
  const varies = new Uint8Array(d);
  for (let j = 0; j < d; j++) sum[j] = 0 + (x[j] as number);
  for (let i = 1; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[row + j] as number;
      sum[j] = (sum[j] as number) + v;
      if (v !== (x[j] as number)) varies[j] = 1;
    }
  }
  for (let j = 0; j < d; j++) sum[j] = varies[j] ? (sum[j] as number) / n : (x[j] as number);
  return sum;
}

/**
 * X̃ = X − 1μᵀ (row-major, float64, the same values as {@link centreColumns}) and its columns
 * packed as {@link packColumns} lays them out, in one pass over X: the pipeline needs both, and
 * packing X̃ afterwards cost a second strided pass.
 */
function centreAndPack(
  x: RowMatrix,
  n: number,
  d: number,
  mean: Float64Array,
  centred: Float64Array,
  packed: Float64Array,
): { centred: Float64Array; packed: PackedColumns } {
  const full = d - (d % 4);
  // The zero padding of the last panel (a reused buffer holds the same shape's zeros there).
  if (full < d) packed.fill(0, (full / 4) * n * 4);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    let j = 0;
    for (let o = i * 4; j < full; j += 4, o += n * 4) {
      const c0 = (x[row + j] as number) - (mean[j] as number);
      const c1 = (x[row + j + 1] as number) - (mean[j + 1] as number);
      const c2 = (x[row + j + 2] as number) - (mean[j + 2] as number);
      const c3 = (x[row + j + 3] as number) - (mean[j + 3] as number);
      centred[row + j] = c0;
      centred[row + j + 1] = c1;
      centred[row + j + 2] = c2;
      centred[row + j + 3] = c3;
      packed[o] = c0;
      packed[o + 1] = c1;
      packed[o + 2] = c2;
      packed[o + 3] = c3;
    }
    for (let o = ((full / 4) * n + i) * 4; j < d; j++, o++) {
      const c = (x[row + j] as number) - (mean[j] as number);
      centred[row + j] = c;
      packed[o] = c;
    }
  }
  return { centred, packed: { packed, rows: n, cols: d } };
}

/**
 * X − 1μᵀ in float64. A constant column is zeroed exactly (its float mean can differ from the
 * constant by an ulp), so that a matrix of identical rows is recognised as zero.
 */
function centreColumns(x: RowMatrix, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  const constant = new Uint8Array(d).fill(1);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[row + j] as number;
      mean[j] = (mean[j] as number) + v;
      if (v !== x[j]) constant[j] = 0;
    }
  }
  for (let j = 0; j < d; j++) mean[j] = constant[j] ? (x[j] as number) : (mean[j] as number) / n;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let j = 0; j < d; j++) out[row + j] = (x[row + j] as number) - (mean[j] as number);
  }
  return out;
}

// ── CKA sums ────────────────────────────────────────────────────────────────────────────────

/** The CKA sums, plus X̃ᵀỸ (dx×dy, row-major) when it was formed on the way. */
interface CentredProducts {
  readonly moments: GramMoments;
  readonly cross: Float64Array | null;
}

/**
 * ⟨K̃, L̃⟩, ‖K̃‖², ‖L̃‖² and the traces, by the tiled kernels. Feature route (n ≥ dx + dy, or
 * when X̃ᵀỸ is wanted anyway): the blocks of the column Gram of [X̃ Ỹ] — X̃ᵀX̃ and ỸᵀỸ by
 * {@link gramMatrix}, X̃ᵀỸ by {@link crossProduct} — with ⟨K̃, L̃⟩ = ‖X̃ᵀỸ‖², ‖K̃‖ = ‖X̃ᵀX̃‖. Gram
 * route otherwise: K̃ and L̃ (n×n) themselves.
 */
function centredProducts(
  xc: Float64Array,
  yc: Float64Array,
  n: number,
  dx: number,
  dy: number,
  wantCross: boolean,
): CentredProducts {
  const traceK = sumOfSquares(xc);
  const traceL = sumOfSquares(yc);
  if (wantCross || n >= dx + dy) {
    // X̃ᵀX̃, ỸᵀỸ and X̃ᵀỸ apart — the blocks of the column Gram of [X̃ Ỹ], with the kernels
    // preparedSimilarity uses for each, so that both give bitwise the same values whichever
    // kernel (fused or not) each product runs on.
    const cross = crossProduct(packColumns(xc, n, dx), packColumns(yc, n, dy));
    return {
      moments: {
        kl: sumOfSquaredEntries(cross),
        kk: scatterMoment(xc, n, dx),
        ll: scatterMoment(yc, n, dy),
        traceK,
        traceL,
      },
      cross,
    };
  }
  const k = gramMatrix(xc, n, dx);
  const l = gramMatrix(yc, n, dy);
  let kl = 0;
  let kk = 0;
  let ll = 0;
  for (let i = 0; i < k.length; i++) {
    const a = k[i] as number;
    const b = l[i] as number;
    kl += a * b;
    kk += a * a;
    ll += b * b;
  }
  return { moments: { kl, kk, ll, traceK, traceL }, cross: null };
}

// ── nuclear norm of X̃ᵀỸ ─────────────────────────────────────────────────────────────────────

function nuclearNormOfCross(
  xc: Float64Array,
  yc: Float64Array,
  n: number,
  dx: number,
  dy: number,
  knownCross: Float64Array | null,
): number {
  const tolScale = Math.max(n, dx, dy) * EPSILON;
  if (n < Math.min(dx, dy)) {
    // LQ of the narrower side, then the n×n Gram of B = LᵀX̃_other.
    const xNarrow = dx <= dy;
    const lower = xNarrow ? lowerFactor(xc, n, dx) : lowerFactor(yc, n, dy);
    const dw = xNarrow ? dy : dx;
    const b = lowerTransposeTimes(lower, xNarrow ? yc : xc, n, dw);
    return sumOfRoots(symmetricEigenvalues(gramMatrix(b, n, dw), n), tolScale);
  }
  const m = knownCross ?? (centredProducts(xc, yc, n, dx, dy, true).cross as Float64Array); // dx×dy
  // MᵀM (dy×dy) or MMᵀ (dx×dx), whichever is smaller: same nonzero eigenvalues σ².
  return sumOfRoots(symmetricEigenvalues(smallGram(m, dx, dy), Math.min(dx, dy)), tolScale);
}

/** Reused between calls (zeroed once): the buffer {@link smallGram} writes into. */
let gramScratch: Float64Array | null = null;

/**
 * MᵀM or MMᵀ of the row-major rows×cols M, whichever is smaller, by the tile kernel of
 * {@link gramMatrix} (the same entries), written into a buffer reused from call to call and
 * without the mirror image above the diagonal: the eigenvalue solver reads the lower triangle
 * only. The result is valid until the next call.
 */
function smallGram(m: Float64Array, rows: number, cols: number): Float64Array {
  const byColumns = cols <= rows;
  const count = Math.min(rows, cols);
  if (gramScratch === null || gramScratch.length !== count * count) {
    // Zeros above the diagonal: never written, so the matrix stays finite for the solver's check.
    gramScratch = new Float64Array(count * count);
  }
  gramPanelRows(
    m,
    new Float64Array(cols),
    rows,
    cols,
    byColumns,
    0,
    Math.ceil(count / 4),
    gramScratch,
    false,
  );
  return gramScratch;
}

/** Σ√λ over eigenvalues above tolScale·λ₁ (the rest are rounding of squared zero singular values). */
function sumOfRoots(lambda: Float64Array, tolScale: number): number {
  const tol = tolScale * Math.max(0, lambda[0] ?? 0);
  let s = 0;
  for (let i = lambda.length - 1; i >= 0; i--) {
    const v = lambda[i] as number;
    if (v > tol) s += Math.sqrt(v);
  }
  return s;
}

/**
 * The n×n lower-triangular L of A = L·Q (row-major n×d A, n ≤ d, Q with orthonormal rows), by
 * Householder reflections applied from the right: each reflection zeroes row k beyond column k
 * and is applied to the rows below, all contiguous row operations. A is copied.
 */
function lowerFactor(a: Float64Array, n: number, d: number): Float64Array {
  const w = Float64Array.from(a);
  const v = new Float64Array(d);
  const lower = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const row = k * d;
    // Scale first so that the norm cannot overflow or underflow.
    let scale = 0;
    for (let j = k; j < d; j++) scale = Math.max(scale, Math.abs(w[row + j] as number));
    if (scale === 0) continue; // the column of L is already zero
    let ss = 0;
    for (let j = k; j < d; j++) {
      const t = (w[row + j] as number) / scale;
      ss += t * t;
    }
    const norm = scale * Math.sqrt(ss);
    const x0 = w[row + k] as number;
    // The sign choice avoids cancellation in v₀ = x₀ − α.
    const alpha = x0 > 0 ? -norm : norm;
    let vnorm2 = 0;
    for (let j = k; j < d; j++) {
      const vj = (w[row + j] as number) - (j === k ? alpha : 0);
      v[j] = vj;
      vnorm2 += vj * vj;
    }
    lower[k * n + k] = alpha;
    const beta = 2 / vnorm2;
    for (let i = k + 1; i < n; i++) {
      const ri = i * d;
      let s = 0;
      for (let j = k; j < d; j++) s += (w[ri + j] as number) * (v[j] as number);
      s *= beta;
      for (let j = k; j < d; j++) w[ri + j] = (w[ri + j] as number) - s * (v[j] as number);
      lower[i * n + k] = w[ri + k] as number;
    }
  }
  return lower;
}

/** Lᵀ·W for an n×n lower-triangular L and a row-major n×d W: row i is Σ_{k≥i} L_ki·W_k. */
function lowerTransposeTimes(lower: Float64Array, w: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const ro = i * d;
    for (let k = i; k < n; k++) {
      const lki = lower[k * n + i] as number;
      if (lki === 0) continue;
      const rw = k * d;
      for (let j = 0; j < d; j++) out[ro + j] = (out[ro + j] as number) + lki * (w[rw + j] as number);
    }
  }
  return out;
}

// ── small kernels ───────────────────────────────────────────────────────────────────────────

/** ‖X̃ᵀX̃‖²_F, summed over the entries of X̃ᵀX̃ in row-major order. */
function scatterMoment(centred: Float64Array, n: number, d: number): number {
  return sumOfSquaredEntries(gramMatrix(centred, n, d, { byColumns: true }));
}

/** Σ a_i² in index order (one accumulator: the order every route sums a product's entries in). */
function sumOfSquaredEntries(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (a[i] as number);
  return s;
}

function sumOfSquares(a: Float64Array): number {
  return dot(a, 0, a, 0, a.length);
}

function rowSquaredNorms(a: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = dot(a, i * d, a, i * d, d);
  return out;
}

/** a[p..p+len) · b[q..q+len) with four accumulators (fewer dependency stalls). */
function dot(a: Float64Array, p: number, b: Float64Array, q: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += (a[p + k] as number) * (b[q + k] as number);
    s1 += (a[p + k + 1] as number) * (b[q + k + 1] as number);
    s2 += (a[p + k + 2] as number) * (b[q + k + 2] as number);
    s3 += (a[p + k + 3] as number) * (b[q + k + 3] as number);
  }
  for (; k < len; k++) s0 += (a[p + k] as number) * (b[q + k] as number);
  return s0 + s1 + (s2 + s3);
}
