/**
 * The Squiggle analysis pipeline over a lake: probe embeddings → geometry_state and
 * geometry_dynamics (in parallel, incrementally) → events, signatures and matches (recomputed for
 * the runs whose trajectories changed).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Lake, quoteLiteral, type Row, RunlakeError } from '../lake/index.js';
import type { ShardRef } from '../shards/index.js';
import { type AnalysisLock, acquireAnalysisLock, acquireRunAnalysisLocks } from './analysis-lock.js';
import {
  type AnalysisTask,
  type AnalysisTaskResult,
  describeKey,
  type MatrixSource,
  runAnalysisTask,
  type TaskCheckpoint,
  type TaskSeconds,
  type TrajectoryKey,
  trajectoryKeyOf,
} from './analysis-task.js';
import type { AnalysisWorkerMessage } from './analysis-worker.js';
import type { MatchRow } from './match.js';
import {
  deriveTrajectoryStages,
  type PoolMatcher,
  type TrajectoryStageOptions,
  type TrajectoryStageSummary,
} from './trajectory-stages.js';

/**
 * Which part of the pipeline {@link analyzeLake} runs:
 * - `all` (the default): state and dynamics of the new checkpoints, then the trajectory stages
 *   (events, signatures, matches) of the runs that changed;
 * - `descriptors`: state and dynamics only. It holds a lock per run instead of the lake's, so
 *   several such analyses of disjoint runs run at once (one per process or machine); the
 *   summary's `runsWritten` lists the runs whose trajectory stages are then due;
 * - `trajectories`: the trajectory stages only, of `runs` (default: every run with
 *   `geometry_state` rows), as `all` runs them after writing state and dynamics.
 *
 * `descriptors` of every run followed by `trajectories` of the runs it wrote gives the same rows
 * as one `all` analysis.
 *
 * @example
 * ```ts
 * const a = await analyzeLake(lake, { stage: 'descriptors', runs: ['run-a'] }); // in one process
 * const b = await analyzeLake(lake, { stage: 'descriptors', runs: ['run-b'] }); // in another
 * await analyzeLake(lake, { stage: 'trajectories', runs: [...a.runsWritten, ...b.runsWritten] });
 * ```
 */
export type AnalyzeStage = 'all' | 'descriptors' | 'trajectories';

/**
 * The values of {@link AnalyzeStage}.
 *
 * @example
 * ```ts
 * ANALYZE_STAGES.includes('descriptors'); // true
 * ```
 */
export const ANALYZE_STAGES: readonly AnalyzeStage[] = ['all', 'descriptors', 'trajectories'];

/** Options for {@link analyzeLake}. */
export interface AnalyzeOptions extends TrajectoryStageOptions {
  /** Analyse only these runs (default: every run with embeddings). */
  readonly runs?: readonly string[];
  /** Which stages to run (default `all`); see {@link AnalyzeStage}. */
  readonly stage?: AnalyzeStage;
  /**
   * Worker threads for the descriptor stage (default: the machine's available parallelism, at
   * most 8). 1 runs it on the calling thread.
   */
  readonly workers?: number;
  /** `top_k_energy`'s k (default 10). */
  readonly topK?: number;
  /** Called after each trajectory key's new checkpoints are analysed. */
  readonly onProgress?: (progress: AnalyzeProgress) => void;
}

/** Progress of the descriptor stage. */
export interface AnalyzeProgress {
  readonly keysDone: number;
  readonly keysTotal: number;
  readonly checkpointsDone: number;
  readonly checkpointsTotal: number;
}

/** What {@link analyzeLake} did. */
export interface AnalyzeSummary {
  /** Trajectory keys with new checkpoints. */
  readonly keys: number;
  /** (key, step) checkpoints whose state or dynamics were computed. */
  readonly checkpoints: number;
  readonly stateRows: number;
  readonly dynamicsRows: number;
  /** Runs that gained geometry_state or geometry_dynamics rows. */
  readonly runsWritten: readonly string[];
  /** Runs whose events, signatures and matches were recomputed. */
  readonly runsRecomputed: readonly string[];
  readonly stages: TrajectoryStageSummary | null;
  /** Checkpoints skipped, each with its key, step and cause. */
  readonly problems: readonly string[];
  readonly workers: number;
  readonly seconds: number;
  /** Seconds per stage: planning, state + dynamics (parallel), writing them, trajectory stages. */
  readonly stageSeconds: { plan: number; descriptors: number; write: number; trajectories: number };
  /**
   * Inside the parallel stage, thread-seconds summed over every task (so over all workers):
   * reading matrices, descriptors, and the drift columns (CKA, debiased CKA, Procrustes).
   */
  readonly taskSeconds: TaskSeconds;
}

