import { createHash } from 'node:crypto';
import { type Dirent, existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  InputFileError,
  type Lake,
  parsePartitionPath,
  RowValidationError,
  RunlakeError,
  validateTypedRows,
} from '../lake/index.js';
import {
  type AggregateCheck,
  type AggregateStatistic,
  aggregateStatistic,
  checkAggregateFile,
} from './datadec-aggregates.js';
import { wideMetricColumn } from './datadec-columns.js';
import { planDatadecFolder, type SkippedFile } from './datadec-folder.js';
import { type WideLayout, wideLayout, wideParams, widePartition } from './datadec-wide.js';
import {
  type ColumnFamily,
  columnFamily,
  FAMILY_NAMES,
  optionalNumber,
  optionalWhole,
  parquetSource,
  querySource,
  type SourceColumn,
  seedCell,
  sourceColumns,
  wholeNumber,
} from './datadecide-source.js';
import { flattenPythonValue, PythonLiteralError, parsePythonLiteral } from './python-literal.js';

export type { AggregateCheck, AggregateStatistic } from './datadec-aggregates.js';
export { checkAggregateFile } from './datadec-aggregates.js';
export {
  DATADEC_METRIC_NAMES,
  DATADECIDE_PERPLEXITY_SETS,
  PERPLEXITY_METRIC,
  wideMetricColumn,
} from './datadec-columns.js';
export { DATADEC_OUTPUT_FILES, planDatadecFolder, type SkippedFile } from './datadec-folder.js';

/**
 * Options for {@link ingestDataDecide}.
 *
 * @example
 * ```ts
 * await ingestDataDecide(lake, files, { skipBadMetrics: true } satisfies DataDecideOptions);
 * ```
 */
export interface DataDecideOptions {
  /**
   * Skip source rows whose `metrics` text does not parse (counted and sampled in the summary)
   * instead of refusing the whole call.
   */
  readonly skipBadMetrics?: boolean;
}

/**
 * A source row left out by `skipBadMetrics`, and why.
 *
 * @example
 * ```ts
 * for (const s of summary.skipped) console.log(`${s.file} row ${s.row}: ${s.reason}`);
 * ```
 */
export interface SkippedSourceRow {
  readonly file: string;
  /** 0-based row of the file. */
  readonly row: number;
  readonly reason: string;
}

/**
 * What {@link ingestDataDecide} did.
 *
 * @example
 * ```ts
 * const { rows, skippedRows, partitions } = await ingestDataDecide(lake, files);
 * ```
 */
export interface DataDecideSummary {
  readonly files: number;
  /** Rows read from the Parquet files. */
  readonly sourceRows: number;
  /** `full_eval` rows written (one per metric of each source row). */
  readonly rows: number;
  /** Source rows whose metrics dict was empty, so they produced no rows. */
  readonly emptyMetricRows: number;
  /** Source rows skipped for an unparseable `metrics` (only with `skipBadMetrics`). */
  readonly skippedRows: number;
  /** The first few skipped rows. */
  readonly skipped: readonly SkippedSourceRow[];
  /** The `params` partitions written. */
  readonly partitions: readonly string[];
  /** Part files of earlier ingests of the same files that were replaced. */
  readonly replacedFiles: number;
  /** Each file ingested, and the format it was read as. */
  readonly inputs: ReadonlyArray<{ readonly file: string; readonly format: DataDecideFormat }>;
  /**
   * Metric cells of wide files that were null or NaN (no result for that checkpoint and task),
   * which give no row.
   */
  readonly missingCells: number;
  /** datadec `mean_eval` / `std_eval` files compared with the views after the ingest. */
  readonly checks: readonly AggregateCheck[];
  /** Files of an input folder that were not ingested, and why. */
  readonly notIngested: readonly SkippedFile[];
}

/**
 * The formats `ingest datadecide` reads:
 * - `results`: allenai/DataDecide-eval-results (long, a `metrics` dict text per row);
 * - `perplexity`: allenai/DataDecide-ppl-results (wide, `eval/<set>-validation/Perplexity`);
 * - `datadec`: drothermel/datadec's wide per-seed outputs (`full_eval.parquet` and its stages);
 * - `aggregate`: datadec's `mean_eval.parquet` / `std_eval.parquet`, checked, not ingested.
 *
 * @example
 * ```ts
 * summary.inputs.filter((i) => i.format === 'datadec');
 * ```
 */
