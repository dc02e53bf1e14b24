/**
 * The value columns of the `geometry_dynamics` dataset: descriptor deltas and rates between two
 * checkpoints, and the representational drift between their matrices.
 */
import { RunlakeError } from '../lake/index.js';
import { GEOMETRY_DESCRIPTORS } from '../schema/index.js';
import type { GeometryDescriptors } from './descriptors.js';
import type { RowMatrix } from './gram.js';
import {
  PreparedRepresentation,
  preparedSimilarity,
  prepareRepresentation,
  representationSimilarity,
} from './similarity.js';

/** A descriptor `geometry_dynamics` tracks (see `GEOMETRY_DESCRIPTORS`). */
export type DynamicsDescriptorName = (typeof GEOMETRY_DESCRIPTORS)[number];

/** The `delta_<name>` and `rate_<name>` columns of `geometry_dynamics`. */
export type DescriptorDynamics = Record<
  `delta_${DynamicsDescriptorName}` | `rate_${DynamicsDescriptorName}`,
  number | null
>;

/** The descriptors of one checkpoint, as computed by `geometryDescriptors` or read back. */
export interface DescriptorSnapshot {
  /** Optimizer step of the checkpoint. */
  readonly step: number;
  /** Missing and null descriptors give null deltas and rates. */
  readonly descriptors: Partial<GeometryDescriptors>;
}

/** A checkpoint with, optionally, its representation matrix for the drift columns. */
export interface RepresentationSnapshot extends DescriptorSnapshot {
  /**
   * The row-major n×d matrix the descriptors were computed from. Both checkpoints' rows must be
   * the **same probe samples in the same order** — CKA and Procrustes compare the two
   * representations of each sample — and d may differ. A {@link PreparedRepresentation} (from
   * `prepareRepresentation`) is used as it is: along a trajectory each matrix is prepared once
   * for the comparisons with its predecessor and its successor.
   */
  readonly matrix?:
    | { readonly x: RowMatrix; readonly n: number; readonly d: number }
    | PreparedRepresentation
    | null;
}

/** Options for {@link geometryDynamicsRow}. */
export interface GeometryDynamicsOptions {
  /**
   * Compute `cka_drift`, `cka_drift_debiased` and `procrustes_distance` (default true). They cost
   * O(n²·d) or O(n·d²) products plus an eigenproblem of size min(n, d); false leaves them null.
   */
  readonly drift?: boolean;
}

/** The `geometry_dynamics` columns {@link geometryDynamicsRow} computes. */
export type GeometryDynamicsValues = DescriptorDynamics & {
  step: number;
  step_prev: number;
  cka_drift: number | null;
  cka_drift_debiased: number | null;
  procrustes_distance: number | null;
};

/**
 * `delta_<name>` = curr − prev and `rate_<name>` = delta / (curr.step − prev.step) (per
 * optimizer step) for every name in `GEOMETRY_DESCRIPTORS`. Both are null when either side's
 * value is missing, null or not finite (descriptors are null where undefined, never NaN).
 *
 * @throws {RunlakeError} when a step is not finite or `curr.step <= prev.step`.
 * @example
 * ```ts
 * descriptorDynamics(
 *   { step: 1000, descriptors: { effective_rank: 40 } },
 *   { step: 1500, descriptors: { effective_rank: 35 } },
 * ); // { delta_effective_rank: -5, rate_effective_rank: -0.01, delta_anisotropy: null, … }
 * ```
 */
export function descriptorDynamics(prev: DescriptorSnapshot, curr: DescriptorSnapshot): DescriptorDynamics {
  const span = stepSpan(prev.step, curr.step);
  const out: Record<string, number | null> = {};
  for (const name of GEOMETRY_DESCRIPTORS) {
    const a = prev.descriptors[name];
    const b = curr.descriptors[name];
    const delta = isFiniteNumber(a) && isFiniteNumber(b) ? b - a : null;
    out[`delta_${name}`] = delta;
    out[`rate_${name}`] = delta === null ? null : delta / span;
  }
  return out as DescriptorDynamics;
}