export { AnalysisLockedError } from './analysis-lock.js';

/**
 * Runs the analysis pipeline over a Squiggle lake. It is incremental: a (key, step) checkpoint
 * of `embeddings` is analysed when `geometry_state` has no row for it, or when it has a
 * predecessor and `geometry_dynamics` has no row for it. The runs that gain rows (and, for
 * bifurcations, the other seeds of their grids) then have their events, signatures and matches
 * recomputed; an analysis with nothing new returns without writing. Matrices come from inline
 * `vector`s or from `shard_ref`s into array-shards stores, which the worker threads read
 * themselves. One analysis runs per lake at a time.
 *
 * @example
 * ```ts
 * const lake = await openLake('squiggle-lake');
 * const summary = await analyzeLake(lake, { workers: 2, onProgress: (p) => console.log(p.keysDone) });
 * summary.runsRecomputed; // ['pythia-160m-s1', …]
 * ```
 */
export async function analyzeLake(lake: Lake, options: AnalyzeOptions = {}): Promise<AnalyzeSummary> {
  const started = performance.now();
  const workers = options.workers ?? Math.min(8, availableParallelism());
  if (!Number.isSafeInteger(workers) || workers < 1) {
    throw new RunlakeError(`workers must be a positive integer, got ${workers}`);
  }
  if (lake.schemaSet.name !== 'squiggle') {
    throw new RunlakeError(
      `${lake.baseOut} is a "${lake.schemaSet.name}" lake; analysis needs a squiggle lake`,
    );
  }
  const stage = options.stage ?? 'all';
  if (!ANALYZE_STAGES.includes(stage)) {
    throw new RunlakeError(`stage must be one of ${ANALYZE_STAGES.join(', ')}, got "${stage}"`);
  }
  if (stage === 'trajectories') return analyzeTrajectories(lake, options, workers, started);
  let lock: AnalysisLock;
  let runs = options.runs && options.runs.length > 0 ? options.runs : undefined;
  if (stage === 'descriptors') {
    // The runs are locked before planning, and the plan covers only them: a run whose first
    // embeddings arrive meanwhile is left to the next analysis.
    runs ??= (await lake.query('SELECT DISTINCT run_id FROM embeddings ORDER BY run_id')).map(
      (r) => r.run_id as string,
    );
    lock = acquireRunAnalysisLocks(lake.baseOut, runs);
  } else lock = acquireAnalysisLock(lake.baseOut);
  let pool: WorkerPool | null = null;
  try {
    const clock = stageClock();
    const plan = runs?.length === 0 ? [] : await planAnalysis(lake, runs);
    const planSeconds = clock();
    const checkpointsTotal = plan.reduce((n, p) => n + p.pending, 0);
    // The threads are started once the plan shows work for them, and kept for the matching.
    pool = workers > 1 && plan.length > 1 ? new WorkerPool(Math.min(workers, plan.length)) : null;
    const results = await runTasks(lake, plan, pool, options, checkpointsTotal);
    const descriptorSeconds = clock();
    const problems = results.flatMap((r) => r.problems);
    const byRun = new Map<string, { state: Row[]; dynamics: Row[] }>();
    for (const result of results) {
      const entry = byRun.get(result.key.runId) ?? { state: [], dynamics: [] };
      entry.state.push(...result.state);
      entry.dynamics.push(...result.dynamics);
      byRun.set(result.key.runId, entry);
    }
    // One write (one commit) per dataset for every run: the rows are in memory already, and each
    // commit costs a manifest update besides the Parquet files of its partitions.
    const state = [...byRun.values()].flatMap((e) => e.state);
    const dynamics = [...byRun.values()].flatMap((e) => e.dynamics);
    if (state.length > 0) await lake.write('geometry_state', state);
    if (dynamics.length > 0) await lake.write('geometry_dynamics', dynamics);
    const stateRows = state.length;
    const dynamicsRows = dynamics.length;
    const touched = [...byRun.entries()]
      .filter(([, e]) => e.state.length + e.dynamics.length > 0)
      .map(([r]) => r);
    const writeSeconds = clock();
    const matcher = pool ? poolMatcher(pool) : undefined;
    const stages =
      touched.length > 0 && stage === 'all'
        ? await deriveTrajectoryStages(lake, touched, options, matcher)
        : null;
    return {
      keys: plan.length,
      checkpoints: checkpointsTotal,
      stateRows,
      dynamicsRows,
      runsWritten: touched.sort(),
      runsRecomputed: stages?.runs ?? [],
      stages,
      problems,
      workers,
      seconds: (performance.now() - started) / 1000,
      stageSeconds: {
        plan: planSeconds,
        descriptors: descriptorSeconds,
        write: writeSeconds,
        trajectories: clock(),
      },
      taskSeconds: results.reduce(
        (sum, r) => ({
          load: sum.load + r.seconds.load,
          descriptors: sum.descriptors + r.seconds.descriptors,
          drift: sum.drift + r.seconds.drift,
        }),
        { load: 0, descriptors: 0, drift: 0 },
      ),
    };
  } finally {
    await pool?.close();
    lock.release();
  }
}

