import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { decodeUtf8Strict, InputFileError, quoteLiteral, withStagingConnection } from '../lake/index.js';
import { parseWandbJson, WandbJsonError } from './wandb-json.js';

/**
 * The two kinds of W&B export file: one row per run, or one row per logged step.
 *
 * @example
 * ```ts
 * WANDB_KINDS.includes('history'); // true
 * ```
 */
export const WANDB_KINDS = ['metadata', 'history'] as const;

/** One of {@link WANDB_KINDS}. */
export type WandbKind = (typeof WANDB_KINDS)[number];

/** File formats a W&B export comes in. */
export type WandbFormat = 'jsonl' | 'json' | 'parquet';

/** One record of an export file, with where it came from (`line 3`, `element 0`, `row 12`). */
export interface WandbRecord {
  readonly values: Record<string, unknown>;
  /** `line N` (JSONL, 1-based), `element N` (JSON array, 0-based) or `row N` (Parquet, 0-based). */
  readonly where: string;
}

/** An export file read into records, with its detected (or forced) kind. */
export interface WandbFile {
  readonly file: string;
  readonly format: WandbFormat;
  readonly kind: WandbKind;
  readonly records: readonly WandbRecord[];
}

const EXTENSIONS: Record<string, WandbFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
  '.parquet': 'parquet',
};

/**
 * Expands the inputs of a W&B ingest into files: a file is taken as it is, a directory
 * contributes its `*.parquet`, `*.json`, `*.jsonl` and `*.ndjson` files (not recursing), sorted
 * by name. Refuses a missing path, a file with another extension, and inputs with no files.
 *
 * @example
 * ```ts
 * await listWandbInputs(['export/']); // ['export/runs_history.jsonl', 'export/runs_metadata.parquet']
 * ```
 */
export async function listWandbInputs(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(input);
    } catch {
      throw new InputFileError(input, 'no such file or directory');
    }
    if (info.isDirectory()) {
      const names = (await readdir(input)).filter((n) => EXTENSIONS[path.extname(n).toLowerCase()]).sort();
      if (names.length === 0) {
        throw new InputFileError(input, 'the directory holds no .parquet, .json or .jsonl files');
      }
      files.push(...names.map((n) => path.join(input, n)));
    } else {
      if (!EXTENSIONS[path.extname(input).toLowerCase()]) {
        throw new InputFileError(input, 'a W&B export is a .parquet, .json or .jsonl file');
      }
      files.push(input);
    }
  }
  if (files.length === 0) throw new InputFileError('', 'no input files given');
  return [...new Set(files)];
}

/**
 * Reads one W&B export file (JSONL, a JSON array of objects, or Parquet) and tells its kind from
 * its columns: `_step` (or `step` with a `metrics` dict) is history, `config`/`summary`/`run_id`/`id`
 * is metadata. `kind` forces it. JSON may hold Python's `NaN`/`Infinity` tokens; a syntax error
 * (e.g. a truncated file) names the line and column.
 *
 * @example
 * ```ts
 * const { kind, records } = await readWandbFile('runs_history.jsonl');
 * ```
 */
export async function readWandbFile(file: string, kind?: WandbKind): Promise<WandbFile> {
  const format = EXTENSIONS[path.extname(file).toLowerCase()];
  if (!format) throw new InputFileError(file, 'a W&B export is a .parquet, .json or .jsonl file');
  const { records, columns } = await READERS[format](file);
  const detected = kind ?? detectKind(columns);
  if (!detected) {
    throw new InputFileError(
      file,
      records.length === 0
        ? 'the file holds no rows'
        : `cannot tell whether this is run metadata or history from its columns (${[...columns].slice(0, 8).join(', ')}); pass --kind metadata|history`,
    );
  }
  return { file, format, kind: detected, records };
}

function detectKind(columns: ReadonlySet<string>): WandbKind | undefined {
  if (columns.has('_step') || (columns.has('metrics') && columns.has('step'))) return 'history';
  if (['config', 'summary', 'summary_metrics', 'run_id', 'id'].some((c) => columns.has(c))) return 'metadata';
  return undefined;
}

interface ReadResult {
  readonly records: WandbRecord[];
  /** The columns the kind is told from: a Parquet file's, else the first record's keys. */
  readonly columns: ReadonlySet<string>;
}

const READERS: Record<WandbFormat, (file: string) => Promise<ReadResult>> = {
  jsonl: async (file) => {
    const records: WandbRecord[] = [];
    const lines = (await readText(file)).split('\n');
    for (const [index, line] of lines.entries()) {
      if (line.trim() === '') continue;
      const where = `line ${index + 1}`;
      records.push({ values: objectOf(file, parseAt(file, line, index), where), where });
    }
    return { records, columns: new Set(Object.keys(records[0]?.values ?? {})) };
  },
  json: async (file) => {
    const parsed = parseAt(file, await readText(file), 0);
    if (!Array.isArray(parsed)) {
      throw new InputFileError(file, 'a .json W&B export holds an array of row objects (or use .jsonl)');
    }
    const records = parsed.map((value, i) => ({
      values: objectOf(file, value, `element ${i}`),
      where: `element ${i}`,
    }));
    return { records, columns: new Set(Object.keys(records[0]?.values ?? {})) };
  },
  parquet: (file) =>
    withStagingConnection(async (connection) => {
      let reader: Awaited<ReturnType<typeof connection.runAndReadAll>>;
      try {
        reader = await connection.runAndReadAll(
          `SELECT * FROM read_parquet(${quoteLiteral(path.resolve(file))}, hive_partitioning = false)`,
        );
      } catch (error) {
        throw new InputFileError(file, `cannot read as Parquet: ${(error as Error).message.split('\n')[0]}`);
      }
      const records = reader.getRowObjectsJS().map((row, i) => ({
        values: plainParquetRow(row as Record<string, unknown>),
        where: `row ${i}`,
      }));
      return { records, columns: new Set(reader.columnNames()) };
    }),
};

// Strict UTF-8: a replaced byte would silently rename a run (r\xff1 → partition run_id=r%EF%BF%BD1).
async function readText(file: string): Promise<string> {
  return decodeUtf8Strict(await readFile(file), file);
}

// JSON too deep is valid JSON runlake will not read, not invalid JSON.
const TOO_DEEP = /^JSON nested/;

// Line offsets: a JSON syntax error in a JSONL line is reported at the file's line, not the line's.
function parseAt(file: string, text: string, lineOffset: number): unknown {
  try {
    return parseWandbJson(text);
  } catch (error) {
    if (error instanceof WandbJsonError) {
      throw new InputFileError(
        file,
        `line ${error.line + lineOffset}, column ${error.column}: ${TOO_DEEP.test(error.reason) ? '' : 'invalid JSON: '}${error.reason}`,
      );
    }
    throw error;
  }
}

function objectOf(file: string, value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputFileError(file, `${where}: expected a JSON object (one run or one logged step)`);
  }
  return value as Record<string, unknown>;
}

// DuckDB hands BIGINTs over as bigint; the ones a double holds exactly become numbers, so JSON and
// Parquet exports of the same data type their columns alike.
function plainParquetRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key] = plainParquetValue(value);
  return out;
}

function plainParquetValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (Array.isArray(value)) return value.map(plainParquetValue);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return plainParquetRow(value as Record<string, unknown>);
  }
  return value;
}