export type DataDecideFormat = 'results' | 'perplexity' | 'datadec' | 'aggregate';

// The columns a DataDecide results file may have, and the Parquet type families each accepts.
// A float column where an integer is expected is a documented widening: every value must be whole.
const COLUMNS: Readonly<Record<string, { required: boolean; families: readonly ColumnFamily[] }>> = {
  params: { required: true, families: ['string'] },
  data: { required: true, families: ['string'] },
  task: { required: true, families: ['string'] },
  step: { required: true, families: ['integer', 'float'] },
  seed: { required: true, families: ['integer', 'string', 'float'] },
  metrics: { required: true, families: ['string'] },
  tokens: { required: false, families: ['integer', 'float'] },
  compute: { required: false, families: ['integer', 'float'] },
  chinchilla: { required: false, families: ['string', 'integer', 'float'] },
  lr_at_step: { required: false, families: ['integer', 'float'] },
  cumulative_lr: { required: false, families: ['integer', 'float'] },
};
/** The pandas index column pyarrow writes; it carries no data. */
const IGNORED_COLUMNS = new Set(['__index_level_0__']);

const MAX_SKIPPED_SAMPLES = 5;
const DATASET = 'full_eval';

type EvalRow = Record<string, unknown>;

interface FileRows {
  readonly rows: EvalRow[];
  readonly sourceRows: number;
  readonly emptyMetricRows: number;
  readonly skipped: SkippedSourceRow[];
}

/** Per metric name, the kind its values have (number or text) and where that was first seen. */
type MetricKinds = Map<string, { kind: 'number' | 'text'; file: string; row: number }>;

/** One file to ingest, with its format and what the format needs to read it. */
type Planned =
  | { readonly file: string; readonly format: 'results' }
  | { readonly file: string; readonly format: 'perplexity' | 'datadec'; readonly layout: WideLayout };

/**
 * Loads DataDecide results into the `full_eval` dataset (long form: one row per metric of each
 * checkpoint), from any of the formats of {@link DataDecideFormat}: allenai/DataDecide-eval-results
 * files (the `metrics` Python-dict text is parsed without eval), allenai/DataDecide-ppl-results
 * files, and drothermel/datadec's wide outputs. An input may be a datadec output folder
 * (`data/datadecide/`): see {@link planDatadecFolder} for what is ingested from it. datadec's
 * `mean_eval` / `std_eval` files are compared with the `mean_eval` / `std_eval` views after the
 * ingest and the result reported in `checks`.
 *
 * Every file is read and checked before anything is written, so a refused call writes nothing;
 * errors name the file, the 0-based row and the column (and, for `metrics`, the character).
 * Re-ingesting a file replaces the rows an earlier ingest of a file with the same base name wrote;
 * re-ingesting a folder also removes rows of datadec files it no longer ingests.
 *
 * @example
 * ```ts
 * const lake = await openLake('lake', { schema: 'squiggle' });
 * const summary = await ingestDataDecide(lake, ['train-00000-of-00002.parquet', 'data/datadecide']);
 * summary.rows; // full_eval rows written
 * ```
 */
