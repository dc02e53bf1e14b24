// uPlot draws series that share one x array. Runs are logged at different steps (and the server's
// min/max downsampling keeps each run's own steps), so the x array is the sorted union of the runs'
// steps and a run gets null where it has no point; the chart spans those gaps (`spanGaps`).

/** One series to merge: its x values (ascending) and y values. */
export interface XYSeries {
  readonly x: ArrayLike<number>;
  readonly y: ArrayLike<number | null>;
}

/** uPlot's aligned data: the shared x array, then one y array per series. */
export type AlignedData = [number[], ...(number | null)[][]];

/**
 * Merges series onto the sorted union of their x values, with null where a series has no point.
 * When every series has the same x array (the usual case: runs logged at the same steps), that
 * array is reused without a merge.
 */
export function mergeSeries(series: readonly XYSeries[]): AlignedData {
  if (series.length === 0) return [[]];
  const first = series[0] as XYSeries;
  if (series.every((s) => sameArray(s.x, first.x))) {
    // NaN marks a gap in an aligned answer; uPlot draws gaps from null.
    return [Array.from(first.x), ...series.map((s) => Array.from(s.y, gapToNull))];
  }
  let total = 0;
  for (const s of series) total += s.x.length;
  const all = new Float64Array(total);
  let n = 0;
  for (const s of series) for (let i = 0; i < s.x.length; i++) all[n++] = s.x[i] as number;
  all.sort();
  const xs: number[] = [];
  for (let i = 0; i < all.length; i++) {
    const v = all[i] as number;
    if (i === 0 || v !== all[i - 1]) xs.push(v);
  }
  const ys = series.map((s) => {
    const out: (number | null)[] = new Array(xs.length).fill(null);
    // Both x arrays are sorted, so one forward walk places every point.
    let j = 0;
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i] as number;
      while (j < xs.length && (xs[j] as number) < x) j++;
      if (j < xs.length) out[j] = gapToNull(s.y[i] ?? null);
    }
    return out;
  });
  return [xs, ...ys];
}

function gapToNull(v: number | null): number | null {
  return v === null || Number.isNaN(v) ? null : v;
}

function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Guards data for log scales (uPlot `distr: 3`), which cannot show values ≤ 0: on a log x scale
 * the points at x ≤ 0 are dropped; on a log y scale non-positive values become null (gaps).
 */
export function guardLogScales(data: AlignedData, logX: boolean, logY: boolean): AlignedData {
  let [xs, ...ys] = data;
  if (logX) {
    const keep: number[] = [];
    xs.forEach((x, i) => {
      if (x > 0) keep.push(i);
    });
    if (keep.length !== xs.length) {
      const source = xs;
      xs = keep.map((i) => source[i] as number);
      ys = ys.map((y) => keep.map((i) => y[i] ?? null));
    }
  }
  if (logY) ys = ys.map((y) => y.map((v) => (v !== null && v > 0 && Number.isFinite(v) ? v : null)));
  return [xs, ...ys];
}
