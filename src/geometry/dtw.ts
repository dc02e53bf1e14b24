/**
 * Exact dynamic time warping (DTW) search kernel for trajectory signatures: banded DTW with early
 * abandoning, LB_Keogh envelopes and lower bounds, a warping-path summary, and an exact top-k search
 * that prunes the way the UCR suite does (Rakthanmanon et al., "Searching and Mining Trillions of
 * Time Series Subsequences under Dynamic Time Warping", KDD 2012).
 *
 * Conventions shared by every function here:
 * - Series are equal-length `Float64Array`/`Float32Array` of finite values (signatures are resampled
 *   onto a common grid first, so equal length is the contract, not a limitation).
 * - The Sakoe–Chiba band `band` allows cell (i, j) only when |i − j| ≤ band; a band ≥ n − 1 is
 *   unconstrained DTW, a band of 0 is the Euclidean distance.
 * - The local cost is the squared difference; a *distance* is the square root of the accumulated cost,
 *   so band 0 gives exactly the Euclidean distance and LB_Keogh is in the same units.
 *
 * Pure functions only: no lake I/O.
 */
import { RunlakeError } from '../lake/index.js';

/** A numeric series accepted by the DTW kernel. */
export type DtwSeries = Float64Array | Float32Array;

/** The LB_Keogh envelope of a series: running max and min over the window [i − band, i + band]. */
export interface KeoghEnvelope {
  upper: Float64Array;
  lower: Float64Array;
}

/** Summary of the optimal warping path between two series. */
export interface DtwPathSummary {
  /** The DTW distance (bitwise equal to `dtwDistance(a, b, band)`). */
  distance: number;
  /** Number of cells on the path (n ≤ pathLength ≤ 2n − 1). */
  pathLength: number;
  /** max |i − j| over the path's cells (≤ band). */
  maxDeviation: number;
  /**
   * Mean of j − i over the path, rounded: positive when the features of `a` (index i) appear that many
   * steps later in `b` (index j).
   */
  queryOffset: number;
}

/** One top-k hit: the candidate's index in the pool and its DTW distance to the query. */
export interface DtwMatch {
  index: number;
  distance: number;
}

/** How the pruned search spent its work; the three counts add up to the pool size. */
export interface DtwTopKStats {
  /**
   * Candidates skipped because an LB_Keogh bound (against the query's envelope, or the reversed one of
   * the query against the candidate's envelope) already exceeded the current k-th best.
   */
  lbPruned: number;
  /** Candidates whose DTW was abandoned part-way (cost plus remaining LB_Keogh exceeded the k-th best). */
  dtwAbandoned: number;
  /** Candidates whose DTW was computed to the end. */
  dtwFull: number;
}

/** The result of {@link dtwTopKWithStats}. */
export interface DtwTopKResult {
  results: DtwMatch[];
  stats: DtwTopKStats;
}

// ---------------------------------------------------------------------------------------------
// Validation

function checkSeries(series: DtwSeries, what: string): void {
  if (!(series instanceof Float64Array || series instanceof Float32Array)) {
    throw new RunlakeError(`DTW: ${what} must be a Float64Array or Float32Array`);
  }
  if (series.length === 0) throw new RunlakeError(`DTW: ${what} is empty`);
  for (let i = 0; i < series.length; i++) {
    if (!Number.isFinite(series[i] as number)) {
      throw new RunlakeError(`DTW: ${what} has a non-finite value (${series[i]}) at index ${i}`);
    }
  }
}

function checkSameLength(a: DtwSeries, b: DtwSeries, what: string): void {
  if (a.length !== b.length) {
    throw new RunlakeError(
      `DTW: series lengths differ (${what}: ${a.length} vs ${b.length}); resample onto a common grid first`,
    );
  }
}

function checkBand(band: number): void {
  if (!Number.isInteger(band) || band < 0) {
    throw new RunlakeError(`DTW: band must be a non-negative integer, got ${band}`);
  }
}

function checkBestSoFar(bestSoFar: number): void {
  if (Number.isNaN(bestSoFar) || bestSoFar < 0) {
    throw new RunlakeError(`DTW: bestSoFar must be a non-negative number or Infinity, got ${bestSoFar}`);
  }
}

/** The effective half-width: a band beyond n − 1 constrains nothing, and capping it bounds memory. */
function effectiveBand(n: number, band: number): number {
  return Math.min(band, n - 1);
}

// ---------------------------------------------------------------------------------------------
// Core kernels (no validation; callers validate once)

