import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  existingLakeSchema,
  InputFileError,
  lakePaths,
  openLake,
  type PartitionValue,
  quoteLiteral,
  RowValidationError,
  type WriteResult,
  withStagingConnection,
} from '../lake/index.js';

/** File formats {@link importFile} reads, each through DuckDB's own reader. */
export const IMPORT_FORMATS = ['jsonl', 'json', 'csv', 'parquet'] as const;

/** One of {@link IMPORT_FORMATS}. */
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

const READERS: Record<ImportFormat, (file: string) => string> = {
  jsonl: (file) => `read_json(${quoteLiteral(file)}, format = 'newline_delimited')`,
  json: (file) => `read_json(${quoteLiteral(file)}, format = 'auto')`,
  csv: (file) => `read_csv(${quoteLiteral(file)}, header = true)`,
  parquet: (file) => `read_parquet(${quoteLiteral(file)}, hive_partitioning = false)`,
};

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
  /** Values for columns the file lacks, e.g. the partition key `run_id` of a per-run CSV. */
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
  const rows = await readRows(file, format);
  const values = options.values ?? {};
  const completed = Object.keys(values).length
    ? rows.map((row) => {
        const out = { ...row };
        for (const [key, value] of Object.entries(values)) if (out[key] == null) out[key] = value;
        return out;
      })
    : rows;

  const existing = await existingLakeSchema(lakePaths(baseOut));
  const lake = await openLake(baseOut, { schema: options.schema ?? existing ?? 'squiggle' });
  try {
    return await lake.write(dataset, completed);
  } catch (error) {
    if (error instanceof RowValidationError) {
      throw new InputFileError(file, `row ${error.rowIndex}, column "${error.column}": ${error.reason}`);
    }
    throw error;
  } finally {
    lake.close();
  }
}

async function readRows(file: string, format: ImportFormat): Promise<Record<string, unknown>[]> {
  return withStagingConnection(async (connection) => {
    try {
      const reader = await connection.runAndReadAll(`SELECT * FROM ${READERS[format](path.resolve(file))}`);
      // BIGINTs arrive as bigint; the schema's checks take them for integer and float columns alike.
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    } catch (error) {
      throw new InputFileError(file, `cannot read as ${format}: ${(error as Error).message.split('\n')[0]}`);
    }
  });
}