/**
 * The trajectory stages alone (`stage: 'trajectories'`), under the lake's analysis lock, with the
 * matching spread over worker threads as in a whole analysis.
 */
async function analyzeTrajectories(
  lake: Lake,
  options: AnalyzeOptions,
  workers: number,
  started: number,
): Promise<AnalyzeSummary> {
  const lock = acquireAnalysisLock(lake.baseOut);
  let pool: WorkerPool | null = null;
  try {
    const clock = stageClock();
    let runs = options.runs && options.runs.length > 0 ? [...options.runs] : undefined;
    if (runs) {
      const known = new Set(
        (
          await lake.query(
            `SELECT DISTINCT run_id FROM geometry_state WHERE run_id IN (${runs.map(quoteLiteral).join(', ')})`,
          )
        ).map((r) => r.run_id as string),
      );
      const missing = runs.filter((r) => !known.has(r));
      if (missing.length > 0) {
        throw new RunlakeError(
          `no geometry_state rows for run ${missing.map((r) => `"${r}"`).join(', ')} in ${lake.baseOut} ` +
            '(analyse its descriptors first)',
        );
      }
    } else {
      runs = (await lake.query('SELECT DISTINCT run_id FROM geometry_state ORDER BY run_id')).map(
        (r) => r.run_id as string,
      );
    }
    const planSeconds = clock();
    pool = workers > 1 && (options.matchTop ?? 10) > 0 && runs.length > 0 ? new WorkerPool(workers) : null;
    const stages =
      runs.length > 0
        ? await deriveTrajectoryStages(lake, runs, options, pool ? poolMatcher(pool) : undefined)
        : null;
    return {
      keys: 0,
      checkpoints: 0,
      stateRows: 0,
      dynamicsRows: 0,
      runsWritten: [],
      runsRecomputed: stages?.runs ?? [],
      stages,
      problems: [],
      workers,
      seconds: (performance.now() - started) / 1000,
      stageSeconds: { plan: planSeconds, descriptors: 0, write: 0, trajectories: clock() },
      taskSeconds: { load: 0, descriptors: 0, drift: 0 },
    };
  } finally {
    await pool?.close();
    lock.release();
  }
}

/**
 * A {@link PoolMatcher} that splits the queries of a signature pool into one contiguous share per
 * worker thread (each prepares the pool once) and reassembles the rows in query order.
 */
function poolMatcher(pool: WorkerPool): PoolMatcher {
  return async (signatures, topK) => {
    const shares = Math.min(pool.size, signatures.length);
    const parts = await Promise.all(
      Array.from({ length: shares }, (_, i) => {
        const from = Math.floor((i * signatures.length) / shares);
        const to = Math.floor(((i + 1) * signatures.length) / shares);
        return pool.run<MatchRow[][]>({ kind: 'match', pool: signatures, topK, from, to });
      }),
    );
    return parts.flat();
  };
}

