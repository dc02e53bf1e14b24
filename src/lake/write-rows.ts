import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { type DuckDBConnection, DuckDBListValue } from '@duckdb/node-api';
import { appendColumnData, appendColumns, stageType } from './appender.js';
import { makeDirectory } from './atomic-file.js';
import { buildColumnBatch, type StageBatch, stageRowBatch } from './column-batch.js';
import type { ColumnData } from './column-data.js';
import { isColumnarInput, readColumns, type WriteInput } from './column-input.js';
import {
  type ColumnType,
  columnTypeSql,
  quoteIdentifier,
  quoteLiteral,
  t,
  unifyTypes,
} from './column-types.js';
import type { CommitOperation, LogFile, Snapshot } from './commit-log.js';
import type { DatasetDefinition } from './dataset.js';
import { discoverDataset } from './discover.js';
import { withStagingConnection } from './duckdb.js';
import { type EnumDomain, readLakeEnumValues, recordLakeEnumValues } from './enum-domain.js';
import { DatasetLayoutError, RowValidationError, SchemaConflictError } from './errors.js';
import { type LakePaths, lakePaths } from './layout.js';
import { type DatasetManifest, type ManifestColumn, updateManifest } from './manifest.js';
import type { PartitionValue } from './partition-path.js';
import { compareCodePoints } from './python-json.js';
import { type BatchColumn, type BatchOptions, buildRowBatch, type PartitionSource } from './row-batch.js';
import { claimLakeSchema } from './schema-set.js';
import { removeStagingEntry, stagingPath, sweepStaleStaging } from './staging.js';
import { commitStaged, type StagedCommitResult, type StagedFileStats } from './transaction.js';
import {
  type LakeEnumValues,
  type NewEnumValues,
  validateTypedColumns,
  validateTypedRows,
} from './typed-rows.js';
import { listFilesNoFollow } from './walk.js';

/** Options for {@link writeRows}. */
export interface WriteOptions {
  /** Partition values for rows that do not carry the key (e.g. the seed of a whole call). */
  readonly partitionDefaults?: Readonly<Record<string, PartitionValue>>;
  /** Partition values every row must agree with (e.g. the grid id of the params). */
  readonly partitionFixed?: Readonly<Record<string, PartitionValue>>;
  /**
   * Extra partition keys placed before the dataset's own, with values from `partitionFixed`
   * (exp_engine's older `algo=/accountant=/…/grid_id=/seed=` layout). The first write of a
   * dataset fixes its layout; later writes must use the same keys.
   */
  readonly extraPartitionKeys?: readonly string[];
  /**
   * The partition layout the dataset already has on disk, to follow instead of the definition's
   * (a lake another tool wrote: exp_engine's `seeds` by `grid_id` alone, or its ten-key layout).
   * A key of the definition missing from it is stored as a column; a key it adds takes its value
   * from each row, else `partitionDefaults`/`partitionFixed`, else the Hive default partition.
   * Replaces `extraPartitionKeys`.
   */
  readonly layout?: ReadonlyArray<{ readonly name: string; readonly type: ColumnType }>;
  /** Keys of the definition whose missing values go to the Hive default partition (NULL). */
  readonly nullablePartitions?: readonly string[];
  /**
   * Columns filled from others where a row has no value (null, undefined or NaN), in order: each
   * takes the first of `from` the row has. A filled column is added when any of them exists in
   * the batch. exp_engine's regret normalisation is `regret` ← `cum_regret`, `regret_increment`,
   * then `cum_regret` ← `regret`. Done while staging, without copying rows.
   */
  readonly fillColumns?: ReadonlyArray<{ readonly column: string; readonly from: readonly string[] }>;
  /** Columns to store as float32 (`'all'` for every floating column). */
  readonly float32Columns?: Iterable<string> | 'all';
  /**
   * A deterministic file name stem. Files are published with create-if-absent semantics, so
   * repeating the same write (same stem) publishes nothing twice.
   */
  readonly fileStem?: string;
  /**
   * Makes the write a replace: its commit also removes the files earlier writes with this
   * target's stem published under its partition directory (see `Lake.replace`).
   */
  readonly replace?: ReplaceTarget;
}

/** What a write produced. */
export interface WriteResult {
  readonly dataset: string;
  readonly rowCount: number;
  /** Absolute paths of the part files this call published. */
  readonly files: readonly string[];
  /** Part files skipped because a write with the same `fileStem` had already published them. */
  readonly skippedFiles: number;
  /** The dataset version this write committed (absent when it committed nothing). */
  readonly version?: number;
  /** Part files the commit removed (a replace's earlier generation). */
  readonly removedFiles?: number;
}

