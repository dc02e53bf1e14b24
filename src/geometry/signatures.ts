/**
 * Squiggle signatures: the compressed, matchable form of one descriptor trajectory (per run, layer,
 * module and descriptor set), plus the small distances used to compare them.
 *
 * A trajectory is a list of (step, value) checkpoints of arbitrary length and step range. To compare
 * trajectories across runs of different lengths, it is
 * 1. resampled by linear interpolation onto a common grid of `points` positions (fraction of training,
 *    or log-step, both rescaled to [0, 1]; see {@link resampleTrajectory}),
 * 2. z-normalised (shape only: level and scale removed; see {@link zNormalize}) — the `z<points>` series,
 *    used by DTW,
 * 3. reduced by piecewise aggregate approximation (Keogh et al. 2001; see {@link paa}) — the
 *    `paa<segments>-z` vector, used by cosine distance,
 * and its events become a token sequence ({@link eventTokens}), compared by Levenshtein distance
 * ({@link editDistance}).
 *
 * Pure functions only: no lake I/O.
 */
import { RunlakeError } from '../lake/index.js';

/**
 * The common grid a trajectory is resampled onto: `fraction` = (step − step_min)/(step_max − step_min);
 * `log_step` = (ln(1 + step) − ln(1 + step_min))/(ln(1 + step_max) − ln(1 + step_min)).
 */
export type SignatureGrid = 'fraction' | 'log_step';

/** How {@link buildSignature} compresses a trajectory. */
export interface SignatureOptions {
  /** The common grid (default `'fraction'`). */
  grid?: SignatureGrid;
  /** Length of the resampled, z-normalised series (default 128). */
  points?: number;
  /** Length of the PAA vector (default 32). */
  paaSegments?: number;
}

/** One trajectory's signature: the two vectors written as `signatures` rows, and the event tokens. */
export interface TrajectorySignature {
  /** The trajectory resampled onto the grid and z-normalised (length `points`; method `seriesMethod`). */
  series: Float64Array;
  /** PAA of `series` (length `paaSegments`; method `paaMethod`). */
  paa: Float64Array;
  /** Event types in step order (ties by type name). */
  eventTokens: string[];
  grid: SignatureGrid;
  points: number;
  paaSegments: number;
  /** First step with a usable value. */
  stepMin: number;
  /** Last step with a usable value. */
  stepMax: number;
  /** Usable checkpoints before resampling (nulls and NaN dropped). */
  nPoints: number;
  /** `z<points>`, e.g. `z128`. */
  seriesMethod: string;
  /** `paa<segments>-z`, e.g. `paa32-z`. */
  paaMethod: string;
}

/** An event on a trajectory, as far as signatures care: its type and step. */
export interface SignatureEvent {
  eventType: string;
  step: number;
}

/** Defaults of {@link SignatureOptions}. */
export const DEFAULT_SIGNATURE_OPTIONS: Readonly<Required<SignatureOptions>> = Object.freeze({
  grid: 'fraction',
  points: 128,
  paaSegments: 32,
});

const GRIDS: readonly SignatureGrid[] = ['fraction', 'log_step'];

// ---------------------------------------------------------------------------------------------
// Validation

function checkGrid(grid: unknown, fn: string): asserts grid is SignatureGrid {
  if (!GRIDS.includes(grid as SignatureGrid)) {
    throw new RunlakeError(`${fn}: grid must be 'fraction' or 'log_step', got ${JSON.stringify(grid)}`);
  }
}

function checkCount(value: unknown, what: string, min: number, fn: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RunlakeError(`${fn}: ${what} must be an integer ≥ ${min}, got ${String(value)}`);
  }
}

