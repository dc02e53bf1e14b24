/** One run's points in step order. */
export interface StepSeries {
  readonly step: ArrayLike<number>;
  readonly value: ArrayLike<number>;
}

/**
 * TensorBoard's debiased exponential moving average: `last = a·last + (1−a)·v`, divided by
 * `1 − aⁿ` so the first points are not pulled towards zero. Non-finite values pass through
 * without moving the average, as TensorBoard does. `a = 0` returns the values unchanged.
 *
 * @example
 * ```ts
 * emaSmooth([1, 3, 3], 0.5); // [1, 2.333…, 2.714…]
 * ```
 */
export function emaSmooth(values: ArrayLike<number>, weight: number): Float64Array {
  if (!(weight >= 0 && weight < 1)) throw new RangeError(`smoothing must be in [0, 1), got ${weight}`);
  const out = new Float64Array(values.length);
  let last = 0;
  let debias = 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    debias *= weight;
    out[i] = weight === 0 ? v : last / (1 - debias);
  }
  return out;
}

/** How {@link smoothSeries} smooths: TensorBoard's EMA, a centred Gaussian, or a trailing running average. */
export type SmoothingKind = 'ema' | 'gaussian' | 'running_average';

/** The smoothing kinds a request may name. */
export const SMOOTHING_KINDS: readonly SmoothingKind[] = ['ema', 'gaussian', 'running_average'];

/**
 * The window of the non-EMA kinds for a strength `a` in `[0, 1)`, chosen so a slider means about
 * the same amount of smoothing whichever kind is picked: an EMA of weight `a` averages over about
 * `(1 + a) / (1 − a)` points, so the running average spans `round((1 + a) / (1 − a))` points (the
 * point and the ones before it) and the Gaussian's standard deviation is `a / (1 − a)` points (its
 * kernel cut at 3σ). `a = 0` leaves a series unchanged for every kind.
 *
 * @example
 * ```ts
 * smoothingWindow(0.6); // { points: 4, sigma: 1.5 }
 * smoothingWindow(0.9); // { points: 19, sigma: 9 }
 * ```
 */
export function smoothingWindow(strength: number): { points: number; sigma: number } {
  if (!(strength >= 0 && strength < 1)) throw new RangeError(`smoothing must be in [0, 1), got ${strength}`);
  return {
    points: Math.max(1, Math.round((1 + strength) / (1 - strength))),
    sigma: strength / (1 - strength),
  };
}

/**
 * Smooths a series (values in logging order) with the given kind and strength in `[0, 1)`; see
 * {@link emaSmooth} and {@link smoothingWindow}. Non-finite values pass through and take no part
 * in their neighbours' averages, for every kind.
 *
 * @example
 * ```ts
 * smoothSeries([1, 2, 3, 4], 0.6, 'running_average'); // window 4: [1, 1.5, 2, 2.5]
 * ```
 */
export function smoothSeries(values: ArrayLike<number>, strength: number, kind: SmoothingKind): Float64Array {
  if (kind === 'ema') return emaSmooth(values, strength);
  const { points, sigma } = smoothingWindow(strength);
  const n = values.length;
  const out = new Float64Array(n);
  if (kind === 'running_average') {
    // Prefix sums over the finite values: each point averages the finite ones of its window.
    const sum = new Float64Array(n + 1);
    const count = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) {
      const v = values[i] as number;
      const finite = Number.isFinite(v);
      sum[i + 1] = (sum[i] as number) + (finite ? v : 0);
      count[i + 1] = (count[i] as number) + (finite ? 1 : 0);
    }
    for (let i = 0; i < n; i++) {
      const v = values[i] as number;
      const lo = Math.max(0, i + 1 - points);
      out[i] = Number.isFinite(v)
        ? ((sum[i + 1] as number) - (sum[lo] as number)) / ((count[i + 1] as number) - (count[lo] as number))
        : v;
    }
    return out;
  }
  if (sigma === 0) {
    out.set(Array.from(values));
    return out;
  }
  const reach = Math.ceil(3 * sigma);
  const kernel = new Float64Array(reach + 1);
  for (let d = 0; d <= reach; d++) kernel[d] = Math.exp(-(d * d) / (2 * sigma * sigma));
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    let weighted = 0;
    let weights = 0;
    for (let j = Math.max(0, i - reach); j <= Math.min(n - 1, i + reach); j++) {
      const w = values[j] as number;
      if (!Number.isFinite(w)) continue;
      const k = kernel[Math.abs(i - j)] as number;
      weighted += k * w;
      weights += k;
    }
    out[i] = weighted / weights;
  }
  return out;
}