/**
 * Banded DTW accumulated cost with two rolling rows of width 2r + 1 (offset k = j − i + r).
 * Rows run over `c`, columns over `q`. Abandons (returns Infinity) once the smallest cell of row i plus
 * `suffix[i + 1]` (a lower bound on what the remaining rows must add; all zeros when null) exceeds
 * `threshold`. Both row buffers need length 2r + 2 with the last slot permanently Infinity, which lets
 * the "up" predecessor `prev[k + 1]` be read without a bounds branch.
 */
function dtwCostCore(
  q: DtwSeries,
  c: DtwSeries,
  r: number,
  threshold: number,
  suffix: Float64Array | null,
  rowA: Float64Array,
  rowB: Float64Array,
): number {
  const n = q.length;
  const w = 2 * r + 1;
  let prev = rowA;
  let cur = rowB;
  prev.fill(Number.POSITIVE_INFINITY, 0, w + 1);
  cur.fill(Number.POSITIVE_INFINITY, 0, w + 1);
  // D(−1, −1) = 0 sits where row 0's diagonal predecessor of (0, 0) is read.
  prev[r] = 0;
  for (let i = 0; i < n; i++) {
    const jLo = Math.max(i - r, 0);
    const jHi = Math.min(i + r, n - 1);
    const kLo = jLo - i + r;
    const kHi = jHi - i + r;
    // Cells outside this row's clipped range must read as unreachable in the next row.
    for (let k = 0; k < kLo; k++) cur[k] = Number.POSITIVE_INFINITY;
    for (let k = kHi + 1; k < w; k++) cur[k] = Number.POSITIVE_INFINITY;
    const ci = c[i] as number;
    let left = Number.POSITIVE_INFINITY;
    let rowMin = Number.POSITIVE_INFINITY;
    for (let k = kLo, j = jLo; k <= kHi; k++, j++) {
      const d = ci - (q[j] as number);
      const diag = prev[k] as number;
      const up = prev[k + 1] as number;
      let m = Math.min(diag, up);
      if (left < m) m = left;
      const v = d * d + m;
      cur[k] = v;
      left = v;
      if (v < rowMin) rowMin = v;
    }
    const rest = suffix === null ? 0 : (suffix[i + 1] as number);
    if (rowMin + rest > threshold) return Number.POSITIVE_INFINITY;
    const t = prev;
    prev = cur;
    cur = t;
  }
  // Cell (n − 1, n − 1) has offset k = r.
  return prev[r] as number;
}

/**
 * LB_Keogh accumulated (squared) cost of `c` against an envelope, abandoning once it exceeds
 * `threshold`. When `terms` is given, the per-position contributions are written to it (for the
 * cumulative bound used by early-abandoned DTW).
 */
function lbKeoghCostCore(
  c: DtwSeries,
  upper: Float64Array,
  lower: Float64Array,
  threshold: number,
  terms: Float64Array | null,
): number {
  let sum = 0;
  for (let i = 0; i < c.length; i++) {
    const x = c[i] as number;
    const u = upper[i] as number;
    const l = lower[i] as number;
    let t = 0;
    if (x > u) t = (x - u) * (x - u);
    else if (x < l) t = (l - x) * (l - x);
    sum += t;
    if (terms !== null) terms[i] = t;
    else if (sum > threshold) return Number.POSITIVE_INFINITY;
  }
  return sum;
}

/**
 * One block of the van Herk/Gil–Werman envelope: for the block of the padded series starting at `b`
 * (padded index t holds series[t − r], and −∞/+∞ outside the series), the running max/min from the
 * block's start (`work` slots [0, len) and [2len, 3len)) and from its end ([len, 2len), [3len, 4len)),
 * with len = n + 2r.
 */
function envelopeBlock(series: DtwSeries, r: number, b: number, work: Float64Array): void {
  const n = series.length;
  const len = n + 2 * r;
  const end = Math.min(b + 2 * r + 1, len);
  // Only the padded positions that hold series values change the extrema.
  const first = Math.max(b, r);
  const last = Math.min(end, n + r);
  let hi = Number.NEGATIVE_INFINITY;
  let lo = Number.POSITIVE_INFINITY;
  for (let t = b; t < end; t++) {
    if (t >= first && t < last) {
      const x = series[t - r] as number;
      hi = x > hi ? x : hi;
      lo = x < lo ? x : lo;
    }
    work[t] = hi;
    work[2 * len + t] = lo;
  }
  hi = Number.NEGATIVE_INFINITY;
  lo = Number.POSITIVE_INFINITY;
  for (let t = end - 1; t >= b; t--) {
    if (t >= first && t < last) {
      const x = series[t - r] as number;
      hi = x > hi ? x : hi;
      lo = x < lo ? x : lo;
    }
    work[len + t] = hi;
    work[3 * len + t] = lo;
  }
}

