/**
 * Wide DataDecide files into `full_eval` long form: datadec's own per-seed outputs (drothermel/
 * datadec `full_eval.parquet`, `full_eval_raw.parquet`, `downstream_eval_parsed.parquet`,
 * `ppl_eval_parsed.parquet`: one row per (params, data, seed, step), a column per
 * `<task>_<metric>` and `<set>-valppl`, model and dataset feature columns, `lr_at_step`,
 * `cumulative_lr`) and allenai/DataDecide-ppl-results (one row per (params, data, seed, step),
 * a column per `eval/<set>-validation/Perplexity`, and `__index_level_0__`).
 */
import path from 'node:path';
import { InputFileError, quoteIdentifier, quoteLiteral, withStagingConnection } from '../lake/index.js';
import { wideMetricColumn } from './datadec-columns.js';
import {
  type CellFailure,
  type ColumnFamily,
  columnFamily,
  FAMILY_NAMES,
  optionalNumber,
  optionalWhole,
  parquetSource,
  querySource,
  type SourceColumn,
  seedCell,
  wholeNumber,
} from './datadecide-source.js';

/**
 * Which wide layout a file has: datadec's (features allowed) or DataDecide's perplexity file.
 *
 * @example
 * ```ts
 * const kind: WideKind = wideLayout(file, columns).kind;
 * ```
 */
export type WideKind = 'datadec' | 'perplexity';

/**
 * The columns of a wide file, classified.
 *
 * @example
 * ```ts
 * const { metrics, features } = wideLayout(file, await sourceColumns(file)) satisfies WideLayout;
 * ```
 */
export interface WideLayout {
  readonly kind: WideKind;
  /** Metric columns and the `full_eval` task and metric each lands as. */
  readonly metrics: ReadonlyArray<{
    readonly column: string;
    readonly task: string;
    readonly metricName: string;
  }>;
  /** Model and dataset feature columns (datadec files), kept as `full_eval.features` JSON. */
  readonly features: readonly string[];
  /** Which of the optional id columns the file has. */
  readonly present: ReadonlySet<string>;
}

/**
 * One `params` partition's rows of a wide file.
 *
 * @example
 * ```ts
 * const { rows, missingCells }: WidePartition = await widePartition(file, layout, '4M');
 * ```
 */
export interface WidePartition {
  readonly params: string;
  readonly rows: Array<Record<string, unknown>>;
  /** Source rows of this partition. */
  readonly sourceRows: number;
  /** Metric cells that were null or NaN (no result) and so gave no row. */
  readonly missingCells: number;
}

/**
 * pyarrow's spelling of a pandas index; it carries no data.
 *
 * @example
 * ```ts
 * columns.filter((c) => c.name !== PANDAS_INDEX_COLUMN);
 * ```
 */
export const PANDAS_INDEX_COLUMN = '__index_level_0__';

const ID_FAMILIES: Readonly<Record<string, readonly ColumnFamily[]>> = {
  params: ['string'],
  data: ['string'],
  step: ['integer', 'float'],
  seed: ['integer', 'float', 'string'],
  tokens: ['integer', 'float'],
  compute: ['integer', 'float'],
  lr_at_step: ['integer', 'float'],
  cumulative_lr: ['integer', 'float'],
};
const REQUIRED = ['params', 'data', 'step', 'seed'];
const ID_OPTIONAL = ['tokens', 'compute', 'lr_at_step', 'cumulative_lr'];
// allenai/DataDecide-ppl-results has exactly these besides the perplexity columns.
const PERPLEXITY_FILE_COLUMNS = new Set(['params', 'data', 'step', 'seed', PANDAS_INDEX_COLUMN]);

/**
 * Classifies a wide file's columns, refusing what cannot be ingested: a missing id column, a
 * column of the wrong type, a raw perplexity file with other columns, an `mmlu_…` column whose
 * metric is not known (it would otherwise pass as a feature).
 *
 * @example
 * ```ts
 * const layout = wideLayout('full_eval.parquet', await sourceColumns('full_eval.parquet'));
 * layout.kind; // 'datadec'
 * ```
 */
