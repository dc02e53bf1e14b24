import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  assertJsonDepth,
  type ColumnType,
  decodeUtf8Strict,
  existingLakeSchema,
  InputFileError,
  InvalidJsonError,
  lakePaths,
  openLake,
  type PartitionValue,
  quoteLiteral,
  RowValidationError,
  RunlakeError,
  type WriteResult,
  withStagingConnection,
} from '../lake/index.js';
import { csvReadError, readCsvHeader, strictCsvSource } from './csv-strict.js';

/** File formats {@link importFile} reads, each through DuckDB's own reader. */
export const IMPORT_FORMATS = ['jsonl', 'json', 'csv', 'parquet'] as const;

/** One of {@link IMPORT_FORMATS}. */
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

const EXTENSIONS: Record<string, ImportFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
  '.csv': 'csv',
  '.tsv': 'csv',
  '.parquet': 'parquet',
};

/** Options for {@link importFile}. */
export interface ImportOptions {
  /** The file's format; defaults to the one its extension names. */
  readonly format?: ImportFormat;
  /**
   * Schema set for a lake that has none yet (default `squiggle`); a lake that records one keeps
   * it, and a different request is refused.
   */
  readonly schema?: string;
  /**
   * Values for columns the file lacks (or leaves null), e.g. the partition key `run_id` of a
   * per-run CSV. Text is converted to the column's declared type, as CSV fields are.
   */
  readonly values?: Readonly<Record<string, PartitionValue>>;
}

/**
 * Loads a JSONL, JSON, CSV or Parquet file into one dataset of a lake, through the same
 * validation as `lake.write`: a refused file writes nothing, and the error names the file, the
 * row (0-based, in file order) and the column.
 *
 * @example
 * ```ts
 * await importFile('squiggle-lake', 'metrics_scalar', 'loss.csv', { values: { run_id: 'r1' } });
 * ```
 */
export async function importFile(
  baseOut: string,
  dataset: string,
  file: string,
  options: ImportOptions = {},
): Promise<WriteResult> {
  if (!existsSync(file)) throw new InputFileError(file, 'no such file');
  const format = options.format ?? EXTENSIONS[path.extname(file).toLowerCase()];
  if (!format) {
    throw new InputFileError(
      file,
      `cannot tell the format from the extension; pass one of ${IMPORT_FORMATS.join(', ')}`,
    );
  }
  const existing = await existingLakeSchema(lakePaths(baseOut));
  const lake = await openLake(baseOut, { schema: options.schema ?? existing ?? 'squiggle' });
  try {
    const definition = lake.definition(dataset);
    const declared = new Map<string, ColumnType>(
      [...definition.partitionBy, ...(definition.columns ?? [])].map((c) => [c.name, c.type]),
    );
    const rows = await READERS[format](file, declared);
    for (const row of rows) {
      for (const [key, value] of Object.entries(options.values ?? {})) {
        if (row[key] !== undefined && row[key] !== null) continue;
        try {
          row[key] = fromText(declared.get(key), value);
        } catch (error) {
          if (error instanceof InvalidJsonError) throw new RunlakeError(`--value ${key}: ${error.reason}`);
          throw error;
        }
      }
    }
    return await lake.write(dataset, rows);
  } catch (error) {
    if (error instanceof RowValidationError) {
      throw new InputFileError(file, `row ${error.rowIndex}, column "${error.column}": ${error.reason}`);
    }
    throw error;
  } finally {
    lake.close();
  }
}

type ImportRow = Record<string, unknown>;
type Reader = (file: string, declared: ReadonlyMap<string, ColumnType>) => Promise<ImportRow[]>;