/**
 * The LB_Keogh envelope of `series` with half-width r into `upper`/`lower` by the van Herk/Gil–Werman
 * block algorithm: the series is padded with r values of −∞ (+∞ for the minimum) on both sides and cut
 * into blocks of w = 2r + 1; every window of w straddles at most two blocks, so its maximum is the
 * larger of a within-block suffix maximum and a within-block prefix maximum ({@link envelopeBlock}).
 * O(n) whatever the band; `work` needs 4(n + 2r) slots. Max and min are exact, so the result is the
 * same as any other envelope algorithm's.
 */
function envelopeCore(
  series: DtwSeries,
  r: number,
  upper: Float64Array,
  lower: Float64Array,
  work: Float64Array,
): void {
  const n = series.length;
  const w = 2 * r + 1;
  const len = n + 2 * r;
  for (let b = 0; b < len; b += w) envelopeBlock(series, r, b, work);
  // Output i is the window [i, i + 2r] of the padded series, i.e. series[i − r … i + r].
  for (let i = 0; i < n; i++) {
    const a = work[len + i] as number;
    const b = work[i + w - 1] as number;
    upper[i] = a > b ? a : b;
    const c = work[3 * len + i] as number;
    const d = work[2 * len + i + w - 1] as number;
    lower[i] = c < d ? c : d;
  }
}

/**
 * The reversed LB_Keogh cost — `query` against the envelope of `cand` — with the envelope built block
 * by block as the sum goes, so that abandoning (Infinity once the sum exceeds `threshold`, checked
 * after each block) also saves the rest of the envelope. Same envelope as {@link envelopeCore}.
 */
function reversedLbCost(
  query: DtwSeries,
  cand: DtwSeries,
  r: number,
  threshold: number,
  work: Float64Array,
): number {
  const n = cand.length;
  const w = 2 * r + 1;
  const len = n + 2 * r;
  let sum = 0;
  envelopeBlock(cand, r, 0, work);
  for (let b = 0; b < n; b += w) {
    // Outputs b … b + w − 1 read this block's suffix extrema and the next block's prefix extrema.
    if (b + w < len) envelopeBlock(cand, r, b + w, work);
    const stop = Math.min(b + w, n);
    for (let i = b; i < stop; i++) {
      const a = work[len + i] as number;
      const p = work[i + w - 1] as number;
      const u = a > p ? a : p;
      const c = work[3 * len + i] as number;
      const q = work[2 * len + i + w - 1] as number;
      const l = c < q ? c : q;
      const x = query[i] as number;
      const e1 = x - u;
      const e2 = l - x;
      // u ≥ l, so at most one of e1, e2 is positive: the excess is exactly relu(e1) + relu(e2).
      const e = (e1 + Math.abs(e1) + (e2 + Math.abs(e2))) * 0.5;
      sum += e * e;
    }
    if (sum > threshold) return Number.POSITIVE_INFINITY;
  }
  return sum;
}

/**
 * LB_Keogh cost of the candidates `from..to` against one envelope into `bounds`, branch-free,
 * abandoning a candidate (bound Infinity) once its
 * sum exceeds `threshold`. Returns whether every value of those candidates was finite: x·0 is 0 for a
 * finite x and NaN otherwise, so the finiteness check of the search rides along with the bound (an
 * abandoned candidate's remaining values are still checked).
 */
function lbKeoghRange(
  candidates: ReadonlyArray<DtwSeries>,
  from: number,
  to: number,
  upper: Float64Array,
  lower: Float64Array,
  threshold: number,
  bounds: Float64Array,
): boolean {
  const n = upper.length;
  let poison = 0;
  for (let c = from; c < to; c++) {
    const cand = candidates[c] as DtwSeries;
    let sum = 0;
    let i = 0;
    for (; i < n; i++) {
      const x = cand[i] as number;
      const e1 = x - (upper[i] as number);
      const e2 = (lower[i] as number) - x;
      // upper ≥ lower, so at most one of e1, e2 is positive: the excess over the envelope is exactly
      // relu(e1) + relu(e2), and a + |a| = 2·relu(a) needs no branch.
      const e = (e1 + Math.abs(e1) + (e2 + Math.abs(e2))) * 0.5;
      sum += e * e;
      poison += x * 0;
      if (sum > threshold) break;
    }
    if (i < n) {
      sum = Number.POSITIVE_INFINITY;
      for (i++; i < n; i++) poison += (cand[i] as number) * 0;
    }
    bounds[c] = sum;
  }
  return poison === 0;
}

