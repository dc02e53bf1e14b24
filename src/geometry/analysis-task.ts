/**
 * One unit of the analysis pipeline's parallel stage: the checkpoints of one trajectory key
 * (run, probe set, module, layer, sample) whose geometry_state and geometry_dynamics rows are
 * missing. A task is plain data, so it crosses a worker-thread boundary as is.
 */
import type { Row } from '../lake/index.js';
import { type ShardRef, ShardRefResolver } from '../shards/index.js';
import { type GeometryDescriptors, geometryDescriptors } from './descriptors.js';
import { geometryDynamicsRow } from './dynamics.js';
import { type PreparedRepresentation, prepareRepresentation } from './similarity.js';

/** The key of one trajectory: the `geometry_state` columns that stay fixed along it. */
export interface TrajectoryKey {
  readonly runId: string;
  readonly sampleSet: string;
  readonly module: string;
  readonly layer: number;
  /** `'*'` for the whole probe set's matrix, else the sample whose token matrix this is. */
  readonly sampleId: string;
}

/**
 * Where one checkpoint's matrix comes from: rows read inline from the `embeddings` dataset, or
 * `shard_ref`s that the task resolves in an array-shards store (in its own thread).
 */
export type MatrixSource =
  | { readonly kind: 'inline'; readonly data: Float32Array; readonly n: number; readonly d: number }
  | { readonly kind: 'refs'; readonly refs: readonly ShardRef[]; readonly d: number }
  /** Rows 0…n−1 of the 2-D array `ref` points at (its `row` is 0): one reference per matrix. */
  | { readonly kind: 'array'; readonly ref: ShardRef; readonly n: number; readonly d: number }
  /** A checkpoint whose rows cannot form a matrix; the reason becomes a problem of the result. */
  | { readonly kind: 'invalid'; readonly reason: string };

/** One checkpoint of a task. */
export interface TaskCheckpoint {
  readonly step: number;
  /** Write its geometry_state row (false when the lake has it). */
  readonly emitState: boolean;
  /** Write its geometry_dynamics row from the checkpoint before (false when the lake has it). */
  readonly emitDynamics: boolean;
  /** The matrix rows' sample ids, joined: drift is only defined between the same rows. */
  readonly rowsKey: string;
  readonly matrix: MatrixSource;
}

/** What {@link runAnalysisTask} computes for a key. */
export interface AnalysisTask {
  /** Lake directory, against which `shard_ref.store` paths resolve. */
  readonly lake: string;
  readonly key: TrajectoryKey;
  /** Ascending steps; the predecessor of each checkpoint that emits dynamics is included. */
  readonly checkpoints: readonly TaskCheckpoint[];
  /** `top_k_energy`'s k (default 10). */
  readonly topK?: number;
}

/** Rows produced by a task, plus problems that made checkpoints unusable. */
export interface AnalysisTaskResult {
  readonly key: TrajectoryKey;
  readonly state: Row[];
  readonly dynamics: Row[];
  readonly problems: string[];
  /** Thread-seconds this task spent reading matrices, on descriptors, and on the drift columns. */
  readonly seconds: TaskSeconds;
}

/** Where a task's time went, in seconds of its thread. */
export interface TaskSeconds {
  /** Reading the matrices (shards or inline). */
  load: number;
  /** `geometryDescriptors` of every checkpoint. */
  descriptors: number;
  /** `geometry_dynamics` rows: centring, CKA, debiased CKA, Procrustes. */
  drift: number;
}

interface Loaded {
  readonly step: number;
  readonly rowsKey: string;
  readonly x: Float32Array | Float64Array;
  readonly n: number;
  readonly d: number;
  readonly descriptors: GeometryDescriptors;
  /**
   * The matrix centred, with its own products cached, once a drift needs it: the comparison with
   * the successor reuses what the comparison with the predecessor prepared.
   */
  prepared: PreparedRepresentation | null;
}

/**
 * The matrix prepared for drift, once. `spare.matrix` — the prepared matrix of a checkpoint the
 * task is done with — lends its buffers (and is cleared): one set of buffers per checkpoint in
 * flight instead of a fresh megabyte per matrix for the collector.
 */
function preparedOf(
  loaded: Loaded,
  spare: { matrix: PreparedRepresentation | null },
): PreparedRepresentation {
  if (loaded.prepared === null) {
    const recycle = spare.matrix ?? undefined;
    spare.matrix = null;
    loaded.prepared = prepareRepresentation(loaded.x, loaded.n, loaded.d, {
      selfMoment: selfMomentOf(loaded.descriptors, loaded.n),
      recycle,
    });
  }
  return loaded.prepared;
}

/**
 * ‖X̃ᵀX̃‖²_F = (n−1)²·Σλ² from the descriptors just computed (Σλ = total_variance, and
 * participation_ratio = (Σλ)²/Σλ²), so CKA does not form the d×d scatter again for it: about an
 * eighth of a matrix's drift work, for values within ~1e-12 relative of the recomputed ones.
 * Undefined (computed then) when the spectrum is zero or missing.
 */
function selfMomentOf(descriptors: GeometryDescriptors, n: number): number | undefined {
  const total = descriptors.total_variance;
  const ratio = descriptors.participation_ratio;
  if (total === null || ratio === null || !(ratio > 0) || !(total > 0)) return undefined;
  const moment = ((n - 1) * total) ** 2 / ratio;
  return Number.isFinite(moment) ? moment : undefined;
}

/**
 * Computes the descriptors of every checkpoint of a task and the dynamics between consecutive
 * ones, keeping one matrix in memory at a time besides the previous one.
 *
 * @example
 * ```ts
 * const result = runAnalysisTask({ lake: 'squiggle-lake', key, checkpoints });
 * await lake.write('geometry_state', result.state);
 * ```
 */
