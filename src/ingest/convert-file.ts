import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { fsyncPath } from '../lake/atomic-file.js';
import {
  InputFileError,
  quoteIdentifier,
  quoteLiteral,
  RunlakeError,
  withStagingConnection,
} from '../lake/index.js';
import { arrowSchemaHint } from './convert-file-arrow-schema.js';
import { describeJsonProblem, type JsonLayout, scanJsonRows } from './convert-file-scan.js';
import { csvReadError, readCsvHeader, strictCsvSource } from './csv-strict.js';
import { checkJsonFile } from './json-file-check.js';

/**
 * Input formats {@link convertFile} reads: a JSON array of row objects, JSONL, or CSV/TSV.
 *
 * @example
 * ```ts
 * CONVERT_INPUT_FORMATS.includes('jsonl'); // true
 * ```
 */
export const CONVERT_INPUT_FORMATS = ['json', 'jsonl', 'csv', 'tsv'] as const;

/**
 * One of {@link CONVERT_INPUT_FORMATS}.
 *
 * @example
 * ```ts
 * const format: ConvertInputFormat = 'csv';
 * ```
 */
export type ConvertInputFormat = (typeof CONVERT_INPUT_FORMATS)[number];

/**
 * Parquet compression codecs {@link convertFile} writes.
 *
 * @example
 * ```ts
 * await convertFile('a.json', 'a.parquet', { compression: CONVERT_COMPRESSIONS[0] }); // zstd
 * ```
 */
export const CONVERT_COMPRESSIONS = ['zstd', 'snappy', 'gzip', 'uncompressed'] as const;

/**
 * One of {@link CONVERT_COMPRESSIONS}.
 *
 * @example
 * ```ts
 * const codec: ConvertCompression = 'snappy';
 * ```
 */
export type ConvertCompression = (typeof CONVERT_COMPRESSIONS)[number];

/**
 * Rows of a CSV that fix its column types: the first this many data rows. A later value that
 * does not parse as its column's type is a type flip (integer → float widens instead).
 *
 * @example
 * ```ts
 * CSV_TYPE_SAMPLE_ROWS; // 20480, DuckDB's default sample size
 * ```
 */
export const CSV_TYPE_SAMPLE_ROWS = 20_480;

/**
 * Options for {@link convertFile}.
 *
 * @example
 * ```ts
 * const options: ConvertFileOptions = { float32: 'auto', round: 4, dictionary: ['token_masked'], csv: true };
 * ```
 */
export interface ConvertFileOptions {
  /**
   * The input's format; by default `.csv` → csv, `.tsv` → tsv, `.jsonl`/`.ndjson` → jsonl, and
   * `.json` → json when the file starts with `[`, jsonl when it starts with `{`.
   */
  readonly format?: ConvertInputFormat;
  /**
   * Store floating-point columns as 32-bit FLOAT: `'auto'` for every DOUBLE column, or a list of
   * column names (each must exist and be floating-point). Default: keep DOUBLE.
   */
  readonly float32?: 'auto' | readonly string[];
  /**
   * Round to this many decimals (0–15) before the float32 cast; without `float32`, every DOUBLE
   * column is rounded and stays DOUBLE.
   */
  readonly round?: number;
  /**
   * `'auto'` (default): DuckDB's Parquet writer dictionary-encodes each column chunk whose
   * distinct values stay under its dictionary limit (repeated strings, small integer domains).
   * A list of text columns: these must come out dictionary-encoded (the limit is raised to a whole
   * row group); an unknown or non-text column, or one that could not be encoded, is an error.
   */
  readonly dictionary?: 'auto' | readonly string[];
  /** Parquet compression codec (default `zstd`). */
  readonly compression?: ConvertCompression;
  /** Also write a CSV of the converted values beside the Parquet file (`out.parquet` → `out.csv`). */
  readonly csv?: boolean;
}

/**
 * One column of a converted file.
 *
 * @example
 * ```ts
 * const { name, inputType, outputType, dictionary } = summary.columns[0];
 * ```
 */
