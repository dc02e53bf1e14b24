/**
 * Exact change-point detection by PELT (Killick, Fearnhead & Eckley, "Optimal detection of
 * changepoints with a linear computational cost", JASA 2012), with a brute-force optimal
 * partitioning reference (Jackson et al. 2005) that tests compare it with.
 *
 * Both minimise Σ_segments C(segment) + β·(number of change points) over every segmentation whose
 * segments are at least `minSegment` long, with `jump = 1` (every index is a candidate). Costs:
 * - `l2`: piecewise-constant mean, C = Σ (y − ȳ)² over the segment;
 * - `linear`: piecewise-linear (each segment its own least-squares line in the index, not joined),
 *   C = residual sum of squares of that line.
 *
 * Both costs are residual sums of squares of nested models, so splitting a segment never raises its
 * cost; that is what makes PELT's pruning (K = 0) exact.
 */
import { RunlakeError } from '../lake/index.js';

/** The segment cost models PELT supports. */
export type PeltCost = 'l2' | 'linear';

/** Options for {@link pelt} and {@link optimalPartitioning}. */
export interface PeltOptions {
  /** Segment model: `l2` (piecewise-constant mean) or `linear` (piecewise-linear). */
  readonly cost: PeltCost;
  /**
   * Penalty β per change point, in squared series units. Default {@link defaultPeltPenalty}:
   * (p + 1)·σ̂²·ln n, p = parameters per segment (1 for `l2`, 2 for `linear`), σ̂ robust noise.
   */
  readonly penalty?: number;
  /** Minimum segment length in points (default 2 for `l2`, 3 for `linear`). */
  readonly minSegment?: number;
}

/** Half-open segment cost C(start, end) over series[start..end). */
export type SegmentCostFunction = (start: number, end: number) => number;

/**
 * Robust noise scale of a series: 1.4826·MAD(first differences)/√2. Differencing removes level
 * shifts and (as a constant offset, which the MAD's median absorbs) linear trends, so the estimate
 * sees the noise, not the signal. Returns 0 for fewer than 3 points.
 *
 * @example
 * ```ts
 * robustNoiseScale([1, 1.1, 0.9, 1, 5.1, 4.9, 5]); // ≈ 0.1 despite the jump
 * ```
 */
export function robustNoiseScale(series: ArrayLike<number>): number {
  const n = series.length;
  if (n < 3) return 0;
  const d = new Float64Array(n - 1);
  for (let i = 1; i < n; i++) d[i - 1] = (series[i] as number) - (series[i - 1] as number);
  const med = medianOf(d);
  for (let i = 0; i < d.length; i++) d[i] = Math.abs((d[i] as number) - med);
  return (1.4826 * medianOf(d)) / Math.SQRT2;
}

/**
 * Median of a numeric array (sorts a copy; NaN-free input expected). Returns NaN when empty.
 *
 * @example
 * ```ts
 * medianOf([3, 1, 2, 10]); // 2.5
 * ```
 */
export function medianOf(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const s = Float64Array.from(values as ArrayLike<number>).sort();
  const mid = n >> 1;
  return n % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The default PELT penalty (p + 1)·σ̂²·ln n: the Schwarz-style 2·ln n per change for a mean shift
 * (one parameter plus its location), 3·ln n for a new line, scaled by the robust noise variance
 * because the costs are raw sums of squares rather than log-likelihoods at unit variance. σ̂² is
 * floored at 1e-12·(1 + mean y²) so noiseless series do not get a zero penalty.
 *
 * @example
 * ```ts
 * defaultPeltPenalty([0, 0.1, -0.1, 0, 5, 5.1, 4.9, 5], 'l2'); // ≈ 2·0.0…·ln 8
 * ```
 */
export function defaultPeltPenalty(series: ArrayLike<number>, cost: PeltCost): number {
  const n = series.length;
  if (n < 2) return 0;
  let meanSq = 0;
  for (let i = 0; i < n; i++) meanSq += (series[i] as number) ** 2;
  meanSq /= n;
  const sigma = robustNoiseScale(series);
  const variance = Math.max(sigma * sigma, 1e-12 * (1 + meanSq));
  return (cost === 'l2' ? 2 : 3) * variance * Math.log(n);
}

/**
 * Builds the O(1) segment cost of a series from prefix sums (values are centred first, which keeps
 * the sums of squares well conditioned).
 *
 * @example
 * ```ts
 * const c = segmentCostFunction([1, 2, 3, 10], 'linear');
 * c(0, 3); // 0: an exact line
 * ```
 */
export function segmentCostFunction(series: ArrayLike<number>, cost: PeltCost): SegmentCostFunction {
  const n = series.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += series[i] as number;
  mean = n > 0 ? mean / n : 0;
  const sy = new Float64Array(n + 1);
  const syy = new Float64Array(n + 1);
  const sxy = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const y = (series[i] as number) - mean;
    sy[i + 1] = (sy[i] as number) + y;
    syy[i + 1] = (syy[i] as number) + y * y;
    sxy[i + 1] = (sxy[i] as number) + i * y;
  }
  if (cost === 'l2') {
    return (start, end) => {
      const m = end - start;
      if (m <= 1) return 0;
      const s = (sy[end] as number) - (sy[start] as number);
      const r = (syy[end] as number) - (syy[start] as number) - (s * s) / m;
      return Math.max(r, 0);
    };
  }
  return (start, end) => {
    const m = end - start;
    if (m <= 2) return 0;
    const s = (sy[end] as number) - (sy[start] as number);
    const cyy = (syy[end] as number) - (syy[start] as number) - (s * s) / m;
    // Consecutive integer abscissae: Σ(x − x̄)² = m(m² − 1)/12 exactly, Σ(x − x̄)y = Σxy − x̄Σy.
    const cxx = (m * (m * m - 1)) / 12;
    const cxy = (sxy[end] as number) - (sxy[start] as number) - ((start + end - 1) / 2) * s;
    const r = cyy - (cxy * cxy) / cxx;
    return Math.max(r, 0);
  };
}

