import path from 'node:path';
import { type DuckDBValue, listValue } from '@duckdb/node-api';
import { parsePartitionPath, readParquetSql } from '../lake/index.js';
import { listRuns, requireDataset } from './dashboard-queries.js';
import { BadRequestError } from './errors.js';
import {
  columnCount,
  type PyramidPlan,
  pyramidColumnMeans,
  pyramidExtremes,
  pyramidMetricNames,
} from './pyramid-series.js';
import { type QueryLimits, runReadOnlyQuery } from './query-runner.js';
import { resultToJson } from './result-encoding.js';
import { forEachRunRow } from './run-rows.js';
import type { SandboxedLake } from './sandbox.js';
import {
  alignExtremes,
  type Band,
  bandOf,
  type ColumnExtremes,
  type ColumnMeans,
  extremesPerColumn,
  inColumnOrder,
  meanPerColumn,
  type PixelGrid,
  pixelGridOf,
  type RunColumns,
  type SmoothingKind,
  type StepSeries,
  smoothSeries,
} from './series-reduce.js';

/**
 * The x axis of a metric request: the step, the wall-clock time of each point (Unix epoch
 * seconds), the seconds since the run's first logged point, or training tokens.
 */
export type XAxis = 'step' | 'wall_time' | 'relative_time' | 'tokens';

/** The x axes a request may name. */
export const X_AXES: readonly XAxis[] = ['step', 'wall_time', 'relative_time', 'tokens'];

/** One run's series in a `GET /api/metrics` answer. */
export interface MetricSeries {
  readonly run_id: string;
  /** Points of the run in the requested range before downsampling. */
  readonly total: number;
  /** Whether the points were reduced to the min and max of each pixel column. */
  readonly downsampled: boolean;
  /** The x values of the points, in the request's `x` units (steps by default). */
  readonly step: ArrayLike<number>;
  readonly value: ArrayLike<number>;
  /** Why the run has no points on this x axis (e.g. no token count), when that is the reason. */
  readonly reason?: string;
}

/** The request of {@link metricSeries} and {@link metricGroups}. */
export interface MetricRequest {
  readonly runs: readonly string[];
  readonly metric: string;
  /** Pixel columns of the chart; a run with more than `2 × width` points is downsampled. */
  readonly width: number;
  /** The x range, in `x` units. */
  readonly from?: number;
  readonly to?: number;
  /**
   * The smoothing strength in `[0, 1)` (default 0): applied to each run's whole series, in logging
   * order, before the range cut and the downsampling, so a smoothed curve does not change with zoom.
   */
  readonly smoothing?: number;
  /** How to smooth (default `ema`, TensorBoard's debiased EMA); see {@link smoothingWindow}. */
  readonly smoothingKind?: SmoothingKind;
  /** The x axis (default `step`); points are binned over it and `from`/`to` are in its units. */
  readonly x?: XAxis;
  /**
   * Put every run on one shared x array when any run is downsampled (see {@link alignExtremes}):
   * the answer says `aligned: true`, every series has the same `step`, and gaps are NaN (null in
   * JSON). A chart then skips merging the runs' x arrays.
   */
  readonly aligned?: boolean;
}

/** The request of {@link metricGroups}: a {@link MetricRequest} and the keys to group by. */
export interface MetricGroupRequest extends MetricRequest {
  /** Parameter names (keys of the grid's params) or `runs` columns, such as `lr` or `model`. */
  readonly by: readonly string[];
}

/** One group of a `GET /api/metric-groups` answer: its key, its runs and its band. */
export interface MetricGroup extends Band {
  readonly key: Record<string, unknown>;
  readonly runs: string[];
}

/**
 * Per-run series of one scalar metric, downsampled to at most two points per pixel column: the
 * minimum and the maximum (at their own steps), so a one-step spike survives at any zoom. Columns
 * span the steps present in `[from, to]` across the requested runs, so runs line up; a run with
 * at most `2 × width` points in the range comes back at full resolution.
 *
 * Unsmoothed, DuckDB does the binning. With `smoothing`, each run's full-resolution points up to
 * `to` are smoothed first (TensorBoard's debiased EMA) and binned by the same rule.
 *
 * @example
 * ```ts
 * const { series } = await metricSeries(lake, { runs: ['r1'], metric: 'loss', width: 800, smoothing: 0.6 }, limits);
 * series[0]?.step.length; // ≤ 1600
 * ```
 */