function checkFiniteSeries(series: ArrayLike<number>, what: string, fn: string): void {
  if (series === null || typeof series !== 'object' || typeof series.length !== 'number') {
    throw new RunlakeError(`${fn}: ${what} must be an array of numbers`);
  }
  if (series.length === 0) throw new RunlakeError(`${fn}: ${what} is empty`);
  for (let i = 0; i < series.length; i++) {
    const v = series[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new RunlakeError(`${fn}: ${what} has a non-finite value (${String(v)}) at index ${i}`);
    }
  }
}

/** Code-unit order: locale-independent, so rankings and token orders are the same on every machine. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Resampling

interface Resampled {
  series: Float64Array;
  stepMin: number;
  stepMax: number;
  nPoints: number;
}

/**
 * Validates steps (finite, strictly increasing, ≥ 0 on the log grid), drops null/NaN values, and
 * returns the usable (step, value) pairs. Steps are checked before dropping: an unsorted or duplicated
 * step is a data error even when its value happens to be null.
 */
function usablePoints(
  steps: ArrayLike<number>,
  values: ArrayLike<number | null>,
  grid: SignatureGrid,
  fn: string,
): { s: number[]; v: number[] } {
  if (steps === null || typeof steps !== 'object' || typeof steps.length !== 'number') {
    throw new RunlakeError(`${fn}: steps must be an array of numbers`);
  }
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new RunlakeError(`${fn}: values must be an array of numbers or nulls`);
  }
  if (steps.length !== values.length) {
    throw new RunlakeError(`${fn}: steps and values differ in length (${steps.length} vs ${values.length})`);
  }
  const s: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (typeof step !== 'number' || !Number.isFinite(step)) {
      throw new RunlakeError(`${fn}: steps has a non-finite value (${String(step)}) at index ${i}`);
    }
    if (grid === 'log_step' && step < 0) {
      throw new RunlakeError(`${fn}: steps must be ≥ 0 on the log_step grid, got ${step} at index ${i}`);
    }
    if (i > 0) {
      const prev = steps[i - 1] as number;
      if (step === prev) {
        throw new RunlakeError(`${fn}: steps has a duplicate step ${step} at indices ${i - 1} and ${i}`);
      }
      if (step < prev) {
        throw new RunlakeError(
          `${fn}: steps must be strictly increasing (unsorted: step ${step} at index ${i} follows ${prev})`,
        );
      }
    }
    const value = values[i];
    if (value === null || value === undefined || Number.isNaN(value)) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new RunlakeError(`${fn}: values has a non-finite value (${String(value)}) at index ${i}`);
    }
    s.push(step);
    v.push(value);
  }
  return { s, v };
}

/** Positions of the usable steps on the grid, in [0, 1] with exact endpoints. */
function gridPositions(s: readonly number[], grid: SignatureGrid): Float64Array {
  const n = s.length;
  const u = new Float64Array(n);
  const map = grid === 'fraction' ? (x: number) => x : (x: number) => Math.log1p(x);
  const lo = map(s[0] as number);
  const span = map(s[n - 1] as number) - lo;
  for (let i = 0; i < n; i++) u[i] = (map(s[i] as number) - lo) / span;
  // Pin the endpoints so the first and last values are reproduced bitwise.
  u[0] = 0;
  u[n - 1] = 1;
  return u;
}

function resampleCore(
  steps: ArrayLike<number>,
  values: ArrayLike<number | null>,
  grid: SignatureGrid,
  points: number,
  fn: string,
): Resampled | null {
  checkGrid(grid, fn);
  checkCount(points, 'points', 2, fn);
  const { s, v } = usablePoints(steps, values, grid, fn);
  const n = s.length;
  if (n < 2) return null;
  const u = gridPositions(s, grid);
  const out = new Float64Array(points);
  let seg = 0; // current segment [u[seg], u[seg + 1]]
  for (let k = 0; k < points; k++) {
    const target = k / (points - 1);
    while (seg < n - 2 && (u[seg + 1] as number) < target) seg++;
    const u0 = u[seg] as number;
    const u1 = u[seg + 1] as number;
    const v0 = v[seg] as number;
    const v1 = v[seg + 1] as number;
    // Distinct steps give distinct positions except when log1p rounds two huge steps together;
    // then the segment is a point and its left value stands.
    const t = u1 > u0 ? (target - u0) / (u1 - u0) : 0;
    out[k] = t <= 0 ? v0 : t >= 1 ? v1 : v0 + (v1 - v0) * t;
  }
  return { series: out, stepMin: s[0] as number, stepMax: s[n - 1] as number, nPoints: n };
}

