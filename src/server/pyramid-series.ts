import path from 'node:path';
import { type DuckDBValue, listValue } from '@duckdb/node-api';
import { METRICS_PYRAMID, PYRAMID_LEVELS, quoteLiteral } from '../lake/index.js';
import { type QueryLimits, type QueryResult, runReadOnlyQuery } from './query-runner.js';
import { forEachRunRow } from './run-rows.js';
import type { SandboxedLake } from './sandbox.js';
import { type ColumnMeans, gatherExtremes, meansOfSums, type RunColumns } from './series-reduce.js';

/** The part of a metric request the pyramid answers: runs, metric, width and step range (no smoothing, x = step). */
export interface PyramidRequest {
  readonly runs: readonly string[];
  readonly metric: string;
  readonly width: number;
  readonly from?: number;
  readonly to?: number;
}

/** What the served lake's pyramid covers: its rows of files no longer live, and the live files it lacks. */
interface Coverage {
  /** Source files of pyramid rows that are no longer live `metrics_scalar` files. */
  readonly stale: string[];
  /** Absolute paths of live `metrics_scalar` files the pyramid does not summarise. */
  readonly uncovered: string[];
  readonly live: number;
}

// A sandbox reads one snapshot of each dataset, so what the pyramid covers is worked out once per sandbox.
const coverageOf = new WeakMap<SandboxedLake, Promise<Coverage | undefined>>();

// Past this share of live files missing from the pyramid, reading the points is as quick.
const MAX_UNCOVERED_SHARE = 0.25;

/**
 * How the served lake's pyramid stands against its `metrics_scalar` snapshot, or `undefined` when
 * the pyramid cannot serve (no pyramid, no commit log, or too many files it does not cover).
 */
function coverage(served: SandboxedLake, limits: QueryLimits): Promise<Coverage | undefined> {
  if (!served.pyramid) return Promise.resolve(undefined);
  let found = coverageOf.get(served);
  if (!found) {
    found = loadCoverage(served, limits);
    coverageOf.set(served, found);
  }
  return found;
}

async function loadCoverage(served: SandboxedLake, limits: QueryLimits): Promise<Coverage | undefined> {
  const metrics = served.lake.datasets.get('metrics_scalar');
  const pyramid = served.lake.datasets.get(METRICS_PYRAMID);
  if (!metrics?.files || metrics.files.length === 0 || !pyramid?.files || pyramid.files.length === 0) return;
  const result = await runReadOnlyQuery(served, `SELECT DISTINCT source_file FROM ${METRICS_PYRAMID}`, {
    ...limits,
    maxRows: Number.MAX_SAFE_INTEGER,
  });
  const covered = new Set((result.columns[0] ?? []).map(String));
  const live = new Set(metrics.files.map((f) => f.relative));
  const directory = served.lake.paths.dataset('metrics_scalar');
  const uncovered = [...live].filter((file) => !covered.has(file)).map((file) => path.join(directory, file));
  if (uncovered.length > MAX_UNCOVERED_SHARE * live.size) return;
  return { stale: [...covered].filter((file) => !live.has(file)), uncovered, live: live.size };
}

/** The level, columns and bucket range a request reads from the pyramid. */
export interface PyramidPlan {
  readonly level: number;
  /** Buckets per column. */
  readonly perColumn: number;
  /** First and last bucket of the range (whole buckets: the range widens by less than a column). */
  readonly first: number;
  readonly last: number;
}

/**
 * The number of columns a plan cuts its bucket range into.
 *
 * @example
 * ```ts
 * columnCount({ level: 8, perColumn: 2, first: 0, last: 9 }); // 5
 * ```
 */
export function columnCount(plan: PyramidPlan): number {
  return Math.floor((plan.last - plan.first) / plan.perColumn) + 1;
}

/**
 * The coarsest level with at least one bucket per pixel column over `[x0, x1]`, and the whole
 * number of its buckets nearest a pixel column's span (so a column's extremes are exact, and
 * there are about as many columns as pixels); with `coarse`, the finest level when even it is
 * coarser than a column.
 */
function planOf(x0: number, x1: number, width: number, coarse: boolean): PyramidPlan | undefined {
  const span = (x1 - x0) / width;
  let level: number | undefined;
  for (const candidate of PYRAMID_LEVELS) if (candidate <= span) level = candidate;
  if (level === undefined && coarse) level = PYRAMID_LEVELS[0];
  if (level === undefined) return;
  return {
    level,
    perColumn: Math.max(1, Math.round(span / level)),
    first: Math.floor(x0 / level),
    last: Math.floor(x1 / level),
  };
}