/** The adjacent double above (`step` = 1) or below (`step` = −1) a non-negative finite x. */
const bitsView = new DataView(new ArrayBuffer(8));
function nextAfter(x: number, step: 1n | -1n): number {
  bitsView.setFloat64(0, x);
  bitsView.setBigUint64(0, bitsView.getBigUint64(0) + step);
  return bitsView.getFloat64(0);
}

/**
 * The largest accumulated cost whose distance sqrt(cost) is still ≤ `distance` (Infinity for Infinity).
 * Any cost above it has a distance strictly above `distance`, so abandoning on "cost > this" is exact in
 * distance units: `distance²` alone is not, since sqrt(d)² can land an ulp either side of the cost that
 * produced d. In the top-k search this also means a candidate tying the k-th best on distance (and maybe
 * winning the tie on index) is never dropped, whatever order candidates are visited in.
 */
function costThreshold(distance: number): number {
  if (distance === Number.POSITIVE_INFINITY) return distance;
  let c = distance * distance;
  while (c > 0 && Math.sqrt(c) > distance) c = nextAfter(c, -1n);
  for (;;) {
    const next = nextAfter(c, 1n);
    if (Math.sqrt(next) > distance) return c;
    c = next;
  }
}

/**
 * Relative slack on comparisons that involve LB_Keogh: the bound is ≤ DTW in exact arithmetic, but it is
 * summed in a different order, so it may exceed a tying DTW cost by a few ulps. n·ε is ~1e-13 for the
 * lengths in use; 1e-9 keeps exactness with a wide margin at no measurable loss of pruning.
 */
const LB_SLACK = 1 + 1e-9;

/**
 * Candidates searched before the rest of the pool's bounds are computed with early abandoning; a few
 * hundred already give a k-th best close enough to abandon most bounds after part of the series.
 */
const SEED_CANDIDATES = 256;

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Exact DTW distance between two equal-length series under a Sakoe–Chiba band (|i − j| ≤ band), with a
 * squared-difference local cost; returns the **square root** of the minimal accumulated cost (so band 0
 * is the Euclidean distance). O(n·band) time, O(band) memory (two rolling rows).
 *
 * Early abandoning: as soon as every cell of a row exceeds `bestSoFar²` (precisely: the largest cost whose
 * sqrt is ≤ bestSoFar), the final distance can only be larger, so the function returns `Infinity`. An
 * `Infinity` result is therefore a lower bound meaning "≥ bestSoFar (in fact > it), not better", not the
 * actual distance; a result that is not abandoned is exact. With the default `bestSoFar = Infinity` it
 * never abandons.
 *
 * @throws RunlakeError on unequal lengths, empty or non-finite series, or a band that is not a
 *   non-negative integer.
 * @example
 * ```ts
 * const a = Float64Array.from([0, 1, 2, 1, 0]);
 * const b = Float64Array.from([0, 0, 1, 2, 1]);
 * dtwDistance(a, b, 1); // 0: a one-step shift is fully absorbed by the band
 * dtwDistance(a, b, 0); // the Euclidean distance, 2
 * dtwDistance(a, b, 0, 1); // Infinity: abandoned, ≥ 1
 * ```
 */
export function dtwDistance(
  a: DtwSeries,
  b: DtwSeries,
  band: number,
  bestSoFar = Number.POSITIVE_INFINITY,
): number {
  checkSeries(a, 'first series');
  checkSeries(b, 'second series');
  checkSameLength(a, b, 'first vs second');
  checkBand(band);
  checkBestSoFar(bestSoFar);
  const r = effectiveBand(a.length, band);
  const rowA = new Float64Array(2 * r + 2);
  const rowB = new Float64Array(2 * r + 2);
  const cost = dtwCostCore(a, b, r, costThreshold(bestSoFar), null, rowA, rowB);
  return Math.sqrt(cost);
}

/**
 * The LB_Keogh envelope of a series: `upper[i]` / `lower[i]` are the max / min of
 * `series[i − band … i + band]` (clipped to the series). Computed with the van Herk/Gil–Werman block
 * algorithm (within-block prefix and suffix extrema) in O(n) regardless of the band.
 *
 * @throws RunlakeError on an empty or non-finite series or a bad band.
 * @example
 * ```ts
 * const env = keoghEnvelope(Float64Array.from([0, 3, 1, 2]), 1);
 * env.upper; // Float64Array [3, 3, 3, 2]
 * env.lower; // Float64Array [0, 0, 1, 1]
 * ```
 */