/**
 * Resamples a trajectory (steps, values) onto `points` evenly spaced positions of a common grid by
 * linear interpolation. Null and NaN values are dropped first (their steps still have to be in order).
 *
 * Grids (both map the usable span [step_min, step_max] onto [0, 1]; position k is k/(points − 1)):
 * - `fraction`: x = (step − step_min)/(step_max − step_min) — fraction of the run; interpolation is
 *   linear in step, so a trajectory linear in step is reproduced exactly (up to rounding).
 * - `log_step`: x = (ln(1 + step) − ln(1 + step_min))/(ln(1 + step_max) − ln(1 + step_min)) — early
 *   training gets more grid points; interpolation is linear in ln(1 + step).
 *
 * @throws RunlakeError when the lengths differ, steps are non-finite, unsorted or duplicated (or negative
 *   on the log grid), a value is ±Infinity, `points` is not an integer ≥ 2, the grid is unknown, or
 *   fewer than 2 usable points remain.
 * @example
 * ```ts
 * resampleTrajectory([0, 10, 20], [1, null, 3], 'fraction', 5); // Float64Array [1, 1.5, 2, 2.5, 3]
 * ```
 */
export function resampleTrajectory(
  steps: ArrayLike<number>,
  values: ArrayLike<number | null>,
  grid: SignatureGrid,
  points: number,
): Float64Array {
  const fn = 'resampleTrajectory';
  const r = resampleCore(steps, values, grid, points, fn);
  if (r === null) {
    throw new RunlakeError(`${fn}: values has fewer than 2 usable (non-null, non-NaN) points`);
  }
  return r.series;
}

/**
 * Z-normalises a series: (x − mean)/sd with the population standard deviation (divide by n), so the
 * result has mean 0 and (population) variance 1. DTW and cosine then compare shapes, not levels or
 * scales.
 *
 * A constant series — precisely, one whose sd is ≤ 1e-12 × max|x|, which is rounding noise from the mean,
 * not signal — becomes all zeros rather than amplified noise (or NaN from 0/0).
 *
 * @throws RunlakeError on an empty series or a non-finite value.
 * @example
 * ```ts
 * zNormalize([1, 2, 3]); // Float64Array [-1.2247…, 0, 1.2247…]
 * zNormalize([5, 5, 5]); // Float64Array [0, 0, 0]
 * ```
 */
export function zNormalize(series: ArrayLike<number>): Float64Array {
  checkFiniteSeries(series, 'series', 'zNormalize');
  const n = series.length;
  let mean = 0;
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const x = series[i] as number;
    mean += x;
    if (Math.abs(x) > maxAbs) maxAbs = Math.abs(x);
  }
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = (series[i] as number) - mean;
    ss += d * d;
  }
  const sd = Math.sqrt(ss / n);
  const out = new Float64Array(n);
  if (!(sd > 1e-12 * maxAbs)) return out;
  for (let i = 0; i < n; i++) out[i] = ((series[i] as number) - mean) / sd;
  return out;
}