export interface ConvertedColumn {
  readonly name: string;
  /** The type read from the input (DuckDB's name: BIGINT, DOUBLE, VARCHAR, BOOLEAN, …). */
  readonly inputType: string;
  /** The type written to Parquet (FLOAT for a float32 column). */
  readonly outputType: string;
  /** True when every column chunk of it is dictionary-encoded. */
  readonly dictionary: boolean;
}

/**
 * What {@link convertFile} did.
 *
 * @example
 * ```ts
 * const s: ConvertFileSummary = await convertFile('a.json', 'a.parquet');
 * console.log(`${s.rows} rows, ${(s.sizeRatio * 100).toFixed(2)}% of the input`);
 * ```
 */
export interface ConvertFileSummary {
  readonly input: string;
  readonly output: string;
  readonly format: ConvertInputFormat;
  readonly rows: number;
  readonly inputBytes: number;
  readonly outputBytes: number;
  /** `outputBytes / inputBytes`. */
  readonly sizeRatio: number;
  /** `1 − sizeRatio`: the fraction of the input's size saved. */
  readonly reduction: number;
  /** Wall-clock seconds, from the first read to the rename of the output. */
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly compression: ConvertCompression;
  readonly round?: number;
  readonly columns: readonly ConvertedColumn[];
  readonly float32Columns: readonly string[];
  readonly dictionaryColumns: readonly string[];
  /**
   * Text columns marked as Arrow dictionaries (`ARROW:schema` metadata): pyarrow, polars and
   * parquet-wasm load them as dictionary arrays (pandas `category`), the seed's categorical
   * encoding. These are the `dictionary` list, or with `'auto'` the text columns whose values
   * repeat (at most one distinct value per two rows) in the first row group's worth of rows.
   */
  readonly categoricalColumns: readonly string[];
  /** The CSV written with `csv: true`. */
  readonly csv?: { readonly path: string; readonly bytes: number };
}

interface InputColumn {
  name: string;
  type: string;
  /** SQL producing the typed value from the reader's column, when the reader reads it as text. */
  read?: string;
}

interface Reader {
  /** A `read_json(...)`/`read_csv(...)` table function call. */
  source: string;
  columns: InputColumn[];
  /** The same reader with other column types (CSV widening). */
  rebuild?: (columns: readonly InputColumn[]) => string;
}

const FLOAT_TYPES = new Set(['DOUBLE', 'FLOAT']);
// DuckDB's default read_json maximum_object_size (16 MiB).
const DUCKDB_MAXIMUM_OBJECT_SIZE = 16 * 1024 * 1024;
const ROW_GROUP_SIZE = 122_880;

/**
 * Converts a JSON array, JSONL or CSV file into one Parquet file, streaming (DuckDB reads the
 * input in chunks, so a file of several GB never has to fit in memory). Floating-point columns
 * can be stored as float32 after rounding, repeated strings are dictionary-encoded, and the output
 * is zstd-compressed by default. Types are fixed for the whole file: a column whose values change
 * type midway is refused, naming the file, line, row and column (integer → float widens).
 *
 * The output is atomic: the Parquet (and CSV) file is written to a temporary sibling, fsynced and
 * renamed; on any error nothing is left at the output path.
 *
 * @example
 * ```ts
 * const summary = await convertFile('mask_impact.json', 'mask_impact.parquet', {
 *   float32: 'auto',
 *   round: 4,
 * });
 * console.log(summary.rows, `${(summary.reduction * 100).toFixed(2)}% smaller`);
 * ```
 */