/**
 * The pyramid rows of a request at one level in its bucket range, with the points of live files
 * the pyramid does not cover folded into buckets of the same level: `(run_id, bucket, points,
 * step_min, step_max, s_lo, v_lo, s_hi, v_hi, finite, value_sum, step_sum)` rows, where one
 * bucket may have several (one per source file).
 */
function bucketRows(
  request: PyramidRequest,
  cover: Coverage,
  plan: { level: number; first?: number; last?: number },
): { sql: string; params: DuckDBValue[] } {
  const params: DuckDBValue[] = [listValue([...request.runs]), request.metric, plan.level];
  const bind = (value: DuckDBValue) => {
    params.push(value);
    return `$${params.length}`;
  };
  const buckets: string[] = [];
  if (plan.first !== undefined) buckets.push(`bucket >= ${bind(plan.first)}`);
  if (plan.last !== undefined) buckets.push(`bucket <= ${bind(plan.last)}`);
  if (cover.stale.length > 0)
    buckets.push(`NOT list_contains(${bind(listValue(cover.stale))}::VARCHAR[], source_file)`);
  const and = (terms: string[]) => terms.map((term) => ` AND ${term}`).join('');
  const parts = [
    `SELECT run_id, bucket, points, step_min, step_max, s_lo, v_lo, s_hi, v_hi, finite, value_sum, step_sum
     FROM ${METRICS_PYRAMID}
     WHERE level = $3 AND metric_name = $2 AND run_id IN (SELECT unnest($1::VARCHAR[]))${and(buckets)}`,
  ];
  if (cover.uncovered.length > 0) {
    const steps: string[] = [];
    if (plan.first !== undefined) steps.push(`step >= ${bind(plan.first * plan.level)}`);
    if (plan.last !== undefined) steps.push(`step <= ${bind((plan.last + 1) * plan.level - 1)}`);
    const files = cover.uncovered.map(quoteLiteral).join(', ');
    const finite = 'isfinite(value)';
    parts.push(
      `SELECT run_id::VARCHAR, step // $3, 1, step, step, step, value, step, value, CASE WHEN ${finite} THEN 1 ELSE 0 END,
              CASE WHEN ${finite} THEN value END, CASE WHEN ${finite} THEN step::DOUBLE END
       FROM read_parquet([${files}], hive_partitioning = true, union_by_name = true)
       WHERE metric_name = $2 AND run_id::VARCHAR IN (SELECT unnest($1::VARCHAR[])) AND value IS NOT NULL
         AND step IS NOT NULL${and(steps)}`,
    );
  }
  return { sql: parts.join(' UNION ALL '), params };
}

/**
 * The lake's scalar metrics with how many runs and points log each, from the pyramid's coarsest
 * level and the files it does not cover, or `undefined` when the pyramid cannot answer: a 10,000-run
 * lake's metric list without opening 10,000 files.
 *
 * @example
 * ```ts
 * (await pyramidMetricNames(lake, limits))?.rowCount; // 3
 * ```
 */
export async function pyramidMetricNames(
  served: SandboxedLake,
  limits: QueryLimits,
): Promise<QueryResult | undefined> {
  const cover = await coverage(served, limits);
  if (!cover) return;
  const coarsest = PYRAMID_LEVELS[PYRAMID_LEVELS.length - 1] as number;
  const params: DuckDBValue[] = [];
  const stale = cover.stale.length > 0 ? ' AND NOT list_contains($1::VARCHAR[], source_file)' : '';
  if (stale) params.push(listValue(cover.stale));
  const parts = [
    `SELECT metric_name, run_id, points FROM ${METRICS_PYRAMID} WHERE level = ${coarsest}${stale}`,
  ];
  if (cover.uncovered.length > 0) {
    parts.push(
      `SELECT metric_name, run_id::VARCHAR, 1 FROM read_parquet([${cover.uncovered.map(quoteLiteral).join(', ')}], hive_partitioning = true, union_by_name = true)`,
    );
  }
  return runReadOnlyQuery(
    served,
    `SELECT metric_name, count(DISTINCT run_id) AS runs, sum(points)::BIGINT AS points
     FROM (${parts.join(' UNION ALL ')}) GROUP BY metric_name ORDER BY metric_name`,
    limits,
    params,
  );
}