/** The step span `[x0, x1]` pixel columns are cut from, and how many columns. */
export interface PixelGrid {
  readonly x0: number;
  readonly x1: number;
  readonly width: number;
}

/**
 * The pixel column of a step: `floor((step − x0) · width / max(x1 − x0, 1))`, clamped to the last
 * column. The SQL of `/api/metrics` uses the same rule, so both paths bin identically.
 *
 * @example
 * ```ts
 * pixelColumn(500, { x0: 0, x1: 1000, width: 10 }); // 5
 * ```
 */
export function pixelColumn(step: number, grid: PixelGrid): number {
  return Math.min(
    Math.floor(((step - grid.x0) * grid.width) / Math.max(grid.x1 - grid.x0, 1)),
    grid.width - 1,
  );
}

/**
 * The pixel grid spanning every step of the given series, or `undefined` when they are all
 * empty.
 *
 * @example
 * ```ts
 * pixelGridOf([{ step: [5, 9], value: [1, 2] }], 100); // { x0: 5, x1: 9, width: 100 }
 * ```
 */
export function pixelGridOf(series: readonly StepSeries[], width: number): PixelGrid | undefined {
  let x0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    for (let i = 0; i < s.step.length; i++) {
      const step = s.step[i] as number;
      if (step < x0) x0 = step;
      if (step > x1) x1 = step;
    }
  }
  return x0 <= x1 ? { x0, x1, width } : undefined;
}

/**
 * The index of each pixel column's minimum and maximum point (-1 for an empty column; NaN values
 * skipped; the first point on ties): the one pass both min/max reductions below share.
 */
function extremeIndices(series: StepSeries, grid: PixelGrid): { minAt: Int32Array; maxAt: Int32Array } {
  const minAt = new Int32Array(grid.width).fill(-1);
  const maxAt = new Int32Array(grid.width).fill(-1);
  for (let i = 0; i < series.step.length; i++) {
    const v = series.value[i] as number;
    if (Number.isNaN(v)) continue;
    const px = pixelColumn(series.step[i] as number, grid);
    const lo = minAt[px] as number;
    if (lo < 0 || v < (series.value[lo] as number)) minAt[px] = i;
    const hi = maxAt[px] as number;
    if (hi < 0 || v > (series.value[hi] as number)) maxAt[px] = i;
  }
  return { minAt, maxAt };
}

/**
 * Reduces a run to the minimum and the maximum of each pixel column, each at its own step (the
 * first one on ties), in step order, so one-step spikes survive. A run with at most `2 × width`
 * points comes back unchanged.
 *
 * @example
 * ```ts
 * minMaxPerColumn({ step: [0, 1, 2, 3], value: [1, 9, 2, 0] }, { x0: 0, x1: 3, width: 1 });
 * // { step: [1, 3], value: [9, 0] }
 * ```
 */
export function minMaxPerColumn(series: StepSeries, grid: PixelGrid): { step: number[]; value: number[] } {
  const n = series.step.length;
  if (n <= 2 * grid.width) return { step: Array.from(series.step), value: Array.from(series.value) };
  const { minAt, maxAt } = extremeIndices(series, grid);
  const kept = new Set<number>();
  for (let px = 0; px < grid.width; px++) {
    if ((minAt[px] as number) >= 0) kept.add(minAt[px] as number);
    if ((maxAt[px] as number) >= 0) kept.add(maxAt[px] as number);
  }
  // In x order (a wall-clock x may step back, as after a resumed run's clock reset), then logging order.
  const order = [...kept].sort((a, b) => (series.step[a] as number) - (series.step[b] as number) || a - b);
  return {
    step: order.map((i) => series.step[i] as number),
    value: order.map((i) => series.value[i] as number),
  };
}

/**
 * A run's extremes per pixel column, how many points it has in range, whether the columns are
 * exactly its points, and (from the smoothed path, which has them) the points themselves.
 */