export function wideLayout(file: string, columns: readonly SourceColumn[]): WideLayout {
  const kind: WideKind = columns.some((c) => wideMetricColumn(c.name)?.kind === 'raw-perplexity')
    ? 'perplexity'
    : 'datadec';
  const metrics: Array<{ column: string; task: string; metricName: string }> = [];
  const features: string[] = [];
  const present = new Set<string>();
  for (const { name, type } of columns) {
    const family = columnFamily(type);
    const expect = (families: readonly ColumnFamily[], what: string) => {
      if (!families.includes(family)) {
        throw new InputFileError(
          file,
          `column "${name}" is ${type}, expected ${families.map((f) => FAMILY_NAMES[f]).join(' or ')} (${what})`,
        );
      }
    };
    if (name === PANDAS_INDEX_COLUMN) continue;
    const idFamilies = ID_FAMILIES[name];
    if (idFamilies && (kind === 'datadec' || PERPLEXITY_FILE_COLUMNS.has(name))) {
      expect(idFamilies, 'an id column');
      present.add(name);
      continue;
    }
    const metric = wideMetricColumn(name);
    if (kind === 'perplexity' && metric?.kind !== 'raw-perplexity') {
      throw new InputFileError(
        file,
        `column "${name}" is not a DataDecide perplexity results column (params, data, step, seed, ` +
          `eval/<set>-validation/Perplexity, ${PANDAS_INDEX_COLUMN})`,
      );
    }
    if (metric) {
      expect(['integer', 'float'], 'a metric column');
      metrics.push({ column: name, task: metric.task, metricName: metric.metricName });
      continue;
    }
    if (name.startsWith('mmlu_')) {
      throw new InputFileError(
        file,
        `column "${name}" looks like an MMLU metric but does not end with a known metric name ` +
          '(e.g. _acc_raw, _primary_metric); it is not ingested as a feature',
      );
    }
    expect(['integer', 'float', 'string', 'boolean'], 'a model or dataset feature column');
    features.push(name);
  }
  const missing = REQUIRED.filter((name) => !present.has(name));
  if (missing.length > 0) {
    throw new InputFileError(file, `missing column(s) ${missing.map((n) => `"${n}"`).join(', ')}`);
  }
  if (metrics.length === 0) throw new InputFileError(file, 'has no metric columns');
  return { kind, metrics, features, present };
}

/**
 * The `params` values of a wide file, refusing a null one (naming its first row).
 *
 * @example
 * ```ts
 * await wideParams('full_eval.parquet'); // ['150M', '4M']
 * ```
 */
export async function wideParams(file: string): Promise<string[]> {
  const source = parquetSource(file, ', file_row_number = true');
  const [nulls] = await querySource(
    file,
    `SELECT min(file_row_number) AS row FROM ${source} WHERE params IS NULL`,
  );
  if (nulls?.row !== null && nulls?.row !== undefined) {
    throw new InputFileError(file, `row ${String(nulls.row)}, column "params": is null`);
  }
  const rows = await querySource(file, `SELECT DISTINCT params FROM ${source} ORDER BY params`);
  return rows.map((r) => String(r.params));
}

/**
 * The `full_eval` rows of one `params` partition of a wide file: one row per metric cell with a
 * value; a null or NaN cell is "no result" (datadec's outer merge and pivot leave NaN where a
 * checkpoint lacks a task) and is counted, not written. Features become one JSON object per
 * source row, in the file's column order. Every cell of the id columns is checked (file, row,
 * column, cause). In `check` mode the metric rows are counted, not built: `rows` then holds one
 * representative row per source row, for the schema check.
 *
 * @example
 * ```ts
 * const { rows } = await widePartition('full_eval.parquet', layout, '4M');
 * const { missingCells } = await widePartition('full_eval.parquet', layout, '4M', 'check');
 * ```
 */