/**
 * Writes rows into a dataset as new zstd Parquet part files under its Hive layout
 * (`<base>/<dataset>/<k1>=<v1>/…/part-<uuid>.parquet`).
 *
 * The rows may come as row objects, as a column object (`{ step: BigInt64Array, value:
 * Float64Array, metric_name: string[] }`, see {@link ColumnObject}) or as an Apache Arrow `Table`
 * or `RecordBatch`. All three are checked by the same rules, with the same one-line errors naming
 * the row and column, and written the same way; columnar input skips the per-row pass, and every
 * input reaches DuckDB a vector at a time (typed arrays copied whole, strings as dictionary codes).
 * A typed array or Arrow column fixes its column's type (floats DOUBLE, integers BIGINT); plain
 * arrays are inferred as row values are.
 *
 * All rows are checked before anything touches the disk, so a refused call writes nothing. Files
 * are produced in a staging area outside every dataset, then renamed into place one by one: a
 * reader sees each part file whole or not at all. Concurrent writers (threads or processes) never
 * share a file name, and column types are reconciled with the dataset's manifest under a lock.
 *
 * @example
 * ```ts
 * await writeRows('lake', EVENTS_DATASET, [{ step: 1, loss: 0.5 }], {
 *   partitionFixed: { grid_id: 'ab12cd34' },
 *   partitionDefaults: { seed: 1 },
 * });
 * // The same rows as columns:
 * await writeRows('lake', EVENTS_DATASET, { step: new BigInt64Array([1n]), loss: new Float64Array([0.5]) }, {
 *   partitionFixed: { grid_id: 'ab12cd34' },
 *   partitionDefaults: { seed: 1 },
 * });
 * ```
 */
export async function writeRows(
  baseOut: string,
  dataset: DatasetDefinition,
  input: WriteInput,
  options: WriteOptions = {},
): Promise<WriteResult> {
  const paths = lakePaths(baseOut);
  paths.datasetGlob(dataset.name); // refuses a lake path DuckDB could not read back
  const sources = partitionSources(dataset, options);
  const declared = dataset.columns && new Map(dataset.columns.map((c) => [c.name, c.type]));
  const float32 = options.float32Columns;
  const batchOptions: BatchOptions = {
    float32Columns: float32 === 'all' ? 'all' : float32 ? new Set(float32) : undefined,
    declaredTypes: declared,
  };
  const defaults = { ...options.partitionDefaults, ...options.partitionFixed };
  let newEnumValues: NewEnumValues | undefined;
  let built: StageBatch;
  if (isColumnarInput(input)) {
    const columns = readColumns(dataset.name, input);
    if (dataset.columns) {
      newEnumValues = validateTypedColumns(dataset, columns, await lakeEnumValues(paths, dataset), defaults);
    }
    built = buildColumnBatch(dataset.name, columns, sources, batchOptions);
  } else {
    if (dataset.columns) {
      newEnumValues = validateTypedRows(dataset, input, await lakeEnumValues(paths, dataset), defaults);
    }
    const rowBatch = buildRowBatch(dataset.name, input, sources, batchOptions);
    if (input.length === 0) return { dataset: dataset.name, rowCount: 0, files: [], skippedFiles: 0 };
    built = stageRowBatch(rowBatch);
  }
  const rowCount = built.rowCount;
  if (rowCount === 0) return { dataset: dataset.name, rowCount: 0, files: [], skippedFiles: 0 };
  const { batch, filled } = applyFills(built, options.fillColumns ?? []);

  return withStagingConnection(async (connection) => {
    // Typed datasets stage every declared column, so each file carries the whole schema with
    // its declared types; open datasets stage the columns the rows hold.
    // Columns a fill creates are computed while copying, from the staged columns they come from.
    const builtNames = new Set(built.columns.map((c) => c.name));
    const loaded = batch.columns.filter((c) => c.type.kind !== 'null' && builtNames.has(c.name));
    const table = await loadStageTable(connection, batch, loaded);
    try {
      await enforceRowChecks(connection, dataset, table, loaded);
      await claimLakeSchema(paths, dataset);
      const incoming = declared
        ? [...(dataset.columns ?? []), ...batch.columns.filter((c) => !declared.has(c.name))]
        : batch.columns;
      const { manifest, changed } = await reconcileManifest(connection, paths, dataset, sources, incoming);
      for (const [domain, values] of newEnumValues ?? []) await recordLakeEnumValues(paths, domain, values);
      const loadedNames = new Set(loaded.map((c) => c.name));
      const wanted = declared
        ? new Set(incoming.map((c) => c.name))
        : new Set(batch.columns.map((c) => c.name));
      // Each column is written with the dataset's type (an int64 batch column of a float64
      // dataset becomes DOUBLE), so every file agrees with what other engines expect. A column
      // null in every row and unknown to the dataset is left out: readers see NULL for it.
      const staged = manifest.columns
        .filter((c) => wanted.has(c.name) && c.type.kind !== 'null')
        .map((c) => ({
          name: c.name,
          type: c.type,
          loaded: loadedNames.has(c.name),
          fill: fillExpression(filled.get(c.name), c.name, loadedNames, batch),
        }));
      return await stageAndPublish(
        paths,
        connection,
        dataset,
        rowCount,
        publishOptions(options, changed ? manifest : undefined),
        (stagingDir) =>
          copyStageTable(
            connection,
            table,
            batch,
            staged,
            dataset.sortBy ?? [],
            stagingDir,
            options.fileStem,
          ),
      );
    } finally {
      await dropStageTable(connection, table);
    }
  });
}