/**
 * The value columns of one `geometry_dynamics` row, from two checkpoints of the same
 * (run_id, sample_set, module, layer, sample_id) — the caller adds those key columns:
 *
 * - `step`, `step_prev` — the two checkpoints' steps;
 * - `delta_*`, `rate_*` — {@link descriptorDynamics};
 * - `cka_drift` = 1 − {@link linearCka}, in [0, 1];
 * - `cka_drift_debiased` = 1 − {@link debiasedLinearCka}, in [0, 2] (the debiased CKA can be
 *   negative);
 * - `procrustes_distance` = {@link procrustesDistance}, in [0, 2].
 *
 * The three drift columns are null when either matrix is missing, when the row counts differ
 * (the rows must be the same probe samples, in the same order; a different n means they are
 * not), when `options.drift` is false, or when the similarity itself is undefined (see each
 * function).
 *
 * @throws {RunlakeError} when `curr.step <= prev.step`, or a matrix is malformed (shape or
 *   non-finite entries).
 * @example
 * ```ts
 * const x0 = Float32Array.from({ length: 256 * 64 }, () => Math.random());
 * const x1 = x0.map((v) => v + 0.1 * Math.random());
 * const row = geometryDynamicsRow(
 *   { step: 1000, descriptors: geometryDescriptors(x0, 256, 64), matrix: { x: x0, n: 256, d: 64 } },
 *   { step: 2000, descriptors: geometryDescriptors(x1, 256, 64), matrix: { x: x1, n: 256, d: 64 } },
 * );
 * await lake.write('geometry_dynamics', [{ run_id: 'r1', sample_set: 'fixed_v1',
 *   module: 'resid_post', sample_id: '*', layer: 6, ...row }]);
 * ```
 */
export function geometryDynamicsRow(
  prev: RepresentationSnapshot,
  curr: RepresentationSnapshot,
  options: GeometryDynamicsOptions = {},
): GeometryDynamicsValues {
  const deltas = descriptorDynamics(prev, curr);
  const a = prev.matrix;
  const b = curr.matrix;
  const similarity = options.drift !== false && a && b && a.n === b.n ? similarityOf(a, b) : null;
  const cka = similarity?.cka ?? null;
  const debiased = similarity?.debiasedCka ?? null;
  return {
    step: curr.step,
    step_prev: prev.step,
    ...deltas,
    cka_drift: cka === null ? null : 1 - cka,
    cka_drift_debiased: debiased === null ? null : 1 - debiased,
    procrustes_distance: similarity?.procrustesDistance ?? null,
  };
}

type SnapshotMatrix = NonNullable<RepresentationSnapshot['matrix']>;

/** Prepared matrices share their cached parts; a plain one is prepared for this pair only. */
function similarityOf(a: SnapshotMatrix, b: SnapshotMatrix) {
  if (a instanceof PreparedRepresentation && b instanceof PreparedRepresentation) {
    return preparedSimilarity(a, b);
  }
  if (!(a instanceof PreparedRepresentation) && !(b instanceof PreparedRepresentation)) {
    return representationSimilarity(a.x, b.x, a.n, a.d, b.d);
  }
  const pa = a instanceof PreparedRepresentation ? a : prepareRepresentation(a.x, a.n, a.d);
  const pb = b instanceof PreparedRepresentation ? b : prepareRepresentation(b.x, b.n, b.d);
  return preparedSimilarity(pa, pb);
}

function stepSpan(prevStep: number, currStep: number): number {
  if (!Number.isFinite(prevStep) || !Number.isFinite(currStep)) {
    throw new RunlakeError(`geometry dynamics: steps must be finite, got prev ${prevStep}, curr ${currStep}`);
  }
  if (currStep <= prevStep) {
    throw new RunlakeError(
      `geometry dynamics: curr.step (${currStep}) must come after prev.step (${prevStep})`,
    );
  }
  return currStep - prevStep;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
