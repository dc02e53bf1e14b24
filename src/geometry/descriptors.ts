/**
 * Basis-invariant descriptors of a representation matrix: the value columns of the
 * `geometry_state` dataset.
 */
import { type DescriptorInputs, descriptorInputs } from './descriptor-inputs.js';
import type { RowMatrix } from './gram.js';

/** float64 machine epsilon, numpy's `finfo(float64).eps`. */
export const FLOAT64_EPSILON = 2.220446049250313e-16;

/** α-ReQ uses eigenvalues down to this fraction of λ₁; smaller ones are rounding noise. */
export const ALPHA_REQ_RELATIVE_FLOOR = 1e-12;

/** Share of the largest μ = r₂/r₁ that TwoNN drops before fitting (Facco et al. 2017). */
export const TWO_NN_DISCARD_FRACTION = 0.1;

/** Options for {@link geometryDescriptors}. */
export interface GeometryDescriptorOptions {
  /** k of `top_k_energy` (default 10; capped at min(n, d)). */
  readonly topK?: number;
  /** How many of the largest eigenvalues to return in `top_eigenvalues` (default 16). */
  readonly topEigenvalues?: number;
}

/**
 * The descriptors of one matrix, keyed like the `geometry_state` columns. `null` marks a
 * descriptor that is undefined for the input (all-zero X, a single row, …) — never NaN.
 */
export interface GeometryDescriptors {
  n_samples: number;
  dim: number;
  effective_rank: number | null;
  participation_ratio: number | null;
  stable_rank: number | null;
  spectral_entropy: number | null;
  alpha_req: number | null;
  alpha_req_r2: number | null;
  numerical_rank: number | null;
  top_k: number | null;
  top_k_energy: number | null;
  anisotropy: number | null;
  norm_mean: number | null;
  norm_std: number | null;
  intrinsic_dim: number | null;
  total_variance: number | null;
  top_eigenvalues: number[] | null;
}

/**
 * Basis-invariant descriptors of a row-major n×d matrix X (rows = samples or tokens).
 * λ₁ ≥ λ₂ ≥ … are the eigenvalues of the covariance X̃ᵀX̃/(n−1) of the column-centred X̃
 * ({@link covarianceSpectrum}), σ_k = √λ_k (singular values of X̃/√(n−1); every ratio below is
 * unchanged by that common factor), and `0·log 0 = 0`.
 *
 * - `effective_rank` — Roy & Vetterli (2007), as in RankMe (Garrido et al. 2023):
 *   exp(−Σ p_k log p_k) with **p_k = σ_k / Σσ** (singular values normalised to sum 1, not σ²).
 * - `participation_ratio` — (Σλ)² / Σλ² (e.g. Gao et al. 2017; Recanatesi et al. 2022).
 * - `stable_rank` — Σσ²/σ₁² = Σλ/λ₁ (Rudelson & Vershynin 2007).
 * - `spectral_entropy` — −Σ q_k log q_k in nats with q_k = λ_k / Σλ.
 * - `alpha_req`, `alpha_req_r2` — α-ReQ (Agrawal et al. 2022): least squares of
 *   log λ_i = c − α log i (i 1-based) over the 0-based indices 1 ≤ i < m, where m is one past the
 *   last λ above {@link ALPHA_REQ_RELATIVE_FLOOR}·λ₁, capped at min(n − 1, d) (centring leaves
 *   at most n − 1 nonzero eigenvalues). λ₁ is left out because it is often an outlier (a mean
 *   or rogue direction). R² is that of the log–log fit; both null with fewer than 3 points.
 * - `numerical_rank` — numpy `matrix_rank` of X̃: σ_k > max(n, d)·ε·σ₁ with
 *   ε = {@link FLOAT64_EPSILON}. σ comes from a Gram matrix here, whose rounding puts null σ near
 *   √ε·σ₁ rather than ε·σ₁, so the same relative tolerance is applied to λ = σ² instead:
 *   λ_k > max(n, d)·ε·λ₁. It matches `matrix_rank` unless some σ_k/σ₁ lies in the gap
 *   between max(n,d)·ε and √(max(n,d)·ε).
 * - `top_k`, `top_k_energy` — k = min(topK, min(n, d)) and Σ_{k largest} λ / Σλ.
 * - `anisotropy` — mean pairwise cosine of the **uncentred** nonzero rows (Ethayarajh 2019):
 *   (‖Σu_i‖² − n′)/(n′(n′−1)), u_i = x_i/‖x_i‖, n′ = nonzero rows; null when n′ < 2.
 * - `norm_mean`, `norm_std` — mean and population standard deviation of the uncentred row L2
 *   norms.
 * - `intrinsic_dim` — TwoNN (Facco et al. 2017): per point, r₁ ≤ r₂ its two smallest nonzero
 *   distances (from the centred Gram: d²_ij = K_ii + K_jj − 2K_ij), μ = r₂/r₁; with μ sorted
 *   ascending over the N points that have two, F_i = i/N (i 1-based); drop the top
 *   {@link TWO_NN_DISCARD_FRACTION} of μ, keeping ⌊0.9N⌋, and fit −log(1 − F_i) = d·log μ_i
 *   through the origin: d = Σ xy / Σ x². Null when n < 3 or nothing is left to fit.
 * - `total_variance` — Σλ = trace of the covariance.
 * - `top_eigenvalues` — the largest `topEigenvalues` λ, descending.
 *
 * Invariances: every descriptor except `n_samples`/`dim` is unchanged by an orthogonal change
 * of basis X → XQ. Translating the rows (X → X + 1cᵀ) changes only the uncentred ones —
 * `anisotropy`, `norm_mean`, `norm_std`; everything else is computed from X̃ or from distances.
 * Scaling X → cX multiplies λ (and so `total_variance`, `top_eigenvalues`) by c² and the norms
 * by |c|, and leaves all ratios, entropies, ranks, `alpha_req`, `anisotropy` (c > 0) and
 * `intrinsic_dim` unchanged.
 *
 * @example
 * ```ts
 * const x = Float32Array.from({ length: 64 * 32 }, () => Math.random());
 * const g = geometryDescriptors(x, 64, 32, { topK: 5 });
 * g.effective_rank; // ≈ 25
 * ```
 */