export async function ingestDataDecide(
  lake: Lake,
  inputs: readonly string[],
  options: DataDecideOptions = {},
): Promise<DataDecideSummary> {
  const definition = lake.definition(DATASET);
  if (inputs.length === 0) throw new RunlakeError('ingest datadecide: no input files given');

  // Folders expand to the files datadec's pipeline wrote that hold results.
  const files: string[] = [];
  const checksToRun: Array<{ file: string; statistic: AggregateStatistic }> = [];
  const notIngested: SkippedFile[] = [];
  const retire = new Set<string>();
  for (const input of inputs) {
    if (!existsSync(input)) throw new InputFileError(input, 'no such file');
    if (statSync(input).isDirectory()) {
      const plan = await planDatadecFolder(input);
      files.push(...plan.ingest);
      checksToRun.push(...plan.check);
      notIngested.push(...plan.skipped.map((s) => ({ file: path.join(input, s.file), reason: s.reason })));
      for (const name of plan.retire) retire.add(name);
    } else files.push(input);
  }

  const byName = new Map<string, string>();
  for (const file of files) {
    const name = path.basename(file);
    const other = byName.get(name);
    if (other !== undefined && path.resolve(other) !== path.resolve(file)) {
      throw new InputFileError(
        file,
        `has the same base name as ${other}; re-ingest replaces rows by base name, so ingest them under distinct names`,
      );
    }
    byName.set(name, file);
  }

  // Pass 1: read, convert and check everything; nothing is kept but the counts.
  const planned: Planned[] = [];
  for (const file of byName.values()) {
    const columns = await sourceColumns(file);
    const format = detectFormat(file, columns);
    if (format === 'aggregate') {
      const statistic = aggregateStatistic(file);
      if (!statistic) {
        throw new InputFileError(
          file,
          'is a seed aggregate (no seed column) but its name does not say which: datadec names them mean_eval.parquet and std_eval.parquet',
        );
      }
      checksToRun.push({ file, statistic });
    } else if (format === 'results') planned.push({ file, format });
    else {
      const layout = wideLayout(file, columns);
      planned.push({ file, format: layout.kind, layout });
    }
  }
  const kinds: MetricKinds = new Map();
  const columnTypes = new Map<string, { type: string; file: string }>();
  let sourceRows = 0;
  let emptyMetricRows = 0;
  let missingCells = 0;
  const skipped: SkippedSourceRow[] = [];
  let skippedRows = 0;
  const check = (file: string, rows: readonly EvalRow[]) => {
    try {
      validateTypedRows(definition, rows, new Map());
    } catch (error) {
      if (error instanceof RowValidationError) {
        const row = rows[error.rowIndex];
        throw new InputFileError(
          file,
          `row ${String(row?.source_row)}, column "${error.column}": ${error.reason}`,
        );
      }
      throw error;
    }
  };
  for (const item of planned) {
    if (item.format === 'results') {
      const converted = await convertFile(item.file, columnTypes, kinds, options);
      check(item.file, converted.rows);
      sourceRows += converted.sourceRows;
      emptyMetricRows += converted.emptyMetricRows;
      skippedRows += converted.skipped.length;
      skipped.push(...converted.skipped.slice(0, MAX_SKIPPED_SAMPLES - skipped.length));
    } else {
      for (const params of await wideParams(item.file)) {
        const part = await widePartition(item.file, item.layout, params, 'check');
        check(item.file, part.rows);
        sourceRows += part.sourceRows;
        missingCells += part.missingCells;
      }
    }
  }

  // Pass 2: convert each file again and replace its rows, partition by partition.
  let rows = 0;
  let replacedFiles = 0;
  const partitions = new Set<string>();
  for (const item of planned) {
    const stem = sourceStem(path.basename(item.file));
    const written = new Set<string>();
    const write = async (params: string, partitionRows: EvalRow[]) => {
      const result = await lake.replace(DATASET, partitionRows, { partition: { params }, stem });
      rows += result.rowCount;
      replacedFiles += result.removedFiles;
      partitions.add(params);
      written.add(params);
    };
    if (item.format === 'results') {
      const { rows: fileRows } = await convertFile(item.file, new Map(), new Map(), options);
      const byParams = new Map<string, EvalRow[]>();
      for (const row of fileRows) {
        const params = row.params as string;
        const list = byParams.get(params);
        if (list) list.push(row);
        else byParams.set(params, [row]);
      }
      for (const [params, partitionRows] of byParams) await write(params, partitionRows);
    } else {
      // One partition at a time: datadec's full_eval has ~150 metric columns per row.
      for (const params of await wideParams(item.file)) {
        await write(params, (await widePartition(item.file, item.layout, params)).rows);
      }
    }
    replacedFiles += await removeStemExcept(lake, stem, written);
  }
  // A folder re-ingested after datadec ran more stages: the earlier generation's rows go.
  for (const name of retire) {
    if (byName.has(name)) continue;
    replacedFiles += await removeStemExcept(lake, sourceStem(name), new Set());
  }

  const checks: AggregateCheck[] = [];
  for (const { file, statistic } of checksToRun) checks.push(await checkAggregateFile(lake, file, statistic));
  return {
    files: planned.length,
    sourceRows,
    rows,
    emptyMetricRows,
    skippedRows,
    skipped,
    partitions: [...partitions].sort(),
    replacedFiles,
    inputs: planned.map((p) => ({ file: p.file, format: p.format })),
    missingCells,
    checks,
    notIngested,
  };
}