/** The step span of the requested runs in range, from the coarsest level and the uncovered files. */
async function stepSpan(
  served: SandboxedLake,
  request: PyramidRequest,
  cover: Coverage,
  limits: QueryLimits,
): Promise<{ x0: number; x1: number } | undefined> {
  const coarsest = PYRAMID_LEVELS[PYRAMID_LEVELS.length - 1] as number;
  const { sql, params } = bucketRows(request, cover, {
    level: coarsest,
    ...(request.from !== undefined ? { first: Math.floor(request.from / coarsest) } : {}),
    ...(request.to !== undefined ? { last: Math.floor(request.to / coarsest) } : {}),
  });
  const result = await runReadOnlyQuery(
    served,
    `SELECT min(step_min)::DOUBLE, max(step_max)::DOUBLE FROM (${sql})`,
    limits,
    params,
  );
  const [first, last] = (result.columns as unknown[][]).map((c) => c[0]);
  if (typeof first !== 'number' || typeof last !== 'number') return;
  // The first and last buckets may reach past the range: cut the span to it.
  const x0 = Math.max(request.from ?? Number.NEGATIVE_INFINITY, first);
  const x1 = Math.min(request.to ?? Number.POSITIVE_INFINITY, last);
  if (x0 > x1) return;
  return { x0, x1 };
}

/** The plan of a request and the SELECT of its bucket rows, or undefined when the pyramid cannot answer. */
async function plannedRows(
  served: SandboxedLake,
  request: PyramidRequest,
  coarse: boolean,
  limits: QueryLimits,
): Promise<{ plan: PyramidPlan; sql: string; params: DuckDBValue[] } | undefined> {
  const cover = await coverage(served, limits);
  if (!cover) return;
  const span = await stepSpan(served, request, cover, limits);
  if (!span) return;
  const plan = planOf(span.x0, span.x1, request.width, coarse);
  if (!plan) return;
  return { plan, ...bucketRows(request, cover, plan) };
}

/**
 * Each run's extremes per column from the lake's downsampling pyramid ({@link buildMetricsPyramid}),
 * or `undefined` when the pyramid cannot answer (none, too stale, or the range too short for its
 * finest level): then the caller reads the points. Columns are whole buckets (see {@link planOf}:
 * about one column per pixel), so each column's minimum and maximum are exact and at their own
 * steps; a zoomed range widens to whole buckets (less than a column at each end).
 *
 * @example
 * ```ts
 * const answer = await pyramidExtremes(lake, { runs, metric: 'loss', width: 1000 }, limits);
 * answer?.byRun.get('r1')?.columns.px.length; // about 1000
 * answer?.plan.level; // 8: buckets of 8 steps
 * ```
 */
export async function pyramidExtremes(
  served: SandboxedLake,
  request: PyramidRequest,
  limits: QueryLimits,
): Promise<{ byRun: Map<string, RunColumns>; plan: PyramidPlan } | undefined> {
  const planned = await plannedRows(served, request, false, limits);
  if (!planned) return;
  const { plan, sql, params } = planned;
  const byRun = new Map<string, RunColumns>();
  // Each run's bucket rows as lists, merged into columns here: one pass over typed arrays costs
  // less than DuckDB's hash aggregate over a million (run, column) groups.
  await forEachRunRow(
    served,
    `SELECT run_id, sum(points)::DOUBLE AS total, list(s_lo::DOUBLE) AS s_lo,
            list(v_lo) AS v_lo, list(s_hi::DOUBLE) AS s_hi, list(v_hi) AS v_hi
     FROM (${sql}) GROUP BY run_id`,
    limits,
    params,
    (row) => byRun.set(String(row.run_id), extremesOfBuckets(row as unknown as BucketExtremes, plan)),
  );
  return { byRun, plan };
}

/**
 * Each run's mean step and value per column from the pyramid, for mean ± std bands (see
 * {@link pyramidExtremes}): columns are whole buckets, and when the range is too short for even
 * the finest level to fit a pixel column, the finest level still serves a request of more runs
 * than `manyRuns` (their files would cost more to read than the band loses in resolution).
 *
 * @example
 * ```ts
 * const means = await pyramidColumnMeans(lake, { runs, metric: 'loss', width: 1000 }, 1000, limits);
 * ```
 */
export async function pyramidColumnMeans(
  served: SandboxedLake,
  request: PyramidRequest,
  manyRuns: number,
  limits: QueryLimits,
): Promise<{ byRun: Map<string, ColumnMeans>; plan: PyramidPlan } | undefined> {
  const planned = await plannedRows(served, request, request.runs.length > manyRuns, limits);
  if (!planned) return;
  const { plan, sql, params } = planned;
  const byRun = new Map<string, ColumnMeans>();
  await forEachRunRow(
    served,
    `SELECT run_id, list(bucket::DOUBLE) AS bucket, list(finite::DOUBLE) AS finite, list(value_sum) AS value_sum,
            list(step_sum) AS step_sum
     FROM (${sql}) GROUP BY run_id`,
    limits,
    params,
    (row) => {
      const means = meansOfBuckets(row as unknown as BucketSums, plan);
      if (means.column.length > 0) byRun.set(String(row.run_id), means);
    },
  );
  return { byRun, plan };
}

