import { type DuckDBType, DuckDBTypeId, type DuckDBValue, listValue } from '@duckdb/node-api';
import { quoteIdentifier } from '../lake/index.js';
import { BadRequestError, NotFoundError } from './errors.js';
import {
  type BoundSelect,
  columnMeans,
  compareKeys,
  type PointSource,
  reducedSeries,
  type SeriesRequest,
} from './metric-queries.js';
import { type QueryLimits, runReadOnlyQuery } from './query-runner.js';
import { resultToJson } from './result-encoding.js';
import type { SandboxedLake } from './sandbox.js';
import { type Band, bandOf } from './series-reduce.js';

/**
 * Columns that can serve as a sweep curve's x axis, in order of preference: exp_engine logs
 * `event_id` (or `event`), training loops `step`; the others are common names for the same thing.
 */
export const SWEEP_X_CANDIDATES = ['event_id', 'event', 'step', 't', 'iteration', 'iter', 'epoch', 'round'];

/** The columns of the `grids` table that are bookkeeping, not parameters. */
const GRID_BOOKKEEPING = new Set(['grid_id', 'params_hash', 'params_json']);

/** The group-by names that mean "one group per grid". */
const GRID_KEYS = new Set(['grid', 'grid_id']);

/** A column's name and DuckDB type. */
export interface SweepColumn {
  readonly name: string;
  readonly type: string;
}

/** A sweep parameter: a typed column of `grids`, and how many distinct values the grids take. */
export interface SweepParam extends SweepColumn {
  readonly numeric: boolean;
  readonly distinct: number;
}

/** What `GET /api/sweep` answers: whether the lake is a sweep lake, and what its curves can show. */
export interface SweepSummary {
  readonly schemaSet: string;
  /** The lake is a sweep lake: schema set `sweep`, or `events`/`seeds` datasets and no `runs`. */
  readonly isSweep: boolean;
  readonly grids: number;
  /** `events` with its row count and columns; null when the lake has no such dataset. */
  readonly events: { readonly rows: number; readonly columns: readonly SweepColumn[] } | null;
  readonly seeds: { readonly rows: number; readonly columns: readonly SweepColumn[] } | null;
  /** The grids' parameters, the varying ones (more than one value) first. */
  readonly params: readonly SweepParam[];
  /** Numeric `events` columns a curve can use as x ({@link SWEEP_X_CANDIDATES} present). */
  readonly xColumns: readonly string[];
  /** Numeric `events` columns a curve can plot (not keys, x columns or repeated parameters). */
  readonly metrics: readonly string[];
  /** Numeric and boolean `seeds` columns, averaged per grid by `/api/sweep/grids`. */
  readonly seedMetrics: readonly string[];
}

/** The columns of a sweep lake's views, read once per sandbox (a new commit opens a new one). */
interface SweepShape {
  readonly isSweep: boolean;
  readonly events: readonly (SweepColumn & { numeric: boolean })[] | null;
  readonly seeds: readonly (SweepColumn & { numeric: boolean; boolean: boolean })[] | null;
  readonly grids: readonly (SweepColumn & { numeric: boolean })[];
}

const shapes = new WeakMap<SandboxedLake, Promise<SweepShape>>();

/** The sweep lake's column lists, which every parameter that reaches SQL is checked against. */
function sweepShape(served: SandboxedLake, limits: QueryLimits): Promise<SweepShape> {
  let shape = shapes.get(served);
  if (!shape) {
    shape = readShape(served, limits);
    shapes.set(served, shape);
    shape.catch(() => shapes.delete(served));
  }
  return shape;
}