export function keoghEnvelope(series: DtwSeries, band: number): KeoghEnvelope {
  checkSeries(series, 'series');
  checkBand(band);
  const n = series.length;
  const r = effectiveBand(n, band);
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  envelopeCore(series, r, upper, lower, new Float64Array(4 * (n + 2 * r)));
  return { upper, lower };
}

/**
 * LB_Keogh lower bound of DTW(query, candidate), given the query's {@link keoghEnvelope} built with the
 * same band: sqrt of Σ (candidate[i] − nearest envelope edge)² over the points outside the envelope. Same
 * units as {@link dtwDistance}, and `lbKeogh(c, keoghEnvelope(q, band)) ≤ dtwDistance(q, c, band)`.
 *
 * Early abandoning: once the partial sum exceeds `bestSoFar²` it returns `Infinity` ("≥ bestSoFar", not
 * the bound itself).
 *
 * @throws RunlakeError when the candidate and the envelope differ in length or hold non-finite values.
 * @example
 * ```ts
 * const q = Float64Array.from([0, 1, 2, 1, 0]);
 * const env = keoghEnvelope(q, 1);
 * lbKeogh(Float64Array.from([0, 1, 2, 1, 0]), env); // 0
 * lbKeogh(Float64Array.from([5, 5, 5, 5, 5]), env); // > 0, and ≤ dtwDistance(q, that, 1)
 * ```
 */
export function lbKeogh(
  candidate: DtwSeries,
  envelope: KeoghEnvelope,
  bestSoFar = Number.POSITIVE_INFINITY,
): number {
  checkSeries(candidate, 'candidate');
  checkSeries(envelope.upper, 'envelope.upper');
  checkSeries(envelope.lower, 'envelope.lower');
  checkSameLength(candidate, envelope.upper, 'candidate vs envelope.upper');
  checkSameLength(candidate, envelope.lower, 'candidate vs envelope.lower');
  checkBestSoFar(bestSoFar);
  return Math.sqrt(
    lbKeoghCostCore(candidate, envelope.upper, envelope.lower, costThreshold(bestSoFar), null),
  );
}

/**
 * DTW with the optimal warping path, summarised for a final match (the `matches` alignment summary):
 * the distance (bitwise equal to {@link dtwDistance}), the path length, the largest |i − j| on it, and
 * the mean j − i rounded (`queryOffset`: how many steps later `b` shows the features of `a`). Keeps the
 * whole banded cost matrix, O(n·band) memory, so use it on the few final matches, not in the search.
 * Ties in the backtrack prefer the diagonal, then the step that keeps i − j nearer 0.
 *
 * @throws RunlakeError on unequal lengths, empty or non-finite series, or a bad band.
 * @example
 * ```ts
 * const a = Float64Array.from([0, 0, 1, 2, 1, 0, 0, 0]);
 * const b = Float64Array.from([0, 0, 0, 0, 1, 2, 1, 0]); // a delayed by 2
 * dtwPath(a, b, 3); // { distance: 0, queryOffset: 2, maxDeviation: 2, pathLength: … }
 * ```
 */
export function dtwPath(a: DtwSeries, b: DtwSeries, band: number): DtwPathSummary {
  let pathLength = 0;
  let maxDeviation = 0;
  let offsetSum = 0;
  const distance = walkOptimalPath(a, b, band, (i, j) => {
    pathLength++;
    const dev = Math.abs(i - j);
    if (dev > maxDeviation) maxDeviation = dev;
    offsetSum += j - i;
  });
  return {
    distance,
    pathLength,
    maxDeviation,
    // + 0 turns a rounded −0 into 0.
    queryOffset: Math.round(offsetSum / pathLength) + 0,
  };
}

/**
 * `b` warped onto `a`'s indices along their optimal DTW path (Sakoe–Chiba `band`): element i is
 * the mean of the `b` values the path matches to `a[i]`. This is what "aligned" means when a
 * match is drawn over its query: each feature of `b` lands where the path says it belongs in `a`.
 *
 * @example
 * ```ts
 * const a = Float64Array.from([0, 0, 1, 2, 1, 0, 0, 0]);
 * const b = Float64Array.from([0, 0, 0, 0, 1, 2, 1, 0]); // a delayed by 2
 * dtwWarp(a, b, 3); // [0, 0, 1, 2, 1, 0, 0, 0]
 * ```
 */