/** A stopwatch: each call returns the seconds since the previous one. */
function stageClock(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const seconds = (now - last) / 1000;
    last = now;
    return seconds;
  };
}

/** A key with new checkpoints, before its matrices are loaded. */
interface PlannedKey {
  readonly key: TrajectoryKey;
  /** Steps to load, ascending, with what to emit for each. */
  readonly steps: ReadonlyArray<{ step: number; emitState: boolean; emitDynamics: boolean }>;
  readonly pending: number;
}

async function planAnalysis(lake: Lake, runs: readonly string[] | undefined): Promise<PlannedKey[]> {
  const runFilter = runs && runs.length > 0 ? `WHERE run_id IN (${runs.map(quoteLiteral).join(', ')})` : '';
  if (runs && runs.length > 0) {
    const known = new Set(
      (await lake.query(`SELECT DISTINCT run_id FROM embeddings ${runFilter}`)).map(
        (r) => r.run_id as string,
      ),
    );
    const missing = runs.filter((r) => !known.has(r));
    if (missing.length > 0) {
      throw new RunlakeError(
        `no embeddings for run ${missing.map((r) => `"${r}"`).join(', ')} in ${lake.baseOut}`,
      );
    }
  }
  const keyColumns = 'run_id, sample_set, module, layer, sample_id, step';
  const rows = await lake.query(`
    WITH e AS (
      SELECT DISTINCT run_id, sample_set, module, layer,
             CASE WHEN token_index IS NULL THEN '*' ELSE sample_id END AS sample_id, step
      FROM embeddings ${runFilter}
    ),
    s AS (SELECT DISTINCT ${keyColumns} FROM geometry_state),
    d AS (SELECT DISTINCT ${keyColumns} FROM geometry_dynamics)
    SELECT e.*, s.step IS NOT NULL AS has_state, d.step IS NOT NULL AS has_dynamics
    FROM e
    LEFT JOIN s USING (${keyColumns})
    LEFT JOIN d USING (${keyColumns})
    ORDER BY run_id, sample_set, module, layer, sample_id, step`);
  const planned: PlannedKey[] = [];
  let current: {
    key: TrajectoryKey;
    rows: Array<{ step: number; hasState: boolean; hasDynamics: boolean }>;
  } | null = null;
  const flush = () => {
    if (!current) return;
    const marked = current.rows.map((s, i) => ({
      step: s.step,
      emitState: !s.hasState,
      emitDynamics: i > 0 && !s.hasDynamics,
    }));
    const emits = (i: number) => marked[i]?.emitState === true || marked[i]?.emitDynamics === true;
    const pending = marked.filter((_, i) => emits(i)).length;
    if (pending > 0) {
      // A checkpoint is loaded when it emits, or when the next one needs it as its predecessor.
      const steps = marked.filter((_, i) => emits(i) || marked[i + 1]?.emitDynamics === true);
      planned.push({ key: current.key, steps, pending });
    }
  };
  for (const row of rows) {
    const key = trajectoryKeyOf(row);
    if (!current || describeKey(current.key) !== describeKey(key)) {
      flush();
      current = { key, rows: [] };
    }
    current.rows.push({
      step: row.step as number,
      hasState: row.has_state as boolean,
      hasDynamics: row.has_dynamics as boolean,
    });
  }
  flush();
  return planned;
}

/**
 * One checkpoint matrix of a partition as the summary query of {@link loadPartitionTasks} sees it.
 * Counts come back as BigInt or number, whichever the driver gives.
 */
interface CheckpointSummary {
  readonly layer: number;
  readonly step: number;
  readonly unit: string;
  readonly n: number | bigint;
  readonly d: number;
  readonly dims: number | bigint;
  readonly ids: number | bigint;
  readonly rows_key: string;
  readonly refs: number | bigint;
  readonly in_order: boolean | null;
  readonly stores: number | bigint;
  readonly arrays: number | bigint;
  readonly fields: number | bigint;
  readonly store: string | null;
  readonly array_id: string | null;
  readonly field: string | null;
}