async function readShape(served: SandboxedLake, limits: QueryLimits): Promise<SweepShape> {
  const datasets = served.lake.datasets;
  const columnsOf = async (relation: string) => {
    const result = await runReadOnlyQuery(served, `SELECT * FROM ${relation} LIMIT 0`, limits);
    return result.columnNames.map((name, c) => {
      const type = result.columnTypes[c] as DuckDBType;
      return {
        name,
        type: String(type),
        numeric: isNumericType(type),
        boolean: type.typeId === DuckDBTypeId.BOOLEAN,
      };
    });
  };
  const events = datasets.has('events') ? await columnsOf('events') : null;
  const seeds = datasets.has('seeds') ? await columnsOf('seeds') : null;
  const keyed = (columns: readonly SweepColumn[] | null) =>
    columns !== null && ['grid_id', 'seed'].every((key) => columns.some((c) => c.name === key));
  // A Squiggle lake has an `events` dataset too (detected transitions, keyed by run_id): what
  // makes a sweep is the grid_id/seed keys, and no runs.
  const isSweep =
    (served.lake.schemaSet.name === 'sweep' || !datasets.has('runs')) && (keyed(events) || keyed(seeds));
  let grids: (SweepColumn & { numeric: boolean })[] = [];
  try {
    grids = await columnsOf('grids');
  } catch {
    // A lake without any grid has no grids table to describe: no parameters.
  }
  return { isSweep, events, seeds, grids };
}

const NUMERIC_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.DECIMAL,
]);

function isNumericType(type: DuckDBType): boolean {
  return NUMERIC_TYPES.has(type.typeId);
}

/** The parameter columns of `grids`, the x columns and the metric columns of `events`. */
function columnRoles(shape: SweepShape) {
  const params = shape.grids.filter((c) => !GRID_BOOKKEEPING.has(c.name));
  const paramNames = new Set(params.map((p) => p.name));
  const events = shape.events ?? [];
  const xColumns = SWEEP_X_CANDIDATES.filter((name) => events.some((c) => c.name === name && c.numeric));
  const metrics = events
    .filter(
      (c) =>
        c.numeric &&
        c.name !== 'grid_id' &&
        c.name !== 'seed' &&
        !xColumns.includes(c.name) &&
        // exp_engine rows repeat the params ({**params, seed, …}): constant per grid, not a curve.
        !paramNames.has(c.name),
    )
    .map((c) => c.name);
  const seedMetrics = (shape.seeds ?? [])
    .filter((c) => (c.numeric || c.boolean) && c.name !== 'grid_id' && c.name !== 'seed')
    .map((c) => c.name);
  return { params, xColumns, metrics, seedMetrics };
}

/**
 * What a sweep lake holds for the dashboard's Sweep view: whether it is one, `events` and `seeds`
 * with their row counts and columns, the grids' parameters with their distinct value counts, the
 * x columns and the metric columns a curve can use.
 *
 * @example
 * ```ts
 * const sweep = await sweepSummary(lake, limits);
 * sweep.xColumns; // ['event_id']
 * sweep.metrics; // ['regret', 'acc', 'privacy_spent']
 * ```
 */
export async function sweepSummary(served: SandboxedLake, limits: QueryLimits): Promise<SweepSummary> {
  const shape = await sweepShape(served, limits);
  const { params, xColumns, metrics, seedMetrics } = columnRoles(shape);
  const count = async (relation: string) =>
    Number(
      resultToJson(await runReadOnlyQuery(served, `SELECT count(*) AS n FROM ${relation}`, limits)).rows[0]
        ?.n ?? 0,
    );
  let grids = 0;
  let distinct: Record<string, unknown> = {};
  if (shape.grids.length > 0) {
    const counts = [
      'count(*) AS "#grids"',
      ...params.map((p, i) => `count(DISTINCT ${quoteIdentifier(p.name)}) AS "p${i}"`),
    ];
    distinct =
      resultToJson(await runReadOnlyQuery(served, `SELECT ${counts.join(', ')} FROM grids`, limits))
        .rows[0] ?? {};
    grids = Number(distinct['#grids'] ?? 0);
  }
  const described = params.map((p, i) => ({
    name: p.name,
    type: p.type,
    numeric: p.numeric,
    distinct: Number(distinct[`p${i}`] ?? 0),
  }));
  // Varying parameters first (stable otherwise): the ones worth grouping by and plotting against.
  described.sort((a, b) => Number(b.distinct > 1) - Number(a.distinct > 1));
  const plain = (columns: readonly SweepColumn[]) => columns.map((c) => ({ name: c.name, type: c.type }));
  return {
    schemaSet: served.lake.schemaSet.name,
    isSweep: shape.isSweep,
    grids,
    events: shape.events ? { rows: await count('events'), columns: plain(shape.events) } : null,
    seeds: shape.seeds ? { rows: await count('seeds'), columns: plain(shape.seeds) } : null,
    params: described,
    xColumns,
    metrics,
    seedMetrics,
  };
}