export async function metricSeries(
  served: SandboxedLake,
  request: MetricRequest,
  limits: QueryLimits,
): Promise<{
  metric: string;
  x: XAxis;
  width: number;
  smoothing: number;
  smoothingKind: SmoothingKind;
  aligned: boolean;
  /** Set when the downsampling pyramid answered: its bucket size (steps) and buckets per column. */
  pyramid?: PyramidUse;
  series: MetricSeries[];
}> {
  requireDataset(served, 'metrics_scalar');
  const smoothing = request.smoothing ?? 0;
  const x = request.x ?? 'step';
  const axis = await xAxisOf(served, request, limits);
  const { byRun, aligned, pyramid } = await reduceRuns(
    served,
    axis.source,
    request,
    limits,
    pyramidMetric(request),
  );
  const reasons = await whyEmpty(
    served,
    request,
    request.runs.filter((runId) => !byRun.has(runId)),
    axis.reasons,
    limits,
  );
  const series = request.runs.map((runId) => {
    const found = byRun.get(runId) ?? { total: 0, step: [], value: [] };
    const reason = reasons.get(runId);
    return {
      run_id: runId,
      ...found,
      downsampled: found.total > 2 * request.width,
      ...(reason ? { reason } : {}),
    };
  });
  return {
    metric: request.metric,
    x,
    width: request.width,
    smoothing,
    smoothingKind: request.smoothingKind ?? 'ema',
    aligned,
    ...(pyramid ? { pyramid } : {}),
    series,
  };
}

/**
 * Mean ± std bands of one scalar metric over the runs of each group, where runs group by the
 * values of `by` (typically every sweep parameter but the seed). Each run is first reduced to its
 * mean per pixel column (after smoothing, when asked); a group's band is the mean and sample
 * standard deviation of its runs in each column.
 *
 * @example
 * ```ts
 * const { groups } = await metricGroups(lake, { runs, metric: 'loss', width: 800, by: ['lr'] }, limits);
 * groups[0]?.key; // { lr: 0.001 }
 * ```
 */
export async function metricGroups(
  served: SandboxedLake,
  request: MetricGroupRequest,
  limits: QueryLimits,
): Promise<{
  metric: string;
  x: XAxis;
  by: readonly string[];
  width: number;
  smoothing: number;
  smoothingKind: SmoothingKind;
  /** Why a run has no points on this x axis, by run id (only runs with such a reason). */
  reasons: Record<string, string>;
  /** Set when the downsampling pyramid answered: its bucket size (steps) and buckets per column. */
  pyramid?: PyramidUse;
  groups: MetricGroup[];
}> {
  requireDataset(served, 'metrics_scalar');
  if (request.by.length === 0) throw new BadRequestError('name a parameter to group by: ?by=lr');
  const smoothing = request.smoothing ?? 0;
  const groups = await groupRuns(served, request, limits);
  const axis = await xAxisOf(served, request, limits);
  const metric = pyramidMetric(request);
  const fromPyramid =
    metric !== undefined
      ? await pyramidColumnMeans(served, { ...request, metric }, MANY_RUNS, limits)
      : undefined;
  const means = fromPyramid?.byRun ?? (await columnMeans(served, axis.source, request, limits));
  const reasons = await whyEmpty(
    served,
    request,
    request.runs.filter((runId) => !means.has(runId)),
    axis.reasons,
    limits,
  );
  return {
    metric: request.metric,
    x: request.x ?? 'step',
    by: request.by,
    width: request.width,
    smoothing,
    smoothingKind: request.smoothingKind ?? 'ema',
    reasons: Object.fromEntries(reasons),
    ...(fromPyramid ? { pyramid: pyramidUse(fromPyramid.plan) } : {}),
    groups: groups.map((group) => ({
      key: group.key,
      runs: group.runs,
      ...bandOf(
        group.runs.flatMap((runId) => means.get(runId) ?? []),
        fromPyramid ? columnCount(fromPyramid.plan) : request.width,
      ),
    })),
  };
}

/**
 * The scalar metrics of the lake with how many runs and points log each.
 *
 * @example
 * ```ts
 * (await metricNames(lake, limits)).metrics; // [{ metric_name: 'loss', runs: 4, points: 2000 }]
 * ```
 */
export async function metricNames(
  served: SandboxedLake,
  limits: QueryLimits,
): Promise<{ metrics: Record<string, unknown>[]; truncated: boolean }> {
  requireDataset(served, 'metrics_scalar');
  const json = resultToJson(
    (await pyramidMetricNames(served, limits)) ??
      (await runReadOnlyQuery(
        served,
        'SELECT metric_name, count(DISTINCT run_id) AS runs, count(*) AS points FROM metrics_scalar GROUP BY metric_name ORDER BY metric_name',
        limits,
      )),
  );
  return { metrics: json.rows as Record<string, unknown>[], truncated: json.truncated };
}