export function runAnalysisTask(task: AnalysisTask): AnalysisTaskResult {
  const { key } = task;
  const keyColumns = {
    run_id: key.runId,
    sample_set: key.sampleSet,
    module: key.module,
    layer: key.layer,
    sample_id: key.sampleId,
  };
  const state: Row[] = [];
  const dynamics: Row[] = [];
  const problems: string[] = [];
  const seconds: TaskSeconds = { load: 0, descriptors: 0, drift: 0 };
  let clock = performance.now();
  /** Adds the time since the last lap to `stage`. */
  const lap = (stage: keyof TaskSeconds) => {
    const now = performance.now();
    seconds[stage] += (now - clock) / 1000;
    clock = now;
  };
  const resolver = task.checkpoints.some((c) => c.matrix.kind === 'refs' || c.matrix.kind === 'array')
    ? new ShardRefResolver(task.lake)
    : null;
  const spare: { matrix: PreparedRepresentation | null } = { matrix: null };
  try {
    let previous: Loaded | null = null;
    for (const checkpoint of task.checkpoints) {
      let loaded: Loaded;
      try {
        const { x, n, d } = loadMatrix(checkpoint.matrix, resolver);
        lap('load');
        loaded = {
          step: checkpoint.step,
          rowsKey: checkpoint.rowsKey,
          x,
          n,
          d,
          descriptors: geometryDescriptors(x, n, d, { topK: task.topK }),
          prepared: null,
        };
        lap('descriptors');
      } catch (error) {
        problems.push(`${describeKey(key)} step ${checkpoint.step}: ${(error as Error).message}`);
        lap('load');
        if (previous?.prepared) spare.matrix = previous.prepared;
        previous = null;
        continue;
      }
      if (checkpoint.emitState) state.push({ ...keyColumns, step: checkpoint.step, ...loaded.descriptors });
      if (checkpoint.emitDynamics && previous) {
        const drift = previous.rowsKey === loaded.rowsKey && previous.n === loaded.n;
        const row = geometryDynamicsRow(
          {
            step: previous.step,
            descriptors: previous.descriptors,
            matrix: drift ? preparedOf(previous, spare) : undefined,
          },
          {
            step: loaded.step,
            descriptors: loaded.descriptors,
            matrix: drift ? preparedOf(loaded, spare) : undefined,
          },
        );
        dynamics.push({ ...keyColumns, ...row });
        lap('drift');
      }
      // The checkpoint before is done with: nothing refers to its prepared matrix any more.
      if (previous?.prepared) spare.matrix = previous.prepared;
      previous = loaded;
    }
  } finally {
    resolver?.close();
  }
  return { key, state, dynamics, problems, seconds };
}

/**
 * The key of a row that has the `geometry_state` key columns (run_id, sample_set, module, layer,
 * sample_id).
 *
 * @example
 * ```ts
 * trajectoryKeyOf({ run_id: 'r1', sample_set: 'p', module: 'mlp_out', layer: 2, sample_id: '*' });
 * ```
 */
export function trajectoryKeyOf(row: Record<string, unknown>): TrajectoryKey {
  return {
    runId: row.run_id as string,
    sampleSet: row.sample_set as string,
    module: row.module as string,
    layer: row.layer as number,
    sampleId: row.sample_id as string,
  };
}

/** `run/sample_set/module/L<layer>/<sample>`, the label of a key in messages and ids. */
export function describeKey(key: TrajectoryKey): string {
  return `${key.runId}/${key.sampleSet}/${key.module}/L${key.layer}/${key.sampleId}`;
}

function loadMatrix(
  source: MatrixSource,
  resolver: ShardRefResolver | null,
): { x: Float32Array | Float64Array; n: number; d: number } {
  if (source.kind === 'inline') return { x: source.data, n: source.n, d: source.d };
  if (source.kind === 'invalid') throw new Error(source.reason);
  if (!resolver) throw new Error('no shard resolver');
  const { d } = source;
  const refs =
    source.kind === 'refs'
      ? source.refs
      : Array.from({ length: source.n }, (_, row) => ({ ...source.ref, row }));
  const whole = wholeArray(refs, resolver);
  if (whole && whole.d === d) return whole;
  const x = new Float32Array(refs.length * d);
  refs.forEach((ref, i) => {
    const vector = resolver.vector(ref);
    if (vector.length !== d) {
      throw new Error(
        `shard_ref row ${i} has ${vector.length} values, but the embeddings row says dim = ${d}`,
      );
    }
    x.set(vector, i * d);
  });
  return { x, n: refs.length, d };
}

/**
 * The common layout where a checkpoint's refs are rows 0…n−1 of one C-order float 2-D array:
 * the array's buffer is the matrix, with no per-row copies.
 */
function wholeArray(
  refs: readonly ShardRef[],
  resolver: ShardRefResolver,
): { x: Float32Array | Float64Array; n: number; d: number } | null {
  const first = refs[0];
  if (!first) return null;
  const sameArray = refs.every(
    (r, i) =>
      r.store === first.store &&
      r.sample_id === first.sample_id &&
      r.field === first.field &&
      Number(r.row) === i,
  );
  if (!sameArray) return null;
  const array = resolver.array(first);
  const [rows, width] = array.shape as [number, number];
  if (array.shape.length !== 2 || array.order !== 'C' || rows !== refs.length) return null;
  if (!(array.data instanceof Float32Array || array.data instanceof Float64Array)) return null;
  return { x: array.data, n: rows, d: width };
}