export function geometryDescriptors(
  x: RowMatrix,
  n: number,
  d: number,
  options: GeometryDescriptorOptions = {},
): GeometryDescriptors {
  const { topK = 10, topEigenvalues = 16 } = options;
  const spectrum = descriptorInputs(x, n, d);
  const lambda = spectrum.eigenvalues;
  const defined = n >= 2;
  const total = defined ? sum(lambda) : 0;
  const lambda1 = lambda[0] ?? 0;
  const positive = total > 0 && lambda1 > 0;
  const k = Math.min(topK, lambda.length);
  const alpha = defined ? alphaReq(lambda, Math.min(n - 1, d)) : null;
  const norms = normStatistics(spectrum.rowNorms);
  return {
    n_samples: n,
    dim: d,
    effective_rank: positive ? Math.exp(entropyOfShares(lambda.map(Math.sqrt))) : null,
    participation_ratio: positive ? (total * total) / sumOfSquares(lambda) : null,
    stable_rank: positive ? total / lambda1 : null,
    spectral_entropy: positive ? entropyOfShares(lambda) : null,
    alpha_req: alpha?.alpha ?? null,
    alpha_req_r2: alpha?.r2 ?? null,
    numerical_rank: defined ? numericalRank(lambda, Math.max(n, d)) : null,
    top_k: defined && k > 0 ? k : null,
    top_k_energy: positive && k > 0 ? sum(lambda.subarray(0, k)) / total : null,
    anisotropy: anisotropy(spectrum),
    norm_mean: norms.mean,
    norm_std: norms.std,
    intrinsic_dim: spectrum.neighbours && n >= 3 ? twoNnDimension(spectrum.neighbours, n) : null,
    total_variance: defined ? total : null,
    top_eigenvalues: defined ? Array.from(lambda.subarray(0, Math.max(0, topEigenvalues))) : null,
  };
}

function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] as number;
  return s;
}

function sumOfSquares(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += (values[i] as number) ** 2;
  return s;
}

/** Shannon entropy (nats) of nonnegative weights normalised to sum 1, with 0·log 0 = 0. */
function entropyOfShares(weights: ArrayLike<number>): number {
  const total = sum(weights);
  let h = 0;
  for (let i = 0; i < weights.length; i++) {
    const p = (weights[i] as number) / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}

function numericalRank(lambda: Float64Array, maxDim: number): number {
  const tol = maxDim * FLOAT64_EPSILON * (lambda[0] ?? 0);
  let rank = 0;
  for (const value of lambda) if (value > tol) rank++;
  return rank;
}

/** Least-squares line y = c + b·x and its R² (null when x is constant or y has no variance). */
function lineFit(xs: readonly number[], ys: readonly number[]): { slope: number; r2: number } | null {
  const m = xs.length;
  const mx = sum(xs) / m;
  const my = sum(ys) / m;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < m; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  // A perfectly flat spectrum is fitted exactly (α = 0); call that R² = 1.
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, r2 };
}

function alphaReq(lambda: Float64Array, cap: number): { alpha: number; r2: number } | null {
  const floor = ALPHA_REQ_RELATIVE_FLOOR * (lambda[0] ?? 0);
  let end = 0;
  for (let i = 0; i < Math.min(cap, lambda.length); i++) if ((lambda[i] as number) > floor) end = i + 1;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 1; i < end; i++) {
    xs.push(Math.log(i + 1));
    ys.push(Math.log(lambda[i] as number));
  }
  if (xs.length < 3) return null;
  const fit = lineFit(xs, ys);
  return fit ? { alpha: -fit.slope, r2: fit.r2 } : null;
}

function anisotropy(spectrum: DescriptorInputs): number | null {
  const count = spectrum.nonzeroRows;
  if (count < 2) return null;
  return (sumOfSquares(spectrum.unitRowSum) - count) / (count * (count - 1));
}

function normStatistics(norms: Float64Array): { mean: number | null; std: number | null } {
  if (norms.length === 0) return { mean: null, std: null };
  const mean = sum(norms) / norms.length;
  let ss = 0;
  for (const v of norms) ss += (v - mean) ** 2;
  return { mean, std: Math.sqrt(ss / norms.length) };
}

/**
 * TwoNN from each row's two nearest squared distances r₁ ≤ r₂ (`neighbours[2i]`, `[2i + 1]`, +∞
 * when missing; see {@link geometryDescriptors}).
 */
function twoNnDimension(neighbours: Float64Array, n: number): number | null {
  const mus: number[] = [];
  for (let i = 0; i < n; i++) {
    const r1 = neighbours[2 * i] as number;
    const r2 = neighbours[2 * i + 1] as number;
    if (Number.isFinite(r2)) mus.push(Math.sqrt(r2 / r1));
  }
  const count = mus.length;
  const keep = Math.floor(count * (1 - TWO_NN_DISCARD_FRACTION));
  if (keep < 1) return null;
  mus.sort((a, b) => a - b);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < keep; i++) {
    const lx = Math.log(mus[i] as number);
    const ly = -Math.log(1 - (i + 1) / count);
    sxx += lx * lx;
    sxy += lx * ly;
  }
  return sxx > 0 ? sxy / sxx : null;
}