export interface RunColumns {
  readonly total: number;
  readonly columns: ColumnExtremes;
  readonly exact: boolean;
  readonly points?: StepSeries;
}

/** One run's extremes per pixel column it has points in: the column, and min and max at their x. */
export interface ColumnExtremes {
  readonly px: ArrayLike<number>;
  readonly s_lo: ArrayLike<number>;
  readonly v_lo: ArrayLike<number>;
  readonly s_hi: ArrayLike<number>;
  readonly v_hi: ArrayLike<number>;
}

/**
 * A run's minimum and maximum in each pixel column it has points in (NaN values skipped; the
 * first point on ties), in column order: what {@link alignExtremes} puts on shared x positions.
 *
 * @example
 * ```ts
 * extremesPerColumn({ step: [0, 1, 2, 3], value: [1, 9, 2, 0] }, { x0: 0, x1: 3, width: 1 });
 * // { px: [0], s_lo: [3], v_lo: [0], s_hi: [1], v_hi: [9] }
 * ```
 */
export function extremesPerColumn(series: StepSeries, grid: PixelGrid): ColumnExtremes {
  const { minAt, maxAt } = extremeIndices(series, grid);
  return gatherExtremes(minAt, maxAt, series, series);
}

/**
 * The column extremes picked by per-column indices (-1: a column without points): each column's
 * minimum from `low` at `minAt` and maximum from `high` at `maxAt`, in column order.
 *
 * @example
 * ```ts
 * gatherExtremes(Int32Array.of(1, -1), Int32Array.of(0, -1), { step: [4, 5], value: [9, 2] }, { step: [4, 5], value: [9, 2] });
 * // { px: [0], s_lo: [5], v_lo: [2], s_hi: [4], v_hi: [9] }
 * ```
 */
export function gatherExtremes(
  minAt: Int32Array,
  maxAt: Int32Array,
  low: StepSeries,
  high: StepSeries,
): ColumnExtremes {
  const out = {
    px: [] as number[],
    s_lo: [] as number[],
    v_lo: [] as number[],
    s_hi: [] as number[],
    v_hi: [] as number[],
  };
  for (let px = 0; px < minAt.length; px++) {
    const lo = minAt[px] as number;
    const hi = maxAt[px] as number;
    if (lo < 0) continue;
    out.px.push(px);
    out.s_lo.push(low.step[lo] as number);
    out.v_lo.push(low.value[lo] as number);
    out.s_hi.push(high.step[hi] as number);
    out.v_hi.push(high.value[hi] as number);
  }
  return out;
}

/**
 * A run's column extremes in column order, from lists in any order (as DuckDB's `list()` gives
 * them without the `ORDER BY` that would sort each run's lists inside the query): one placement
 * by column number, no comparison sort.
 *
 * @example
 * ```ts
 * inColumnOrder({ px: [2, 0], s_lo: [5, 1], v_lo: [0, 1], s_hi: [5, 1], v_hi: [0, 1] }).px; // [0, 2]
 * ```
 */
export function inColumnOrder(columns: ColumnExtremes): ColumnExtremes {
  const n = columns.px.length;
  let width = 0;
  let sorted = true;
  for (let i = 0; i < n; i++) {
    const px = columns.px[i] as number;
    if (px + 1 > width) width = px + 1;
    if (i > 0 && px < (columns.px[i - 1] as number)) sorted = false;
  }
  if (sorted) return columns;
  const at = new Int32Array(width).fill(-1);
  for (let i = 0; i < n; i++) at[columns.px[i] as number] = i;
  const out = {
    px: new Float64Array(n),
    s_lo: new Float64Array(n),
    v_lo: new Float64Array(n),
    s_hi: new Float64Array(n),
    v_hi: new Float64Array(n),
  };
  let k = 0;
  for (let px = 0; px < width; px++) {
    const i = at[px] as number;
    if (i < 0) continue;
    out.px[k] = px;
    out.s_lo[k] = columns.s_lo[i] as number;
    out.v_lo[k] = columns.v_lo[i] as number;
    out.s_hi[k] = columns.s_hi[i] as number;
    out.v_hi[k] = columns.v_hi[i] as number;
    k++;
  }
  return out;
}