export async function convertFile(
  input: string,
  output: string,
  options: ConvertFileOptions = {},
): Promise<ConvertFileSummary> {
  const started = process.hrtime.bigint();
  const inputPath = path.resolve(input);
  const outputPath = path.resolve(output);
  const inputStat = await stat(inputPath).catch(() => undefined);
  if (!inputStat) throw new InputFileError(input, 'no such file');
  if (!inputStat.isFile()) throw new InputFileError(input, 'not a regular file');
  checkOptions(options);
  const csvPath = options.csv ? csvSidecarPath(outputPath) : undefined;
  for (const target of [outputPath, csvPath]) {
    if (target === inputPath)
      throw new RunlakeError(`${output}: the output would overwrite the input ${input}`);
  }
  const format = options.format ?? (await guessFormat(input, inputPath));
  const compression = options.compression ?? 'zstd';

  return withStagingConnection(async (connection) => {
    const reader =
      format === 'csv' || format === 'tsv'
        ? await csvReader(connection, input, inputPath, format === 'tsv' ? '\t' : ',')
        : await jsonReader(connection, input, inputPath, format === 'json' ? 'array' : 'lines');
    const names = new Set(reader.columns.map((c) => c.name));
    const float32 = pickColumns(
      input,
      '--float32',
      options.float32,
      reader.columns,
      names,
      FLOAT_TYPES,
      (c) => FLOAT_TYPES.has(c.type),
    );
    const dictionary =
      options.dictionary === undefined || options.dictionary === 'auto'
        ? []
        : pickColumns(
            input,
            '--dictionary',
            options.dictionary,
            reader.columns,
            names,
            new Set(['VARCHAR']),
            () => false,
          );

    const categorical = await categoricalColumns(connection, reader, dictionary);
    const directory = path.dirname(outputPath);
    await mkdir(directory, { recursive: true });
    const tempParquet = path.join(directory, `.${path.basename(outputPath)}.${randomUUID()}.tmp`);
    const tempCsv = csvPath
      ? path.join(directory, `.${path.basename(csvPath)}.${randomUUID()}.tmp`)
      : undefined;
    const temps = [tempParquet, tempCsv].filter((t): t is string => t !== undefined);
    try {
      let current = reader;
      let rows = 0;
      for (;;) {
        const select = selectList(current.columns, float32, options);
        const hint = arrowSchemaHint(
          current.columns.map((c) => ({ name: c.name, type: float32.includes(c.name) ? 'FLOAT' : c.type })),
          categorical,
        );
        const copyOptions = [
          'FORMAT parquet',
          `COMPRESSION ${compression}`,
          `ROW_GROUP_SIZE ${ROW_GROUP_SIZE}`,
          ...(dictionary.length > 0 ? [`DICTIONARY_SIZE_LIMIT ${ROW_GROUP_SIZE + 1}`] : []),
          ...(hint && categorical.size > 0 ? [`KV_METADATA {'ARROW:schema': ${quoteLiteral(hint)}}`] : []),
        ];
        try {
          const result = await connection.runAndReadAll(
            `COPY (SELECT ${select} FROM ${current.source}) TO ${quoteLiteral(tempParquet)} (${copyOptions.join(', ')})`,
          );
          rows = Number(result.getRows()[0]?.[0] ?? 0);
          break;
        } catch (error) {
          await unlink(tempParquet).catch(() => {});
          // A CSV integer column meeting a float later is widened to DOUBLE and the copy re-run.
          const widened = format === 'csv' || format === 'tsv' ? widenedCsvReader(current, error) : undefined;
          if (widened) {
            current = widened;
            continue;
          }
          const locator = flipLocator(current, error);
          if (locator) {
            const located = await connection.run(locator).then(
              () => undefined,
              (e: unknown) => e,
            );
            if (located) throw await readError(input, inputPath, format, located, 'BIGINT');
            const column = (error instanceof Error ? error.message : '').split(FLIP_MARK)[1]?.split('\n')[0];
            throw new InputFileError(
              input,
              `column "${column}" changes type midway (an integer column holds text)`,
            );
          }
          if (
            /^IO Error/.test(firstLine(error)) &&
            !/Cannot open file "[^"]*"/.test(firstLine(error).replace(tempParquet, ''))
          ) {
            throw new RunlakeError(`${output}: cannot write: ${firstLine(error)}`);
          }
          throw await readError(input, inputPath, format, error);
        }
      }
      const metadata = await queryRows(
        connection,
        `SELECT path_in_schema AS name, bool_and(contains(encodings, 'DICTIONARY')) AS dictionary
         FROM parquet_metadata(${quoteLiteral(tempParquet)}) GROUP BY path_in_schema`,
      );
      const dictionaryByName = new Map(metadata.map((r) => [String(r.name), r.dictionary === true]));
      const outputTypes = await queryRows(
        connection,
        `DESCRIBE SELECT * FROM read_parquet(${quoteLiteral(tempParquet)})`,
      );
      const typeByName = new Map(outputTypes.map((r) => [String(r.column_name), String(r.column_type)]));
      for (const name of dictionary) {
        if (!dictionaryByName.get(name)) {
          throw new InputFileError(
            input,
            `column "${name}" could not be dictionary-encoded (too many distinct values per row group of ${ROW_GROUP_SIZE} rows)`,
          );
        }
      }
      if (tempCsv) {
        await connection.run(
          `COPY (SELECT * FROM read_parquet(${quoteLiteral(tempParquet)})) TO ${quoteLiteral(tempCsv)} (FORMAT csv, HEADER true)`,
        );
      }
      for (const temp of temps) await fsyncPath(temp);
      if (tempCsv && csvPath) await rename(tempCsv, csvPath);
      try {
        await rename(tempParquet, outputPath);
      } catch (error) {
        if (csvPath) await unlink(csvPath).catch(() => {});
        throw error;
      }
      await fsyncPath(directory);
      const outputBytes = (await stat(outputPath)).size;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const columns = current.columns.map((c) => ({
        name: c.name,
        inputType: c.type,
        outputType: typeByName.get(c.name) ?? c.type,
        dictionary: dictionaryByName.get(c.name) ?? false,
      }));
      const sizeRatio = inputStat.size > 0 ? outputBytes / inputStat.size : 0;
      return {
        input,
        output,
        format,
        rows,
        inputBytes: inputStat.size,
        outputBytes,
        sizeRatio,
        reduction: 1 - sizeRatio,
        seconds,
        rowsPerSecond: seconds > 0 ? rows / seconds : 0,
        compression,
        ...(options.round !== undefined ? { round: options.round } : {}),
        columns,
        float32Columns: float32,
        dictionaryColumns: columns.filter((c) => c.dictionary).map((c) => c.name),
        categoricalColumns: current.columns.filter((c) => categorical.has(c.name)).map((c) => c.name),
        ...(csvPath
          ? {
              csv: {
                path: csvSidecarPath(output),
                bytes: (await stat(csvPath)).size,
              },
            }
          : {}),
      };
    } finally {
      for (const temp of temps) await unlink(temp).catch(() => {});
    }
  });
}