/**
 * Runs `stage` into a fresh staging directory, then publishes and commits what it wrote as one
 * commit of the dataset's log (see {@link commitStaged}), and removes the staging directory
 * whatever happens. Shared by every write path. A `stage` that returns {@link StagedFileStats}
 * (what its COPY reported) spares the commit reading the files' footers.
 */
export async function stageAndPublish(
  paths: LakePaths,
  connection: DuckDBConnection,
  dataset: DatasetDefinition,
  rowCount: number,
  change: PublishOptions,
  stage: (stagingDir: string) => Promise<StagedFileStats | undefined | unknown>,
): Promise<WriteResult> {
  await sweepStaleStaging(paths);
  const stagingDir = stagingPath(paths);
  let known: StagedFileStats | undefined;
  try {
    // A stage step that knows its files' row counts (a COPY with RETURN_STATS) returns them.
    const staged = await stage(stagingDir);
    known =
      staged && typeof staged === 'object' && 'schemaKey' in staged ? (staged as StagedFileStats) : undefined;
    const result = await commitStagedChange(paths, connection, dataset.name, stagingDir, change, known);
    return {
      dataset: dataset.name,
      rowCount: result.commit ? rowCount : 0,
      files: result.files,
      skippedFiles: result.skippedFiles,
      version: result.commit?.version,
      removedFiles: result.removed.length,
    };
  } finally {
    await removeStagingEntry(stagingDir, known?.rows.keys());
  }
}

/** The publish options of a write: its file stem, replace target and schema change. */
/**
 * Commits a staging directory as a write's {@link PublishOptions} ask: a plain write, a
 * replacement of one partition (or one stem in it), or a stem written exclusively.
 *
 * @example
 * ```ts
 * await commitStagedChange(paths, connection, 'events', stagingDir, publishOptions(options, manifest));
 * ```
 */
