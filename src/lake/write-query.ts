import { randomUUID } from 'node:crypto';
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import {
  type ColumnType,
  columnTypeFromDuckDB,
  columnTypeSql,
  isAssignable,
  quoteIdentifier,
  quoteLiteral,
} from './column-types.js';
import type { DatasetDefinition } from './dataset.js';
import {
  ColumnValidationError,
  DatasetLayoutError,
  PartitionValueError,
  RowValidationError,
} from './errors.js';
import { lakePaths } from './layout.js';
import {
  formatPartitionValue,
  HIVE_NULL_PARTITION,
  type PartitionValue,
  partitionDirectory,
} from './partition-path.js';
import type { PartitionSource } from './row-batch.js';
import { claimLakeSchema } from './schema-set.js';
import {
  copyToStaging,
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
