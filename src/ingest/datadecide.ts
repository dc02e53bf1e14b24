import { createHash } from 'node:crypto';
import { type Dirent, existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  InputFileError,
  type Lake,
  parsePartitionPath,
  quoteLiteral,
  RowValidationError,
  RunlakeError,
  validateTypedRows,
  withStagingConnection,
} from '../lake/index.js';
import { flattenPythonValue, PythonLiteralError, parsePythonLiteral } from './python-literal.js';

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
}

/** DataDecide's seed names, mapped to indexes as datadec's `SEED_MAP` does. */
const SEED_NAMES: Readonly<Record<string, number>> = {
  default: 0,
  'small aux 2': 1,
  'small aux 3': 2,
  'large aux 2': 3,
  'large aux 3': 4,
};

type Family = 'integer' | 'float' | 'string' | 'other';

// The columns a DataDecide results file may have, and the Parquet type families each accepts.
// A float column where an integer is expected is a documented widening: every value must be whole.
const COLUMNS: Readonly<Record<string, { required: boolean; families: readonly Family[] }>> = {
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

/**
 * Loads DataDecide downstream results (`allenai/DataDecide-eval-results` Parquet files: `params`,
 * `data`, `task`, `step`, `seed`, `tokens`, `compute`, `chinchilla`, `metrics`, and the LR-curve
 * columns `lr_at_step` and `cumulative_lr` where present) into the `full_eval` dataset, one row
 * per metric of each source row. The `metrics` text (a Python dict) is parsed without eval.
 *
 * Every file is read and checked before anything is written, so a refused call writes nothing;
 * errors name the file, the 0-based row and the column (and, for `metrics`, the character).
 * Re-ingesting a file replaces the rows an earlier ingest of a file with the same base name wrote.
 *
 * @example
 * ```ts
 * const lake = await openLake('lake', { schema: 'squiggle' });
 * const summary = await ingestDataDecide(lake, ['train-00000-of-00002.parquet']);
 * summary.rows; // full_eval rows written
 * ```
 */
export async function ingestDataDecide(
  lake: Lake,
  files: readonly string[],
  options: DataDecideOptions = {},
): Promise<DataDecideSummary> {
  const definition = lake.definition(DATASET);
  if (files.length === 0) throw new RunlakeError('ingest datadecide: no input files given');
  const byName = new Map<string, string>();
  for (const file of files) {
    if (!existsSync(file)) throw new InputFileError(file, 'no such file');
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
  const unique = [...byName.values()];

  // Pass 1: read, convert and check everything; nothing is kept but the counts.
  const kinds: MetricKinds = new Map();
  const columnTypes = new Map<string, { type: string; file: string }>();
  let sourceRows = 0;
  let emptyMetricRows = 0;
  const skipped: SkippedSourceRow[] = [];
  let skippedRows = 0;
  for (const file of unique) {
    const converted = await convertFile(file, columnTypes, kinds, options);
    try {
      validateTypedRows(definition, converted.rows, new Map());
    } catch (error) {
      if (error instanceof RowValidationError) {
        const row = converted.rows[error.rowIndex];
        throw new InputFileError(
          file,
          `row ${String(row?.source_row)}, column "${error.column}": ${error.reason}`,
        );
      }
      throw error;
    }
    sourceRows += converted.sourceRows;
    emptyMetricRows += converted.emptyMetricRows;
    skippedRows += converted.skipped.length;
    skipped.push(...converted.skipped.slice(0, MAX_SKIPPED_SAMPLES - skipped.length));
  }

  // Pass 2: convert each file again and replace its rows, partition by partition.
  let rows = 0;
  let replacedFiles = 0;
  const partitions = new Set<string>();
  for (const file of unique) {
    const { rows: fileRows } = await convertFile(file, new Map(), new Map(), options);
    const stem = sourceStem(path.basename(file));
    const byParams = new Map<string, EvalRow[]>();
    for (const row of fileRows) {
      const params = row.params as string;
      const list = byParams.get(params);
      if (list) list.push(row);
      else byParams.set(params, [row]);
    }
    for (const [params, partitionRows] of byParams) {
      const result = await lake.replace(DATASET, partitionRows, { partition: { params }, stem });
      rows += result.rowCount;
      replacedFiles += result.removedFiles;
      partitions.add(params);
    }
    // Partitions an earlier ingest of this file wrote, which it no longer has rows for.
    for (const params of await partitionsWithStem(lake, stem)) {
      if (byParams.has(params)) continue;
      replacedFiles += (await lake.replace(DATASET, [], { partition: { params }, stem })).removedFiles;
    }
  }
  return {
    files: unique.length,
    sourceRows,
    rows,
    emptyMetricRows,
    skippedRows,
    skipped,
    partitions: [...partitions].sort(),
    replacedFiles,
  };
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

function family(duckdbType: string): Family {
  if (
    /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(
      duckdbType,
    )
  )
    return 'integer';
  if (duckdbType === 'FLOAT' || duckdbType === 'DOUBLE') return 'float';
  if (duckdbType === 'VARCHAR') return 'string';
  return 'other';
}

const FAMILY_NAMES: Record<Family, string> = {
  integer: 'an integer type',
  float: 'a floating type',
  string: 'VARCHAR',
  other: 'another type',
};

async function convertFile(
  file: string,
  columnTypes: Map<string, { type: string; file: string }>,
  kinds: MetricKinds,
  options: DataDecideOptions,
): Promise<FileRows> {
  const source = `read_parquet(${quoteLiteral(path.resolve(file))}, hive_partitioning = false)`;
  const { schema, records } = await withStagingConnection(async (connection) => {
    try {
      const described = (
        await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)
      ).getRowObjectsJS();
      const result = await connection.runAndReadAll(`SELECT * FROM ${source}`);
      return {
        schema: described.map((d) => [String(d.column_name), String(d.column_type)] as const),
        records: result.getRowObjectsJS() as Array<Record<string, unknown>>,
      };
    } catch (error) {
      throw new InputFileError(file, `cannot read as Parquet: ${(error as Error).message.split('\n')[0]}`);
    }
  });
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
    if (!spec.families.includes(family(type))) {
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
      step: wholeNumber(
        record.step,
        () => fail('step', 'is null'),
        (why) => fail('step', why),
      ),
      ...seedColumns(record.seed, (why) => fail('seed', why)),
      tokens: optionalWhole(record.tokens, (why) => fail('tokens', why)),
      compute: optionalNumber(record.compute),
      ...chinchillaColumns(record.chinchilla),
      lr_at_step: optionalNumber(record.lr_at_step),
      cumulative_lr: optionalNumber(record.cumulative_lr),
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
      rows.push({
        ...base,
        metric_name: name,
        value: leaf === null || isText ? null : typeof leaf === 'boolean' ? (leaf ? 1 : 0) : Number(leaf),
        value_text: isText ? leaf : null,
      });
    }
  }
  return { rows, sourceRows: records.length, emptyMetricRows, skipped };
}

function wholeNumber(value: unknown, onNull: () => never, fail: (why: string) => never): number | bigint {
  if (value === null || value === undefined) return onNull();
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  return fail(`${String(value)} is not a whole number`);
}

function optionalWhole(value: unknown, fail: (why: string) => never): number | bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && !Number.isFinite(value)) return fail(`${value} is not a whole number`);
  return wholeNumber(value, () => fail('is null'), fail);
}

function optionalNumber(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'bigint' ? Number(value) : Number(value);
}

function seedColumns(
  value: unknown,
  fail: (why: string) => never,
): { seed: number; seed_name: string | null } {
  if (value === null || value === undefined) return fail('is null');
  if (typeof value === 'string') {
    const name = value.trim();
    const known = SEED_NAMES[name.toLowerCase()];
    if (known !== undefined) return { seed: known, seed_name: value };
    const numbered = /^(?:seed[-_ ]?)?(\d+)$/i.exec(name);
    if (numbered) return { seed: Number(numbered[1]), seed_name: value };
    return fail(`"${value}" is not a DataDecide seed (${Object.keys(SEED_NAMES).join(', ')}, or a number)`);
  }
  const whole = wholeNumber(value, () => fail('is null'), fail);
  if (typeof whole === 'bigint' || whole < -2147483648 || whole > 2147483647)
    return fail(`${whole} is outside INTEGER`);
  return { seed: whole, seed_name: null };
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
