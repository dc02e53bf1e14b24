/**
 * Types shared by the event detectors and their registry, plus the small helpers every detector
 * uses (missing-value compaction, parameter checks, the confidence squashing).
 */
import { RunlakeError } from '../../lake/index.js';

/** One key's trajectory: checkpoints in ascending step order. null/NaN = missing value. */
export interface DescriptorTrajectory {
  readonly steps: ArrayLike<number>;
  /** descriptor name (effective_rank, participation_ratio, …) -> value per step */
  readonly descriptors: Readonly<Record<string, ArrayLike<number | null>>>;
  /** cka_drift from the previous checkpoint to this one (index 0 is null), when known */
  readonly drift?: ArrayLike<number | null>;
}

/** One detected event, shaped for a row of the `events` dataset. */
export interface DetectedEvent {
  /** 'rank_collapse' | 'reexpansion' | 'phase_shift' | 'stability_plateau' | 'bifurcation' | registered */
  eventType: string;
  /** name/version, e.g. 'rank_collapse/v1' */
  detector: string;
  /** onset step */
  step: number;
  stepEnd: number | null;
  /** descriptor watched (null when the detector watched cka_drift) */
  descriptor: string | null;
  /** size of the event, in the descriptor's units (documented per detector) */
  magnitude: number;
  /** in [0, 1] (documented per detector) */
  confidence: number;
  /** bifurcation: the member (or group label) the diverging member departed from */
  referenceRunId?: string | null;
  /** the parameters used (goes to params_json) */
  params: Readonly<Record<string, unknown>>;
}

/** A per-trajectory event detector, registered with `registerDetector`. */
export interface EventDetector<P = Record<string, unknown>> {
  readonly eventType: string;
  readonly name: string;
  readonly description: string;
  readonly defaults: P;
  detect(trajectory: DescriptorTrajectory, params: P): DetectedEvent[];
}

/** The finite points of one descriptor: values, their steps, and their original indices. */
export interface CompactSeries {
  readonly values: Float64Array;
  readonly steps: Float64Array;
  readonly index: Int32Array;
}

/**
 * Drops null/NaN points (and points whose step is not finite) of one descriptor, so detectors work
 * on the observed checkpoints only. A missing descriptor gives an empty series.
 *
 * @example
 * ```ts
 * compactSeries({ steps: [0, 10, 20], descriptors: { effective_rank: [5, null, 4] } }, 'effective_rank');
 * // { values: [5, 4], steps: [0, 20], index: [0, 2] }
 * ```
 */
export function compactSeries(trajectory: DescriptorTrajectory, descriptor: string): CompactSeries {
  const raw = trajectory.descriptors[descriptor];
  const n = raw ? Math.min(raw.length, trajectory.steps.length) : 0;
  const values: number[] = [];
  const steps: number[] = [];
  const index: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = raw?.[i];
    const s = trajectory.steps[i];
    if (typeof v === 'number' && Number.isFinite(v) && typeof s === 'number' && Number.isFinite(s)) {
      values.push(v);
      steps.push(s);
      index.push(i);
    }
  }
  return {
    values: Float64Array.from(values),
    steps: Float64Array.from(steps),
    index: Int32Array.from(index),
  };
}

/**
 * Logistic squashing used for confidences: 1/(1 + e^{−x}). A detector passes the excess of its test
 * statistic over its threshold, so an event exactly at threshold gets 0.5.
 *
 * @example
 * ```ts
 * logistic(0); // 0.5
 * ```
 */
export function logistic(x: number): number {
  if (!Number.isFinite(x)) return x > 0 ? 1 : 0;
  return 1 / (1 + Math.exp(-x));
}

/**
 * Median-of-3 smoothing (endpoints kept): removes single-point spikes before levels are compared.
 *
 * @example
 * ```ts
 * median3(Float64Array.from([1, 9, 1, 1])); // [1, 1, 1, 1]
 * ```
 */
export function median3(x: Float64Array): Float64Array {
  const out = Float64Array.from(x);
  for (let i = 1; i + 1 < x.length; i++) {
    const a = x[i - 1] as number;
    const b = x[i] as number;
    const c = x[i + 1] as number;
    out[i] = Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  }
  return out;
}

/**
 * Checks one detector parameter and throws a RunlakeError naming it (`detector.param`) otherwise.
 *
 * @example
 * ```ts
 * checkParam('rank_collapse', 'window', 10, { integer: true, min: 2 }); // ok
 * ```
 */
export function checkParam(
  detector: string,
  name: string,
  value: unknown,
  rule: { integer?: boolean; min?: number; max?: number; exclusiveMin?: boolean; nullable?: boolean },
): void {
  if (value === null && rule.nullable) return;
  const where = `${detector}.${name}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RunlakeError(`${where}: must be a finite number (got ${JSON.stringify(value)})`);
  }
  if (rule.integer && !Number.isInteger(value)) {
    throw new RunlakeError(`${where}: must be an integer (got ${value})`);
  }
  if (rule.min !== undefined && (rule.exclusiveMin ? value <= rule.min : value < rule.min)) {
    throw new RunlakeError(`${where}: must be ${rule.exclusiveMin ? '>' : '≥'} ${rule.min} (got ${value})`);
  }
  if (rule.max !== undefined && value > rule.max) {
    throw new RunlakeError(`${where}: must be ≤ ${rule.max} (got ${value})`);
  }
}

/**
 * Checks that a parameter is a non-empty string, naming it otherwise.
 *
 * @example
 * ```ts
 * checkStringParam('rank_collapse', 'descriptor', 'effective_rank'); // ok
 * ```
 */
export function checkStringParam(detector: string, name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new RunlakeError(`${detector}.${name}: must be a non-empty string (got ${JSON.stringify(value)})`);
  }
}