/**
 * Tasks for the planned keys of one (run, sample_set, module) partition of `embeddings`. One
 * query summarises each checkpoint matrix inside DuckDB — its row count and width, the joined
 * row ids (the `rowsKey`), and whether its `shard_ref`s are rows 0…n−1 of a single array, the
 * layout `writeSyntheticEmbeddings` and the importers produce — so the main thread neither reads
 * nor converts one row object per sample (256 per matrix), and a worker gets one reference per
 * matrix. A layer whose checkpoints do not all have that layout (inline vectors, scattered refs,
 * or rows that fail a check, whose message names the row) is loaded row by row as before.
 */
async function loadPartitionTasks(lake: Lake, layerGroups: readonly PlannedKey[][]): Promise<AnalysisTask[]> {
  const planned = layerGroups.flat();
  const first = planned[0];
  if (!first) return [];
  const { key } = first;
  const layers = [...new Set(planned.map((p) => p.key.layer))];
  const steps = [...new Set(planned.flatMap((p) => p.steps.map((s) => s.step)))];
  const summaries = (await lake.query(`
    WITH r AS (
      SELECT layer, step, CASE WHEN token_index IS NULL THEN '*' ELSE sample_id END AS unit,
             CASE WHEN token_index IS NULL THEN sample_id ELSE CAST(token_index AS VARCHAR) END AS id,
             sample_id, token_index, dim, shard_ref,
             row_number() OVER (PARTITION BY layer, step, unit ORDER BY sample_id, token_index) - 1 AS pos
      FROM embeddings
      WHERE run_id = ${quoteLiteral(key.runId)} AND sample_set = ${quoteLiteral(key.sampleSet)}
        AND module = ${quoteLiteral(key.module)} AND layer IN (${layers.join(', ')})
        AND step IN (${steps.join(', ')})
    )
    SELECT layer, step, unit, count(*) AS n, min(dim) AS d, count(DISTINCT dim) AS dims,
           count(DISTINCT id) AS ids, string_agg(id, chr(0) ORDER BY sample_id, token_index) AS rows_key,
           count(shard_ref) AS refs, bool_and(coalesce(shard_ref.row = pos, false)) AS in_order,
           count(DISTINCT shard_ref.store) AS stores, count(DISTINCT shard_ref.sample_id) AS arrays,
           count(DISTINCT shard_ref.field) AS fields, min(shard_ref.store) AS store,
           min(shard_ref.sample_id) AS array_id, min(shard_ref.field) AS field
    FROM r GROUP BY layer, step, unit`)) as unknown as CheckpointSummary[];
  const byCheckpoint = new Map(summaries.map((s) => [`${s.layer}\u0000${s.unit}\u0000${s.step}`, s]));
  const summaryOf = (k: TrajectoryKey, step: number) =>
    byCheckpoint.get(`${k.layer}\u0000${k.sampleId}\u0000${step}`);
  const tasks: AnalysisTask[] = [];
  for (const group of layerGroups) {
    const whole = group.every((p) => p.steps.every((c) => isWholeArray(summaryOf(p.key, c.step))));
    if (!whole) {
      tasks.push(...(await loadGroupTasks(lake, group)));
      continue;
    }
    for (const p of group) {
      tasks.push({
        lake: lake.baseOut,
        key: p.key,
        checkpoints: p.steps.map((c): TaskCheckpoint => {
          const s = summaryOf(p.key, c.step) as CheckpointSummary;
          const ref = {
            store: s.store as string,
            sample_id: s.array_id as string,
            field: s.field as string,
            row: 0,
          };
          return { ...c, rowsKey: s.rows_key, matrix: { kind: 'array', ref, n: Number(s.n), d: s.d } };
        }),
      });
    }
  }
  return tasks;
}

/** Every row is a shard_ref, row i of the same array, with one width and distinct ids. */
function isWholeArray(s: CheckpointSummary | undefined): boolean {
  if (!s) return false;
  const n = Number(s.n);
  return (
    n > 0 &&
    Number(s.refs) === n &&
    Number(s.ids) === n &&
    Number(s.dims) === 1 &&
    s.in_order === true &&
    Number(s.stores) === 1 &&
    Number(s.arrays) === 1 &&
    Number(s.fields) === 1
  );
}

