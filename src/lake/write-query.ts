import { randomUUID } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection, DuckDBResultReader, DuckDBType } from '@duckdb/node-api';
import { makeDirectory } from './atomic-file.js';
import {
  type ColumnType,
  columnTypeFromDuckDB,
  columnTypeSql,
  isAssignable,
  quoteIdentifier,
  quoteLiteral,
  sameType,
  unifyTypes,
} from './column-types.js';
import type { DatasetDefinition } from './dataset.js';
import {
  ColumnValidationError,
  DatasetLayoutError,
  InputFileError,
  PartitionValueError,
  RowValidationError,
  SchemaConflictError,
} from './errors.js';
import { type LakePaths, lakePaths } from './layout.js';
import { type DatasetManifest, readManifest } from './manifest.js';
import {
  encodePartitionComponent,
  formatPartitionValue,
  HIVE_NULL_PARTITION,
  type PartitionValue,
  partitionDirectory,
} from './partition-path.js';
import { countOf } from './plural.js';
import type { PartitionSource } from './row-batch.js';
import { claimLakeSchema } from './schema-set.js';
import { stagingPath, sweepStaleStaging } from './staging.js';
import type { StagedCommitResult } from './transaction.js';
import {
  commitStagedChange,
  copyToStaging,
  PARQUET_COMPRESSION,
  partitionSources,
  publishOptions,
  reconcileManifest,
  stageAndPublish,
  type WriteOptions,
  type WriteResult,
} from './write-rows.js';

// Partition keys whose directory text DuckDB's CAST(… AS VARCHAR) spells exactly as runlake does.
const TEXT_EXACT_KINDS = new Set<ColumnType['kind']>(['string', 'int16', 'int32', 'int64', 'bool']);

/**
 * Writes the result of a DuckDB query into a dataset without passing rows through JavaScript:
 * the columnar path for files DuckDB reads itself (CSV, JSON, Parquet). Partition keys come from
 * columns of the result or from the options' defaults and fixed values; column types come from
 * DuckDB and are reconciled with the dataset's manifest exactly as {@link writeRows} does. The
 * same staging and atomic publishing apply.
 *
 * Refused, with a {@link ColumnValidationError} naming the column and nothing written: a partition
 * key with no column and no default, nulls in a partition column without a default, a partition
 * column of the wrong type, values that disagree with a fixed partition value, and for typed
 * datasets unknown columns or types the schema does not accept.
 *
 * @example
 * ```ts
 * await withStagingConnection((c) =>
 *   writeQuery('lake', EVENTS_DATASET, c, "SELECT * FROM read_csv('seed_1.csv')", {
 *     partitionFixed: { grid_id: 'ab12cd34' },
 *     partitionDefaults: { seed: 1 },
 *   }),
 * );
 * ```
 */