export async function widePartition(
  file: string,
  layout: WideLayout,
  params: string,
  mode: 'rows' | 'check' = 'rows',
  options: WidePartitionOptions = {},
): Promise<WidePartition> {
  const source = parquetSource(file, ', file_row_number = true');
  const where = `params = ${quoteLiteral(params)}`;
  // The id and feature columns, one object per source row; the metric cells, which are most of
  // the file, are read column-wise (below) rather than as one JS object per row.
  const idColumns = [
    'data',
    'step',
    'seed',
    ...ID_OPTIONAL.filter((c) => layout.present.has(c)),
    ...layout.features,
  ];
  const records = await querySource(
    file,
    `SELECT file_row_number, ${idColumns.map(quoteIdentifier).join(', ')} FROM ${source} WHERE ${where} ORDER BY file_row_number`,
  );
  const sourceFile = path.basename(file);
  const bases: Base[] = [];
  const baseOfRow = new Map<number, Base>();
  for (const record of records) {
    const r = Number(record.file_row_number);
    const failOn =
      (column: string): CellFailure =>
      (why) => {
        throw new InputFileError(file, `row ${r}, column "${column}": ${why}`);
      };
    const data = record.data;
    if (data === null || data === undefined) failOn('data')('is null');
    const step = wholeNumber(
      typeof record.step === 'number' && Number.isNaN(record.step) ? null : record.step,
      failOn('step'),
    );
    const base: Base = {
      params,
      data: String(data),
      step,
      ...seedCell(record.seed, failOn('seed')),
      tokens: optionalWhole(record.tokens, failOn('tokens')),
      compute: nanAsNull(optionalNumber(record.compute)),
      chinchilla: null,
      chinchilla_multiple: null,
      lr_at_step: nanAsNull(optionalNumber(record.lr_at_step)),
      cumulative_lr: nanAsNull(optionalNumber(record.cumulative_lr)),
      features: layout.features.length > 0 ? featuresJson(record, layout.features) : null,
      source_file: sourceFile,
      source_row: r,
    };
    bases.push(base);
    baseOfRow.set(r, base);
  }
  // One (source row, metric column, value) triple per cell with a value, unpivoted by DuckDB
  // (which leaves out nulls; NaN is filtered): columns are named by their index in the layout.
  const metricSelect = layout.metrics
    .map((m, i) => `CAST(${quoteIdentifier(m.column)} AS DOUBLE) AS "${i}"`)
    .join(', ');
  const present =
    `SELECT r, CAST(i AS INTEGER) AS i, v FROM (SELECT CAST(file_row_number AS INTEGER) AS r, ${metricSelect} ` +
    `FROM ${source} WHERE ${where}) UNPIVOT (v FOR i IN (${layout.metrics.map((_, i) => `"${i}"`).join(', ')})) ` +
    'WHERE NOT isnan(v)';
  const totalCells = records.length * layout.metrics.length;
  if (mode === 'check') {
    // Metric rows differ from their source row's base only in task, metric and a DOUBLE value,
    // which the layout guarantees; one row per source row is what needs checking.
    const [first] = layout.metrics;
    const rows = bases.map((base) => ({
      ...base,
      task: first?.task,
      metric_name: first?.metricName,
      value: 0,
      value_text: null,
    }));
    const cells = options.collect
      ? await options.collect(present, bases)
      : Number((await querySource(file, `SELECT count(*)::DOUBLE AS n FROM (${present})`))[0]?.n ?? 0);
    return { params, rows, sourceRows: records.length, missingCells: totalCells - cells };
  }
  const columns = await withStagingConnection(async (connection) => {
    try {
      return (await connection.runAndReadAll(`${present} ORDER BY r, i`)).getColumnsJS();
    } catch (error) {
      throw new InputFileError(file, `cannot read as Parquet: ${(error as Error).message.split('\n')[0]}`);
    }
  });
  const [rs = [], is = [], vs = []] = columns as [number[], number[], number[]];
  const { keep } = options;
  const width = layout.metrics.length;
  const rows: Array<Record<string, unknown>> = [];
  for (let k = 0; k < rs.length; k++) {
    if (keep && !keep.has((rs[k] as number) * width + (is[k] as number))) continue;
    const metric = layout.metrics[is[k] as number] as WideLayout['metrics'][number];
    const b = baseOfRow.get(rs[k] as number) as Base;
    // Spelled out rather than spread: spreading the base is ~30× slower on millions of rows.
    rows.push({
      params: b.params,
      data: b.data,
      task: metric.task,
      step: b.step,
      seed: b.seed,
      seed_name: b.seed_name,
      tokens: b.tokens,
      compute: b.compute,
      chinchilla: null,
      chinchilla_multiple: null,
      lr_at_step: b.lr_at_step,
      cumulative_lr: b.cumulative_lr,
      features: b.features,
      metric_name: metric.metricName,
      value: vs[k],
      value_text: null,
      source_file: b.source_file,
      source_row: b.source_row,
    });
  }
  return { params, rows, sourceRows: records.length, missingCells: totalCells - rs.length };
}

/**
 * Options of {@link widePartition}.
 *
 * @example
 * ```ts
 * await widePartition(file, layout, '4M', 'rows', { keep: new Set([0, 1]) } satisfies WidePartitionOptions);
 * ```
 */
export interface WidePartitionOptions {
  /**
   * In `check` mode: given the query of the cells with a value (`r` source row, `i` index in
   * `layout.metrics`, `v` value) and each source row's base, records their keys and returns how
   * many there are (instead of counting them).
   */
  readonly collect?: (present: string, bases: readonly Base[]) => Promise<number>;
  /** In `rows` mode: only the cells `r × layout.metrics.length + i` in this set give a row. */
  readonly keep?: ReadonlySet<number>;
}

/**
 * The columns a source row gives each of its metric rows.
 *
 * @example
 * ```ts
 * const base: Base = partition.rows[0] as Base;
 * ```
 */
export interface Base {
  readonly params: string;
  readonly data: string;
  readonly step: number | bigint;
  readonly seed: number;
  readonly seed_name: string;
  readonly tokens: number | bigint | null;
  readonly compute: number | null;
  readonly chinchilla: null;
  readonly chinchilla_multiple: null;
  readonly lr_at_step: number | null;
  readonly cumulative_lr: number | null;
  readonly features: string | null;
  readonly source_file: string;
  readonly source_row: number;
}

function nanAsNull(value: number | null): number | null {
  return value === null || Number.isNaN(value) ? null : value;
}

/** JSON keeps numbers, text and booleans; NaN (pandas' missing) is null, ±Infinity its text. */
function featuresJson(record: Record<string, unknown>, columns: readonly string[]): string {
  const out: Record<string, unknown> = {};
  for (const column of columns) {
    const v = record[column];
    if (v === null || v === undefined) out[column] = null;
    else if (typeof v === 'bigint') {
      out[column] =
        v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : String(v);
    } else if (typeof v === 'number')
      out[column] = Number.isNaN(v) ? null : Number.isFinite(v) ? v : String(v);
    else out[column] = v;
  }
  return JSON.stringify(out);
}