/** A SELECT with its values bound as parameters `$1…`, never spliced into the text. */
export interface BoundSelect {
  readonly sql: string;
  readonly params: DuckDBValue[];
  /**
   * A column of the SELECT holding the points' logging order when it is not their x (`step`), as
   * when x is wall time: smoothing follows it. A source with it ignores the range for smoothing
   * and the range is cut after.
   */
  readonly orderColumn?: string;
}

/**
 * Where the points of a series request come from: a SELECT of `(run_id, step, value)` rows of the
 * given runs within the step range (either end optional), with non-null values. The min/max and
 * band reductions below run over any such source: `metrics_scalar` for runs
 * ({@link metricsScalarSource}), or a sweep's `events` with `grid_id/seed` as the run id.
 */
export type PointSource = (runs: readonly string[], range: { from?: number; to?: number }) => BoundSelect;

/** The part of a {@link MetricRequest} the reductions need: which runs, the pixel width, the range, smoothing. */
export type SeriesRequest = Pick<
  MetricRequest,
  'runs' | 'width' | 'from' | 'to' | 'smoothing' | 'smoothingKind' | 'aligned'
>;

/**
 * A {@link PointSource} over `metrics_scalar`: one metric of the given runs, with the chosen x as
 * its `step` column (see {@link XAxis}). For `tokens`, `tokens` says which token counts the lake
 * has: a run's `runs.tokens_per_step` (x = step × it) wins; else its `checkpoints.tokens_seen`,
 * linearly interpolated over step between checkpoints, from 0 tokens at step 0 when no checkpoint
 * is at or before step 0, and extended past the last checkpoint with the last segment's rate.
 * `from` names the relation the step axis reads for some runs: the view of every run's points by
 * default, or a `read_parquet` of just those runs' files (a few runs of a large lake).
 *
 * @example
 * ```ts
 * metricsScalarSource('loss')(['r1'], { from: 100 }).sql; // SELECT run_id, step, value FROM metrics_scalar WHERE …
 * metricsScalarSource('loss', 'wall_time')(['r1'], {}).orderColumn; // 'ord'
 * ```
 */
export function metricsScalarSource(
  metric: string,
  x: XAxis = 'step',
  tokens: { perStep: boolean; seen: boolean } = { perStep: false, seen: false },
  from: (runs: readonly string[]) => string = () => 'metrics_scalar',
): PointSource {
  if (x !== 'step') return xMetricsSource(metric, x, tokens);
  return (runs, range) => {
    const params: DuckDBValue[] = [];
    const bind = (value: DuckDBValue): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const filters = [
      // One list parameter, not an IN list of a thousand: DuckDB still prunes the run_id partitions
      // with it (a file filter) and evaluates it in a third of the time at 1000 runs.
      `list_contains(${bind(listValue([...runs]))}::VARCHAR[], run_id)`,
      `metric_name = ${bind(metric)}`,
      'value IS NOT NULL',
    ];
    if (range.from !== undefined) filters.push(`step >= ${bind(range.from)}`);
    if (range.to !== undefined) filters.push(`step <= ${bind(range.to)}`);
    return { sql: `SELECT run_id, step, value FROM ${from(runs)} WHERE ${filters.join(' AND ')}`, params };
  };
}

// Each sandbox's metrics_scalar files by run, from its snapshot (partitioned by run_id).
const filesByRun = new WeakMap<SandboxedLake, Map<string, string[]> | undefined>();

/**
 * Where a few runs' points are read from: their own `metrics_scalar` files when the dataset is
 * partitioned by run and they are under half its files, else the view. Binding the view of a
 * 10,000-run lake lists 10,000 files; reading 4 runs' files binds 4.
 */
function runsFiles(served: SandboxedLake, runs: readonly string[]): string {
  const dataset = served.lake.datasets.get('metrics_scalar');
  if (!filesByRun.has(served)) {
    const byRun =
      dataset?.files && dataset.manifest.partitionBy[0]?.name === 'run_id'
        ? new Map<string, string[]>()
        : undefined;
    const directory = served.lake.paths.dataset('metrics_scalar');
    for (const file of byRun ? (dataset?.files ?? []) : []) {
      const runId = parsePartitionPath(file.relative)[0]?.[1];
      if (runId === null || runId === undefined) continue;
      const list = byRun?.get(runId);
      const absolute = path.join(directory, file.relative);
      if (list) list.push(absolute);
      else byRun?.set(runId, [absolute]);
    }
    filesByRun.set(served, byRun);
  }
  const byRun = filesByRun.get(served);
  if (!byRun || !dataset) return 'metrics_scalar';
  const files = runs.flatMap((runId) => byRun.get(runId) ?? []);
  if (files.length === 0 || files.length * 2 > (dataset.files?.length ?? 0)) return 'metrics_scalar';
  return readParquetSql(files, dataset.manifest);
}