/**
 * Puts every run's column extremes on one shared x array, so a chart draws a thousand runs
 * without merging a thousand x arrays: each pixel column gets two x slots, the first and the
 * last x any run has its minimum or maximum at in that column (one slot when they coincide).
 * A run's earlier extreme goes in the first slot and its later one in the second (both slots
 * get its value when it has one point there), so the line keeps its shape and every spike keeps
 * its value, drawn within its own pixel column; a column a run has no points in is NaN (a gap).
 *
 * @example
 * ```ts
 * const cols = new Map([['a', { px: [0], s_lo: [3], v_lo: [0], s_hi: [1], v_hi: [9] }]]);
 * alignExtremes(cols); // { x: [1, 3], y: Map { 'a' => [9, 0] } }
 * ```
 */
export function alignExtremes(runs: ReadonlyMap<string, ColumnExtremes>): {
  x: Float64Array;
  y: Map<string, Float64Array>;
} {
  let width = 0;
  for (const run of runs.values())
    if (run.px.length > 0) width = Math.max(width, (run.px[run.px.length - 1] as number) + 1);
  const first = new Float64Array(width).fill(Number.POSITIVE_INFINITY);
  const last = new Float64Array(width).fill(Number.NEGATIVE_INFINITY);
  // Columns needing two slots though every extreme sits at one x (a step logged twice).
  const split = new Uint8Array(width);
  for (const run of runs.values()) {
    for (let i = 0; i < run.px.length; i++) {
      const px = run.px[i] as number;
      const a = Math.min(run.s_lo[i] as number, run.s_hi[i] as number);
      const b = Math.max(run.s_lo[i] as number, run.s_hi[i] as number);
      if (a < (first[px] as number)) first[px] = a;
      if (b > (last[px] as number)) last[px] = b;
      if (run.v_lo[i] !== run.v_hi[i]) split[px] = 1;
    }
  }
  // Each column's first slot in x and whether it has a second; -1 for a column without points.
  const slot = new Int32Array(width).fill(-1);
  const two = new Uint8Array(width);
  const xs: number[] = [];
  for (let px = 0; px < width; px++) {
    if ((first[px] as number) > (last[px] as number)) continue;
    slot[px] = xs.length;
    xs.push(first[px] as number);
    if ((last[px] as number) > (first[px] as number) || split[px] === 1) {
      two[px] = 1;
      xs.push(last[px] as number);
    }
  }
  const x = Float64Array.from(xs);
  const y = new Map<string, Float64Array>();
  for (const [runId, run] of runs) {
    const values = new Float64Array(x.length).fill(Number.NaN);
    for (let i = 0; i < run.px.length; i++) {
      const px = run.px[i] as number;
      const at = slot[px] as number;
      const lowFirst = (run.s_lo[i] as number) <= (run.s_hi[i] as number);
      const early = lowFirst ? (run.v_lo[i] as number) : (run.v_hi[i] as number);
      const late = lowFirst ? (run.v_hi[i] as number) : (run.v_lo[i] as number);
      values[at] = early;
      if (two[px] === 1) values[at + 1] = late;
    }
    y.set(runId, values);
  }
  return { x, y };
}

/** One run's mean step and mean value per pixel column it has points in. */
export interface ColumnMeans {
  readonly column: ArrayLike<number>;
  readonly step: ArrayLike<number>;
  readonly value: ArrayLike<number>;
}

/**
 * The mean step and mean value of a run in each pixel column it has finite points in, in column
 * order: what a mean ± std band over seeds averages.
 *
 * @example
 * ```ts
 * meanPerColumn({ step: [0, 1, 2, 3], value: [1, 3, 5, 7] }, { x0: 0, x1: 3, width: 2 });
 * // { column: [0, 1], step: [0.5, 2.5], value: [2, 6] }
 * ```
 */