/**
 * The CSV sidecar path for a Parquet output: `out.parquet` → `out.csv`, any other name gets
 * `.csv` appended.
 *
 * @example
 * ```ts
 * csvSidecarPath('results/mask.parquet'); // 'results/mask.csv'
 * ```
 */
export function csvSidecarPath(output: string): string {
  return output.toLowerCase().endsWith('.parquet')
    ? `${output.slice(0, -'.parquet'.length)}.csv`
    : `${output}.csv`;
}

function checkOptions(options: ConvertFileOptions): void {
  if (
    options.round !== undefined &&
    (!Number.isInteger(options.round) || options.round < 0 || options.round > 15)
  ) {
    throw new RunlakeError(`--round must be an integer from 0 to 15, got ${options.round}`);
  }
  if (options.compression !== undefined && !CONVERT_COMPRESSIONS.includes(options.compression)) {
    throw new RunlakeError(
      `unknown compression "${options.compression}"; use one of ${CONVERT_COMPRESSIONS.join(', ')}`,
    );
  }
  if (options.format !== undefined && !CONVERT_INPUT_FORMATS.includes(options.format)) {
    throw new RunlakeError(
      `unknown format "${options.format}"; use one of ${CONVERT_INPUT_FORMATS.join(', ')}`,
    );
  }
}