export async function writeQuery(
  baseOut: string,
  dataset: DatasetDefinition,
  connection: DuckDBConnection,
  select: string,
  options: WriteOptions = {},
): Promise<WriteResult> {
  const paths = lakePaths(baseOut);
  paths.datasetGlob(dataset.name); // refuses a lake path DuckDB could not read back
  const sources = partitionSources(dataset, options);
  const constrained = [...dataset.partitionBy, ...(dataset.columns ?? [])].find((c) => c.enum);
  if (constrained || dataset.checks?.length) {
    // Enum domains and row checks are enforced on the row path only; refuse rather than skip them.
    throw new DatasetLayoutError(
      dataset.name,
      `has ${constrained ? `an enum column (${constrained.name})` : 'row checks'}; write it with writeRows or lake.write`,
    );
  }
  const table = `query_${randomUUID().replaceAll('-', '')}`;
  const fail = (column: string, reason: string): never => {
    throw new ColumnValidationError(dataset.name, column, reason);
  };
  // Binding the query reads no rows. When no partition key is a column of the result (every key
  // comes from a fixed value or a default) and the dataset declares no columns to check row by
  // row, nothing needs a second look at the rows: they are copied straight from the query into
  // the one partition directory, without first materializing them in a temp table.
  const shape = await connection.runAndReadAll(`SELECT * FROM (${select}) LIMIT 0`);
  const names = shape.columnNames();
  if (!dataset.columns && !sources.some((s) => names.includes(s.name))) {
    const streamed = await streamQuery(paths, dataset, connection, select, options, sources, shape, fail);
    if (streamed) return streamed;
  }
  await connection.run(`CREATE TEMP TABLE ${table} AS ${select}`);
  try {
    const shape = await connection.runAndReadAll(`SELECT * FROM ${table} LIMIT 0`);
    const duckdbTypes = shape.columnTypes();
    const types = new Map(
      shape.columnNames().map((name, i) => [name, columnTypeFromDuckDB(duckdbTypes[i] as DuckDBType)]),
    );
    const sqlTypes = new Map(shape.columnNames().map((name, i) => [name, String(duckdbTypes[i])]));
    const rowCount = Number(
      (await connection.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows()[0]?.[0] ?? 0,
    );

    const keyExpressions: string[] = [];
    for (const source of sources) {
      keyExpressions.push(await partitionExpression(connection, table, source, types.get(source.name), fail));
    }
    const partitionNames = new Set(sources.map((s) => s.name));
    const columns = [...types]
      .filter(([name]) => !partitionNames.has(name))
      .map(([name, type]) => ({ name, type }));
    if (dataset.columns) await checkTypedColumns(connection, table, dataset, columns, fail);
    if (rowCount === 0) return { dataset: dataset.name, rowCount: 0, files: [], skippedFiles: 0 };
    await claimLakeSchema(paths, dataset);

    // Every distinct partition must be able to name a directory before anything is written.
    const distinct = await connection.runAndReadAll(
      `SELECT DISTINCT ${keyExpressions.join(', ') || '1'} FROM ${table}`,
    );
    for (const row of distinct.getRows()) {
      try {
        // The Hive default partition is a valid directory even though no value may spell it.
        partitionDirectory(
          sources.map((s, k) => [s.name, String(row[k]) === HIVE_NULL_PARTITION ? '' : String(row[k])]),
        );
      } catch (error) {
        if (!(error instanceof PartitionValueError)) throw error;
        // Name the first row holding the value (callers reading a file add the file).
        const match = sources.map((_, k) => `${keyExpressions[k]} = ${quoteLiteral(String(row[k]))}`);
        const first = await firstRow(connection, table, match.join(' AND ') || 'true');
        throw new RowValidationError(
          dataset.name,
          first ?? 0,
          error.column,
          `partition value ${String(error.message).replace(/^partition column "[^"]*" value /, '')}`,
        );
      }
    }

    const { manifest, changed } = await reconcileManifest(connection, paths, dataset, sources, columns);
    const manifestTypes = new Map(manifest.columns.map((c) => [c.name, c.type]));
    // As in writeRows, a column null in every row and unknown to the dataset stays out of the file.
    const written = columns.filter(({ name, type }) => (manifestTypes.get(name) ?? type).kind !== 'null');
    const dataSelect = written.map(({ name, type }) => {
      const target = manifestTypes.get(name) ?? type;
      const column = quoteIdentifier(name);
      // Cast whenever DuckDB's type is not spelled like the dataset's (INTEGER read from a CSV
      // goes in as BIGINT), so every file of the dataset agrees with its manifest.
      return sqlTypes.get(name) === columnTypeSql(target)
        ? column
        : `CAST(${column} AS ${columnTypeSql(target)}) AS ${column}`;
    });
    const keySelect = sources.map((s, k) => `${keyExpressions[k]} AS ${quoteIdentifier(s.name)}`);
    return await stageAndPublish(
      paths,
      connection,
      dataset,
      rowCount,
      publishOptions(options, changed ? manifest : undefined),
      (stagingDir) =>
        copyToStaging(
          connection,
          `SELECT ${[...keySelect, ...dataSelect].join(', ')} FROM ${table}`,
          sources.map((s) => s.name),
          stagingDir,
          options.fileStem,
        ),
    );
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${table}`);
  }
}

/**
 * The single-pass write of {@link writeQuery}: every partition key has one value for the whole
 * write (a fixed value or a default), so the rows go to one directory. The query runs once, in
 * the COPY that stages the file; the manifest is reconciled afterwards, so a query that fails
 * part-way (a CSV row that does not parse) leaves the lake, manifest included, as it was.
 * `undefined` when the write has no column to put in a file (left to the materialized path).
 */
async function streamQuery(
  paths: LakePaths,
  dataset: DatasetDefinition,
  connection: DuckDBConnection,
  select: string,
  options: WriteOptions,
  sources: readonly PartitionSource[],
  shape: DuckDBResultReader,
  fail: (column: string, reason: string) => never,
): Promise<WriteResult | undefined> {
  await sweepStaleStaging(paths);
  const stagingDir = stagingPath(paths);
  try {
    const staged = await stageShaped(
      paths,
      dataset,
      connection,
      select,
      stagingDir,
      options,
      sources,
      shape,
      fail,
    );
    if (!staged) return undefined;
    if (staged.rowCount === 0) return { dataset: dataset.name, rowCount: 0, files: [], skippedFiles: 0 };
    const { result } = await commitStagedQueries(
      paths.root,
      dataset,
      connection,
      stagingDir,
      [staged],
      options,
    );
    return {
      dataset: dataset.name,
      rowCount: result.commit ? staged.rowCount : 0,
      files: result.files,
      skippedFiles: result.skippedFiles,
      version: result.commit?.version,
      removedFiles: result.removed.length,
    };
  } finally {
    await rm(stagingDir, { recursive: true, force: true });
  }
}

/**
 * A query's rows staged as one Parquet file by {@link stageQuery}, waiting for
 * {@link commitStagedQueries}.
 *
 * @example
 * ```ts
 * const staged: StagedQuery | undefined = await stageQuery('lake', EVENTS_DATASET, c, select, dir, options);
 * console.log(staged?.rowCount, staged?.relative); // 100000 'grid_id=ab12cd34/seed=1/part-…-0.parquet'
 * ```
 */
export interface StagedQuery {
  /** Rows in the file (0: the file is empty and nothing is to be committed for it). */
  readonly rowCount: number;
  /** The query's columns with DuckDB's types: what the manifest is reconciled with. */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: ColumnType }>;
  /** The columns as the file holds them (cast to the manifest's types as staged). */
  readonly written: ReadonlyArray<{ readonly name: string; readonly type: ColumnType }>;
  /** How each partition key got its value (one value per key for the whole file). */
  readonly sources: readonly PartitionSource[];
  /** The file, relative to the staging directory, in runlake's partition encoding (`/`-separated). */
  readonly relative: string;
}

/**
 * Stages the rows of a query as one zstd Parquet file under `stagingDir` (which stays private to
 * the caller until it commits), when every partition key has one value for the whole write (from
 * `partitionFixed`/`partitionDefaults`) and the dataset declares no columns: the query runs once,
 * inside the COPY, with no temp table. Nothing in the lake changes, not even the manifest, so
 * staging many inputs and committing them together with {@link commitStagedQueries} is atomic.
 * `undefined` when the write needs {@link writeQuery}'s materialized path (a partition key is a
 * column of the result, a typed dataset, or no column to write).
 *
 * A query that fails part-way (a CSV row that does not parse) throws DuckDB's error. Partition
 * values that cannot name a directory are refused as {@link writeQuery} refuses them.
 *
 * @example
 * ```ts
 * const dir = stagingPath(lakePaths('lake'));
 * const staged = await stageQuery('lake', EVENTS_DATASET, c, "SELECT * FROM read_csv('s1.csv')", dir, {
 *   partitionFixed: { grid_id: 'ab12cd34' },
 *   partitionDefaults: { seed: 1 },
 *   fileStem: 'a1b2c3',
 * });
 * if (staged) await commitStagedQueries('lake', EVENTS_DATASET, c, dir, [staged]);
 * ```
 */
export async function stageQuery(
  baseOut: string,
  dataset: DatasetDefinition,
  connection: DuckDBConnection,
  select: string,
  stagingDir: string,
  options: WriteOptions = {},
): Promise<StagedQuery | undefined> {
  const paths = lakePaths(baseOut);
  paths.datasetGlob(dataset.name);
  const sources = partitionSources(dataset, options);
  if (dataset.columns) return undefined;
  const shape = await connection.runAndReadAll(`SELECT * FROM (${select}) LIMIT 0`);
  const names = shape.columnNames();
  if (sources.some((s) => names.includes(s.name))) return undefined;
  const fail = (column: string, reason: string): never => {
    throw new ColumnValidationError(dataset.name, column, reason);
  };
  return stageShaped(paths, dataset, connection, select, stagingDir, options, sources, shape, fail);
}

async function stageShaped(
  paths: LakePaths,
  dataset: DatasetDefinition,
  connection: DuckDBConnection,
  select: string,
  stagingDir: string,
  options: WriteOptions,
  sources: readonly PartitionSource[],
  shape: DuckDBResultReader,
  fail: (column: string, reason: string) => never,
): Promise<StagedQuery | undefined> {
  const duckdbTypes = shape.columnTypes();
  const columns = shape
    .columnNames()
    .map((name, i) => ({ name, type: columnTypeFromDuckDB(duckdbTypes[i] as DuckDBType) }));
  const sqlTypes = new Map(shape.columnNames().map((name, i) => [name, String(duckdbTypes[i])]));
  const keyTexts = sources.map((source) => partitionLiteral(source, fail));
  const empty = { rowCount: 0, columns, written: [], sources, relative: '' };
  let directory: string;
  try {
    directory = sources
      .map((s, k) => {
        const text = keyTexts[k] as string;
        if (text !== HIVE_NULL_PARTITION) return partitionDirectory([[s.name, text]]);
        partitionDirectory([[s.name, '']]); // checks the key's name
        return `${encodePartitionComponent(s.name)}=${HIVE_NULL_PARTITION}`;
      })
      .join('/');
  } catch (error) {
    if (!(error instanceof PartitionValueError)) throw error;
    // As on the materialized path, no rows means nothing to refuse.
    const [probe] = (await connection.runAndReadAll(`SELECT 1 FROM (${select}) LIMIT 1`)).getRows();
    if (!probe) return empty;
    throw new RowValidationError(
      dataset.name,
      0,
      error.column,
      `partition value ${String(error.message).replace(/^partition column "[^"]*" value /, '')}`,
    );
  }

  // Each column goes in with the type the manifest has for it now (read without the lock; a type
  // widened meanwhile is caught when committing), as writeRows does.
  const known = new Map((await readManifest(paths, dataset.name))?.columns.map((c) => [c.name, c.type]));
  const written = columns
    .map(({ name, type }) => {
      const existing = known.get(name);
      return { name, type: (existing && unifyTypes(existing, type)) ?? type };
    })
    .filter(({ type }) => type.kind !== 'null');
  // A file of no columns at all (every column null and new) is left to the materialized path.
  if (written.length === 0) return undefined;
  const fileDir = path.join(stagingDir, directory);
  await makeDirectory(fileDir);
  const name = options.fileStem ? `part-${options.fileStem}-0.parquet` : `part-${randomUUID()}.parquet`;
  const copied = await connection.runAndReadAll(
    `COPY (SELECT ${castList(written, sqlTypes)} FROM (${select})) ` +
      `TO ${quoteLiteral(path.join(fileDir, name))} (FORMAT parquet, ${PARQUET_COMPRESSION})`,
  );
  const rowCount = Number(copied.getRows()[0]?.[0] ?? 0);
  if (rowCount === 0) {
    await rm(path.join(fileDir, name), { force: true });
    return empty;
  }
  return { rowCount, columns, written, sources, relative: `${directory}/${name}` };
}

/** The SELECT list casting each column whose SQL type is not spelled as its target's. */
function castList(
  targets: ReadonlyArray<{ name: string; type: ColumnType }>,
  sqlTypes: ReadonlyMap<string, string>,
): string {
  return targets
    .map(({ name, type }) => {
      const column = quoteIdentifier(name);
      const sql = columnTypeSql(type);
      return sqlTypes.get(name) === sql ? column : `CAST(${column} AS ${sql}) AS ${column}`;
    })
    .join(', ');
}

/**
 * Commits files {@link stageQuery} staged into one staging directory (any number of queries, one
 * dataset) as one commit: the manifest is reconciled once with all their columns under its lock
 * (a file whose types a concurrent writer widened meanwhile is written again with the manifest's),
 * then the files are published and committed together (see `commitStaged`; with file stems, a file
 * already live is skipped). `published` holds the staged files this commit published.
 *
 * A column two staged files (or a file and the manifest) hold with types that do not unify throws
 * `SchemaConflictError` before anything is published; `nameOf(i)` lets the error name the staged
 * query that brought the conflict (an {@link InputFileError} for the input it names).
 *
 * @example
 * ```ts
 * const { result } = await commitStagedQueries('lake', EVENTS_DATASET, c, dir, staged);
 * console.log(result.files.length, result.commit?.version);
 * ```
 */
export async function commitStagedQueries(
  baseOut: string,
  dataset: DatasetDefinition,
  connection: DuckDBConnection,
  stagingDir: string,
  staged: readonly StagedQuery[],
  options: WriteOptions = {},
  nameOf?: (index: number) => string,
): Promise<{ result: StagedCommitResult; published: ReadonlySet<string> }> {
  const paths = lakePaths(baseOut);
  const files = staged.filter((s) => s.rowCount > 0);
  const [first] = files;
  if (!first) {
    return {
      result: { files: [], skippedFiles: 0, added: [], removed: [] },
      published: new Set(),
    };
  }
  await claimLakeSchema(paths, dataset);
  // A partition key's type is widened by every file's value (gamma_bar=1 in one, 0.5 in another).
  const sources = first.sources.map((source, k) => {
    let type = source.type;
    for (const query of files) {
      const other = query.sources[k]?.type ?? type;
      const merged = unifyTypes(type, other);
      if (!merged)
        throw new SchemaConflictError(dataset.name, source.name, columnTypeSql(type), columnTypeSql(other));
      type = merged;
    }
    return { ...source, type };
  });
  let reconciled: { manifest: DatasetManifest; changed: boolean };
  try {
    reconciled = await reconcileManifest(
      connection,
      paths,
      dataset,
      sources,
      files.flatMap((s) => s.columns),
    );
  } catch (error) {
    if (!(error instanceof SchemaConflictError) || !nameOf) throw error;
    // Name the first staged query whose columns do not agree with those before it.
    const seen = new Map((await readManifest(paths, dataset.name))?.columns.map((c) => [c.name, c.type]));
    for (const [index, query] of staged.entries()) {
      for (const { name, type } of query.columns) {
        const existing = seen.get(name);
        const merged = existing ? unifyTypes(existing, type) : type;
        if (!merged) throw new InputFileError(nameOf(index), error.message);
        seen.set(name, merged);
      }
    }
    throw error;
  }
  const { manifest, changed } = reconciled;
  const manifestTypes = new Map(manifest.columns.map((c) => [c.name, c.type]));
  for (const query of files) {
    if (query.written.every(({ name, type }) => sameType(manifestTypes.get(name) ?? type, type))) continue;
    // Another writer widened a column between staging and the lock: write the file again with
    // the manifest's types, so every file agrees with the manifest it joins.
    const file = path.join(stagingDir, query.relative);
    const again = `${file}.${randomUUID()}.tmp`;
    const targets = query.written.map(({ name, type }) => ({ name, type: manifestTypes.get(name) ?? type }));
    const writtenSql = new Map(query.written.map(({ name, type }) => [name, columnTypeSql(type)]));
    await connection.run(
      `COPY (SELECT ${castList(targets, writtenSql)} FROM read_parquet(${quoteLiteral(file)})) ` +
        `TO ${quoteLiteral(again)} (FORMAT parquet, ${PARQUET_COMPRESSION})`,
    );
    await rename(again, file);
  }
  const change = publishOptions(options, changed ? manifest : undefined);
  const result = await commitStagedChange(paths, connection, dataset.name, stagingDir, change);
  const datasetDir = paths.dataset(dataset.name);
  const live = new Set(result.files);
  const published = new Set(
    files.map((s) => s.relative).filter((relative) => live.has(path.join(datasetDir, relative))),
  );
  return { result, published };
}

/** A partition key's directory text when the query has no column of its name (see partitionExpression). */
function partitionLiteral(source: PartitionSource, fail: (column: string, reason: string) => never): string {
  const fallback = source.defaultValue ?? source.fixedValue;
  if (fallback !== undefined) return formatPartitionValue(source.name, fallback);
  if (source.nullable) return HIVE_NULL_PARTITION;
  return fail(source.name, 'partition key is missing: no such column and no default');
}

/** The SQL expression giving a partition key's directory text for each row, after checking it. */
async function partitionExpression(
  connection: DuckDBConnection,
  table: string,
  source: PartitionSource,
  columnType: ColumnType | undefined,
  fail: (column: string, reason: string) => never,
): Promise<string> {
  const fallback = source.defaultValue ?? source.fixedValue;
  const fallbackText =
    fallback === undefined
      ? source.nullable
        ? HIVE_NULL_PARTITION
        : undefined
      : formatPartitionValue(source.name, fallback);
  if (columnType === undefined) {
    if (fallbackText === undefined)
      return fail(source.name, 'partition key is missing: no such column and no default');
    return quoteLiteral(fallbackText);
  }
  if (!TEXT_EXACT_KINDS.has(source.type.kind) || !isAssignable(columnType, source.type)) {
    return fail(
      source.name,
      `holds ${columnTypeSql(columnType)}, but partition key "${source.name}" needs ${columnTypeSql(source.type)}`,
    );
  }
  const column = quoteIdentifier(source.name);
  const text =
    fallbackText === undefined
      ? `CAST(${column} AS VARCHAR)`
      : `coalesce(CAST(${column} AS VARCHAR), ${quoteLiteral(fallbackText)})`;
  if (fallbackText === undefined) {
    const nulls = await countRows(connection, table, `${column} IS NULL`);
    if (nulls.count > 0)
      fail(
        source.name,
        `partition key is null in ${countOf(nulls.count, 'row')}, first row ${nulls.first} (and no default was given)`,
      );
  }
  if (source.fixedValue !== undefined) {
    const fixed = formatPartitionValue(source.name, source.fixedValue as PartitionValue);
    const mismatched = await countRows(connection, table, `${text} <> ${quoteLiteral(fixed)}`);
    if (mismatched.count > 0)
      fail(
        source.name,
        `${countOf(mismatched.count, 'row')} ${mismatched.count === 1 ? 'disagrees' : 'disagree'} with ${source.name}=${fixed} of this write, first row ${mismatched.first}`,
      );
  }
  return text;
}

async function checkTypedColumns(
  connection: DuckDBConnection,
  table: string,
  dataset: DatasetDefinition,
  columns: ReadonlyArray<{ name: string; type: ColumnType }>,
  fail: (column: string, reason: string) => never,
): Promise<void> {
  const declared = new Map((dataset.columns ?? []).map((c) => [c.name, c]));
  for (const column of columns) {
    const definition = declared.get(column.name);
    if (!definition) {
      if (!dataset.allowExtraColumns) fail(column.name, 'column is not in the dataset schema');
    } else if (!isAssignable(column.type, definition.type)) {
      fail(
        column.name,
        `schema says ${columnTypeSql(definition.type)}, the data holds ${columnTypeSql(column.type)}`,
      );
    }
  }
  const present = new Set(columns.map((c) => c.name));
  for (const definition of dataset.columns ?? []) {
    if (definition.nullable !== false) continue;
    if (!present.has(definition.name)) fail(definition.name, 'non-null column is missing');
    const nulls = await countRows(connection, table, `${quoteIdentifier(definition.name)} IS NULL`);
    if (nulls.count > 0)
      fail(
        definition.name,
        `null in ${countOf(nulls.count, 'row')} of a non-null column, first row ${nulls.first}`,
      );
  }
}

// Rows are numbered 0-based in the order of the query's result (for a file read in order, the
// file's data rows), via the temp table's rowid.
async function countRows(
  connection: DuckDBConnection,
  table: string,
  where: string,
): Promise<{ count: number; first: number }> {
  const [row] = (
    await connection.runAndReadAll(`SELECT count(*), min(rowid) FROM ${table} WHERE ${where}`)
  ).getRows();
  return { count: Number(row?.[0] ?? 0), first: Number(row?.[1] ?? 0) };
}

async function firstRow(
  connection: DuckDBConnection,
  table: string,
  where: string,
): Promise<number | undefined> {
  const { count, first } = await countRows(connection, table, where);
  return count > 0 ? first : undefined;
}