export function dtwWarp(a: DtwSeries, b: DtwSeries, band: number): Float64Array {
  const sum = new Float64Array(a.length);
  const count = new Float64Array(a.length);
  walkOptimalPath(a, b, band, (i, j) => {
    sum[i] = (sum[i] as number) + (b[j] as number);
    count[i] = (count[i] as number) + 1;
  });
  return sum.map((total, i) => total / (count[i] as number));
}

/**
 * Fills the banded DTW cost matrix of `a` against `b`, then walks the optimal path from the last
 * cell to the first, calling `visit` on every cell; returns the DTW distance.
 */
function walkOptimalPath(
  a: DtwSeries,
  b: DtwSeries,
  band: number,
  visit: (i: number, j: number) => void,
): number {
  checkSeries(a, 'first series');
  checkSeries(b, 'second series');
  checkSameLength(a, b, 'first vs second');
  checkBand(band);
  const n = a.length;
  const r = effectiveBand(n, band);
  const w = 2 * r + 1;
  // D[i * w + (j − i + r)] = accumulated cost of cell (i, j); rows over a, columns over b, and the same
  // arithmetic as dtwCostCore (min is exact and the recurrence is symmetric), so distances match bitwise.
  const D = new Float64Array(n * w).fill(Number.POSITIVE_INFINITY);
  const at = (i: number, j: number): number => {
    if (i < 0 || j < 0) return i === -1 && j === -1 ? 0 : Number.POSITIVE_INFINITY;
    const k = j - i + r;
    return k < 0 || k >= w ? Number.POSITIVE_INFINITY : (D[i * w + k] as number);
  };
  for (let i = 0; i < n; i++) {
    const jLo = Math.max(i - r, 0);
    const jHi = Math.min(i + r, n - 1);
    const ai = a[i] as number;
    for (let j = jLo; j <= jHi; j++) {
      const d = ai - (b[j] as number);
      const diag = at(i - 1, j - 1);
      const up = at(i - 1, j);
      const left = at(i, j - 1);
      let m = Math.min(diag, up);
      if (left < m) m = left;
      D[i * w + (j - i + r)] = d * d + m;
    }
  }
  let i = n - 1;
  let j = n - 1;
  visit(i, j);
  while (i > 0 || j > 0) {
    const diag = at(i - 1, j - 1);
    const up = at(i - 1, j);
    const left = at(i, j - 1);
    if (diag <= up && diag <= left) {
      i--;
      j--;
    } else if (up < left || (up === left && i > j)) {
      i--;
    } else {
      j--;
    }
    visit(i, j);
  }
  return Math.sqrt(at(n - 1, n - 1));
}

/** The cheap part of {@link validatePool}: everything except the finiteness of the candidates. */
function poolLooksValid(
  query: DtwSeries,
  candidates: ReadonlyArray<DtwSeries>,
  k: number,
  band: number,
): boolean {
  checkSeries(query, 'query');
  if (!Array.isArray(candidates)) return false;
  const n = query.length;
  for (let c = 0; c < candidates.length; c++) {
    const cand = candidates[c];
    if (!(cand instanceof Float64Array || cand instanceof Float32Array) || cand.length !== n) return false;
  }
  return Number.isInteger(k) && k >= 1 && Number.isInteger(band) && band >= 0;
}

/** Throws the error {@link validatePool} reports for an input the fast checks rejected. */
function failPool(query: DtwSeries, candidates: ReadonlyArray<DtwSeries>, k: number, band: number): never {
  validatePool(query, candidates, k, band);
  throw new RunlakeError('DTW: invalid candidate pool');
}

function validatePool(query: DtwSeries, candidates: ReadonlyArray<DtwSeries>, k: number, band: number): void {
  checkSeries(query, 'query');
  if (!Array.isArray(candidates)) throw new RunlakeError('DTW: candidates must be an array of series');
  for (let c = 0; c < candidates.length; c++) {
    const cand = candidates[c] as DtwSeries;
    checkSeries(cand, `candidate ${c}`);
    checkSameLength(query, cand, `query vs candidate ${c}`);
  }
  if (!Number.isInteger(k) || k < 1) throw new RunlakeError(`DTW: k must be an integer ≥ 1, got ${k}`);
  checkBand(band);
}

/** Orders hits by distance, then index — the one ranking both searches share. */
function byDistanceThenIndex(x: DtwMatch, y: DtwMatch): number {
  return x.distance - y.distance || x.index - y.index;
}