/** Column names of a view of the served lake, or none when the lake has no such dataset. */
async function viewColumns(served: SandboxedLake, view: string, limits: QueryLimits): Promise<Set<string>> {
  if (!served.lake.datasets.has(view)) return new Set();
  const result = await runReadOnlyQuery(served, `SELECT * FROM ${view} LIMIT 0`, limits);
  return new Set(result.columnNames);
}

/** Why runs have no token axis: neither `runs.tokens_per_step` nor `checkpoints.tokens_seen`. */
const NO_TOKENS = 'no token count: the run has no runs.tokens_per_step and no checkpoints.tokens_seen';

/**
 * The point source of a metric request on its x axis, and the runs known up front to have no
 * points on it (with why): for `tokens`, runs with neither a `tokens_per_step` nor checkpoints
 * with `tokens_seen`.
 */
async function xAxisOf(
  served: SandboxedLake,
  request: MetricRequest,
  limits: QueryLimits,
): Promise<{ source: PointSource; reasons: Map<string, string> }> {
  const x = request.x ?? 'step';
  const reasons = new Map<string, string>();
  if (x !== 'tokens') {
    return {
      source: metricsScalarSource(request.metric, x, undefined, (runs) => runsFiles(served, runs)),
      reasons,
    };
  }
  const tokens = {
    perStep: (await viewColumns(served, 'runs', limits)).has('tokens_per_step'),
    seen: (await viewColumns(served, 'checkpoints', limits)).has('tokens_seen'),
  };
  const parts: string[] = [];
  if (tokens.perStep)
    parts.push('SELECT run_id FROM runs WHERE list_contains($1::VARCHAR[], run_id) AND tokens_per_step > 0');
  if (tokens.seen)
    parts.push(
      'SELECT run_id FROM checkpoints WHERE list_contains($1::VARCHAR[], run_id) AND tokens_seen IS NOT NULL',
    );
  const counted = new Set<string>();
  if (parts.length > 0) {
    const result = await runReadOnlyQuery(
      served,
      `SELECT DISTINCT run_id FROM (${parts.join(' UNION ALL ')})`,
      { ...limits, maxRows: Math.max(limits.maxRows, request.runs.length) },
      [listValue([...request.runs])],
    );
    for (const runId of result.columns[0] ?? []) counted.add(String(runId));
  }
  for (const runId of request.runs) if (!counted.has(runId)) reasons.set(runId, NO_TOKENS);
  return { source: metricsScalarSource(request.metric, x, tokens), reasons };
}

/**
 * Why runs came back without points: the reasons known up front, and for a wall-clock x, runs
 * whose points of the metric all lack a `wall_time`. A run with no points in the range, or none
 * of the metric at all, has no reason: that is not an x-axis matter.
 */
async function whyEmpty(
  served: SandboxedLake,
  request: MetricRequest,
  empty: readonly string[],
  known: ReadonlyMap<string, string>,
  limits: QueryLimits,
): Promise<Map<string, string>> {
  const reasons = new Map<string, string>();
  for (const runId of empty) {
    const reason = known.get(runId);
    if (reason) reasons.set(runId, reason);
  }
  const x = request.x ?? 'step';
  const unexplained = empty.filter((runId) => !reasons.has(runId));
  if ((x === 'wall_time' || x === 'relative_time') && unexplained.length > 0) {
    const result = await runReadOnlyQuery(
      served,
      `SELECT run_id FROM metrics_scalar
       WHERE list_contains($1::VARCHAR[], run_id) AND metric_name = $2 AND value IS NOT NULL
       GROUP BY run_id HAVING count(wall_time) = 0`,
      { ...limits, maxRows: Math.max(limits.maxRows, unexplained.length) },
      [listValue(unexplained), request.metric],
    );
    for (const runId of result.columns[0] ?? []) {
      reasons.set(String(runId), `no wall_time: the run's points of "${request.metric}" have no wall_time`);
    }
  }
  return reasons;
}