/** Groups the layer groups of {@link groupPlan} by (run, sample_set, module), a partition. */
function partitionGroups(groups: readonly PlannedKey[][]): PlannedKey[][][] {
  const out: PlannedKey[][][] = [];
  for (const group of groups) {
    const last = out.at(-1);
    const head = last?.[0]?.[0]?.key;
    const k = group[0]?.key;
    if (
      last &&
      head &&
      k &&
      head.runId === k.runId &&
      head.sampleSet === k.sampleSet &&
      head.module === k.module
    ) {
      last.push(group);
    } else out.push([group]);
  }
  return out;
}

/**
 * Loads the embeddings rows of every planned key of one (run, sample_set, module, layer) group
 * with one query, and turns them into tasks.
 */
async function loadGroupTasks(lake: Lake, group: readonly PlannedKey[]): Promise<AnalysisTask[]> {
  const first = group[0];
  if (!first) return [];
  const { key } = first;
  const steps = [...new Set(group.flatMap((p) => p.steps.map((s) => s.step)))];
  const rows = await lake.query(`
    SELECT step, CASE WHEN token_index IS NULL THEN '*' ELSE sample_id END AS unit,
           sample_id, token_index, dim, vector, shard_ref
    FROM embeddings
    WHERE run_id = ${quoteLiteral(key.runId)} AND sample_set = ${quoteLiteral(key.sampleSet)}
      AND module = ${quoteLiteral(key.module)} AND layer = ${key.layer}
      AND step IN (${steps.join(', ')})
    ORDER BY unit, step, sample_id, token_index`);
  const byCheckpoint = new Map<string, Record<string, unknown>[]>();
  for (const row of rows) {
    const id = `${row.unit as string}\u0000${row.step as number}`;
    const list = byCheckpoint.get(id);
    if (list) list.push(row);
    else byCheckpoint.set(id, [row]);
  }
  return group.map((planned) => ({
    lake: lake.baseOut,
    key: planned.key,
    checkpoints: planned.steps.map((checkpoint): TaskCheckpoint => {
      const matrixRows = byCheckpoint.get(`${planned.key.sampleId}\u0000${checkpoint.step}`) ?? [];
      try {
        return { ...checkpoint, ...matrixSource(planned.key, checkpoint.step, matrixRows) };
      } catch (error) {
        return { ...checkpoint, rowsKey: '', matrix: { kind: 'invalid', reason: (error as Error).message } };
      }
    }),
  }));
}

function matrixSource(
  key: TrajectoryKey,
  step: number,
  rows: readonly Record<string, unknown>[],
): { rowsKey: string; matrix: MatrixSource } {
  const where = `embeddings of ${key.runId}/${key.sampleSet}/${key.module}/L${key.layer} at step ${step}`;
  const d = rows[0]?.dim as number;
  const ids = rows.map((r) => (key.sampleId === '*' ? (r.sample_id as string) : String(r.token_index)));
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string, unknown>;
    if (row.dim !== d) {
      throw new RunlakeError(`${where}: sample ${row.sample_id} has dim ${row.dim}, the others ${d}`);
    }
    if (i > 0 && ids[i] === ids[i - 1]) {
      throw new RunlakeError(
        `${where}: sample ${row.sample_id} appears twice (token ${row.token_index ?? 'pooled'})`,
      );
    }
  }
  const rowsKey = ids.join('\u0000');
  if (rows.every((r) => r.shard_ref !== null && r.shard_ref !== undefined)) {
    return { rowsKey, matrix: { kind: 'refs', refs: rows.map((r) => r.shard_ref as ShardRef), d } };
  }
  const data = new Float32Array(rows.length * d);
  rows.forEach((row, i) => {
    const vector = row.vector as number[] | null;
    if (vector) data.set(vector, i * d);
    else {
      const ref = row.shard_ref as ShardRef;
      throw new RunlakeError(
        `${where}: sample ${row.sample_id} mixes inline vectors and shard_ref ${ref.store}:${ref.sample_id}; ` +
          'a checkpoint matrix must come from one of them',
      );
    }
  });
  return { rowsKey, matrix: { kind: 'inline', data, n: rows.length, d } };
}