async function guessFormat(input: string, inputPath: string): Promise<ConvertInputFormat> {
  const ext = path.extname(inputPath).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') {
    const first = (await readHead(inputPath, 64 * 1024))
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .trimStart()[0];
    return first === '{' ? 'jsonl' : 'json';
  }
  throw new InputFileError(
    input,
    `cannot tell the format from the extension "${ext}"; pass one of ${CONVERT_INPUT_FORMATS.join(', ')}`,
  );
}

async function readHead(file: string, bytes: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function queryRows(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

// ---------------------------------------------------------------------------------------------
// JSON and JSONL: DuckDB detects every column's type over the whole file (sample_size = -1), so a
// float after a thousand integers widens the column to DOUBLE instead of being rounded into an
// integer, and two kinds of values in one column come back as the JSON type, which is refused
// after locating the row with a streaming scan. The conversion then reads with those types fixed.

async function jsonReader(
  connection: DuckDBConnection,
  input: string,
  inputPath: string,
  layout: JsonLayout,
): Promise<Reader> {
  const format = layout === 'array' ? 'array' : 'newline_delimited';
  // Checked before DuckDB sees the file: its reader crashes the process on deep nesting, and its
  // read buffers follow maximum_object_size, so that is raised only as far as the largest row.
  const { largestRowBytes } = await checkJsonFile(inputPath, input, layout);
  const maximumObjectSize = Math.max(DUCKDB_MAXIMUM_OBJECT_SIZE, largestRowBytes + 1024);
  const base =
    `${quoteLiteral(inputPath)}, format = '${format}', records = true` +
    (maximumObjectSize > DUCKDB_MAXIMUM_OBJECT_SIZE ? `, maximum_object_size = ${maximumObjectSize}` : '');
  let described: Record<string, unknown>[];
  try {
    described = await queryRows(connection, `DESCRIBE SELECT * FROM read_json(${base}, sample_size = -1)`);
  } catch (error) {
    throw await readError(input, inputPath, layout === 'array' ? 'json' : 'jsonl', error);
  }
  const columns = described.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  const mixed = columns.filter((c) => c.type === 'JSON').map((c) => c.name);
  if (mixed.length > 0) {
    const problem = await scanJsonRows(inputPath, layout, { columns: new Set(mixed) });
    if (problem) throw new InputFileError(input, describeJsonProblem(problem));
    throw new InputFileError(
      input,
      `column "${mixed[0]}" holds values of different types in different rows; a column keeps one type`,
    );
  }
  const typed = columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(c.type)}`).join(', ');
  return { source: `read_json(${base}, columns = {${typed}})`, columns };
}

// ---------------------------------------------------------------------------------------------
// CSV: the dialect is fixed (RFC 4180 quoting, header row, the extension's delimiter, strict), so
// DuckDB's sniffer cannot misread a malformed file as a different dialect. Types come from the
// first CSV_TYPE_SAMPLE_ROWS data rows; DuckDB then refuses, with the line, any later value that
// does not parse as its column's type, except an integer column meeting a float, which widens.

async function csvReader(
  connection: DuckDBConnection,
  input: string,
  inputPath: string,
  delimiter: string,
): Promise<Reader> {
  const header = await readCsvHeader(input, inputPath, delimiter);
  const text = header.map((name) => ({ name, type: 'VARCHAR' }));
  const sample = csvSource(inputPath, delimiter, text);
  const checks = header
    .map((name, i) => {
      const c = quoteIdentifier(name);
      return (
        `count(${c}) AS n${i}, count(CASE WHEN regexp_full_match(${c}, ${INTEGER_PATTERN}) THEN TRY_CAST(${c} AS BIGINT) END) AS i${i}, ` +
        `count(TRY_CAST(${c} AS DOUBLE)) AS d${i}, count(TRY_CAST(${c} AS BOOLEAN)) AS b${i}`
      );
    })
    .join(', ');
  let counts: Record<string, unknown>;
  try {
    counts =
      (
        await queryRows(
          connection,
          `SELECT ${checks} FROM (SELECT * FROM ${sample} LIMIT ${CSV_TYPE_SAMPLE_ROWS})`,
        )
      )[0] ?? {};
  } catch (error) {
    throw await readError(input, inputPath, 'csv', error);
  }
  const columns = header.map((name, i) => {
    const n = Number(counts[`n${i}`]);
    const type =
      n === 0
        ? 'VARCHAR'
        : Number(counts[`i${i}`]) === n
          ? 'BIGINT'
          : Number(counts[`d${i}`]) === n
            ? 'DOUBLE'
            : Number(counts[`b${i}`]) === n
              ? 'BOOLEAN'
              : 'VARCHAR';
    return type === 'BIGINT' ? integerColumn(name) : { name, type };
  });
  const rebuild = (typed: readonly InputColumn[]) => csvSource(inputPath, delimiter, typed);
  return { source: rebuild(columns), columns, rebuild };
}

// DuckDB's CSV reader and its VARCHAR → BIGINT cast both round "3.5" to 4, so integer columns are
// read as text and cast here only when the text is an integer; a float stops the copy with a
// marker (the column is then widened to DOUBLE), anything else with another (a type flip, located
// by re-reading the column as DOUBLE, which makes DuckDB name the line).
const INTEGER_PATTERN = quoteLiteral('\\s*[+-]?[0-9]+\\s*');
const WIDEN_MARK = 'runlake-widen:';
const FLIP_MARK = 'runlake-flip:';

function integerColumn(name: string): InputColumn {
  const c = quoteIdentifier(name);
  return {
    name,
    type: 'BIGINT',
    read:
      `CASE WHEN ${c} IS NULL THEN NULL WHEN regexp_full_match(${c}, ${INTEGER_PATTERN}) THEN CAST(${c} AS BIGINT) ` +
      `WHEN TRY_CAST(${c} AS DOUBLE) IS NOT NULL THEN error(${quoteLiteral(WIDEN_MARK + name)}) ` +
      `ELSE error(${quoteLiteral(FLIP_MARK + name)}) END`,
  };
}

function csvSource(inputPath: string, delimiter: string, columns: readonly InputColumn[]): string {
  return strictCsvSource(
    inputPath,
    delimiter,
    columns.map((c) => ({ name: c.name, type: c.read ? 'VARCHAR' : c.type })),
  );
}

function widenedCsvReader(reader: Reader, error: unknown): Reader | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const at = message.indexOf(WIDEN_MARK);
  if (at < 0 || !reader.rebuild) return undefined;
  const rest = message.slice(at + WIDEN_MARK.length);
  const target = reader.columns.find((c) => c.read && rest.startsWith(c.name));
  if (!target) return undefined;
  const columns = reader.columns.map((c) => (c === target ? { name: c.name, type: 'DOUBLE' } : c));
  return { source: reader.rebuild(columns), columns, rebuild: reader.rebuild };
}

/** For a type-flip marker from an integer column: the same read with that column as DOUBLE. */
function flipLocator(reader: Reader, error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const at = message.indexOf(FLIP_MARK);
  if (at < 0 || !reader.rebuild) return undefined;
  const rest = message.slice(at + FLIP_MARK.length);
  const target = reader.columns.find((c) => c.read && rest.startsWith(c.name));
  if (!target) return undefined;
  const columns = reader.columns.map((c) =>
    c === target ? { name: c.name, type: 'DOUBLE' } : { name: c.name, type: 'VARCHAR' },
  );
  return `SELECT min(${quoteIdentifier(target.name)}) FROM ${reader.rebuild(columns)}`;
}

// ---------------------------------------------------------------------------------------------
// Errors: DuckDB's message names the record, not always the line; JSON errors are located with a
// streaming scan, CSV errors carry DuckDB's line.

async function readError(
  input: string,
  inputPath: string,
  format: ConvertInputFormat,
  error: unknown,
  expectedType?: string,
): Promise<RunlakeError> {
  if (error instanceof RunlakeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (format === 'json' || format === 'jsonl') {
    const problem = await scanJsonRows(inputPath, format === 'json' ? 'array' : 'lines');
    if (problem) return new InputFileError(input, describeJsonProblem(problem));
    if (/expected records, but got non-record JSON/.test(message)) {
      return new InputFileError(input, 'no rows (an empty array or file): nothing to take the columns from');
    }
    return new InputFileError(input, `cannot read as ${format}: ${firstLine(error)}`);
  }
  const line = CSV_LINE.exec(message)?.[1];
  const convert = CSV_CONVERT.exec(message);
  if (line && convert) {
    return new InputFileError(
      input,
      `line ${line}: column "${convert[1]?.replaceAll('""', '"')}" holds "${convert[2]}", not a ${expectedType ?? convert[3]} like ` +
        `the first ${CSV_TYPE_SAMPLE_ROWS} rows (a column keeps one type; only integer → float widens)`,
    );
  }
  return csvReadError(input, error);
}

