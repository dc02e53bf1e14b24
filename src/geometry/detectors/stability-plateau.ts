/**
 * `stability_plateau`: a window of checkpoints over which the representation stops moving — drift
 * stays below noise.
 */

import { RunlakeError } from '../../lake/index.js';
import { medianOf, pelt, robustNoiseScale } from '../pelt.js';
import {
  checkParam,
  checkStringParam,
  compactSeries,
  type DescriptorTrajectory,
  type DetectedEvent,
  type EventDetector,
  logistic,
} from './types.js';

/** Parameters of the `stability_plateau/v1` detector (defaults in {@link STABILITY_PLATEAU_DEFAULTS}). */
export interface StabilityPlateauParams {
  /** Descriptor watched when cka_drift is not used. Default `effective_rank`. */
  descriptor: string;
  /** Minimum plateau length in checkpoints (w). Default 8. */
  minLength: number;
  /** Descriptor path: the fitted net change across the plateau must be ≤ noiseK·σ̂. Default 2. */
  noiseK: number;
  /** `auto` uses cka_drift when it has ≥ minLength finite values, else the descriptor. Default `auto`. */
  source: 'auto' | 'drift' | 'descriptor';
  /** Drift path: a transition is still when cka_drift ≤ this; null = driftK × median of the lower half of the drifts. Default null. */
  driftThreshold: number | null;
  /** Drift path: multiplier on the quiet-drift level for the automatic threshold. Default 2. */
  driftK: number;
}

/**
 * Defaults of `stability_plateau/v1`.
 *
 * @example
 * ```ts
 * STABILITY_PLATEAU_DEFAULTS.minLength; // 8
 * ```
 */
export const STABILITY_PLATEAU_DEFAULTS: Readonly<StabilityPlateauParams> = Object.freeze({
  descriptor: 'effective_rank',
  minLength: 8,
  noiseK: 2,
  source: 'auto',
  driftThreshold: null,
  driftK: 2,
});

function driftPlateaus(trajectory: DescriptorTrajectory, p: StabilityPlateauParams): DetectedEvent[] {
  const raw = trajectory.drift;
  const steps = trajectory.steps;
  const n = Math.min(raw?.length ?? 0, steps.length);
  const d: number[] = [];
  const idx: number[] = [];
  for (let i = 1; i < n; i++) {
    const v = raw?.[i];
    if (typeof v === 'number' && Number.isFinite(v) && Number.isFinite(steps[i])) {
      d.push(v);
      idx.push(i);
    }
  }
  if (d.length === 0) return [];
  const sorted = [...d].sort((a, b) => a - b);
  const threshold =
    p.driftThreshold ?? p.driftK * (medianOf(sorted.slice(0, Math.ceil(sorted.length / 2))) || 0);
  const out: DetectedEvent[] = [];
  let k = 0;
  while (k < d.length) {
    if ((d[k] as number) > threshold) {
      k++;
      continue;
    }
    let j = k;
    let sum = 0;
    // A run of still transitions; a missing drift value does not break it, a consecutive index gap in
    // the drift (an unobserved transition) does.
    while (
      j < d.length &&
      (d[j] as number) <= threshold &&
      (j === k || (idx[j] as number) === (idx[j - 1] as number) + 1)
    ) {
      sum += d[j] as number;
      j++;
    }
    const first = (idx[k] as number) - 1; // drift[i] is the move from checkpoint i − 1 to i
    const last = idx[j - 1] as number;
    if (last - first + 1 >= p.minLength) {
      const mean = sum / (j - k);
      out.push({
        eventType: 'stability_plateau',
        detector: 'stability_plateau/v1',
        step: steps[first] as number,
        stepEnd: steps[last] as number,
        descriptor: null,
        magnitude: mean,
        confidence: threshold > 0 ? logistic(p.driftK * (1 - mean / threshold)) : 1,
        params: { ...p, driftThreshold: threshold },
      });
    }
    k = j;
  }
  return out;
}

/** Residual sum of squares of the continuous hinge fit a + b·(i − start) + c·max(0, i − kink) over [start, end). */
function hingeRss(x: Float64Array, start: number, end: number, kink: number): number {
  // Normal equations of the 3-column design, solved by Gaussian elimination (3×3, well conditioned
  // after shifting the abscissa to the segment start).
  const g = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  const r = [0, 0, 0];
  let yy = 0;
  for (let i = start; i < end; i++) {
    const f = [1, i - start, Math.max(0, i - kink)];
    const y = x[i] as number;
    yy += y * y;
    for (let u = 0; u < 3; u++) {
      r[u] = (r[u] as number) + (f[u] as number) * y;
      for (let v = 0; v < 3; v++)
        g[u * 3 + v] = (g[u * 3 + v] as number) + (f[u] as number) * (f[v] as number);
    }
  }
  const a = [...g];
  const rhs = [...r];
  for (let c = 0; c < 3; c++) {
    const piv = a[c * 3 + c] as number;
    if (Math.abs(piv) < 1e-12) return Number.POSITIVE_INFINITY;
    for (let row = c + 1; row < 3; row++) {
      const k = (a[row * 3 + c] as number) / piv;
      for (let col = c; col < 3; col++)
        a[row * 3 + col] = (a[row * 3 + col] as number) - k * (a[c * 3 + col] as number);
      rhs[row] = (rhs[row] as number) - k * (rhs[c] as number);
    }
  }
  const beta = [0, 0, 0];
  for (let row = 2; row >= 0; row--) {
    let acc = rhs[row] as number;
    for (let col = row + 1; col < 3; col++) acc -= (a[row * 3 + col] as number) * (beta[col] as number);
    beta[row] = acc / (a[row * 3 + row] as number);
  }
  // RSS = yᵀy − βᵀXᵀy for the least-squares β.
  return (
    yy -
    ((beta[0] as number) * (r[0] as number) +
      (beta[1] as number) * (r[1] as number) +
      (beta[2] as number) * (r[2] as number))
  );
}

