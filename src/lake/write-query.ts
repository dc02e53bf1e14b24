import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection, DuckDBResultReader, DuckDBType } from '@duckdb/node-api';
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
  PartitionValueError,
  RowValidationError,
} from './errors.js';
import { type LakePaths, lakePaths } from './layout.js';
import { readManifest } from './manifest.js';
import {
  encodePartitionComponent,
  formatPartitionValue,
  HIVE_NULL_PARTITION,
  type PartitionValue,
  partitionDirectory,
} from './partition-path.js';
import type { PartitionSource } from './row-batch.js';
import { claimLakeSchema } from './schema-set.js';
import { stagingPath, sweepStaleStaging } from './staging.js';
import { commitStaged } from './transaction.js';
import {
  copyToStaging,
  partitionSources,
  publishOptions,
  reconcileManifest,
  replacedFiles,
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
  const duckdbTypes = shape.columnTypes();
  const columns = shape
    .columnNames()
    .map((name, i) => ({ name, type: columnTypeFromDuckDB(duckdbTypes[i] as DuckDBType) }));
  const sqlTypes = new Map(shape.columnNames().map((name, i) => [name, String(duckdbTypes[i])]));
  const keyTexts = sources.map((source) => partitionLiteral(source, fail));
  const empty = { dataset: dataset.name, rowCount: 0, files: [], skippedFiles: 0 };
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

  // Each column goes in with the type the manifest will have after this write (unread here under
  // the lock: a type a concurrent writer widens meanwhile is caught below), as writeRows does.
  const known = new Map((await readManifest(paths, dataset.name))?.columns.map((c) => [c.name, c.type]));
  const targetOf = (name: string, type: ColumnType) => {
    const existing = known.get(name);
    return (existing && unifyTypes(existing, type)) ?? type;
  };
  const written = columns
    .map(({ name, type }) => ({ name, type: targetOf(name, type) }))
    .filter(({ type }) => type.kind !== 'null');
  // A file of no columns at all (every column null and new) is left to the materialized path.
  if (written.length === 0) return undefined;
  const castSelect = (types: ReadonlyMap<string, string>, target: (name: string) => ColumnType) =>
    written.map(({ name }) => {
      const column = quoteIdentifier(name);
      const sql = columnTypeSql(target(name));
      return types.get(name) === sql ? column : `CAST(${column} AS ${sql}) AS ${column}`;
    });

  await sweepStaleStaging(paths);
  const stagingDir = stagingPath(paths);
  try {
    const fileDir = path.join(stagingDir, directory);
    await mkdir(fileDir, { recursive: true });
    const stem = options.fileStem ? `part-${options.fileStem}-0` : `part-${randomUUID()}`;
    const file = path.join(fileDir, `${stem}.parquet`);
    const copied = await connection.runAndReadAll(
      `COPY (SELECT ${castSelect(sqlTypes, (name) => written.find((c) => c.name === name)?.type as ColumnType).join(', ')} FROM (${select})) ` +
        `TO ${quoteLiteral(file)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const rowCount = Number(copied.getRows()[0]?.[0] ?? 0);
    if (rowCount === 0) return empty;
    await claimLakeSchema(paths, dataset);
    const { manifest, changed } = await reconcileManifest(connection, paths, dataset, sources, columns);
    const manifestTypes = new Map(manifest.columns.map((c) => [c.name, c.type]));
    if (written.some(({ name, type }) => !sameType(manifestTypes.get(name) ?? type, type))) {
      // Another writer widened a column between the read above and the lock: write the staged
      // file again with the manifest's types, so every file agrees with the manifest it joins.
      const writtenSql = new Map(written.map(({ name, type }) => [name, columnTypeSql(type)]));
      const again = path.join(stagingDir, `${stem}.parquet`);
      await connection.run(
        `COPY (SELECT ${castSelect(writtenSql, (name) => manifestTypes.get(name) as ColumnType).join(', ')} ` +
          `FROM read_parquet(${quoteLiteral(file)})) TO ${quoteLiteral(again)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      await rename(again, file);
    }
    const change = publishOptions(options, changed ? manifest : undefined);
    const result = await commitStaged(paths, connection, dataset.name, stagingDir, {
      operation: change.operation ?? (change.replace ? 'replace' : 'write'),
      exclusive: change.fileStem !== undefined && !change.replace,
      removes: change.replace && replacedFiles(change.replace),
      schema: change.schema,
      info: change.replace && {
        partition: change.replace.directory,
        ...(change.replace.stem !== undefined ? { stem: change.replace.stem } : {}),
      },
      allowEmpty: false,
    });
    return {
      dataset: dataset.name,
      rowCount: result.commit ? rowCount : 0,
      files: result.files,
      skippedFiles: result.skippedFiles,
      version: result.commit?.version,
      removedFiles: result.removed.length,
    };
  } finally {
    await rm(stagingDir, { recursive: true, force: true });
  }
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
        `partition key is null in ${nulls.count} rows, first row ${nulls.first} (and no default was given)`,
      );
  }
  if (source.fixedValue !== undefined) {
    const fixed = formatPartitionValue(source.name, source.fixedValue as PartitionValue);
    const mismatched = await countRows(connection, table, `${text} <> ${quoteLiteral(fixed)}`);
    if (mismatched.count > 0)
      fail(
        source.name,
        `${mismatched.count} rows disagree with ${source.name}=${fixed} of this write, first row ${mismatched.first}`,
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
      fail(definition.name, `null in ${nulls.count} rows of a non-null column, first row ${nulls.first}`);
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