/**
 * Exact top-k by brute force: the full DTW of the query against every candidate, sorted by distance
 * then index. The reference that {@link dtwTopK} must reproduce exactly, and the benchmark baseline.
 *
 * @throws RunlakeError as {@link dtwTopK}.
 * @example
 * ```ts
 * dtwTopKBruteForce(query, pool, 10, 12); // [{ index, distance }, …] up to 10 hits
 * ```
 */
export function dtwTopKBruteForce(
  query: DtwSeries,
  candidates: ReadonlyArray<DtwSeries>,
  k: number,
  band: number,
): DtwMatch[] {
  validatePool(query, candidates, k, band);
  const r = effectiveBand(query.length, band);
  const rowA = new Float64Array(2 * r + 2);
  const rowB = new Float64Array(2 * r + 2);
  const all: DtwMatch[] = candidates.map((c, index) => ({
    index,
    distance: Math.sqrt(dtwCostCore(query, c, r, Number.POSITIVE_INFINITY, null, rowA, rowB)),
  }));
  return all.sort(byDistanceThenIndex).slice(0, k);
}

/**
 * Exact top-k DTW search with the UCR-suite pruning cascade, returning the hits and how much work the
 * pruning saved (`lbPruned + dtwAbandoned + dtwFull = candidates.length`).
 *
 * 1. LB_Keogh of every candidate against the query's envelope (O(n) each); candidates are then visited
 *    in increasing bound order so the k-th best tightens immediately.
 * 2. A candidate whose bound exceeds the current k-th best is pruned — and, the order being sorted, so
 *    is every one after it.
 * 3. Otherwise (once k hits are known) the reversed LB_Keogh — the query against the candidate's own
 *    envelope, abandoned part-way — may still prune it (counted in `lbPruned`).
 * 4. Otherwise DTW runs with early abandoning against the k-th best, adding the candidate's remaining
 *    LB_Keogh contributions to each row's minimum (the UCR "cumulative bound").
 *
 * Exactness: every abandon/prune test is "lower bound > the largest cost whose sqrt is ≤ the k-th
 * distance" (with a 1e-9 relative slack on LB_Keogh terms), so no candidate that brute force would rank
 * in the top k — including one tying on distance with a smaller index — is ever dropped, and surviving
 * distances come from the same arithmetic, so results are bitwise equal to {@link dtwTopKBruteForce}.
 * Fewer than k candidates → all of them, ranked.
 *
 * @throws RunlakeError on an empty or non-finite series, unequal lengths, k < 1 or non-integer, or a
 *   band that is not a non-negative integer.
 * @example
 * ```ts
 * const { results, stats } = dtwTopKWithStats(query, pool, 10, 12);
 * results[0]; // { index, distance } of the nearest candidate
 * stats; // { lbPruned: 9412, dtwAbandoned: 560, dtwFull: 28 } for instance
 * ```
 */