/**
 * The kink between two linear segments [start, cp) and [cp, end): PELT's discontinuous lines place a
 * slope change up to a couple of points off, so the boundary is refined to the best continuous hinge
 * within ±3 points. Returns the kink index (the last point of the first line = first of the second).
 */
function refineKink(x: Float64Array, start: number, cp: number, end: number): number {
  let best = Number.POSITIVE_INFINITY;
  let arg = cp;
  for (let k = Math.max(start + 1, cp - 3); k <= Math.min(end - 2, cp + 3); k++) {
    const rss = hingeRss(x, start, end, k);
    if (rss < best) {
      best = rss;
      arg = k;
    }
  }
  return arg;
}

function descriptorPlateaus(trajectory: DescriptorTrajectory, p: StabilityPlateauParams): DetectedEvent[] {
  const c = compactSeries(trajectory, p.descriptor);
  const x = c.values;
  const n = x.length;
  if (n < p.minLength) return [];
  const sigma = Math.max(robustNoiseScale(x), Number.MIN_VALUE);
  // Piecewise-linear segmentation finds where the slope changes; a plateau is a long, flat segment.
  const bounds = [0, ...pelt(x, { cost: 'linear' }), n];
  const out: DetectedEvent[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const a = bounds[k] as number;
    const b = bounds[k + 1] as number;
    const m = b - a;
    if (m < p.minLength) continue;
    let sy = 0;
    for (let i = a; i < b; i++) sy += x[i] as number;
    const mean = sy / m;
    let sxy = 0;
    for (let i = a; i < b; i++) sxy += (i - (a + b - 1) / 2) * ((x[i] as number) - mean);
    const slope = sxy / ((m * (m * m - 1)) / 12);
    const netZ = (Math.abs(slope) * (m - 1)) / sigma;
    if (netZ > p.noiseK) continue;
    const first = k > 0 ? refineKink(x, bounds[k - 1] as number, a, b) : a;
    const last = k + 2 < bounds.length ? refineKink(x, a, b, bounds[k + 2] as number) : b - 1;
    out.push({
      eventType: 'stability_plateau',
      detector: 'stability_plateau/v1',
      step: c.steps[first] as number,
      stepEnd: c.steps[last] as number,
      descriptor: p.descriptor,
      magnitude: mean,
      confidence: logistic(p.noiseK - netZ),
      params: { ...p },
    });
  }
  return out;
}

/**
 * Detects stability plateaus. With cka_drift (source `drift`, or `auto` when available): maximal runs
 * of consecutive transitions with drift ≤ threshold spanning ≥ minLength checkpoints; magnitude = mean
 * drift over the run (cka_drift units, descriptor null); confidence = logistic(driftK·(1 − mean/threshold)).
 * Otherwise: segments of an exact piecewise-linear PELT fit of the descriptor, ≥ minLength long, whose
 * fitted net change |slope|·(len − 1) ≤ noiseK·σ̂; magnitude = the plateau's mean level (descriptor
 * units); confidence = logistic(noiseK − net/σ̂). Onset/stepEnd = first/last checkpoint of the window.
 *
 * @example
 * ```ts
 * detectStabilityPlateaus({ steps, descriptors: { effective_rank: rank } }, STABILITY_PLATEAU_DEFAULTS);
 * ```
 */
export function detectStabilityPlateaus(
  trajectory: DescriptorTrajectory,
  params: StabilityPlateauParams,
): DetectedEvent[] {
  const who = 'stability_plateau';
  checkStringParam(who, 'descriptor', params.descriptor);
  checkParam(who, 'minLength', params.minLength, { integer: true, min: 3 });
  checkParam(who, 'noiseK', params.noiseK, { min: 0 });
  checkParam(who, 'driftThreshold', params.driftThreshold, { min: 0, nullable: true });
  checkParam(who, 'driftK', params.driftK, { min: 0, exclusiveMin: true });
  if (!['auto', 'drift', 'descriptor'].includes(params.source)) {
    throw new RunlakeError(
      `${who}.source: must be 'auto', 'drift' or 'descriptor' (got ${JSON.stringify(params.source)})`,
    );
  }
  let useDrift = params.source === 'drift';
  if (params.source === 'auto' && trajectory.drift) {
    let finite = 0;
    for (let i = 0; i < trajectory.drift.length; i++) if (Number.isFinite(trajectory.drift[i])) finite++;
    useDrift = finite >= params.minLength;
  }
  return useDrift ? driftPlateaus(trajectory, params) : descriptorPlateaus(trajectory, params);
}

/**
 * The registered `stability_plateau/v1` detector.
 *
 * @example
 * ```ts
 * STABILITY_PLATEAU_DETECTOR.detect(trajectory, STABILITY_PLATEAU_DETECTOR.defaults);
 * ```
 */
export const STABILITY_PLATEAU_DETECTOR: EventDetector<StabilityPlateauParams> = {
  eventType: 'stability_plateau',
  name: 'stability_plateau/v1',
  description: 'drift stays below noise for at least minLength checkpoints',
  defaults: STABILITY_PLATEAU_DEFAULTS,
  detect: detectStabilityPlateaus,
};