/**
 * Piecewise aggregate approximation (Keogh, Chakrabarti, Pazzani & Mehrotra 2001): the mean of the
 * series over each of `segments` equal-width windows.
 *
 * When the length n is not a multiple of `segments`, a point straddling two windows contributes to both
 * with fractional weights: point i covers [i, i + 1), window j covers [j·n/M, (j + 1)·n/M), and
 * PAA_j = (M/n)·Σ_i x_i·overlap(i, j). The weights of each point add up to 1, so the mean of the PAA
 * equals the mean of the series (and PAA of a z-normalised series has mean 0). With n divisible by M it
 * is the plain block mean. `segments` may exceed n (windows narrower than a point).
 *
 * @throws RunlakeError on an empty or non-finite series, or `segments` not an integer ≥ 1.
 * @example
 * ```ts
 * paa([1, 2, 3, 4], 2); // Float64Array [1.5, 3.5]
 * paa([1, 2, 3], 2); // Float64Array [1.3333…, 2.6666…]: the middle point is split half and half
 * ```
 */
export function paa(series: ArrayLike<number>, segments: number): Float64Array {
  checkFiniteSeries(series, 'series', 'paa');
  checkCount(segments, 'segments', 1, 'paa');
  const n = series.length;
  const m = segments;
  const out = new Float64Array(m);
  // Integer units: point i covers [i·m, (i+1)·m), window j covers [j·n, (j+1)·n); overlaps are exact
  // integers and PAA_j = Σ x_i·overlap / n.
  let i = 0;
  for (let j = 0; j < m; j++) {
    const wLo = j * n;
    const wHi = wLo + n;
    let sum = 0;
    // Start at the point containing wLo.
    i = Math.floor(wLo / m);
    for (; i < n; i++) {
      const pLo = i * m;
      if (pLo >= wHi) break;
      const overlap = Math.min(pLo + m, wHi) - Math.max(pLo, wLo);
      if (overlap > 0) sum += (series[i] as number) * overlap;
    }
    out[j] = sum / n;
  }
  return out;
}

/**
 * The event-token sequence of a trajectory: event types in step order; events at the same step are
 * ordered by type name (code-unit order) so the sequence is deterministic whatever order the events
 * were read in.
 *
 * @throws RunlakeError when an event has an empty or non-string type or a non-finite step.
 * @example
 * ```ts
 * eventTokens([{ eventType: 'reexpansion', step: 900 }, { eventType: 'rank_collapse', step: 300 }]);
 * // ['rank_collapse', 'reexpansion']
 * ```
 */
export function eventTokens(events: ReadonlyArray<SignatureEvent>): string[] {
  if (!Array.isArray(events)) throw new RunlakeError('eventTokens: events must be an array');
  events.forEach((e, i) => {
    if (typeof e?.eventType !== 'string' || e.eventType === '') {
      throw new RunlakeError(`eventTokens: events[${i}].eventType must be a non-empty string`);
    }
    if (typeof e.step !== 'number' || !Number.isFinite(e.step)) {
      throw new RunlakeError(`eventTokens: events[${i}].step must be a finite number, got ${String(e.step)}`);
    }
  });
  return [...events]
    .sort((a, b) => a.step - b.step || compareCodeUnits(a.eventType, b.eventType))
    .map((e) => e.eventType);
}

/**
 * Builds a trajectory's signature: resampled onto the grid ({@link resampleTrajectory}), z-normalised
 * ({@link zNormalize}) into the `z<points>` series, reduced to the `paa<segments>-z` vector ({@link paa}),
 * with the {@link eventTokens} of `events` (all given events are used; filter them beforehand if only
 * those inside the trajectory's span should count). Returns `null` when fewer than 2 usable (non-null,
 * non-NaN) points remain, since such a trajectory has no shape to match.
 *
 * @throws RunlakeError on bad steps/values/events (see {@link resampleTrajectory}) or bad options
 *   (`points` an integer ≥ 2, `paaSegments` an integer in 1…points).
 * @example
 * ```ts
 * const sig = buildSignature([0, 500, 1000], [40, 12, 30], [{ eventType: 'rank_collapse', step: 500 }]);
 * sig?.seriesMethod; // 'z128'
 * sig?.paaMethod; // 'paa32-z'
 * sig?.eventTokens; // ['rank_collapse']
 * ```
 */