/** The {@link metricsScalarSource} of a non-step x: the x computed in a derived table, cut outside it. */
function xMetricsSource(metric: string, x: XAxis, tokens: { perStep: boolean; seen: boolean }): PointSource {
  return (runs, range) => {
    const params: DuckDBValue[] = [listValue([...runs]), metric];
    const bind = (value: DuckDBValue): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const inRuns = (column: string) => `list_contains($1::VARCHAR[], ${column})`;
    const where = [inRuns('m.run_id'), 'm.metric_name = $2', 'm.value IS NOT NULL'];
    let ctes = '';
    let joins = '';
    let xs: string;
    if (x === 'wall_time') {
      xs = 'epoch_us(m.wall_time) / 1e6';
    } else if (x === 'relative_time') {
      // The run's first logged point of any metric is its time zero.
      joins = `JOIN (SELECT run_id, min(wall_time) AS t0 FROM metrics_scalar WHERE ${inRuns('run_id')} GROUP BY run_id) f
        ON f.run_id = m.run_id`;
      xs = '(epoch_us(m.wall_time) - epoch_us(f.t0)) / 1e6';
    } else {
      const perStep = tokens.perStep
        ? `(SELECT run_id, any_value(tokens_per_step)::DOUBLE AS tps FROM runs
            WHERE ${inRuns('run_id')} AND tokens_per_step > 0 GROUP BY run_id)`
        : '(SELECT NULL::VARCHAR AS run_id, NULL::DOUBLE AS tps WHERE false)';
      const seen = tokens.seen
        ? `SELECT run_id, step AS s, max(tokens_seen)::DOUBLE AS t FROM checkpoints
           WHERE ${inRuns('run_id')} AND step IS NOT NULL AND tokens_seen IS NOT NULL GROUP BY run_id, step`
        : 'SELECT NULL::VARCHAR AS run_id, NULL::BIGINT AS s, NULL::DOUBLE AS t WHERE false';
      // A run starts at 0 tokens at step 0 unless a checkpoint says otherwise.
      ctes = `WITH ck0 AS (${seen}),
        ck AS (
          SELECT run_id, s, t FROM ck0
          UNION ALL SELECT run_id, 0, 0 FROM ck0 GROUP BY run_id HAVING min(s) > 0
        ),
        seg AS (
          SELECT run_id, s, t, row_number() OVER w AS k,
                 coalesce((lead(t) OVER w - t) / (lead(s) OVER w - s), (t - lag(t) OVER w) / (s - lag(s) OVER w)) AS rate
          FROM ck WINDOW w AS (PARTITION BY run_id ORDER BY s)
        )`;
      joins = `LEFT JOIN ${perStep} r ON r.run_id = m.run_id
        ASOF LEFT JOIN seg g ON g.run_id = m.run_id AND m.step >= g.s
        LEFT JOIN (SELECT * FROM seg WHERE k = 1) f0 ON f0.run_id = m.run_id`;
      xs = `CASE WHEN r.tps IS NOT NULL THEN m.step * r.tps
             ELSE coalesce(g.t + (m.step - g.s) * g.rate, f0.t + (m.step - f0.s) * f0.rate) END`;
    }
    const cut = ['step IS NOT NULL'];
    if (range.from !== undefined) cut.push(`step >= ${bind(range.from)}`);
    if (range.to !== undefined) cut.push(`step <= ${bind(range.to)}`);
    return {
      sql: `SELECT run_id, step, value, ord FROM (
        ${ctes}
        SELECT m.run_id, (${xs})::DOUBLE AS step, m.value, m.step AS ord
        FROM metrics_scalar m ${joins}
        WHERE ${where.join(' AND ')}
      ) WHERE ${cut.join(' AND ')}`,
      params,
      orderColumn: 'ord',
    };
  };
}

/**
 * Each run's points reduced to the min and max of each pixel column (see {@link metricSeries}),
 * smoothed first when the request asks; runs with no points in range are absent.
 *
 * @example
 * ```ts
 * const byRun = await reducedSeries(lake, metricsScalarSource('loss'), { runs: ['r1'], width: 800 }, limits);
 * byRun.get('r1')?.step.length; // ≤ 1600
 * ```
 */
export async function reducedSeries(
  served: SandboxedLake,
  source: PointSource,
  request: SeriesRequest,
  limits: QueryLimits,
): Promise<Map<string, { total: number; step: number[]; value: number[] }>> {
  // Unaligned, every run's points are plain arrays (only an aligned answer shares a typed x).
  return (await reduceRuns(served, source, { ...request, aligned: false }, limits)).byRun as Map<
    string,
    { total: number; step: number[]; value: number[] }
  >;
}

/** One run of a reduced answer: its points in range before reduction, and the points sent. */
interface ReducedRun {
  readonly total: number;
  /** An aligned answer's runs share one typed x array; otherwise plain arrays. */
  readonly step: ArrayLike<number>;
  readonly value: ArrayLike<number>;
}