export function dtwTopKWithStats(
  query: DtwSeries,
  candidates: ReadonlyArray<DtwSeries>,
  k: number,
  band: number,
): DtwTopKResult {
  // The structural checks up front; the finiteness of the pool rides along with the bounds. Any
  // problem falls back to the full validation, which throws exactly what dtwTopKBruteForce throws.
  if (!poolLooksValid(query, candidates, k, band)) failPool(query, candidates, k, band);
  const n = query.length;
  const m = candidates.length;
  const r = effectiveBand(n, band);
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  const work = new Float64Array(4 * (n + 2 * r));
  envelopeCore(query, r, upper, lower, work);
  const stats: DtwTopKStats = { lbPruned: 0, dtwAbandoned: 0, dtwFull: 0 };

  const bounds = new Float64Array(m);
  // A binary min-heap on (bound, index) instead of a full sort: the search stops after popping the few
  // hundred candidates that survive, so heapify O(m) + a few pops beats an O(m log m) sort.
  const heap = new Int32Array(m);
  const less = (x: number, y: number): boolean => {
    const bx = bounds[x] as number;
    const by = bounds[y] as number;
    return bx < by || (bx === by && x < y);
  };
  let heapSize = 0;
  const siftDown = (start: number): void => {
    let p = start;
    const item = heap[p] as number;
    for (;;) {
      let child = 2 * p + 1;
      if (child >= heapSize) break;
      if (child + 1 < heapSize && less(heap[child + 1] as number, heap[child] as number)) child++;
      if (!less(heap[child] as number, item)) break;
      heap[p] = heap[child] as number;
      p = child;
    }
    heap[p] = item;
  };

  const rowA = new Float64Array(2 * r + 2);
  const rowB = new Float64Array(2 * r + 2);
  const terms = new Float64Array(n);
  const suffix = new Float64Array(n + 1);
  // Current best hits, kept sorted (k is small; insertion is O(k)).
  const best: DtwMatch[] = [];
  let ceiling = Number.POSITIVE_INFINITY; // costs above this cannot enter the top k

  // Two rounds: a seed of the pool is searched first so that the k-th best is known, then the bounds
  // of the rest are computed with early abandoning against it (most stop after a fraction of the
  // series) and only the survivors join the heap. The ceiling only ever decreases, so a candidate
  // abandoned against an earlier ceiling would also be pruned by every later one. (More, smaller
  // rounds abandon more bounds but visit candidates less well ordered, and run more DTWs.)
  const seed = Math.min(m, Math.max(SEED_CANDIDATES, 4 * k));
  for (const [from, to] of [
    [0, seed],
    [seed, m],
  ] as const) {
    if (from >= to) continue;
    const threshold = ceiling * LB_SLACK;
    if (!lbKeoghRange(candidates, from, to, upper, lower, threshold, bounds)) {
      failPool(query, candidates, k, band);
    }
    heapSize = 0;
    for (let c = from; c < to; c++) {
      if ((bounds[c] as number) > threshold) stats.lbPruned++;
      else heap[heapSize++] = c;
    }
    for (let p = (heapSize >> 1) - 1; p >= 0; p--) siftDown(p);
    searchHeap();
  }
  return { results: best, stats };

  function searchHeap(): void {
    while (heapSize > 0) {
      const c = heap[0] as number;
      if ((bounds[c] as number) > ceiling * LB_SLACK) {
        stats.lbPruned += heapSize;
        heapSize = 0;
        break;
      }
      heapSize--;
      heap[0] = heap[heapSize] as number;
      siftDown(0);
      const cand = candidates[c] as DtwSeries;
      if (ceiling !== Number.POSITIVE_INFINITY) {
        // The reversed bound: the query against the candidate's envelope (DTW is symmetric, so it is
        // as valid as the forward one and often tighter), abandoned as soon as it exceeds the ceiling.
        if (reversedLbCost(query, cand, r, ceiling * LB_SLACK, work) > ceiling * LB_SLACK) {
          stats.lbPruned++;
          continue;
        }
      }
      lbKeoghCostCore(cand, upper, lower, Number.POSITIVE_INFINITY, terms);
      // suffix[i] = Σ_{t ≥ i} terms[t]: what rows i… must still add. Shrunk by the slack so that
      // rounding in the bound can never abandon a tie.
      suffix[n] = 0;
      for (let t = n - 1; t >= 0; t--) suffix[t] = (suffix[t + 1] as number) + (terms[t] as number);
      if (ceiling !== Number.POSITIVE_INFINITY) {
        for (let t = 0; t <= n; t++) suffix[t] = (suffix[t] as number) / LB_SLACK;
      }
      const cost = dtwCostCore(query, cand, r, ceiling, suffix, rowA, rowB);
      if (cost === Number.POSITIVE_INFINITY) {
        stats.dtwAbandoned++;
        continue;
      }
      stats.dtwFull++;
      const hit: DtwMatch = { index: c, distance: Math.sqrt(cost) };
      if (best.length === k) {
        if (byDistanceThenIndex(hit, best[k - 1] as DtwMatch) >= 0) continue;
        best.pop();
      }
      let pos = best.length;
      while (pos > 0 && byDistanceThenIndex(hit, best[pos - 1] as DtwMatch) < 0) pos--;
      best.splice(pos, 0, hit);
      if (best.length === k) {
        const kth = best[k - 1] as DtwMatch;
        ceiling = costThreshold(kth.distance);
      }
    }
  }
}

/**
 * Exact top-k nearest candidates to `query` under banded DTW (smallest distances first, ties by index),
 * identical to {@link dtwTopKBruteForce} but pruned with LB_Keogh and early abandoning; see
 * {@link dtwTopKWithStats} for the algorithm and the pruning statistics.
 *
 * @throws RunlakeError as {@link dtwTopKWithStats}.
 * @example
 * ```ts
 * const hits = dtwTopK(query, pool, 10, 12);
 * hits.map((h) => h.index); // the 10 nearest candidates, nearest first
 * ```
 */
export function dtwTopK(
  query: DtwSeries,
  candidates: ReadonlyArray<DtwSeries>,
  k: number,
  band: number,
): DtwMatch[] {
  return dtwTopKWithStats(query, candidates, k, band).results;
}