// JSON keeps its own types and its own notion of a missing key, so it is parsed as JSON; CSV has
// no types, so its text is read as text and converted by the dataset's declared column types; a
// Parquet file's types are its writer's, read by DuckDB. Either way the row order is the file's.
const READERS: Record<ImportFormat, Reader> = {
  jsonl: async (file) => {
    const rows: ImportRow[] = [];
    for (const [index, line] of (await readText(file)).split('\n').entries()) {
      if (line.trim() === '') continue;
      rows.push(jsonObject(file, line, `line ${index + 1}`));
    }
    return rows;
  },
  json: async (file) => {
    const text = await readText(file);
    assertJsonDepth(text, file);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new InputFileError(file, `not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(parsed))
      throw new InputFileError(file, 'a .json import holds an array of row objects');
    return parsed.map((row, i) => jsonObject(file, row, `element ${i}`));
  },
  csv: async (file, declared) => {
    // A fixed dialect, every field as text: DuckDB's sniffer would read a ragged row as a file of
    // one column named after the whole header line instead of naming the line.
    const delimiter = path.extname(file).toLowerCase() === '.tsv' ? '\t' : ',';
    const inputPath = path.resolve(file);
    const header = await readCsvHeader(file, inputPath, delimiter);
    const source = strictCsvSource(
      inputPath,
      delimiter,
      header.map((name) => ({ name, type: 'VARCHAR' })),
    );
    const rows = await withStagingConnection(async (connection) => {
      try {
        return (await connection.runAndReadAll(`SELECT * FROM ${source}`)).getRowObjectsJS() as ImportRow[];
      } catch (error) {
        throw csvReadError(file, error);
      }
    });
    for (const [index, row] of rows.entries()) {
      for (const [key, value] of Object.entries(row)) {
        try {
          row[key] = fromText(declared.get(key), value);
        } catch (error) {
          if (!(error instanceof InvalidJsonError)) throw error;
          throw new InputFileError(file, `row ${index}, column "${key}": ${error.reason}`);
        }
      }
    }
    return rows;
  },
  parquet: (file) =>
    duckdbRows(
      file,
      'parquet',
      `read_parquet(${quoteLiteral(path.resolve(file))}, hive_partitioning = false)`,
    ),
};

// Strict UTF-8: a replaced byte would silently change a value (a run id becomes r\uFFFD1).
async function readText(file: string): Promise<string> {
  return decodeUtf8Strict(await readFile(file), file);
}

function jsonObject(file: string, value: unknown, where: string): ImportRow {
  let row = value;
  if (typeof value === 'string') {
    // Before parsing: every walker over a row (validation, typing, writing) recurses.
    assertJsonDepth(value, `${file}: ${where}`);
    try {
      row = JSON.parse(value);
    } catch (error) {
      throw new InputFileError(file, `${where} is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new InputFileError(file, `${where} is not a JSON object`);
  }
  return row as ImportRow;
}

async function duckdbRows(file: string, format: ImportFormat, source: string): Promise<ImportRow[]> {
  return withStagingConnection(async (connection) => {
    try {
      return (await connection.runAndReadAll(`SELECT * FROM ${source}`)).getRowObjectsJS() as ImportRow[];
    } catch (error) {
      throw new InputFileError(file, `cannot read as ${format}: ${(error as Error).message.split('\n')[0]}`);
    }
  });
}

const INTEGER_TEXT = /^[+-]?\d+$/;
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)$/i;

// Text (a CSV field, a --value) converted to a declared column's type when it spells one; text
// that does not is left as it is, for the schema check to refuse with the row and column.
const FROM_TEXT: Partial<Record<ColumnType['kind'], (text: string) => unknown>> = {
  int16: integerFromText,
  int32: integerFromText,
  int64: integerFromText,
  float32: floatFromText,
  float64: floatFromText,
  bool: (text) => ({ true: true, false: false, '1': true, '0': false })[text.toLowerCase()] ?? text,
  list: jsonFromText,
  struct: jsonFromText,
};

function fromText(type: ColumnType | undefined, value: unknown): unknown {
  if (typeof value !== 'string' || !type) return value;
  return FROM_TEXT[type.kind]?.(value.trim()) ?? value;
}

function integerFromText(text: string): unknown {
  if (!INTEGER_TEXT.test(text)) return text;
  const big = BigInt(text);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

function floatFromText(text: string): unknown {
  if (!NUMBER_TEXT.test(text)) return text;
  const lower = text.toLowerCase().replace(/^\+/, '');
  if (lower === 'nan') return Number.NaN;
  if (lower === 'inf' || lower === 'infinity') return Number.POSITIVE_INFINITY;
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

// Text that nests too deep is refused (InvalidJsonError, named by the caller) rather than handed
// to the recursive row validation.
function jsonFromText(text: string): unknown {
  assertJsonDepth(text, 'the value');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