/** The request of {@link sweepCurves}. */
export interface SweepCurveRequest {
  /** A numeric `events` column ({@link SweepSummary.metrics}). */
  readonly metric: string;
  /** The x column ({@link SweepSummary.xColumns}); default the first one. */
  readonly x?: string;
  /** Parameters to group by (`grids` columns, or `grid` for one group per grid); none: per-seed series. */
  readonly groupBy?: readonly string[];
  /** The grids to plot (default: every grid with events). */
  readonly grids?: readonly string[];
  /** With `groupBy`, also send every seed's series (default: only the groups' bands). */
  readonly seeds?: boolean;
  readonly width: number;
  readonly from?: number;
  readonly to?: number;
  readonly smoothing?: number;
}

/** One seed's curve in a `GET /api/sweep/curves` answer; `run_id` is `<grid_id>/<seed>`. */
export interface SweepSeries {
  readonly run_id: string;
  readonly grid_id: string;
  readonly seed: string;
  readonly total: number;
  readonly downsampled: boolean;
  readonly step: number[];
  readonly value: number[];
}

/** One group of a `GET /api/sweep/curves` answer: its key, its grids and seeds, and its band. */
export interface SweepGroup extends Band {
  readonly key: Record<string, unknown>;
  readonly grids: string[];
  /** The seeds (`<grid_id>/<seed>`) the band is computed over. */
  readonly runs: string[];
}

/**
 * Curves of one `events` column over an x column: per seed, downsampled like `/api/metrics` (the
 * min and max of each pixel column, at their own x, so spikes survive), and with `groupBy`, one
 * mean ± std band per group over all its grids' seeds (each seed first reduced to its mean per
 * pixel column, as `/api/metric-groups` does). Every name is checked against the lake's columns
 * before it is quoted into the SQL; grid ids are bound as a list parameter.
 *
 * @example
 * ```ts
 * const { groups } = await sweepCurves(lake, { metric: 'regret', groupBy: ['algo'], width: 800 }, limits);
 * groups[0]?.key; // { algo: 'memorypair' }
 * ```
 */
export async function sweepCurves(
  served: SandboxedLake,
  request: SweepCurveRequest,
  limits: QueryLimits,
): Promise<{
  metric: string;
  x: string;
  groupBy: string[];
  width: number;
  smoothing: number;
  series: SweepSeries[];
  groups: SweepGroup[];
}> {
  const shape = await requireSweep(served, limits);
  const roles = columnRoles(shape);
  const metric = checkMetric(roles.metrics, request.metric);
  const x = checkX(roles.xColumns, request.x);
  const groupBy = [...(request.groupBy ?? [])];
  const unknown = groupBy.filter(
    (name) => !GRID_KEYS.has(name) && !roles.params.some((p) => p.name === name),
  );
  if (unknown.length > 0) {
    throw new BadRequestError(
      `cannot group by ${unknown.map((n) => `"${n}"`).join(', ')}: the grids have the parameters ${roles.params.map((p) => p.name).join(', ') || '(none)'} (or "grid")`,
    );
  }
  const smoothing = request.smoothing ?? 0;
  const runs = await seedsOf(served, request.grids, limits);
  const seriesRequest: SeriesRequest = {
    runs: runs.map((r) => r.run_id),
    width: request.width,
    from: request.from,
    to: request.to,
    smoothing,
  };
  const source = eventsSource(metric, x);
  const wantSeries = groupBy.length === 0 || request.seeds === true;
  let series: SweepSeries[] = [];
  if (wantSeries && runs.length > 0) {
    const byRun = await reducedSeries(served, source, seriesRequest, limits);
    series = runs.map((run) => {
      const found = byRun.get(run.run_id) ?? { total: 0, step: [], value: [] };
      return { ...run, ...found, downsampled: found.total > 2 * request.width };
    });
  }
  let groups: SweepGroup[] = [];
  if (groupBy.length > 0 && runs.length > 0) {
    const keyOf = await groupKeysOf(served, groupBy, limits);
    const byKey = new Map<string, { key: Record<string, unknown>; grids: string[]; runs: string[] }>();
    for (const run of runs) {
      const key = keyOf(run.grid_id);
      const id = JSON.stringify(groupBy.map((name) => key[name]));
      let group = byKey.get(id);
      if (!group) {
        group = { key, grids: [], runs: [] };
        byKey.set(id, group);
      }
      if (!group.grids.includes(run.grid_id)) group.grids.push(run.grid_id);
      group.runs.push(run.run_id);
    }
    const means = await columnMeans(served, source, seriesRequest, limits);
    groups = [...byKey.values()]
      .sort((a, b) =>
        compareKeys(
          groupBy.map((n) => a.key[n]),
          groupBy.map((n) => b.key[n]),
        ),
      )
      .map((group) => ({
        ...group,
        ...bandOf(
          group.runs.flatMap((runId) => means.get(runId) ?? []),
          request.width,
        ),
      }));
  }
  return { metric, x, groupBy, width: request.width, smoothing, series, groups };
}