export function commitStagedChange(
  paths: LakePaths,
  connection: DuckDBConnection,
  dataset: string,
  stagingDir: string,
  change: PublishOptions,
  known?: StagedFileStats,
): Promise<StagedCommitResult> {
  return commitStaged(paths, connection, dataset, stagingDir, {
    known,
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
}

export function publishOptions(options: WriteOptions, schema: DatasetManifest | undefined): PublishOptions {
  return { fileStem: options.fileStem, replace: options.replace, schema };
}

/** How {@link stageAndPublish} commits: a plain write, or a replace, and any schema change. */
export interface PublishOptions {
  readonly fileStem?: string;
  /** Replace: remove the files an earlier replace with this stem wrote under this directory. */
  readonly replace?: ReplaceTarget;
  /** The dataset's manifest, when this write changed it. */
  readonly schema?: DatasetManifest;
  /** The operation the commit records (default: `replace` with a replace target, else `write`). */
  readonly operation?: CommitOperation;
}

/** The files a replace swaps out: its stem's files under one partition directory. */
export interface ReplaceTarget {
  /** The partition directory, relative to the dataset (`run_id=r1`); `''` for the whole dataset. */
  readonly directory: string;
  /** Only files this stem published (`part-<stem>-…`); every file under the directory when absent. */
  readonly stem?: string;
}

/**
 * The files of a snapshot a replace removes: those its stem published under its partition
 * directory, except the ones this very commit adds.
 */
export function replacedFiles(target: ReplaceTarget) {
  // The empty directory is the whole dataset.
  const prefix = target.directory === '' ? '' : `${target.directory}/`;
  // Without a stem, every file (a delete): adopted files another tool wrote are not named part-….
  const namePrefix = target.stem === undefined ? '' : `part-${target.stem}-`;
  return (snapshot: Snapshot, adds: ReadonlySet<string>): LogFile[] =>
    [...snapshot.files.values()].filter(
      (f) =>
        f.path.startsWith(prefix) && path.posix.basename(f.path).startsWith(namePrefix) && !adds.has(f.path),
    );
}

/**
 * Adds the batch columns {@link WriteOptions.fillColumns} creates, with their sources' types, and
 * returns, per filled column, the staged columns it is filled from (itself first when staged).
 */
function applyFills(
  built: StageBatch,
  fills: NonNullable<WriteOptions['fillColumns']>,
): { batch: StageBatch; filled: Map<string, string[]> } {
  const filled = new Map<string, string[]>();
  const batch = { ...built, columns: [...built.columns] };
  for (const { column, from } of fills) {
    const columns = new Map(batch.columns.map((c) => [c.name, c]));
    const sources = from.filter((name) => columns.has(name));
    if (sources.length === 0) continue;
    let target = columns.get(column);
    if (!target) {
      target = { name: column, type: t.null, nonNullCount: 0 };
      batch.columns.push(target);
    }
    for (const name of sources) {
      const source = columns.get(name) as BatchColumn;
      const merged = unifyTypes(target.type, source.type);
      if (!merged)
        throw new SchemaConflictError(
          batch.dataset,
          column,
          columnTypeSql(target.type),
          columnTypeSql(source.type),
        );
      target.type = merged;
      target.nonNullCount = Math.max(target.nonNullCount, source.nonNullCount);
    }
    // A source that is itself filled (cum_regret ← regret ← cum_regret …) reads its own sources.
    const expanded = sources.flatMap((name) => filled.get(name) ?? [name]);
    filled.set(column, [...new Set([column, ...expanded])]);
  }
  return { batch, filled };
}

/**
 * The SQL giving a filled column while copying: the first of its sources that is not NULL (nor
 * NaN, which pandas' fillna also treats as missing) among those staged.
 */
function fillExpression(
  sources: readonly string[] | undefined,
  column: string,
  staged: ReadonlySet<string>,
  batch: StageBatch,
): string | undefined {
  if (!sources) return undefined;
  const types = new Map(batch.columns.map((c) => [c.name, c.type.kind]));
  const present = sources.filter((name) => staged.has(name));
  if (present.length === 0 || (present.length === 1 && present[0] === column)) return undefined;
  const parts = present.map((name) => {
    const ref = `s.${quoteIdentifier(name)}`;
    return types.get(name) === 'float64' || types.get(name) === 'float32'
      ? `CASE WHEN isnan(${ref}) THEN NULL ELSE ${ref} END`
      : ref;
  });
  return `coalesce(${parts.join(', ')})`;
}

/**
 * How each partition key of a write gets its value: the extra keys from the params first, then
 * the dataset's own, with the defaults and fixed values the options give.
 */
export function partitionSources(dataset: DatasetDefinition, options: WriteOptions): PartitionSource[] {
  const nullable = new Set(options.nullablePartitions ?? []);
  if (options.layout) {
    return options.layout.map((key): PartitionSource => {
      const own = dataset.partitionBy.find((k) => k.name === key.name);
      const given = options.partitionFixed?.[key.name] ?? options.partitionDefaults?.[key.name];
      // A value of another type widens the key (BIGINT → DOUBLE) when the manifest is reconciled.
      const widened =
        given === undefined ? key.type : (unifyTypes(key.type, partitionValueType(given)) ?? key.type);
      return {
        name: key.name,
        type: own?.type ?? widened,
        defaultValue: options.partitionDefaults?.[key.name],
        fixedValue: options.partitionFixed?.[key.name],
        nullable: !own || nullable.has(key.name),
      };
    });
  }
  const extra = (options.extraPartitionKeys ?? []).map((name): PartitionSource => {
    const value = options.partitionFixed?.[name];
    if (value === undefined) {
      throw new DatasetLayoutError(dataset.name, `extra partition key "${name}" has no value in the params`);
    }
    if (dataset.partitionBy.some((k) => k.name === name)) {
      throw new DatasetLayoutError(dataset.name, `"${name}" is already a partition key of the dataset`);
    }
    return { name, type: partitionValueType(value), fixedValue: value };
  });
  const own = dataset.partitionBy.map(
    (key): PartitionSource => ({
      name: key.name,
      type: key.type,
      defaultValue: options.partitionDefaults?.[key.name],
      fixedValue: options.partitionFixed?.[key.name],
      nullable: nullable.has(key.name),
    }),
  );
  return [...extra, ...own];
}

function partitionValueType(value: PartitionValue): ColumnType {
  if (typeof value === 'string') return t.string;
  if (typeof value === 'boolean') return t.bool;
  if (typeof value === 'bigint') return t.int64;
  return Number.isSafeInteger(value) ? t.int64 : t.float64;
}

/** The values a lake has recorded for the extensible enum domains a dataset uses. */
async function lakeEnumValues(paths: LakePaths, dataset: DatasetDefinition): Promise<LakeEnumValues> {
  const domains = new Map<string, EnumDomain>();
  for (const column of [...dataset.partitionBy, ...(dataset.columns ?? [])]) {
    if (column.enum?.extensible) domains.set(column.enum.name, column.enum);
  }
  const values = new Map<string, ReadonlyMap<string, string>>();
  for (const name of domains.keys()) values.set(name, await readLakeEnumValues(paths, name));
  return values;
}

/**
 * Runs the dataset's row checks over the staged rows and throws a {@link RowValidationError} for
 * the first row that fails one. A column the rows do not hold is NULL in every row.
 */
async function enforceRowChecks(
  connection: DuckDBConnection,
  dataset: DatasetDefinition,
  table: string,
  loaded: readonly BatchColumn[],
): Promise<void> {
  const checks = dataset.checks ?? [];
  if (checks.length === 0) return;
  const present = new Set(loaded.map((c) => c.name));
  const absent = (dataset.columns ?? [])
    .filter((c) => !present.has(c.name))
    .map((c) => `CAST(NULL AS ${columnTypeSql(c.type)}) AS ${quoteIdentifier(c.name)}`);
  // Columns are staged in their storage's type (an ENUM of strings, DOUBLE for numbers): the
  // checks see each with its column type. The stage table's rowid is the row's index in the batch.
  const columns = loaded.map(
    (c) => `, CAST(${quoteIdentifier(c.name)} AS ${columnTypeSql(c.type)}) AS ${quoteIdentifier(c.name)}`,
  );
  const source = `(SELECT rowid AS "__runlake_row"${columns.join('')}${absent.map((a) => `, ${a}`).join('')} FROM ${table})`;
  for (const check of checks) {
    const failing = await connection.runAndReadAll(
      `SELECT "__runlake_row" FROM ${source} WHERE NOT coalesce((${check.sql}), true) ORDER BY 1 LIMIT 1`,
    );
    const row = failing.getRowsJS()[0];
    if (row) {
      throw new RowValidationError(
        dataset.name,
        Number(row[0]),
        check.columns.join(', '),
        `fails check ${check.name}: ${check.description} (${check.sql})`,
      );
    }
  }
}

/**
 * Checks a write's layout and column types against the dataset's manifest and records new columns
 * and widened types, under the manifest's lock. Throws before anything is written when they
 * conflict. `changed` tells whether the manifest changed (the write's commit then records it).
 */
export async function reconcileManifest(
  connection: DuckDBConnection,
  paths: LakePaths,
  dataset: DatasetDefinition,
  sources: readonly PartitionSource[],
  incoming: ReadonlyArray<{ readonly name: string; readonly type: ColumnType }>,
): Promise<{ manifest: DatasetManifest; changed: boolean }> {
  let changed = false;
  const manifest = await updateManifest(paths, dataset.name, async (current) => {
    const base =
      current ?? (await discoverDataset(connection, paths, dataset)) ?? emptyManifest(dataset, sources);
    const layout = base.partitionBy.map((k) => k.name).join('/');
    const requested = sources.map((s) => s.name).join('/');
    if (layout !== requested) {
      throw new DatasetLayoutError(
        dataset.name,
        `the dataset is partitioned as ${layout || '(none)'}, this write asks for ${requested}; ` +
          'pass the same extra partition keys as the first write',
      );
    }
    const partitionBy = base.partitionBy.map((key, i) =>
      mergeColumn(dataset.name, key, (sources[i] as PartitionSource).type),
    );
    const columns = new Map(base.columns.map((c) => [c.name, c]));
    for (const column of incoming) {
      const existing = columns.get(column.name);
      columns.set(
        column.name,
        existing
          ? mergeColumn(dataset.name, existing, column.type)
          : { name: column.name, type: column.type },
      );
    }
    const next: DatasetManifest = {
      format: 1,
      dataset: dataset.name,
      partitionBy,
      columns: [...columns.values()],
    };
    changed = JSON.stringify(next) !== JSON.stringify(current);
    return next;
  });
  return { manifest, changed };
}

function mergeColumn(dataset: string, existing: ManifestColumn, incoming: ColumnType): ManifestColumn {
  const merged = unifyTypes(existing.type, incoming);
  if (!merged)
    throw new SchemaConflictError(
      dataset,
      existing.name,
      columnTypeSql(existing.type),
      columnTypeSql(incoming),
    );
  return { name: existing.name, type: merged };
}

function emptyManifest(dataset: DatasetDefinition, sources: readonly PartitionSource[]): DatasetManifest {
  return {
    format: 1,
    dataset: dataset.name,
    partitionBy: sources.map((s) => ({ name: s.name, type: s.type })),
    columns: (dataset.columns ?? []).map((c) => ({ name: c.name, type: c.type })),
  };
}

/**
 * Appends the batch's rows to a temp table, each column in its storage's type (see
 * {@link stageType}) and, when the rows span several partitions, the index of each row's
 * partition. The table's `rowid` is the row's index in the batch, which row checks report.
 */
async function loadStageTable(
  connection: DuckDBConnection,
  batch: StageBatch,
  columns: readonly BatchColumn[],
): Promise<string> {
  const table = `stage_${randomUUID().replaceAll('-', '')}`;
  const { rowCount, partitionOfRow, partitions } = batch;
  // Partition keys travel as the directory text computed in JS, one row per partition in a small
  // side table joined in at COPY time; each staged row carries only its partition's index.
  const indexed = batch.partitionKeys.length > 0 && partitions.length > 1;
  const data: ColumnData[] = [
    ...(indexed ? [{ kind: 'number' as const, values: partitionOfRow }] : []),
    ...columns.map((c) => batch.data.get(c.name) as ColumnData),
  ];
  const definitions = [
    ...(indexed ? ['"__runlake_partition" INTEGER'] : []),
    ...columns.map(
      (c, i) => `${quoteIdentifier(c.name)} ${stageType(data[i + (indexed ? 1 : 0)] as ColumnData).sql}`,
    ),
  ];
  if (definitions.length === 0) {
    definitions.push('"__runlake_empty" INTEGER');
    data.push({ kind: 'values', type: t.null, length: rowCount, valueAt: () => null });
  }
  await connection.run(`CREATE TEMP TABLE ${table} (${definitions.join(', ')})`);
  try {
    await appendColumnData(connection, table, rowCount, data);
  } catch (error) {
    await dropStageTable(connection, table);
    throw error;
  }
  return table;
}

async function dropStageTable(connection: DuckDBConnection, table: string): Promise<void> {
  // One round trip for both: a small write pays per statement.
  await connection.run(`DROP TABLE IF EXISTS ${table}; DROP TABLE IF EXISTS ${table}_parts`);
}

/**
 * Copies the stage table into `stagingDir` as partitioned zstd Parquet: each column cast to the
 * dataset's type (typed NULL for a column the rows did not hold), sorted by `sortBy`.
 */
async function copyStageTable(
  connection: DuckDBConnection,
  table: string,
  batch: StageBatch,
  columns: ReadonlyArray<{ name: string; type: ColumnType; loaded: boolean; fill?: string }>,
  sortBy: readonly string[],
  stagingDir: string,
  fileStem: string | undefined,
): Promise<StagedFileStats> {
  const { partitionKeys, partitions } = batch;
  const indexed = partitionKeys.length > 0 && partitions.length > 1;
  let keySelect: string[];
  let from = `${table} s`;
  if (indexed) {
    const partsTable = `${table}_parts`;
    await connection.run(
      `CREATE TEMP TABLE ${partsTable} ("__runlake_partition" INTEGER, ${partitionKeys.map((k) => `${quoteIdentifier(k)} VARCHAR`).join(', ')})`,
    );
    await appendColumns(connection, partsTable, partitions.length, [
      { type: t.int32, valueAt: (r) => r },
      ...partitionKeys.map((_, k) => ({ type: t.string, valueAt: (r: number) => partitions[r]?.text[k] })),
    ]);
    keySelect = partitionKeys.map((k) => `p.${quoteIdentifier(k)}`);
    from += ` JOIN ${partsTable} p USING ("__runlake_partition")`;
  } else {
    const text = partitions[0]?.text ?? [];
    keySelect = partitionKeys.map((k, i) => `${quoteLiteral(text[i] as string)} AS ${quoteIdentifier(k)}`);
  }
  // A string column staged as an ENUM whose every value occurs in every file is written as it is:
  // DuckDB's Parquet writer stores an ENUM as the same string column (BYTE_ARRAY, UTF8), its
  // dictionary taken from the ENUM instead of built by hashing every string.
  // An ENUM sorts by its dictionary's order: as the strings sort when the dictionary is in
  // code-point order (DuckDB compares VARCHAR by UTF-8 bytes, the same order). A sort column is
  // then sorted on its codes, integers, instead of its strings (the tracking server's metric
  // names: nearly half the CPU of a fold went into comparing them).
  const sortsOnCodes = new Set(
    sortBy.filter((name) => {
      const data = batch.data.get(name);
      return data?.kind === 'dict' && inCodePointOrder(data.dictionary);
    }),
  );
  const asEnum = new Set(
    columns
      .filter(
        (c) =>
          c.loaded &&
          !c.fill &&
          columnTypeSql(c.type) === 'VARCHAR' &&
          (!sortBy.includes(c.name) || sortsOnCodes.has(c.name)),
      )
      .filter((c) => {
        const data = batch.data.get(c.name);
        return data?.kind === 'dict' && everyPartitionHoldsEveryValue(data, batch);
      })
      .map((c) => c.name),
  );
  const values = columns.map((c) =>
    asEnum.has(c.name)
      ? `s.${quoteIdentifier(c.name)} AS ${quoteIdentifier(c.name)}`
      : `CAST(${c.fill ?? (c.loaded ? `s.${quoteIdentifier(c.name)}` : 'NULL')} AS ${columnTypeSql(c.type)}) AS ${quoteIdentifier(c.name)}`,
  );
  const order = sortBy.length
    ? ` ORDER BY ${sortBy.map((name) => (sortsOnCodes.has(name) ? `s.${quoteIdentifier(name)}` : quoteIdentifier(name))).join(', ')}`
    : '';
  const select = [...keySelect, ...values].join(', ');
  // The files hold these columns with these types (the keys are directories), written with
  // these options: that decides their Parquet schema.
  const schemaKey = JSON.stringify([
    partitionKeys,
    columns.map((c) => [c.name, columnTypeSql(c.type), asEnum.has(c.name)]),
    PARQUET_COMPRESSION,
  ]);
  // DuckDB tries a dictionary for every column until it outgrows the limit; for numbers (random
  // floats, ids, steps) it almost never pays and costs about 15% of the COPY's CPU. When every
  // column is a number, a boolean or an ENUM (whose dictionary needs no attempt), none tries one;
  // zstd compresses repeated numbers either way (files the same size on sweep data).
  const noStrings = columns.every((c) => asEnum.has(c.name) || NUMERIC_KINDS.has(c.type.kind));
  // The COPY reports the files it wrote and their row counts, so the commit need not read them
  // back: per file (RETURN_STATS) for several partitions; for one, the cheaper RETURN_FILES (the
  // total count and the file list; about a millisecond less for a small write).
  const single = partitions.length <= 1;
  const reader = await connection.runAndReadAll(
    `${copyStatement(`SELECT ${select} FROM ${from}${order}`, partitionKeys, await stagingTarget(stagingDir, partitionKeys, fileStem), fileStem)}${noStrings ? ', DICTIONARY_SIZE_LIMIT 1' : ''}, ${single ? 'RETURN_FILES' : 'RETURN_STATS'})`,
  );
  const rows = new Map<string, number>();
  const names = reader.columnNames();
  if (single) {
    const [count, files] = reader.getRows()[0] ?? [];
    const list = files instanceof DuckDBListValue ? files.items : [];
    if (list.length === 1) rows.set(path.resolve(String(list[0])), Number(count));
  } else {
    const fileColumn = names.indexOf('filename');
    const countColumn = names.indexOf('count');
    for (const row of reader.getRows()) {
      rows.set(path.resolve(String(row[fileColumn])), Number(row[countColumn]));
    }
  }
  return { rows, schemaKey };
}

const NUMERIC_KINDS = new Set(['float64', 'float32', 'int64', 'int32', 'int16', 'bool']);

/** Whether a dictionary's strings are strictly ascending in code-point order. */
function inCodePointOrder(dictionary: readonly string[]): boolean {
  for (let i = 1; i < dictionary.length; i++) {
    if (compareCodePoints(dictionary[i - 1] as string, dictionary[i] as string) >= 0) return false;
  }
  return true;
}

/**
 * Whether every value of a dictionary column occurs (not null) in the rows of every partition. An
 * ENUM column's Parquet statistics (min, max, distinct count) describe its whole dictionary, so
 * only then are they the file's own. Small dictionaries only (a bitmap per partition).
 */
function everyPartitionHoldsEveryValue(
  data: Extract<ColumnData, { kind: 'dict' }>,
  batch: StageBatch,
): boolean {
  const size = data.dictionary.length;
  const partitionCount = Math.max(1, batch.partitions.length);
  if (size === 0 || size > 256 || size * partitionCount > 1 << 20) return false;
  const { codes, valid } = data;
  const partitionOfRow = batch.partitions.length > 1 ? batch.partitionOfRow : undefined;
  const seen = new Uint8Array(size * partitionCount);
  let missing = seen.length;
  for (let r = 0; r < batch.rowCount && missing > 0; r++) {
    if (valid && ((valid[r >> 3] as number) & (1 << (r & 7))) === 0) continue;
    const slot = (partitionOfRow ? (partitionOfRow[r] as number) * size : 0) + (codes[r] as number);
    if (seen[slot] === 0) {
      seen[slot] = 1;
      missing--;
    }
  }
  return missing === 0;
}

/**
 * Writes a query's result as zstd Parquet into `stagingDir`, partitioned by `partitionKeys` (columns
 * of the query holding the directory text), with uuid file names or, given a `fileStem`,
 * deterministic ones.
 */
export async function copyToStaging(
  connection: DuckDBConnection,
  select: string,
  partitionKeys: readonly string[],
  stagingDir: string,
  fileStem: string | undefined,
): Promise<void> {
  const target = await stagingTarget(stagingDir, partitionKeys, fileStem);
  await connection.run(`${copyStatement(select, partitionKeys, target, fileStem)})`);
}

/** Creates the staging directory; returns what a COPY writes to: it, or its one file (no keys). */
async function stagingTarget(
  stagingDir: string,
  partitionKeys: readonly string[],
  fileStem: string | undefined,
): Promise<string> {
  await makeDirectory(stagingDir);
  if (partitionKeys.length > 0) return stagingDir;
  return path.join(
    stagingDir,
    `${filePattern(fileStem).replace('{uuid}', randomUUID()).replace('{i}', '0')}.parquet`,
  );
}

function filePattern(fileStem: string | undefined): string {
  return fileStem ? `part-${fileStem}-{i}` : 'part-{uuid}';
}

/** The COPY of a staging write, without the closing parenthesis of its options (more may follow). */
function copyStatement(
  select: string,
  partitionKeys: readonly string[],
  target: string,
  fileStem: string | undefined,
): string {
  const partitionClause =
    partitionKeys.length > 0
      ? `PARTITION_BY (${partitionKeys.map(quoteIdentifier).join(', ')}), FILENAME_PATTERN ${quoteLiteral(filePattern(fileStem))}, `
      : '';
  return `COPY (${select}) TO ${quoteLiteral(target)} (FORMAT parquet, ${partitionClause}${PARQUET_COMPRESSION}`;
}

/**
 * The compression of the Parquet files writes stage: zstd at level 1 (pyarrow's default; DuckDB's
 * is 3). On sweep data (random floats, small ints) the files are the same size within 0.5% and the
 * COPY costs 5-15% less CPU (docs/benchmarks.md, "Where convert-csv's time goes").
 */
export const PARQUET_COMPRESSION = 'COMPRESSION zstd, COMPRESSION_LEVEL 1';

/**
 * Relative paths of every `.parquet` file under `directory`, sorted; symlinked directories are not
 * descended into (see {@link listFilesNoFollow}).
 *
 * @example
 * ```ts
 * await listParquetFiles('lake/events'); // ['grid_id=ab12cd34/seed=1/part-….parquet', …]
 * ```
 */
export async function listParquetFiles(directory: string): Promise<string[]> {
  // Not readdir's recursive mode: it follows symlinked directories (a link to the lake root
  // inside a dataset listed the lake over and over); this matches the view's `**` glob instead.
  return listFilesNoFollow(directory, (name) => name.endsWith('.parquet'));
}
