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
import { DATADEC_OUTPUT_FILES, planDatadecFolder, type SkippedFile } from './datadec-folder.js';
import { describeKey, EvalKeys, type KeyOrigin } from './datadec-keys.js';
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
  /**
   * Base names of source files whose `full_eval` rows this call removes (in every partition), so
   * that their results can come from the inputs instead: a key the lake holds from any other
   * file refuses the call.
   */
  readonly removeSources?: readonly string[];
}

/**
 * A raw download of a datadec folder read for what the folder's `full_eval.parquet` lacks.
 *
 * @example
 * ```ts
 * for (const s of summary.supplements) console.log(`${s.file}: ${s.rows} rows ${s.of} lacks`);
 * ```
 */
export interface DataDecideSupplement {
  readonly file: string;
  /** The file it supplements (datadec's `full_eval.parquet` or `full_eval_raw.parquet`). */
  readonly of: string;
  /** Rows read from the download. */
  readonly sourceRows: number;
  /** `full_eval` rows written from it: keys the supplemented file does not give. */
  readonly rows: number;
  /** Its rows left out because the supplemented file gives their key. */
  readonly shadowed: number;
  /** The metric names of the rows written, sorted. */
  readonly metrics: readonly string[];
  /** Rows of the supplemented file given this download's `chinchilla` (datadec drops it). */
  readonly chinchillaFilled: number;
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
  /** A folder's raw downloads, read for what its `full_eval.parquet` lacks. */
  readonly supplements: readonly DataDecideSupplement[];
  /** Part files of `removeSources` removed. */
  readonly removedSourceFiles: number;
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
type Planned = (
  | { readonly file: string; readonly format: 'results' }
  | { readonly file: string; readonly format: 'perplexity' | 'datadec'; readonly layout: WideLayout }
) & {
  /** For a folder's raw download: the file of the folder it supplements. */
  readonly supplementOf?: string;
};

/** A `chinchilla` value and its multiple, as `full_eval` holds them. */
interface Chinchilla {
  readonly chinchilla: string | null;
  readonly chinchilla_multiple: number | null;
}

/**
 * A download's `chinchilla` per checkpoint (params, data, step, seed): per task, and for the
 * whole checkpoint when all its rows agree (else null).
 */
type ChinchillaOfCheckpoint = Map<string, { all: Chinchilla | null; byTask: Map<string, Chinchilla> }>;

/**
 * Loads DataDecide results into the `full_eval` dataset (long form: one row per metric of each
 * checkpoint), from any of the formats of {@link DataDecideFormat}: allenai/DataDecide-eval-results
 * files (the `metrics` Python-dict text is parsed without eval), allenai/DataDecide-ppl-results
 * files, and drothermel/datadec's wide outputs. An input may be a datadec output folder
 * (`data/datadecide/`): see {@link planDatadecFolder} for what is ingested from it. datadec's
 * `mean_eval` / `std_eval` files are compared with the `mean_eval` / `std_eval` views after the
 * ingest and the result reported in `checks`.
 *
 * A folder's raw downloads supplement its `full_eval.parquet`: their rows whose key it lacks (the
 * metrics datadec drops, …) are written too, and their `chinchilla` fills its rows.
 *
 * Every file is read and checked before anything is written, so a refused call writes nothing;
 * errors name the file, the 0-based row and the column (and, for `metrics`, the character).
 * `full_eval` holds one row per (params, data, task, step, seed, metric_name): a key two rows of
 * the call give, or that rows of another source file already hold in the lake, refuses the call
 * (`removeSources` names files whose rows the call removes instead). Re-ingesting a file replaces
 * the rows an earlier ingest of a file with the same base name wrote; re-ingesting a folder also
 * removes rows of datadec files it no longer ingests.
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
  const files: Array<{ file: string; supplementOf?: string }> = [];
  const checksToRun: Array<{ file: string; statistic: AggregateStatistic }> = [];
  const notIngested: SkippedFile[] = [];
  const retire = new Set<string>();
  for (const input of inputs) {
    if (!existsSync(input)) throw new InputFileError(input, 'no such file');
    if (statSync(input).isDirectory()) {
      const plan = await planDatadecFolder(input);
      files.push(...plan.ingest.map((file) => ({ file })));
      const of = plan.ingest[0];
      files.push(...plan.supplement.map((file) => ({ file, supplementOf: of })));
      checksToRun.push(...plan.check);
      notIngested.push(...plan.skipped.map((s) => ({ file: path.join(input, s.file), reason: s.reason })));
      for (const name of plan.retire) retire.add(name);
    } else files.push({ file: input });
  }

  const byName = new Map<string, { file: string; supplementOf?: string }>();
  for (const entry of files) {
    const name = path.basename(entry.file);
    const other = byName.get(name);
    if (other !== undefined && path.resolve(other.file) !== path.resolve(entry.file)) {
      throw new InputFileError(
        entry.file,
        `has the same base name as ${other.file}; re-ingest replaces rows by base name, so ingest them under distinct names`,
      );
    }
    // A file named both on its own and as a folder's download is ingested whole.
    if (other === undefined || other.supplementOf !== undefined) byName.set(name, entry);
  }

  // Pass 1: read, convert and check everything; nothing is kept but the counts and the keys.
  const planned: Planned[] = [];
  for (const { file, supplementOf } of byName.values()) {
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
    } else if (format === 'results') planned.push({ file, format, supplementOf });
    else {
      const layout = wideLayout(file, columns);
      planned.push({ file, format: layout.kind, layout, supplementOf });
    }
  }
  // Primaries first: a supplement's rows are those its primary does not give.
  planned.sort((a, b) => Number(a.supplementOf !== undefined) - Number(b.supplementOf !== undefined));
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
  const keys = await EvalKeys.create(lake);
  // Per supplemented file: the download's chinchilla, and the download's rows to write.
  const chinchillaOf = new Map<string, { from: string; checkpoints: ChinchillaOfCheckpoint }>();
  const supplementRows = new Map<
    number,
    { sourceRows: number; cells: Set<number>; shadowed: number; metrics: string[] }
  >();
  try {
    for (const [input, item] of planned.entries()) {
      const supplement = item.supplementOf !== undefined;
      let fileRows = 0;
      if (item.format === 'results') {
        const converted = await convertFile(item.file, columnTypes, kinds, options);
        check(item.file, converted.rows);
        await keys.addRows(input, converted.rows);
        fileRows = converted.sourceRows;
        if (item.supplementOf !== undefined) {
          chinchillaOf.set(item.supplementOf, {
            from: item.file,
            checkpoints: chinchillaByCheckpoint(converted.rows),
          });
        } else {
          emptyMetricRows += converted.emptyMetricRows;
        }
        skippedRows += converted.skipped.length;
        skipped.push(...converted.skipped.slice(0, MAX_SKIPPED_SAMPLES - skipped.length));
      } else {
        await keys.addColumns(input, item.layout.metrics);
        for (const params of await wideParams(item.file)) {
          const part = await widePartition(item.file, item.layout, params, 'check', {
            collect: (present, bases) => keys.addWide(input, present, bases, item.layout.metrics.length),
          });
          check(item.file, part.rows);
          fileRows += part.sourceRows;
          if (!supplement) missingCells += part.missingCells;
        }
      }
      if (!supplement) sourceRows += fileRows;
      else {
        const primaries = planned.flatMap((p, i) => (p.file === item.supplementOf ? [i] : []));
        supplementRows.set(input, { sourceRows: fileRows, ...(await keys.takeUnshadowed(input, primaries)) });
      }
    }
    await refuseRepeatedKeys(keys, planned, [
      ...[...byName.keys()],
      ...retire,
      ...(options.removeSources ?? []),
    ]);
  } finally {
    await keys.drop();
  }

  // Pass 2: convert each file again and replace its rows, partition by partition.
  let rows = 0;
  let replacedFiles = 0;
  const partitions = new Set<string>();
  const supplements: DataDecideSupplement[] = [];
  const filled = new Map<string, number>();
  for (const [input, item] of planned.entries()) {
    const stem = sourceStem(path.basename(item.file));
    const written = new Set<string>();
    const taken = supplementRows.get(input);
    let fileRowsWritten = 0;
    const write = async (params: string, partitionRows: EvalRow[]) => {
      if (partitionRows.length === 0) return;
      fileRowsWritten += partitionRows.length;
      const result = await lake.replace(DATASET, partitionRows, { partition: { params }, stem });
      rows += result.rowCount;
      replacedFiles += result.removedFiles;
      partitions.add(params);
      written.add(params);
    };
    if (item.format === 'results') {
      const { rows: converted } = await convertFile(item.file, new Map(), new Map(), options);
      const fileRows = taken ? converted.filter((_, k) => taken.cells.has(k)) : converted;
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
      const fill = chinchillaOf.get(item.file)?.checkpoints;
      for (const params of await wideParams(item.file)) {
        const part = await widePartition(item.file, item.layout, params, 'rows', { keep: taken?.cells });
        if (fill) filled.set(item.file, (filled.get(item.file) ?? 0) + fillChinchilla(part.rows, fill));
        await write(params, part.rows);
      }
    }
    replacedFiles += await removeStemExcept(lake, stem, written);
    if (taken && item.supplementOf !== undefined) {
      supplements.push({
        file: item.file,
        of: item.supplementOf,
        sourceRows: taken.sourceRows,
        rows: fileRowsWritten,
        shadowed: taken.shadowed,
        metrics: taken.metrics,
        chinchillaFilled:
          chinchillaOf.get(item.supplementOf)?.from === item.file ? (filled.get(item.supplementOf) ?? 0) : 0,
      });
    }
  }
  // A folder re-ingested after datadec ran more stages: the earlier generation's rows go.
  for (const name of retire) {
    if (byName.has(name)) continue;
    replacedFiles += await removeStemExcept(lake, sourceStem(name), new Set());
  }
  let removedSourceFiles = 0;
  for (const name of options.removeSources ?? []) {
    if (byName.has(name)) continue;
    removedSourceFiles += await removeStemExcept(lake, sourceStem(name), new Set());
  }

  const checks: AggregateCheck[] = [];
  for (const { file, statistic } of checksToRun) checks.push(await checkAggregateFile(lake, file, statistic));
  const primaries = planned.filter((p) => p.supplementOf === undefined);
  return {
    files: primaries.length,
    sourceRows,
    rows,
    emptyMetricRows,
    skippedRows,
    skipped,
    partitions: [...partitions].sort(),
    replacedFiles,
    inputs: primaries.map((p) => ({ file: p.file, format: p.format })),
    missingCells,
    checks,
    notIngested,
    supplements,
    removedSourceFiles,
  };
}

/**
 * Refuses the call when two of its rows share a `full_eval` key, or when a row of another source
 * file in the lake (not one of `replaced`, whose rows the call replaces or removes) has the key of
 * one of its rows: the lake holds one row per (params, data, task, step, seed, metric_name).
 */
async function refuseRepeatedKeys(
  keys: EvalKeys,
  planned: readonly Planned[],
  replaced: readonly string[],
): Promise<void> {
  const where = ({ input, row, column }: KeyOrigin): string => {
    const item = planned[input] as Planned;
    const name = item.format === 'results' ? 'metrics' : (item.layout.metrics[column]?.column ?? '?');
    return `row ${row}, column "${name}"`;
  };
  const why =
    'full_eval holds one row per (params, data, task, step, seed, metric_name), so the seed views ' +
    '(mean_eval, std_eval) would count it twice';
  const dup = await keys.duplicate();
  if (dup) {
    const first = planned[dup.first.input] as Planned;
    const second = planned[dup.second.input] as Planned;
    const here = where(dup.second);
    const there =
      dup.first.input === dup.second.input ? where(dup.first) : `${first.file} ${where(dup.first)}`;
    throw new InputFileError(
      second.file,
      `${here}: gives the key ${describeKey(dup.key)}, as ${there} does; ${why}` +
        (dup.first.input === dup.second.input
          ? ''
          : '. datadec writes each result into several files: give its output folder, which reads each result once'),
    );
  }
  const clash = await keys.lakeConflict(replaced);
  if (clash) {
    const item = planned[clash.at.input] as Planned;
    throw new InputFileError(
      item.file,
      `${where(clash.at)}: the lake already holds the key ${describeKey(clash.key)} ` +
        `from ${clash.sourceFile}; ${why}. ` +
        (clash.sourceFile in DATADEC_OUTPUT_FILES && path.basename(item.file) in DATADEC_OUTPUT_FILES
          ? 'Ingest the datadec output folder holding both files instead (it reads each result once), or r'
          : 'R') +
        `eplace ${clash.sourceFile}'s rows with this call's (--remove-source ${clash.sourceFile}, ` +
        `removeSources in the API); nothing was written`,
    );
  }
}

/** The chinchilla of each checkpoint of a download's rows, per task and for the checkpoint. */
function chinchillaByCheckpoint(rows: readonly EvalRow[]): ChinchillaOfCheckpoint {
  const out: ChinchillaOfCheckpoint = new Map();
  let lastRow = -1;
  for (const row of rows) {
    if (row.source_row === lastRow || row.chinchilla === null) continue;
    lastRow = row.source_row as number;
    const value = {
      chinchilla: row.chinchilla as string,
      chinchilla_multiple: row.chinchilla_multiple as number | null,
    };
    const key = checkpointText(row);
    const entry = out.get(key);
    if (!entry) out.set(key, { all: value, byTask: new Map([[row.task as string, value]]) });
    else {
      if (entry.all !== null && entry.all.chinchilla !== value.chinchilla) entry.all = null;
      if (!entry.byTask.has(row.task as string)) entry.byTask.set(row.task as string, value);
    }
  }
  return out;
}

function checkpointText(row: EvalRow): string {
  return `${row.params as string}\u0000${row.data as string}\u0000${String(row.step)}\u0000${row.seed as number}`;
}

/**
 * Gives rows of datadec's merged table the chinchilla of the download row of the same checkpoint
 * and task, else of the checkpoint when all its download rows agree; returns the rows given one.
 */
function fillChinchilla(rows: EvalRow[], fill: ChinchillaOfCheckpoint): number {
  let filled = 0;
  let lastRow = -1;
  let entry: ReturnType<ChinchillaOfCheckpoint['get']>;
  for (const row of rows) {
    if (row.source_row !== lastRow) {
      lastRow = row.source_row as number;
      entry = fill.get(checkpointText(row));
    }
    if (!entry) continue;
    const value = entry.byTask.get(row.task as string) ?? entry.all;
    if (!value) continue;
    row.chinchilla = value.chinchilla;
    row.chinchilla_multiple = value.chinchilla_multiple;
    filled++;
  }
  return filled;
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