/** Removes the part files `stem` wrote in partitions other than `keep`; returns how many. */
async function removeStemExcept(lake: Lake, stem: string, keep: ReadonlySet<string>): Promise<number> {
  let removed = 0;
  for (const params of await partitionsWithStem(lake, stem)) {
    if (keep.has(params)) continue;
    removed += (await lake.replace(DATASET, [], { partition: { params }, stem })).removedFiles;
  }
  return removed;
}

/**
 * The format of a DataDecide file, from its columns. datadec's other stage outputs (the melted
 * plotting files, the expanded metrics) are refused with the file to ingest instead.
 */
function detectFormat(file: string, columns: readonly SourceColumn[]): DataDecideFormat {
  const names = new Set(columns.map((c) => c.name));
  if (names.has('metrics')) return 'results';
  if (names.has('metric') && names.has('value')) {
    throw new InputFileError(
      file,
      "is datadec's melted plotting table (metric, value columns), derived from full_eval.parquet / mean_eval.parquet: ingest full_eval.parquet (or the folder)",
    );
  }
  if (names.has('task')) {
    throw new InputFileError(
      file,
      "has a task column but no metrics column: datadec's dwn_metrics_expanded stage is not ingested; ingest the download it was built from (downstream_eval.parquet) or full_eval.parquet",
    );
  }
  if (!names.has('seed') && columns.some((c) => wideMetricColumn(c.name) !== undefined)) return 'aggregate';
  return 'datadec';
}

/**
 * The `replace` stem of a source file: `datadecide_` and 16 hex digits of SHA-256 over its base
 * name, so each file's rows replace only that file's earlier rows.
 *
 * @example
 * ```ts
 * dataDecideStem('train-00000-of-00002.parquet'); // 'datadecide_…'
 * ```
 */
export function dataDecideStem(baseName: string): string {
  return sourceStem(baseName);
}

function sourceStem(baseName: string): string {
  return `datadecide_${createHash('sha256').update(baseName).digest('hex').slice(0, 16)}`;
}

async function partitionsWithStem(lake: Lake, stem: string): Promise<string[]> {
  const root = lake.paths.dataset(DATASET);
  let entries: Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const found: string[] = [];
  for (const dirent of entries) {
    // The view's `**` glob does not enter a symlinked partition directory, so neither does this.
    if (!dirent.isDirectory()) continue;
    const entry = dirent.name;
    const [pair] = parsePartitionPath(entry);
    const value = pair?.[0] === 'params' ? pair[1] : null;
    if (value === null) continue;
    const files = await readdir(path.join(root, entry)).catch(() => [] as string[]);
    if (files.some((f) => f.startsWith(`part-${stem}-`))) found.push(value);
  }
  return found;
}