/** One run's pyramid rows of one level, as lists (several rows may share a bucket). */
interface BucketExtremes {
  readonly total: number;
  /** The step of each row's minimum: it lies in the row's bucket, so it tells the bucket too. */
  readonly s_lo: Float64Array;
  readonly v_lo: Float64Array;
  readonly s_hi: Float64Array;
  readonly v_hi: Float64Array;
}

// DuckDB's order, which the pyramid's min/max were taken in: NaN above every number.
const below = (a: number, b: number) => a < b || (Number.isNaN(b) && !Number.isNaN(a));
const above = (a: number, b: number) => a > b || (Number.isNaN(a) && !Number.isNaN(b));

/**
 * A run's extremes per plan column from its bucket rows: each column's minimum and maximum over
 * the rows of its buckets (the earlier step on ties), in column order, and the run's point count.
 *
 * @example
 * ```ts
 * extremesOfBuckets(rows, { level: 8, perColumn: 1, first: 0, last: 1249 }).columns.px.length; // ≤ 1250
 * ```
 */
export function extremesOfBuckets(rows: BucketExtremes, plan: PyramidPlan): RunColumns {
  const column = new Float64Array(rows.s_lo.length);
  for (let i = 0; i < column.length; i++) {
    column[i] = Math.floor((Math.floor((rows.s_lo[i] as number) / plan.level) - plan.first) / plan.perColumn);
  }
  // One row per column, in order: the rows are the columns as they stand.
  if (strictlyIncreasing(column))
    return { total: rows.total, columns: { ...rows, px: column }, exact: false };
  const width = columnCount(plan);
  const lo = new Int32Array(width).fill(-1);
  const hi = new Int32Array(width).fill(-1);
  for (let i = 0; i < column.length; i++) {
    const px = column[i] as number;
    const l = lo[px] as number;
    const v = rows.v_lo[i] as number;
    if (
      l < 0 ||
      below(v, rows.v_lo[l] as number) ||
      (v === rows.v_lo[l] && (rows.s_lo[i] as number) < (rows.s_lo[l] as number))
    )
      lo[px] = i;
    const h = hi[px] as number;
    const w = rows.v_hi[i] as number;
    if (
      h < 0 ||
      above(w, rows.v_hi[h] as number) ||
      (w === rows.v_hi[h] && (rows.s_hi[i] as number) < (rows.s_hi[h] as number))
    )
      hi[px] = i;
  }
  const columns = gatherExtremes(
    lo,
    hi,
    { step: rows.s_lo, value: rows.v_lo },
    { step: rows.s_hi, value: rows.v_hi },
  );
  return { total: rows.total, columns, exact: false };
}

function strictlyIncreasing(values: ArrayLike<number>): boolean {
  for (let i = 1; i < values.length; i++)
    if (!((values[i] as number) > (values[i - 1] as number))) return false;
  return true;
}

/** One run's pyramid rows of one level with the sums a mean needs, as lists. */
interface BucketSums {
  readonly bucket: Float64Array;
  readonly finite: Float64Array;
  readonly value_sum: Float64Array;
  readonly step_sum: Float64Array;
}

/**
 * A run's mean step and mean value per plan column from its bucket rows (finite values only), in
 * column order; columns without a finite value are left out.
 *
 * @example
 * ```ts
 * meansOfBuckets(rows, { level: 8, perColumn: 2, first: 0, last: 9 }).column; // [0, 1, 2, 3, 4]
 * ```
 */
export function meansOfBuckets(rows: BucketSums, plan: PyramidPlan): ColumnMeans {
  const width = columnCount(plan);
  const count = new Float64Array(width);
  const values = new Float64Array(width);
  const steps = new Float64Array(width);
  for (let i = 0; i < rows.bucket.length; i++) {
    const n = rows.finite[i] as number;
    if (!(n > 0)) continue;
    const px = Math.floor(((rows.bucket[i] as number) - plan.first) / plan.perColumn);
    count[px] = (count[px] as number) + n;
    values[px] = (values[px] as number) + (rows.value_sum[i] as number);
    steps[px] = (steps[px] as number) + (rows.step_sum[i] as number);
  }
  return meansOfSums(count, steps, values);
}
