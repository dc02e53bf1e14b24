import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  decodeUtf8Strict,
  InputFileError,
  quoteIdentifier,
  quoteLiteral,
  withStagingConnection,
} from '../lake/index.js';
import { parseWandbJson, WandbJsonError } from './wandb-json.js';
import { WandbTime } from './wandb-time.js';

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
 * Bookkeeping files dr_wandb writes beside its exports (its manifest and sync state: JSON objects,
 * not rows). In a directory they are left out, and listed in the summary; named on their own they
 * are read like any other file (and refused, not being rows).
 *
 * @example
 * ```ts
 * isDrWandbBookkeeping('drw_golden_manifest.json'); // true
 * ```
 */
export function isDrWandbBookkeeping(name: string): boolean {
  return /(^|_)(manifest|state)\.json$/i.test(name);
}

/**
 * Expands the inputs of a W&B ingest into files: a file is taken as it is, a directory
 * contributes its `*.parquet`, `*.json`, `*.jsonl` and `*.ndjson` files (not recursing), sorted
 * by name, except dr_wandb's `manifest.json`/`state.json` bookkeeping files, which go to `ignored`.
 * Refuses a missing path, a file with another extension, and inputs with no files.
 *
 * @example
 * ```ts
 * await listWandbInputs(['export/']); // ['export/runs_history.jsonl', 'export/runs_metadata.parquet']
 * ```
 */
export async function listWandbInputs(inputs: readonly string[], ignored: string[] = []): Promise<string[]> {
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
      const kept = names.filter((n) => !isDrWandbBookkeeping(n));
      ignored.push(...names.filter((n) => isDrWandbBookkeeping(n)).map((n) => path.join(input, n)));
      if (kept.length === 0) {
        throw new InputFileError(input, 'the directory holds no .parquet, .json or .jsonl export files');
      }
      files.push(...kept.map((n) => path.join(input, n)));
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
 * its columns: `_step`, `step` with `metrics`, or dr_wandb 2025-09's `run_id` + `step` +
 * `timestamp`/`runtime` (without `config`/`summary`) is history; `config`/`summary`/`run_id`/`id`
 * or a nested `run` (dr_wandb 2026-04) is metadata. `kind` forces it. Parquet timestamps are read to
 * the microsecond as {@link WandbTime}s. JSON may hold Python's `NaN`/`Infinity` tokens; a syntax error
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

// History comes in three shapes: W&B's (`_step` and the metrics as keys; dr_wandb's 2026-03 sync
// engine adds a `metrics` JSON column), dr_wandb's record (`step` and a `metrics` dict) and
// dr_wandb's 2025-09 folder export (`run_id`, `step`, `timestamp`/`runtime` and one column per
// metric). Metadata has `config`/`summary` or an id; dr_wandb 2026-04 nests it under `run`.
function detectKind(columns: ReadonlySet<string>): WandbKind | undefined {
  if (columns.has('_step') || (columns.has('metrics') && columns.has('step'))) return 'history';
  const metadataColumns = ['config', 'summary', 'summary_metrics', 'run_id', 'id'];
  if (
    columns.has('run_id') &&
    columns.has('step') &&
    (columns.has('timestamp') || columns.has('runtime')) &&
    !['config', 'summary', 'summary_metrics'].some((c) => columns.has(c))
  ) {
    return 'history';
  }
  if (metadataColumns.some((c) => columns.has(c)) || columns.has('run')) return 'metadata';
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
      const source = `read_parquet(${quoteLiteral(path.resolve(file))}, hive_partitioning = false)`;
      let reader: Awaited<ReturnType<typeof connection.runAndReadAll>>;
      let timeColumns: Map<string, boolean>;
      try {
        // Timestamps are read as epoch microseconds: a JS Date would cut W&B's microseconds.
        const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
        timeColumns = new Map();
        const select: string[] = [];
        for (const row of described.getRowObjectsJS()) {
          const name = String(row.column_name);
          const type = String(row.column_type);
          const id = quoteIdentifier(name);
          if (/^TIMESTAMP( WITH TIME ZONE|_S|_MS|_NS)?$/.test(type)) {
            const zoned = type === 'TIMESTAMP WITH TIME ZONE';
            timeColumns.set(name, !zoned);
            select.push(`epoch_us(${zoned ? id : `CAST(${id} AS TIMESTAMP)`}) AS ${id}`);
          } else {
            select.push(id);
          }
        }
        reader = await connection.runAndReadAll(`SELECT ${select.join(', ') || '*'} FROM ${source}`);
      } catch (error) {
        throw new InputFileError(file, `cannot read as Parquet: ${(error as Error).message.split('\n')[0]}`);
      }
      const records = reader.getRowObjectsJS().map((row, i) => {
        const values = plainParquetRow(row as Record<string, unknown>);
        for (const [name, naive] of timeColumns) {
          const micros = (row as Record<string, unknown>)[name];
          if (micros !== null && micros !== undefined)
            values[name] = new WandbTime(BigInt(micros as bigint), naive);
        }
        return { values, where: `row ${i}` };
      });
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