/**
 * {@link reducedSeries} with the request's `aligned` choice: when it asks and some run is
 * downsampled, every run's column extremes go on one shared x array ({@link alignExtremes}).
 */
async function reduceRuns(
  served: SandboxedLake,
  source: PointSource,
  request: SeriesRequest,
  limits: QueryLimits,
  metric?: string,
): Promise<{ byRun: Map<string, ReducedRun>; aligned: boolean; pyramid?: PyramidUse }> {
  const fromPyramid =
    (request.smoothing ?? 0) === 0 && metric !== undefined
      ? await pyramidExtremes(served, { ...request, metric }, limits)
      : undefined;
  const pyramid = fromPyramid ? { pyramid: pyramidUse(fromPyramid.plan) } : {};
  const columns =
    fromPyramid?.byRun ??
    ((request.smoothing ?? 0) > 0
      ? await smoothedExtremes(served, source, request, limits)
      : await sqlExtremes(served, source, request, limits));
  const byRun = new Map<string, ReducedRun>();
  const downsampled = [...columns.values()].some((run) => run.total > 2 * request.width);
  if (request.aligned === true && downsampled) {
    const { x, y } = alignExtremes(new Map([...columns].map(([runId, run]) => [runId, run.columns])));
    for (const [runId, run] of columns) {
      byRun.set(runId, { total: run.total, step: x, value: y.get(runId) ?? new Float64Array(x.length) });
    }
    return { byRun, aligned: true, ...pyramid };
  }
  // A short run is sent whole; when its columns are exactly its points, they already are.
  const sparse: string[] = [];
  for (const [runId, run] of columns) {
    if (run.total <= 2 * request.width && !run.exact) {
      if (run.points) {
        byRun.set(runId, {
          total: run.total,
          step: Array.from(run.points.step),
          value: Array.from(run.points.value),
        });
      } else sparse.push(runId);
      continue;
    }
    byRun.set(runId, { total: run.total, ...interleaveColumns(run.columns) });
  }
  if (sparse.length > 0) {
    const raw = source(sparse, { from: request.from, to: request.to });
    await forEachRunRow(
      served,
      `SELECT run_id, list(step::DOUBLE ORDER BY step) AS step, list(value ORDER BY step) AS value
       FROM (${raw.sql}) GROUP BY run_id`,
      limits,
      raw.params,
      (row) => {
        const step = Array.from(row.step as Float64Array);
        byRun.set(String(row.run_id), {
          total: step.length,
          step,
          value: Array.from(row.value as Float64Array),
        });
      },
    );
  }
  return { byRun, aligned: false, ...pyramid };
}

/**
 * The metric whose downsampling pyramid may answer a request: only unsmoothed requests over
 * steps read it (smoothing needs every point, and the pyramid's buckets are in steps).
 */
function pyramidMetric(request: MetricRequest): string | undefined {
  return (request.x ?? 'step') === 'step' && (request.smoothing ?? 0) === 0 ? request.metric : undefined;
}

/** How the downsampling pyramid answered a request, as an answer reports it. */
export interface PyramidUse {
  /** Bucket size in steps. */
  readonly level: number;
  readonly bucketsPerColumn: number;
  readonly columns: number;
}

function pyramidUse(plan: PyramidPlan): PyramidUse {
  return { level: plan.level, bucketsPerColumn: plan.perColumn, columns: columnCount(plan) };
}

/**
 * Runs past which a band reads the pyramid's finest level even when its buckets are wider than a
 * pixel column: so many runs' files cost more to read than the band loses in resolution.
 */
const MANY_RUNS = 1000;

/**
 * Each run's mean step and mean value per pixel column (after smoothing when asked): what
 * {@link bandOf} combines into a group's mean ± std band.
 *
 * @example
 * ```ts
 * const means = await columnMeans(lake, metricsScalarSource('loss'), { runs, width: 800 }, limits);
 * bandOf(runs.flatMap((r) => means.get(r) ?? []), 800);
 * ```
 */
export function columnMeans(
  served: SandboxedLake,
  source: PointSource,
  request: SeriesRequest,
  limits: QueryLimits,
): Promise<Map<string, ColumnMeans>> {
  return (request.smoothing ?? 0) > 0
    ? smoothedColumnMeans(served, source, request, limits)
    : sqlColumnMeans(served, source, request, limits);
}

/**
 * The CTEs both SQL paths share: `s` the points in range, `r` their step span, `b` each point with
 * its pixel column (the rule of {@link pixelColumn}).
 */