export function meanPerColumn(series: StepSeries, grid: PixelGrid): ColumnMeans {
  const count = new Float64Array(grid.width);
  const stepSum = new Float64Array(grid.width);
  const valueSum = new Float64Array(grid.width);
  for (let i = 0; i < series.step.length; i++) {
    const v = series.value[i] as number;
    if (!Number.isFinite(v)) continue;
    const px = pixelColumn(series.step[i] as number, grid);
    count[px] = (count[px] as number) + 1;
    stepSum[px] = (stepSum[px] as number) + (series.step[i] as number);
    valueSum[px] = (valueSum[px] as number) + v;
  }
  return meansOfSums(count, stepSum, valueSum);
}

/**
 * The mean step and mean value of each column with a count, from per-column counts and sums, in
 * column order: what both the points' and the pyramid's means come to.
 *
 * @example
 * ```ts
 * meansOfSums(Float64Array.of(2, 0), Float64Array.of(1, 0), Float64Array.of(6, 0));
 * // { column: [0], step: [0.5], value: [3] }
 * ```
 */
export function meansOfSums(count: Float64Array, stepSum: Float64Array, valueSum: Float64Array): ColumnMeans {
  const out = { column: [] as number[], step: [] as number[], value: [] as number[] };
  for (let px = 0; px < count.length; px++) {
    const n = count[px] as number;
    if (n === 0) continue;
    out.column.push(px);
    out.step.push((stepSum[px] as number) / n);
    out.value.push((valueSum[px] as number) / n);
  }
  return out;
}

/** A mean ± std band over the runs of one group, with the envelopes a chart may draw instead. */
export interface Band {
  /** Mean step (x) of the runs' points in each column. */
  readonly step: number[];
  readonly mean: number[];
  /** Sample standard deviation across runs (`n − 1`); `null` where one run has points. */
  readonly std: (number | null)[];
  /** Standard error of the mean, `std / √n`; `null` where `std` is. */
  readonly stderr: (number | null)[];
  /** The smallest and the largest of the runs' column means (never null: a column has a run). */
  readonly min: number[];
  readonly max: number[];
  /** Runs with points in each column. */
  readonly count: number[];
}

/**
 * Combines the per-column means of a group's runs into a band: for each pixel column, the mean
 * and sample standard deviation across the runs that have points there.
 *
 * @example
 * ```ts
 * bandOf([{ column: [0], step: [1], value: [2] }, { column: [0], step: [1], value: [4] }], 1);
 * // { step: [1], mean: [3], std: [1.414…], stderr: [1], min: [2], max: [4], count: [2] }
 * ```
 */
export function bandOf(runs: readonly ColumnMeans[], width: number): Band {
  const count = new Float64Array(width);
  const stepSum = new Float64Array(width);
  const sum = new Float64Array(width);
  for (const run of runs) {
    for (let i = 0; i < run.column.length; i++) {
      const px = run.column[i] as number;
      count[px] = (count[px] as number) + 1;
      stepSum[px] = (stepSum[px] as number) + (run.step[i] as number);
      sum[px] = (sum[px] as number) + (run.value[i] as number);
    }
  }
  // Two passes: the squared deviations from the column mean, which stays exact where a one-pass
  // sum of squares loses digits on curves far from zero (a loss of 1000 ± 0.01).
  const squares = new Float64Array(width);
  const lo = new Float64Array(width).fill(Number.POSITIVE_INFINITY);
  const hi = new Float64Array(width).fill(Number.NEGATIVE_INFINITY);
  for (const run of runs) {
    for (let i = 0; i < run.column.length; i++) {
      const px = run.column[i] as number;
      const v = run.value[i] as number;
      const d = v - (sum[px] as number) / (count[px] as number);
      squares[px] = (squares[px] as number) + d * d;
      if (v < (lo[px] as number)) lo[px] = v;
      if (v > (hi[px] as number)) hi[px] = v;
    }
  }
  const band: Band = { step: [], mean: [], std: [], stderr: [], min: [], max: [], count: [] };
  for (let px = 0; px < width; px++) {
    const n = count[px] as number;
    if (n === 0) continue;
    const std = n > 1 ? Math.sqrt((squares[px] as number) / (n - 1)) : null;
    band.step.push((stepSum[px] as number) / n);
    band.mean.push((sum[px] as number) / n);
    band.std.push(std);
    band.stderr.push(std === null ? null : std / Math.sqrt(n));
    band.min.push(lo[px] as number);
    band.max.push(hi[px] as number);
    band.count.push(n);
  }
  return band;
}