/** The request of {@link sweepGrids}. */
export interface SweepGridsRequest {
  readonly metric: string;
  readonly x?: string;
  /** Whether the best value of a seed is its minimum (a loss, a regret) or its maximum (an accuracy). */
  readonly best: 'min' | 'max';
}

/** One grid's row in a `GET /api/sweep/grids` answer. */
export interface SweepGridRow {
  readonly grid_id: string;
  /** The grid's parameters, typed as the `grids` table has them. */
  readonly params: Record<string, unknown>;
  /** Seeds with finite values of the metric. */
  readonly seeds: number;
  readonly points: number;
  /** Mean over seeds of each seed's value at its largest x. */
  readonly final: number | null;
  readonly final_std: number | null;
  /** Mean over seeds of each seed's minimum (or maximum) value. */
  readonly best: number | null;
  readonly best_std: number | null;
  readonly per_seed: { readonly seed: string; readonly final: number; readonly best: number }[];
  /** The mean over the grid's `seeds` rows of each numeric or boolean `seeds` column. */
  readonly seed_means: Record<string, number | null>;
}

/**
 * One row per grid with its parameters and summaries of one `events` column, computed in DuckDB:
 * per seed, the final value (at the seed's largest x; on a tie, the largest value there) and the
 * best value (minimum or maximum), then their mean and sample standard deviation over the grid's
 * seeds; non-finite values are left out. Each grid also gets the mean of every numeric `seeds`
 * column. Grids without events are listed with `seeds: 0` and null summaries.
 *
 * @example
 * ```ts
 * const { grids } = await sweepGrids(lake, { metric: 'regret', best: 'min' }, limits);
 * grids[0]?.final; // 0.031
 * ```
 */