function binnedPoints(source: PointSource, request: SeriesRequest) {
  const points = source(request.runs, { from: request.from, to: request.to });
  const params = [...points.params, request.width];
  const width = `$${params.length}`;
  const ctes = `
    s AS (${points.sql}),
    r AS (SELECT min(step) AS x0, max(step) AS x1 FROM s),
    b AS (
      SELECT run_id, step, value,
             least(floor((step - x0) * ${width}::DOUBLE / greatest(x1 - x0, 1))::BIGINT, ${width}::BIGINT - 1) AS px
      FROM s CROSS JOIN r
    )`;
  return { ctes, params };
}

// One aggregation pass: per run and column the count, the minimum and the maximum with their
// steps, handed back as one row of lists per run (a million boxed rows cost more than the scan),
// in any order: sorting each run's lists in the query costs more than placing them after.
async function sqlExtremes(
  served: SandboxedLake,
  source: PointSource,
  request: SeriesRequest,
  limits: QueryLimits,
): Promise<Map<string, RunColumns>> {
  const { ctes, params } = binnedPoints(source, request);
  const sql = `
    WITH ${ctes},
    g AS (
      SELECT run_id, px, count(*) AS c, arg_min(step, value) AS s_lo, min(value) AS v_lo,
             arg_max(step, value) AS s_hi, max(value) AS v_hi
      FROM b GROUP BY run_id, px
    )
    SELECT run_id, sum(c)::DOUBLE AS total, list(px::DOUBLE) AS px, list(s_lo::DOUBLE) AS s_lo, list(v_lo) AS v_lo,
           list(s_hi::DOUBLE) AS s_hi, list(v_hi) AS v_hi,
           bool_and(c = 1 OR (c = 2 AND s_lo <> s_hi)) AS exact
    FROM g GROUP BY run_id`;
  const byRun = new Map<string, RunColumns>();
  await forEachRunRow(served, sql, limits, params, (row) => {
    byRun.set(String(row.run_id), {
      total: Number(row.total),
      columns: inColumnOrder(row as unknown as ColumnExtremes),
      exact: row.exact === true,
    });
  });
  return byRun;
}

/** A run's column minima and maxima as one series in step order (a column's two points once when they coincide). */
function interleaveColumns(columns: ColumnExtremes): { step: number[]; value: number[] } {
  const step: number[] = [];
  const value: number[] = [];
  const push = (s: number, v: number) => {
    step.push(s);
    value.push(v);
  };
  for (let i = 0; i < columns.s_lo.length; i++) {
    const sLo = columns.s_lo[i] as number;
    const sHi = columns.s_hi[i] as number;
    const vLo = columns.v_lo[i] as number;
    const vHi = columns.v_hi[i] as number;
    if (sLo === sHi) push(sLo, vLo);
    else if (sLo < sHi) {
      push(sLo, vLo);
      push(sHi, vHi);
    } else {
      push(sHi, vHi);
      push(sLo, vLo);
    }
  }
  return { step, value };
}

async function sqlColumnMeans(
  served: SandboxedLake,
  source: PointSource,
  request: SeriesRequest,
  limits: QueryLimits,
) {
  const { ctes, params } = binnedPoints(source, request);
  const sql = `WITH ${ctes},
    g AS (SELECT run_id, px, avg(step) AS step, avg(value) AS value FROM b WHERE isfinite(value) GROUP BY run_id, px)
    SELECT run_id, list(px::DOUBLE) AS column, list(step) AS step, list(value) AS value
    FROM g GROUP BY run_id`;
  const byRun = new Map<string, ColumnMeans>();
  await forEachRunRow(served, sql, limits, params, (row) => {
    byRun.set(String(row.run_id), {
      column: row.column as Float64Array,
      step: row.step as Float64Array,
      value: row.value as Float64Array,
    });
  });
  return byRun;
}

