/**
 * datadec's `mean_eval.parquet` and `std_eval.parquet` (drothermel/datadec `df_utils.
 * create_mean_std_df`: the wide `full_eval` grouped by (params, data, step, tokens, compute), mean
 * and pandas' sample std of every numeric column) are derived from `full_eval.parquet`, so they
 * are not ingested: they are checked against the lake's `mean_eval` / `std_eval` views, cell by
 * cell, and the result reported. A difference is reported, never an error: the views are what
 * the lake answers with.
 */
import path from 'node:path';
import { InputFileError, type Lake, quoteIdentifier, quoteLiteral } from '../lake/index.js';
import { wideMetricColumn } from './datadec-columns.js';
import { parquetSource, sourceColumns } from './datadecide-source.js';

/**
 * Which statistic an aggregate file holds.
 *
 * @example
 * ```ts
 * const statistic: AggregateStatistic = aggregateStatistic('mean_eval.parquet') ?? 'mean';
 * ```
 */
export type AggregateStatistic = 'mean' | 'std';

/**
 * How a datadec aggregate file compares with the view over the ingested rows.
 *
 * @example
 * ```ts
 * for (const c of summary.checks) console.log(`${c.file}: max |Δ| ${c.maxAbsDiff} over ${c.cells} cells`);
 * ```
 */
export interface AggregateCheck {
  /** Base name of the file. */
  readonly file: string;
  readonly statistic: AggregateStatistic;
  /** The view it was compared with (`mean_eval` or `std_eval`). */
  readonly view: string;
  /** Metric cells compared (a missing value on both sides counts as equal). */
  readonly cells: number;
  /** Largest absolute difference where both sides have a value. */
  readonly maxAbsDiff: number;
  /** Cells that differ by more than 1e-12 relative (or are missing on one side only). */
  readonly mismatches: number;
  /** The first mismatch, described, when there is one. */
  readonly example: string | null;
}

/** Relative tolerance: the views and pandas sum in different orders. */
const TOLERANCE = 1e-12;

/**
 * The statistic a seedless wide file holds, from its base name (`mean_eval…`, `std_eval…`):
 * the columns of the two are identical, so nothing else tells them apart.
 *
 * @example
 * ```ts
 * aggregateStatistic('std_eval.parquet'); // 'std'
 * ```
 */
export function aggregateStatistic(file: string): AggregateStatistic | undefined {
  const base = path.basename(file).toLowerCase();
  if (base.startsWith('mean')) return 'mean';
  if (base.startsWith('std')) return 'std';
  return undefined;
}

/**
 * Compares a datadec `mean_eval` / `std_eval` file with the lake's view of the same name, over
 * the metric columns (`<task>_<metric>`, `<set>-valppl`); feature and LR columns, which datadec
 * averages too, are not metrics and are not compared.
 *
 * @example
 * ```ts
 * const check = await checkAggregateFile(lake, 'mean_eval.parquet', 'mean');
 * check.mismatches; // 0
 * ```
 */
export async function checkAggregateFile(
  lake: Lake,
  file: string,
  statistic: AggregateStatistic,
): Promise<AggregateCheck> {
  const view = statistic === 'mean' ? 'mean_eval' : 'std_eval';
  const columns = await sourceColumns(file);
  const metrics = columns.flatMap(({ name }) => {
    const metric = wideMetricColumn(name);
    return metric ? [{ column: name, task: metric.task, metricName: metric.metricName }] : [];
  });
  for (const required of ['params', 'data', 'step']) {
    if (!columns.some((c) => c.name === required)) {
      throw new InputFileError(file, `missing column "${required}" (a datadec ${view} file)`);
    }
  }
  const base = { file: path.basename(file), statistic, view };
  if (metrics.length === 0) return { ...base, cells: 0, maxAbsDiff: 0, mismatches: 0, example: null };
  // Compared in DuckDB, over the lake's view: a real datadec mean_eval has tens of thousands of
  // rows × ~1,900 metric columns, too many cells to carry into JavaScript.
  const cells =
    `SELECT r, CAST(i AS INTEGER) AS i, params, data, step, CASE WHEN isnan(v) THEN NULL ELSE v END AS expected ` +
    `FROM (SELECT file_row_number AS r, params, data, step, ${metrics
      .map((m, i) => `CAST(${quoteIdentifier(m.column)} AS DOUBLE) AS "${i}"`)
      .join(', ')} FROM ${parquetSource(file, ', file_row_number = true')}) ` +
    `UNPIVOT INCLUDE NULLS (v FOR i IN (${metrics.map((_, i) => `"${i}"`).join(', ')}))`;
  const names = metrics
    .map(
      (m, i) => `(${i}, ${quoteLiteral(m.task)}, ${quoteLiteral(m.metricName)}, ${quoteLiteral(m.column)})`,
    )
    .join(', ');
  const compared =
    `WITH cells AS (${cells}), names(i, task, metric_name, source_column) AS (VALUES ${names}), ` +
    'joined AS (SELECT c.r, n.source_column, c.expected, v.value AS got FROM cells c JOIN names n USING (i) ' +
    `LEFT JOIN ${view} v ON v.params = c.params AND v.data = c.data AND v.task = n.task ` +
    'AND v.step = c.step AND v.metric_name = n.metric_name), ' +
    'judged AS (SELECT *, abs(expected - got) AS diff, ((expected IS NULL) <> (got IS NULL)) OR ' +
    `(expected IS NOT NULL AND got IS NOT NULL AND expected <> got AND NOT abs(expected - got) <= ${TOLERANCE} * ` +
    'greatest(1, abs(expected), abs(got))) AS differs FROM joined) ';
  const [summary] = await lake.query(
    `${compared}SELECT count(*)::DOUBLE AS cells, coalesce(max(diff) FILTER (WHERE isfinite(diff)), 0) AS max_abs, ` +
      'count(*) FILTER (WHERE differs)::DOUBLE AS mismatches FROM judged',
  );
  const mismatches = Number(summary?.mismatches ?? 0);
  let example: string | null = null;
  if (mismatches > 0) {
    const [first] = await lake.query(
      `${compared}SELECT r, source_column, expected, got FROM judged WHERE differs ORDER BY r, source_column LIMIT 1`,
    );
    const side = (v: unknown) => (v === null || v === undefined ? 'no value' : String(v));
    example = `row ${String(first?.r)}, column "${String(first?.source_column)}": the file has ${side(first?.expected)}, ${view} has ${side(first?.got)}`;
  }
  return {
    ...base,
    cells: Number(summary?.cells ?? 0),
    maxAbsDiff: Number(summary?.max_abs ?? 0),
    mismatches,
    example,
  };
}