export async function sweepGrids(
  served: SandboxedLake,
  request: SweepGridsRequest,
  limits: QueryLimits,
): Promise<{
  metric: string;
  x: string;
  best: 'min' | 'max';
  params: string[];
  seedMetrics: string[];
  grids: SweepGridRow[];
  truncated: boolean;
}> {
  const shape = await requireSweep(served, limits);
  const roles = columnRoles(shape);
  const metric = checkMetric(roles.metrics, request.metric);
  const x = checkX(roles.xColumns, request.x);
  if (request.best !== 'min' && request.best !== 'max') {
    throw new BadRequestError(`best must be "min" or "max", got "${String(request.best)}"`);
  }
  const m = `CAST(${quoteIdentifier(metric)} AS DOUBLE)`;
  const xs = `CAST(${quoteIdentifier(x)} AS DOUBLE)`;
  const summaries = resultToJson(
    await runReadOnlyQuery(
      served,
      `WITH p AS (
         SELECT grid_id, seed, count(*) AS points,
                arg_max(${m}, {'x': ${xs}, 'v': ${m}}) AS final,
                ${request.best}(${m}) AS best
         FROM events
         WHERE ${xs} IS NOT NULL AND isfinite(${m})
         GROUP BY grid_id, seed
       )
       SELECT grid_id, count(*) AS seeds, sum(points)::DOUBLE AS points,
              avg(final) AS final, stddev_samp(final) AS final_std,
              avg(best) AS best, stddev_samp(best) AS best_std,
              list(CAST(seed AS VARCHAR) ORDER BY seed) AS seed_ids,
              list(final ORDER BY seed) AS seed_final, list(best ORDER BY seed) AS seed_best
       FROM p GROUP BY grid_id`,
      limits,
    ),
  );
  const byGrid = new Map(summaries.rows.map((row) => [String(row.grid_id), row]));
  const seedMeans = new Map<string, Record<string, unknown>>();
  if (roles.seedMetrics.length > 0) {
    const means = roles.seedMetrics.map(
      (name, i) => `avg(CAST(${quoteIdentifier(name)} AS DOUBLE)) AS "s${i}"`,
    );
    const rows = resultToJson(
      await runReadOnlyQuery(
        served,
        `SELECT grid_id, ${means.join(', ')} FROM seeds GROUP BY grid_id`,
        limits,
      ),
    ).rows;
    for (const row of rows) seedMeans.set(String(row.grid_id), row);
  }
  const params = roles.params.map((p) => p.name);
  const gridRows =
    shape.grids.length > 0
      ? await runReadOnlyQuery(
          served,
          `SELECT grid_id${params.map((p) => `, ${quoteIdentifier(p)}`).join('')} FROM grids ORDER BY grid_id`,
          limits,
        )
      : undefined;
  const grids: SweepGridRow[] = [];
  const listed = new Set<string>();
  const rowOf = (gridId: string, values: Record<string, unknown>): SweepGridRow => {
    const found = byGrid.get(gridId);
    const ids = (found?.seed_ids as string[] | undefined) ?? [];
    const finals = (found?.seed_final as number[] | undefined) ?? [];
    const bests = (found?.seed_best as number[] | undefined) ?? [];
    const means = seedMeans.get(gridId);
    return {
      grid_id: gridId,
      params: Object.fromEntries(params.map((p) => [p, values[p] ?? null])),
      seeds: Number(found?.seeds ?? 0),
      points: Number(found?.points ?? 0),
      final: numberOrNull(found?.final),
      final_std: numberOrNull(found?.final_std),
      best: numberOrNull(found?.best),
      best_std: numberOrNull(found?.best_std),
      per_seed: ids.map((seed, i) => ({ seed, final: Number(finals[i]), best: Number(bests[i]) })),
      seed_means: Object.fromEntries(
        roles.seedMetrics.map((name, i) => [name, numberOrNull(means?.[`s${i}`])]),
      ),
    };
  };
  for (const row of gridRows ? resultToJson(gridRows).rows : []) {
    const gridId = String(row.grid_id);
    listed.add(gridId);
    grids.push(rowOf(gridId, row));
  }
  // Events of a grid whose params.json is missing still count: listed with no parameters.
  for (const gridId of [...byGrid.keys()].sort()) if (!listed.has(gridId)) grids.push(rowOf(gridId, {}));
  return {
    metric,
    x,
    best: request.best,
    params,
    seedMetrics: [...roles.seedMetrics],
    grids,
    truncated: summaries.truncated || (gridRows?.truncated ?? false),
  };
}

function numberOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** The sweep's shape, or a 404 naming what the lake is when it is no sweep lake. */
async function requireSweep(served: SandboxedLake, limits: QueryLimits): Promise<SweepShape> {
  const shape = await sweepShape(served, limits);
  if (!shape.isSweep || !shape.events) {
    throw new NotFoundError(
      `this ${served.lake.schemaSet.name} lake has no sweep "events" dataset keyed by grid_id and seed (it has: ${[...served.lake.datasets.keys()].join(', ') || 'none'})`,
    );
  }
  return shape;
}

function checkMetric(metrics: readonly string[], metric: string): string {
  if (!metrics.includes(metric)) {
    throw new BadRequestError(
      `"${metric}" is not a numeric events column to plot; the lake has: ${metrics.join(', ') || '(none)'}`,
    );
  }
  return metric;
}

