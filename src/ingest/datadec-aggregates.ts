/**
 * datadec's `mean_eval.parquet` and `std_eval.parquet` (drothermel/datadec `df_utils.
 * create_mean_std_df`: the wide `full_eval` grouped by (params, data, step, tokens, compute), mean
 * and pandas' sample std of every numeric column) are derived from `full_eval.parquet`, so they
 * are not ingested: they are checked against the lake's `mean_eval` / `std_eval` views, cell by
 * cell, and the result reported. A difference is reported, never an error: the views are what
 * the lake answers with.
 */
import path from 'node:path';
import { InputFileError, type Lake, quoteLiteral } from '../lake/index.js';
import { wideMetricColumn } from './datadec-columns.js';
import { parquetSource, querySource, sourceColumns } from './datadecide-source.js';

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
  const records = await querySource(file, `SELECT * FROM ${parquetSource(file)}`);
  const params = [...new Set(records.map((r) => String(r.params)))];
  const actual = new Map<string, number | null>();
  if (params.length > 0) {
    const rows = await lake.query(
      `SELECT params, data, task, step, metric_name, value FROM ${view} WHERE params IN (${params.map(quoteLiteral).join(', ')})`,
    );
    for (const row of rows) {
      actual.set(
        key(row.params, row.data, row.task, row.step, row.metric_name),
        row.value === null ? null : Number(row.value),
      );
    }
  }
  let cells = 0;
  let maxAbsDiff = 0;
  let mismatches = 0;
  let example: string | null = null;
  records.forEach((record, r) => {
    for (const { column, task, metricName } of metrics) {
      cells++;
      const cell = record[column];
      const expected =
        cell === null || cell === undefined || Number.isNaN(Number(cell)) ? null : Number(cell);
      const got = actual.get(key(record.params, record.data, task, record.step, metricName)) ?? null;
      let differs = (expected === null) !== (got === null);
      if (expected !== null && got !== null) {
        const diff = Math.abs(expected - got);
        if (Number.isFinite(diff)) maxAbsDiff = Math.max(maxAbsDiff, diff);
        differs =
          !(expected === got) && !(diff <= TOLERANCE * Math.max(1, Math.abs(expected), Math.abs(got)));
      }
      if (differs) {
        mismatches++;
        example ??= `row ${r}, column "${column}": the file has ${expected ?? 'no value'}, ${view} has ${got ?? 'no value'}`;
      }
    }
  });
  return { file: path.basename(file), statistic, view, cells, maxAbsDiff, mismatches, example };
}

function key(...parts: unknown[]): string {
  return parts.map(String).join('\u0000');
}