interface ResolvedPelt {
  readonly n: number;
  readonly penalty: number;
  readonly minSegment: number;
  readonly cost: SegmentCostFunction;
}

function resolve(series: ArrayLike<number>, options: PeltOptions, fn: string): ResolvedPelt {
  if (options.cost !== 'l2' && options.cost !== 'linear') {
    throw new RunlakeError(`${fn}: cost must be 'l2' or 'linear' (got ${String(options.cost)})`);
  }
  const n = series.length;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(series[i])) {
      throw new RunlakeError(`${fn}: series[${i}] is not a finite number (drop missing points first)`);
    }
  }
  const minSegment = options.minSegment ?? (options.cost === 'l2' ? 2 : 3);
  if (!Number.isInteger(minSegment) || minSegment < 1) {
    throw new RunlakeError(`${fn}: minSegment must be an integer ≥ 1 (got ${minSegment})`);
  }
  const penalty = options.penalty ?? defaultPeltPenalty(series, options.cost);
  if (!Number.isFinite(penalty) || penalty < 0) {
    throw new RunlakeError(`${fn}: penalty must be a finite number ≥ 0 (got ${penalty})`);
  }
  return { n, penalty, minSegment, cost: segmentCostFunction(series, options.cost) };
}

function backtrack(last: Int32Array, n: number): number[] {
  const out: number[] = [];
  let t = n;
  while (t > 0) {
    const tau = last[t] as number;
    if (tau > 0) out.push(tau);
    t = tau;
  }
  return out.reverse();
}

/**
 * PELT change points of a series: the start index of every segment after the first, in ascending
 * order, for the exact minimiser of Σ C(segment) + β·changes with segments ≥ `minSegment` points.
 * Average cost is O(n) when changes keep arriving as n grows; the worst case is O(n²).
 *
 * Pruning is exact: a candidate τ dominated at time t (F(τ) + C(τ, t) > F(t)) can never be the
 * last change for any T ≥ t + minSegment, so it is dropped only then (earlier T cannot use t as
 * their last change because of the minimum segment length).
 *
 * @throws RunlakeError when the series holds a non-finite value, or an option is out of range.
 * @example
 * ```ts
 * pelt([0, 0.1, -0.1, 0, 5, 5.1, 4.9, 5], { cost: 'l2' }); // [4]
 * ```
 */
export function pelt(series: ArrayLike<number>, options: PeltOptions): number[] {
  const { n, penalty, minSegment, cost } = resolve(series, options, 'pelt');
  if (n < 2 * minSegment) return [];
  const f = new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY);
  const last = new Int32Array(n + 1);
  const removeAt = new Int32Array(n + 1).fill(-1);
  f[0] = -penalty;
  // Rounding can break C(a,b) + C(b,c) ≤ C(a,c) by a few ulps: prune only on a clear margin.
  const tol = 1e-9 * (cost(0, n) + penalty + 1);
  let candidates: number[] = [];
  for (let t = minSegment; t <= n; t++) {
    const fresh = t - minSegment;
    if (fresh === 0 || fresh >= minSegment) candidates.push(fresh);
    let best = Number.POSITIVE_INFINITY;
    let arg = 0;
    for (const tau of candidates) {
      const v = (f[tau] as number) + cost(tau, t) + penalty;
      if (v < best) {
        best = v;
        arg = tau;
      }
    }
    f[t] = best;
    last[t] = arg;
    const kept: number[] = [];
    for (const tau of candidates) {
      const expiry = removeAt[tau] as number;
      if (expiry >= 0 && t + 1 >= expiry) continue;
      if (expiry < 0 && (f[tau] as number) + cost(tau, t) > best + tol) removeAt[tau] = t + minSegment;
      kept.push(tau);
    }
    candidates = kept;
  }
  return backtrack(last, n);
}

/**
 * Brute-force optimal partitioning: the same objective as {@link pelt}, solved by dynamic
 * programming over every admissible last change point (O(n²) cost evaluations). The reference PELT
 * is tested against; both break ties towards the earliest last change point.
 *
 * @example
 * ```ts
 * optimalPartitioning([0, 0.1, -0.1, 0, 5, 5.1, 4.9, 5], { cost: 'l2' }); // [4]
 * ```
 */
export function optimalPartitioning(series: ArrayLike<number>, options: PeltOptions): number[] {
  const { n, penalty, minSegment, cost } = resolve(series, options, 'optimalPartitioning');
  if (n < 2 * minSegment) return [];
  const f = new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY);
  const last = new Int32Array(n + 1);
  f[0] = -penalty;
  for (let t = minSegment; t <= n; t++) {
    let best = Number.POSITIVE_INFINITY;
    let arg = 0;
    for (let tau = 0; tau <= t - minSegment; tau++) {
      if (tau > 0 && tau < minSegment) continue;
      const v = (f[tau] as number) + cost(tau, t) + penalty;
      if (v < best) {
        best = v;
        arg = tau;
      }
    }
    f[t] = best;
    last[t] = arg;
  }
  return backtrack(last, n);
}
