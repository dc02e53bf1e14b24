/**
 * `phase_shift`: change points of a descriptor trajectory found by exact PELT (Killick et al. 2012).
 */

import { RunlakeError } from '../../lake/index.js';
import { defaultPeltPenalty, type PeltCost, pelt, segmentCostFunction } from '../pelt.js';
import {
  checkParam,
  checkStringParam,
  compactSeries,
  type DescriptorTrajectory,
  type DetectedEvent,
  type EventDetector,
} from './types.js';

/** Parameters of the `phase_shift/v1` detector (defaults in {@link PHASE_SHIFT_DEFAULTS}). */
export interface PhaseShiftParams {
  /** Descriptor watched. Default `effective_rank`. */
  descriptor: string;
  /** PELT cost: `linear` (piecewise-linear; training trajectories trend) or `l2` (piecewise-constant). Default `linear`. */
  cost: PeltCost;
  /** Penalty β per change; null = (p + 1)·σ̂²·ln n (p = 1 for l2, 2 for linear). Default null. */
  penalty: number | null;
  /** Multiplier on the automatic penalty (ignored when penalty is set). Default 1. */
  penaltyScale: number;
  /** Minimum segment length in checkpoints; null = 2 for l2, 3 for linear. Default null. */
  minSegment: number | null;
}

/**
 * Defaults of `phase_shift/v1`.
 *
 * @example
 * ```ts
 * PHASE_SHIFT_DEFAULTS.cost; // 'linear'
 * ```
 */
export const PHASE_SHIFT_DEFAULTS: Readonly<PhaseShiftParams> = Object.freeze({
  descriptor: 'effective_rank',
  cost: 'linear',
  penalty: null,
  penaltyScale: 1,
  minSegment: null,
});

/** Least-squares fit of y ≈ a + b·i over [start, end) (b = 0 for the l2 cost). */
function lineFit(x: Float64Array, start: number, end: number, cost: PeltCost): { a: number; b: number } {
  const m = end - start;
  let sy = 0;
  for (let i = start; i < end; i++) sy += x[i] as number;
  const ybar = sy / m;
  if (cost === 'l2' || m < 2) return { a: ybar, b: 0 };
  const ibar = (start + end - 1) / 2;
  let sxy = 0;
  for (let i = start; i < end; i++) sxy += (i - ibar) * ((x[i] as number) - ybar);
  const b = sxy / ((m * (m * m - 1)) / 12);
  return { a: ybar - b * ibar, b };
}

/**
 * Detects phase shifts: PELT change points of the descriptor (missing points dropped). One event per
 * change point, stepEnd null. Magnitude = RMS, over the new segment, of the new fit minus the previous
 * segment's fit extrapolated (for `l2` exactly |Δmean|), in descriptor units. Confidence = G/(G + β),
 * G = cost reduction from splitting the two adjacent segments at the change (≥ β at the optimum, so
 * confidence ≥ 0.5).
 *
 * @example
 * ```ts
 * detectPhaseShifts({ steps, descriptors: { effective_rank: rank } }, { ...PHASE_SHIFT_DEFAULTS, cost: 'l2' });
 * ```
 */
export function detectPhaseShifts(
  trajectory: DescriptorTrajectory,
  params: PhaseShiftParams,
): DetectedEvent[] {
  const who = 'phase_shift';
  checkStringParam(who, 'descriptor', params.descriptor);
  if (params.cost !== 'l2' && params.cost !== 'linear') {
    throw new RunlakeError(`${who}.cost: must be 'l2' or 'linear' (got ${JSON.stringify(params.cost)})`);
  }
  checkParam(who, 'penalty', params.penalty, { min: 0, nullable: true });
  checkParam(who, 'penaltyScale', params.penaltyScale, { min: 0, exclusiveMin: true });
  checkParam(who, 'minSegment', params.minSegment, { integer: true, min: 1, nullable: true });
  const c = compactSeries(trajectory, params.descriptor);
  const x = c.values;
  const n = x.length;
  if (n < 4) return [];
  const penalty = params.penalty ?? params.penaltyScale * defaultPeltPenalty(x, params.cost);
  const options = {
    cost: params.cost,
    penalty,
    ...(params.minSegment !== null && { minSegment: params.minSegment }),
  };
  const cps = pelt(x, options);
  const cost = segmentCostFunction(x, params.cost);
  const bounds = [0, ...cps, n];
  const out: DetectedEvent[] = [];
  for (let k = 1; k + 1 < bounds.length; k++) {
    const a = bounds[k - 1] as number;
    const t = bounds[k] as number;
    const b = bounds[k + 1] as number;
    const gain = cost(a, b) - cost(a, t) - cost(t, b);
    const before = lineFit(x, a, t, params.cost);
    const after = lineFit(x, t, b, params.cost);
    let sq = 0;
    for (let i = t; i < b; i++) sq += (after.a - before.a + (after.b - before.b) * i) ** 2;
    out.push({
      eventType: 'phase_shift',
      detector: 'phase_shift/v1',
      step: c.steps[t] as number,
      stepEnd: null,
      descriptor: params.descriptor,
      magnitude: Math.sqrt(sq / (b - t)),
      confidence: penalty > 0 ? Math.max(0, gain) / (Math.max(0, gain) + penalty) : 1,
      params: { ...params, penalty },
    });
  }
  return out;
}

/**
 * The registered `phase_shift/v1` detector.
 *
 * @example
 * ```ts
 * PHASE_SHIFT_DETECTOR.detect(trajectory, PHASE_SHIFT_DETECTOR.defaults);
 * ```
 */
export const PHASE_SHIFT_DETECTOR: EventDetector<PhaseShiftParams> = {
  eventType: 'phase_shift',
  name: 'phase_shift/v1',
  description: 'change point of a descriptor trajectory (exact PELT, L2 or linear cost)',
  defaults: PHASE_SHIFT_DEFAULTS,
  detect: detectPhaseShifts,
};