const CSV_LINE = /CSV Error on Line: (\d+)/;
const CSV_CONVERT =
  /Error when converting column "((?:[^"]|"")*)"\. Could not convert string "((?:[^"\n])*)" to '?([A-Z0-9]+)'?/;

async function categoricalColumns(
  connection: DuckDBConnection,
  reader: Reader,
  dictionary: readonly string[],
): Promise<Set<string>> {
  if (dictionary.length > 0) return new Set(dictionary);
  const text = reader.columns.filter((c) => c.type === 'VARCHAR');
  if (text.length === 0) return new Set();
  const counts = text.map((c, i) => `count(DISTINCT ${quoteIdentifier(c.name)}) AS d${i}`).join(', ');
  const sample = await queryRows(
    connection,
    `SELECT count(*) AS n, ${counts} FROM (SELECT * FROM ${reader.source} LIMIT ${ROW_GROUP_SIZE})`,
  ).catch(() => undefined); // a read error is reported, with its line, by the conversion itself
  const row = sample?.[0];
  if (!row) return new Set();
  const rows = Number(row.n);
  return new Set(text.filter((_, i) => rows > 0 && Number(row[`d${i}`]) * 2 <= rows).map((c) => c.name));
}

function pickColumns(
  input: string,
  flag: string,
  choice: 'auto' | readonly string[] | undefined,
  columns: readonly InputColumn[],
  names: ReadonlySet<string>,
  allowed: ReadonlySet<string>,
  auto: (column: InputColumn) => boolean,
): string[] {
  if (choice === undefined) return [];
  if (choice === 'auto') return columns.filter(auto).map((c) => c.name);
  for (const name of choice) {
    if (!names.has(name)) {
      throw new InputFileError(input, `${flag}: no column "${name}" (columns: ${[...names].join(', ')})`);
    }
    const type = columns.find((c) => c.name === name)?.type ?? '';
    if (!allowed.has(type)) {
      throw new InputFileError(
        input,
        `${flag}: column "${name}" is ${type}; ${flag} takes ${[...allowed].join(' or ')} columns`,
      );
    }
  }
  return [...new Set(choice)];
}

function selectList(
  columns: readonly InputColumn[],
  float32: readonly string[],
  options: ConvertFileOptions,
): string {
  const asFloat = new Set(float32);
  return columns
    .map((c) => {
      const id = quoteIdentifier(c.name);
      if (c.read) return `${c.read} AS ${id}`;
      const rounded =
        options.round !== undefined &&
        FLOAT_TYPES.has(c.type) &&
        (asFloat.has(c.name) || float32.length === 0)
          ? `round(${id}, ${options.round})`
          : id;
      if (asFloat.has(c.name)) return `CAST(${rounded} AS FLOAT) AS ${id}`;
      return rounded === id ? id : `${rounded} AS ${id}`;
    })
    .join(', ');
}