function checkX(xColumns: readonly string[], x: string | undefined): string {
  const chosen = x ?? xColumns[0];
  if (chosen === undefined) {
    throw new BadRequestError(
      `the events dataset has no numeric x column (one of ${SWEEP_X_CANDIDATES.join(', ')})`,
    );
  }
  if (!xColumns.includes(chosen)) {
    throw new BadRequestError(`x must be one of ${xColumns.join(', ')}, got "${chosen}"`);
  }
  return chosen;
}

/** The seeds with events of the given grids (all grids when none are named), in grid and seed order. */
async function seedsOf(
  served: SandboxedLake,
  grids: readonly string[] | undefined,
  limits: QueryLimits,
): Promise<{ run_id: string; grid_id: string; seed: string }[]> {
  // No grid ticked draws nothing (and DuckDB cannot type an empty list parameter).
  if (grids?.length === 0) return [];
  const params: DuckDBValue[] = grids ? [listValue([...grids])] : [];
  const result = resultToJson(
    await runReadOnlyQuery(
      served,
      `SELECT DISTINCT grid_id, seed, CAST(seed AS VARCHAR) AS seed_text FROM events
       ${grids ? 'WHERE list_contains($1::VARCHAR[], grid_id)' : ''} ORDER BY grid_id, seed`,
      // Every seed must come back: the row cap would silently drop curves.
      { ...limits, maxRows: Number.MAX_SAFE_INTEGER },
      params,
    ),
  );
  return result.rows.map((row) => ({
    run_id: `${row.grid_id}/${row.seed_text}`,
    grid_id: String(row.grid_id),
    seed: String(row.seed_text),
  }));
}

/**
 * A {@link PointSource} over `events`: run ids are `<grid_id>/<seed>`, x is the chosen column. The
 * grid ids are bound as a list (DuckDB prunes the grid_id partitions with it), the seeds as a
 * second list; the column names were checked against the view's columns before quoting.
 */
function eventsSource(metric: string, x: string): PointSource {
  const m = quoteIdentifier(metric);
  const xs = `CAST(${quoteIdentifier(x)} AS DOUBLE)`;
  return (runs, range): BoundSelect => {
    const params: DuckDBValue[] = [];
    const bind = (value: DuckDBValue): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const grids = [...new Set(runs.map((r) => r.slice(0, r.indexOf('/'))))];
    const runId = `grid_id || '/' || CAST(seed AS VARCHAR)`;
    const filters = [
      `list_contains(${bind(listValue(grids))}::VARCHAR[], grid_id)`,
      `list_contains(${bind(listValue([...runs]))}::VARCHAR[], ${runId})`,
      `${m} IS NOT NULL`,
      `${xs} IS NOT NULL`,
    ];
    if (range.from !== undefined) filters.push(`${xs} >= ${bind(range.from)}`);
    if (range.to !== undefined) filters.push(`${xs} <= ${bind(range.to)}`);
    return {
      sql: `SELECT ${runId} AS run_id, ${xs} AS step, CAST(${m} AS DOUBLE) AS value FROM events WHERE ${filters.join(' AND ')}`,
      params,
    };
  };
}

/** A function from grid id to the group key of `groupBy` (params typed as the grids table has them). */
async function groupKeysOf(
  served: SandboxedLake,
  groupBy: readonly string[],
  limits: QueryLimits,
): Promise<(gridId: string) => Record<string, unknown>> {
  const params = groupBy.filter((name) => !GRID_KEYS.has(name));
  const values = new Map<string, Record<string, unknown>>();
  if (params.length > 0) {
    const rows = resultToJson(
      await runReadOnlyQuery(served, `SELECT grid_id, ${params.map(quoteIdentifier).join(', ')} FROM grids`, {
        ...limits,
        maxRows: Number.MAX_SAFE_INTEGER,
      }),
    ).rows;
    for (const row of rows) values.set(String(row.grid_id), row);
  }
  return (gridId) =>
    Object.fromEntries(
      groupBy.map((name) => [name, GRID_KEYS.has(name) ? gridId : (values.get(gridId)?.[name] ?? null)]),
    );
}
