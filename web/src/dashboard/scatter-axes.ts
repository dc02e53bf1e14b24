// Helpers shared by the dashboard's uPlot scatters (the sweep's params-vs-metric and the Compare
// view's hyperparameter scatter): a padded axis range, so the outermost points are not cut in half
// at the plot's edge (uPlot fits a scale to the data exactly), and the round point marker.
import type uPlot from 'uplot';

/**
 * The range of `values` with room around the extremes: 5% of the span each side, or a factor of
 * 1.3 on a log axis.
 *
 * @example
 * ```ts
 * paddedRange([0, 10], false); // [-0.5, 10.5]
 * paddedRange([0.001, 0.1], true); // [0.000769…, 0.13]
 * ```
 */
export function paddedRange(values: Iterable<number>, log: boolean): uPlot.Range.MinMax {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo > hi) return log ? [0.1, 10] : [0, 1];
  if (log) return [lo / 1.3, hi * 1.3];
  const pad = hi > lo ? (hi - lo) * 0.05 : Math.abs(lo) * 0.1 || 1;
  return [lo - pad, hi + pad];
}

/** Fills a round marker of `radius` CSS pixels at canvas position (x, y) (uPlot's canvas pixels). */
export function drawDot(
  ctx: CanvasRenderingContext2D,
  x: number,
  y: number,
  radius: number,
  color: string,
  alpha: number,
): void {
  ctx.beginPath();
  ctx.arc(x, y, radius * (window.devicePixelRatio || 1), 0, 2 * Math.PI);
  ctx.fillStyle = color;
  ctx.globalAlpha = alpha;
  ctx.fill();
}