/** Groups planned keys by (run, sample_set, module, layer), the unit of one embeddings query. */
function groupPlan(plan: readonly PlannedKey[]): PlannedKey[][] {
  const groups: PlannedKey[][] = [];
  for (const planned of plan) {
    const last = groups.at(-1);
    const head = last?.[0]?.key;
    const k = planned.key;
    if (
      last &&
      head &&
      head.runId === k.runId &&
      head.sampleSet === k.sampleSet &&
      head.module === k.module &&
      head.layer === k.layer
    ) {
      last.push(planned);
    } else groups.push([planned]);
  }
  return groups;
}

async function runTasks(
  lake: Lake,
  plan: readonly PlannedKey[],
  pool: WorkerPool | null,
  options: AnalyzeOptions,
  checkpointsTotal: number,
): Promise<AnalysisTaskResult[]> {
  const results: AnalysisTaskResult[] = [];
  let checkpointsDone = 0;
  const report = (result: AnalysisTaskResult, pending: number) => {
    results.push(result);
    checkpointsDone += pending;
    options.onProgress?.({
      keysDone: results.length,
      keysTotal: plan.length,
      checkpointsDone,
      checkpointsTotal,
    });
  };
  const pendingOf = (task: AnalysisTask) =>
    task.checkpoints.filter((c) => c.emitState || c.emitDynamics).length;
  const partitions = partitionGroups(groupPlan(plan));
  if (!pool) {
    for (const partition of partitions) {
      for (const task of await loadPartitionTasks(lake, partition)) {
        report(runAnalysisTask({ ...task, topK: options.topK }), pendingOf(task));
      }
    }
    return results;
  }
  const running: Promise<void>[] = [];
  for (const partition of partitions) {
    const tasks = await loadPartitionTasks(lake, partition);
    for (const task of tasks) {
      running.push(
        pool
          .run<AnalysisTaskResult>({ kind: 'task', task: { ...task, topK: options.topK } })
          .then((r) => report(r, pendingOf(task))),
      );
    }
    // Keep at most a few groups' matrices in flight, so inline embeddings do not pile up.
    if (pool.queued > pool.size * 4) await pool.drained(pool.size * 2);
  }
  await Promise.all(running);
  return results;
}

interface QueuedJob {
  readonly message: AnalysisWorkerMessage;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A fixed set of worker threads fed from a queue: {@link runAnalysisTask} per task, then shares of
 * the signature matching.
 */
class WorkerPool {
  readonly #idle: Worker[] = [];
  readonly #all: Worker[] = [];
  readonly #queue: QueuedJob[] = [];
  readonly #waiters: Array<{ below: number; resolve: () => void }> = [];

  constructor(size: number) {
    const script = new URL('./analysis-worker.js', import.meta.url);
    if (!existsSync(script)) {
      throw new RunlakeError(
        `worker script ${script.pathname} is missing (run the compiled package, or use workers: 1)`,
      );
    }
    for (let i = 0; i < size; i++) {
      const worker = new Worker(script);
      this.#all.push(worker);
      this.#idle.push(worker);
    }
  }

  get queued(): number {
    return this.#queue.length;
  }

  get size(): number {
    return this.#all.length;
  }

  run<T>(message: AnalysisWorkerMessage): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, resolve: resolve as (result: unknown) => void, reject });
      this.#pump();
    });
  }

  /** Resolves once fewer than `below` tasks wait in the queue. */
  drained(below: number): Promise<void> {
    if (this.#queue.length < below) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ below, resolve }));
  }

  #pump(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop() as Worker;
      const job = this.#queue.shift() as QueuedJob;
      const done = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        this.#idle.push(worker);
        for (const waiter of this.#waiters.splice(0)) {
          if (this.#queue.length < waiter.below) waiter.resolve();
          else this.#waiters.push(waiter);
        }
        this.#pump();
      };
      const onMessage = (message: { result?: unknown; error?: string }) => {
        done();
        if (message.result) job.resolve(message.result);
        else job.reject(new RunlakeError(message.error ?? 'analysis worker failed'));
      };
      const onError = (error: Error) => {
        done();
        job.reject(error);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      const { message } = job;
      const transfer =
        message.kind === 'task'
          ? message.task.checkpoints.flatMap((c) =>
              c.matrix.kind === 'inline' ? [c.matrix.data.buffer as ArrayBuffer] : [],
            )
          : [];
      worker.postMessage(message, transfer);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#all.map((w) => w.terminate()));
  }
}