/** Each requested run's points up to `to`, smoothed over its whole history, then cut to `[from, to]`. */
async function smoothedInRange(
  served: SandboxedLake,
  source: PointSource,
  request: SeriesRequest,
  limits: QueryLimits,
): Promise<Map<string, StepSeries>> {
  // A source whose x is not its logging order (wall time, tokens) is read whole and cut after.
  const probe = source(request.runs, {});
  const order = probe.orderColumn;
  const { sql: points, params } = order ? probe : source(request.runs, { to: request.to });
  // One row of lists per run: ten million rows of run ids would cost more than the points.
  const out = new Map<string, StepSeries>();
  const by = order ?? 'step';
  const sql = `SELECT run_id, list(step::DOUBLE ORDER BY ${by}) AS step, list(value ORDER BY ${by}) AS value
     FROM (${points}) GROUP BY run_id`;
  await forEachRunRow(served, sql, limits, params, (row) => {
    const steps = row.step as Float64Array;
    const smoothed = smoothSeries(
      row.value as Float64Array,
      request.smoothing ?? 0,
      request.smoothingKind ?? 'ema',
    );
    if (!order) {
      let lo = 0;
      while (request.from !== undefined && lo < steps.length && (steps[lo] as number) < request.from) lo++;
      out.set(String(row.run_id), { step: steps.subarray(lo), value: smoothed.subarray(lo) });
      return;
    }
    const kept: number[] = [];
    for (let i = 0; i < steps.length; i++) {
      const at = steps[i] as number;
      if (
        (request.from === undefined || at >= request.from) &&
        (request.to === undefined || at <= request.to)
      )
        kept.push(i);
    }
    // In x order: a wall clock can step back (a resumed run), and the pixel columns are cut over x.
    kept.sort((a, b) => (steps[a] as number) - (steps[b] as number) || a - b);
    if (kept.length === 0) return;
    out.set(String(row.run_id), {
      step: Float64Array.from(kept, (i) => steps[i] as number),
      value: Float64Array.from(kept, (i) => smoothed[i] as number),
    });
  });
  return out;
}

async function smoothedExtremes(
  served: SandboxedLake,
  source: PointSource,
  request: SeriesRequest,
  limits: QueryLimits,
): Promise<Map<string, RunColumns>> {
  const runs = await smoothedInRange(served, source, request, limits);
  const grid = pixelGridOf([...runs.values()], request.width);
  const byRun = new Map<string, RunColumns>();
  if (!grid) return byRun;
  for (const [runId, series] of runs) {
    const total = series.step.length;
    if (total === 0) continue;
    // A short run goes whole (its points are at hand); a long one as its column extremes.
    const columns = extremesPerColumn(series, grid);
    byRun.set(runId, { total, columns, exact: false, points: series });
  }
  return byRun;
}

async function smoothedColumnMeans(
  served: SandboxedLake,
  source: PointSource,
  request: SeriesRequest,
  limits: QueryLimits,
) {
  const runs = await smoothedInRange(served, source, request, limits);
  const grid: PixelGrid | undefined = pixelGridOf([...runs.values()], request.width);
  const byRun = new Map<string, ColumnMeans>();
  if (!grid) return byRun;
  for (const [runId, series] of runs) byRun.set(runId, meanPerColumn(series, grid));
  return byRun;
}

/** Groups the requested runs by the values of `by`, looked up in each run's params, then its columns. */
async function groupRuns(
  served: SandboxedLake,
  request: MetricGroupRequest,
  limits: QueryLimits,
): Promise<{ key: Record<string, unknown>; runs: string[] }[]> {
  const { runs } = await listRuns(
    served,
    { ...limits, maxRows: Math.max(limits.maxRows, request.runs.length) },
    request.runs,
  );
  const known = new Set<string>();
  for (const run of runs) {
    for (const name of Object.keys(run)) if (name !== 'params') known.add(name);
    for (const name of Object.keys((run.params as Record<string, unknown> | null) ?? {})) known.add(name);
  }
  const unknown = request.by.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new BadRequestError(
      `cannot group by ${unknown.map((n) => `"${n}"`).join(', ')}: the selected runs have the parameters and columns ${[...known].sort().join(', ')}`,
    );
  }
  const groups = new Map<string, { key: Record<string, unknown>; runs: string[] }>();
  const byId = new Map(runs.map((run) => [String(run.run_id), run]));
  for (const runId of request.runs) {
    const run = byId.get(runId);
    const params = (run?.params as Record<string, unknown> | null | undefined) ?? {};
    const key = Object.fromEntries(request.by.map((name) => [name, params[name] ?? run?.[name] ?? null]));
    const id = JSON.stringify(request.by.map((name) => key[name]));
    let group = groups.get(id);
    if (!group) {
      group = { key, runs: [] };
      groups.set(id, group);
    }
    group.runs.push(runId);
  }
  return [...groups.values()].sort((a, b) =>
    compareKeys(
      request.by.map((n) => a.key[n]),
      request.by.map((n) => b.key[n]),
    ),
  );
}

/**
 * Orders group keys value by value: numbers as numbers, anything else as text.
 *
 * @example
 * ```ts
 * [[10], [9]].sort(compareKeys); // [[9], [10]]
 * ```
 */
export function compareKeys(a: readonly unknown[], b: readonly unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x).localeCompare(String(y));
  }
  return 0;
}