export function buildSignature(
  steps: ArrayLike<number>,
  values: ArrayLike<number | null>,
  events: ReadonlyArray<SignatureEvent>,
  options: SignatureOptions = {},
): TrajectorySignature | null {
  const fn = 'buildSignature';
  const grid = options.grid ?? DEFAULT_SIGNATURE_OPTIONS.grid;
  const points = options.points ?? DEFAULT_SIGNATURE_OPTIONS.points;
  const paaSegments = options.paaSegments ?? DEFAULT_SIGNATURE_OPTIONS.paaSegments;
  checkGrid(grid, fn);
  checkCount(points, 'points', 2, fn);
  checkCount(paaSegments, 'paaSegments', 1, fn);
  if (paaSegments > points) {
    throw new RunlakeError(`${fn}: paaSegments (${paaSegments}) must not exceed points (${points})`);
  }
  const tokens = eventTokens(events);
  const r = resampleCore(steps, values, grid, points, fn);
  if (r === null) return null;
  const series = zNormalize(r.series);
  return {
    series,
    paa: paa(series, paaSegments),
    eventTokens: tokens,
    grid,
    points,
    paaSegments,
    stepMin: r.stepMin,
    stepMax: r.stepMax,
    nPoints: r.nPoints,
    seriesMethod: `z${points}`,
    paaMethod: `paa${paaSegments}-z`,
  };
}

/**
 * Levenshtein distance (Levenshtein 1966) between two token sequences: the fewest insertions, deletions
 * and substitutions (each costing 1) turning `a` into `b`. O(|a|·|b|) time, O(|b|) memory.
 *
 * @throws RunlakeError when either argument is not an array.
 * @example
 * ```ts
 * editDistance(['rank_collapse', 'reexpansion'], ['rank_collapse']); // 1
 * editDistance([], ['phase_shift', 'phase_shift']); // 2
 * ```
 */
export function editDistance(a: readonly string[], b: readonly string[]): number {
  if (!Array.isArray(a)) throw new RunlakeError('editDistance: a must be an array of tokens');
  if (!Array.isArray(b)) throw new RunlakeError('editDistance: b must be an array of tokens');
  const m = b.length;
  let prev = new Int32Array(m + 1);
  let cur = new Int32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    const ai = a[i - 1];
    for (let j = 1; j <= m; j++) {
      const sub = (prev[j - 1] as number) + (ai === b[j - 1] ? 0 : 1);
      const del = (prev[j] as number) + 1;
      const ins = (cur[j - 1] as number) + 1;
      cur[j] = Math.min(sub, del, ins);
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  return prev[m] as number;
}

/**
 * Cosine distance 1 − a·b/(‖a‖‖b‖), in [0, 2] (clamped there against rounding). When either vector is
 * all zeros (e.g. the PAA of a constant trajectory) the angle is undefined; the distance is then 1, the
 * value of orthogonal vectors — "no evidence either way" — rather than NaN.
 *
 * @throws RunlakeError when the lengths differ or a value is non-finite or the vectors are empty.
 * @example
 * ```ts
 * cosineDistance([1, 0], [0, 1]); // 1
 * cosineDistance([1, 2], [2, 4]); // 0
 * cosineDistance([0, 0], [1, 1]); // 1 (zero vector)
 * ```
 */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkFiniteSeries(a, 'a', 'cosineDistance');
  checkFiniteSeries(b, 'b', 'cosineDistance');
  if (a.length !== b.length) {
    throw new RunlakeError(`cosineDistance: a and b differ in length (${a.length} vs ${b.length})`);
  }
  return cosineDistanceCore(a, b);
}

/** {@link cosineDistance} without validation, for callers that validated once. */
function cosineDistanceCore(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 || nb === 0) return 1;
  const d = 1 - dot / (Math.sqrt(na) * Math.sqrt(nb));
  return Math.min(2, Math.max(0, d));
}