async function convertFile(
  file: string,
  columnTypes: Map<string, { type: string; file: string }>,
  kinds: MetricKinds,
  options: DataDecideOptions,
): Promise<FileRows> {
  const schema = (await sourceColumns(file)).map((c) => [c.name, c.type] as const);
  const records = await querySource(file, `SELECT * FROM ${parquetSource(file)}`);
  const present = new Set<string>();
  for (const [name, type] of schema) {
    if (IGNORED_COLUMNS.has(name)) continue;
    const spec = COLUMNS[name];
    if (!spec) {
      throw new InputFileError(
        file,
        `column "${name}" is not a DataDecide results column (${Object.keys(COLUMNS).join(', ')})`,
      );
    }
    const earlier = columnTypes.get(name);
    if (!spec.families.includes(columnFamily(type))) {
      throw new InputFileError(
        file,
        `column "${name}" is ${type}, expected ${spec.families.map((f) => FAMILY_NAMES[f]).join(' or ')}` +
          (earlier ? ` (it was ${earlier.type} in ${earlier.file})` : ''),
      );
    }
    if (!earlier) columnTypes.set(name, { type, file });
    present.add(name);
  }
  const missing = Object.entries(COLUMNS).filter(([name, spec]) => spec.required && !present.has(name));
  if (missing.length > 0) {
    throw new InputFileError(file, `missing column(s) ${missing.map(([n]) => `"${n}"`).join(', ')}`);
  }

  const sourceName = path.basename(file);
  const rows: EvalRow[] = [];
  const skipped: SkippedSourceRow[] = [];
  let emptyMetricRows = 0;
  for (let r = 0; r < records.length; r++) {
    const record = records[r] as Record<string, unknown>;
    const fail = (column: string, reason: string): never => {
      throw new InputFileError(file, `row ${r}, column "${column}": ${reason}`);
    };
    const text = (column: string): string => {
      const v = record[column];
      if (v === null || v === undefined) return fail(column, 'is null');
      return String(v);
    };
    const base: EvalRow = {
      params: text('params'),
      data: text('data'),
      task: text('task'),
      step: wholeNumber(record.step, (why) => fail('step', why)),
      ...seedCell(record.seed, (why) => fail('seed', why)),
      tokens: optionalWhole(record.tokens, (why) => fail('tokens', why)),
      compute: optionalNumber(record.compute),
      ...chinchillaColumns(record.chinchilla),
      lr_at_step: optionalNumber(record.lr_at_step),
      cumulative_lr: optionalNumber(record.cumulative_lr),
      features: null,
      source_file: sourceName,
      source_row: r,
    };
    const metricsText = record.metrics;
    let metrics: ReturnType<typeof flattenPythonValue>;
    try {
      if (metricsText === null || metricsText === undefined)
        throw new PythonLiteralError(0, 'metrics is null', '');
      const parsed = parsePythonLiteral(String(metricsText));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new PythonLiteralError(0, 'metrics is not a dict', String(metricsText));
      }
      metrics = flattenPythonValue(parsed);
    } catch (error) {
      if (!(error instanceof PythonLiteralError)) throw error;
      const reason = error.text === '' ? error.reason : `not a Python dict: ${error.message}`;
      if (options.skipBadMetrics) {
        skipped.push({ file, row: r, reason });
        continue;
      }
      return fail('metrics', `${reason} (pass --skip-bad-metrics to skip such rows)`);
    }
    if (metrics.length === 0) emptyMetricRows++;
    for (const [name, leaf] of metrics) {
      const isText = typeof leaf === 'string';
      if (leaf !== null) {
        const kind = isText ? 'text' : 'number';
        const seen = kinds.get(name);
        if (!seen) kinds.set(name, { kind, file, row: r });
        else if (seen.kind !== kind) {
          fail(
            'metrics',
            `metric "${name}" is ${kind === 'text' ? 'text' : 'a number'} here but was ${seen.kind === 'text' ? 'text' : 'a number'} ` +
              `in ${seen.file === file ? '' : `${seen.file} `}row ${seen.row}`,
          );
        }
      }
      // Spelled out rather than spread: spreading the base is ~30× slower on millions of rows.
      rows.push({
        params: base.params,
        data: base.data,
        task: base.task,
        step: base.step,
        seed: base.seed,
        seed_name: base.seed_name,
        tokens: base.tokens,
        compute: base.compute,
        chinchilla: base.chinchilla,
        chinchilla_multiple: base.chinchilla_multiple,
        lr_at_step: base.lr_at_step,
        cumulative_lr: base.cumulative_lr,
        features: null,
        metric_name: name,
        value: leaf === null || isText ? null : typeof leaf === 'boolean' ? (leaf ? 1 : 0) : Number(leaf),
        value_text: isText ? leaf : null,
        source_file: base.source_file,
        source_row: base.source_row,
      });
    }
  }
  return { rows, sourceRows: records.length, emptyMetricRows, skipped };
}

function chinchillaColumns(value: unknown): {
  chinchilla: string | null;
  chinchilla_multiple: number | null;
} {
  if (value === null || value === undefined) return { chinchilla: null, chinchilla_multiple: null };
  if (typeof value === 'number' || typeof value === 'bigint') {
    return { chinchilla: String(value), chinchilla_multiple: Number(value) };
  }
  const text = String(value);
  const match = /^\s*(\d+(?:\.\d*)?|\.\d+)(?:\s*x\s*C?)?\s*$/i.exec(text);
  return { chinchilla: text, chinchilla_multiple: match ? Number(match[1]) : null };
}
