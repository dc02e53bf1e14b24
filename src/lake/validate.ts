import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import {
  type ColumnType,
  columnTypeFromDuckDB,
  columnTypeSql,
  isAssignable,
  quoteIdentifier,
  quoteLiteral,
} from './column-types.js';
import { loadSnapshot, type Snapshot } from './commit-log.js';
import type { DatasetDefinition } from './dataset.js';
import { discoverDataset } from './discover.js';
import { withStagingConnection } from './duckdb.js';
import { type EnumDomain, readLakeEnumValues } from './enum-domain.js';
import { datasetManifest, listDatasetNames } from './lake.js';
import { type LakePaths, lakePaths } from './layout.js';
import { parquetFileError } from './parquet-file-error.js';
import { HIVE_NULL_PARTITION, parsePartitionPath } from './partition-path.js';
import { countOf } from './plural.js';
import { getSchemaSet, resolveLakeSchemaSet, type SchemaSet } from './schema-set.js';
import { isDeadStagingEntry } from './staging.js';
import { readIntents } from './transaction.js';
import { checkLakeMetadata } from './validate-metadata.js';
import { listParquetFiles } from './write-rows.js';

/** What kind of rule a {@link Violation} breaks. */
export type ViolationKind =
  | 'unreadable'
  | 'partition_path'
  | 'partition_value'
  | 'type'
  | 'unknown_column'
  | 'missing_column'
  | 'null'
  | 'enum'
  | 'check'
  | 'reference'
  | 'metadata'
  | 'log'
  | 'unreferenced'
  | 'duplicate_key';

/**
 * One broken rule in one file: at a row (0-based, in the file's own row order) or, for rules
 * about the whole file (its path, its column types), at no row.
 */
export interface Violation {
  readonly dataset: string;
  /** The file, relative to the lake directory. */
  readonly file: string;
  readonly row: number | null;
  readonly column: string;
  readonly kind: ViolationKind;
  readonly message: string;
  /** Rows of this file that break the same rule (this violation names the first of them). */
  readonly rowsAffected: number;
}

/** What {@link validateLake} found for one dataset. */
export interface DatasetValidation {
  readonly dataset: string;
  readonly typed: boolean;
  readonly files: number;
  readonly rows: number;
  /** Violations found, counting every affected row. */
  readonly violations: number;
}

/** The result of {@link validateLake}. */
export interface ValidationReport {
  readonly lake: string;
  readonly schemaSet: string;
  readonly datasets: readonly DatasetValidation[];
  /** Violations to show: file-level ones, and up to `rowsPerRule` rows per rule and file. */
  readonly violations: readonly Violation[];
  /** Metadata files checked (lake.json, manifests, saved views, enum files, params.json). */
  readonly metadataFiles: number;
  readonly ok: boolean;
}

/** Options for {@link validateLake}. */
export interface ValidateOptions {
  /** Schema set to check against when the lake records none (see `openLake`). */
  readonly schema?: string;
  /** Rows listed per rule and file; the rest are counted (default 5). */
  readonly rowsPerRule?: number;
  /** Only these datasets. */
  readonly datasets?: readonly string[];
  /**
   * Checks of references from rows to data outside the lake's Parquet files, run after the file
   * checks, e.g. `checkShardRefs` (embeddings.shard_ref into an array-shards store).
   */
  readonly referenceChecks?: ReadonlyArray<(lake: string) => Promise<Violation[]>>;
}

/** A row-level rule, as a SQL predicate that is TRUE on a row that breaks it. */
interface RowRule {
  readonly kind: ViolationKind;
  readonly column: string;
  readonly broken: string;
  /** SQL text of the offending value, shown in the message. */
  readonly shown: string | undefined;
  readonly message: (value: string | null) => string;
}

/**
 * Checks every Parquet file of every dataset in a lake against the lake's schema set, reading
 * each file as it is on disk (partition columns from its path, other columns from the file), and
 * reports each violation with its file, row and column:
 * - a file that cannot be read, or whose directory is not `key=value` levels in the dataset's
 *   partition order, or whose partition value is null or outside its enum;
 * - a column whose type drifted from the schema (or, for open datasets, from the manifest),
 *   a column the schema does not know, a non-null column the file lacks;
 * - per row: a null in a non-null column, a value outside its enum, a failed row check, and a
 *   partition column stored in the file that disagrees with the file's directory.
 *
 * @example
 * ```ts
 * const report = await validateLake('lake');
 * for (const v of report.violations) console.log(v.file, v.row, v.column, v.message);
 * ```
 */
export async function validateLake(
  baseOut: string,
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  const paths = lakePaths(baseOut);
  const metadata = await checkLakeMetadata(paths);
  const metadataViolations: Violation[] = metadata.problems.map((p) => ({
    dataset: p.dataset,
    file: p.file,
    row: null,
    column: '',
    kind: 'metadata',
    message: p.message,
    rowsAffected: 1,
  }));
  // With lake.json broken the lake's schema set is unknown: checking its files against a guessed
  // one would bury the one real problem under invented ones, so only an explicit --schema does.
  let set: SchemaSet | undefined;
  if (metadata.configReadable) set = await resolveLakeSchemaSet(paths, options.schema);
  else if (options.schema !== undefined) set = getSchemaSet(options.schema);
  const broken = new Set(metadata.problems.map((p) => p.file));
  const names = set
    ? (await listDatasetNames(paths, set.registry)).filter(
        (name) => !options.datasets || options.datasets.includes(name),
      )
    : [];
  const rowsPerRule = options.rowsPerRule ?? 5;
  return withStagingConnection(async (connection) => {
    const datasets: DatasetValidation[] = [];
    const violations: Violation[] = [...metadataViolations];
    for (const name of names) {
      // A dataset whose manifest is broken is checked against its definition (or its files).
      const manifestBroken = broken.has(path.relative(paths.root, paths.manifest(name)));
      const found = await validateDataset(
        connection,
        paths,
        name,
        set?.registry.get(name),
        rowsPerRule,
        manifestBroken,
      );
      datasets.push(found.summary);
      violations.push(...found.violations);
    }
    for (const check of options.referenceChecks ?? []) {
      for (const violation of await check(baseOut)) {
        const index = datasets.findIndex((d) => d.dataset === violation.dataset);
        const summary = datasets[index];
        if (!summary) continue; // a dataset this run does not cover
        datasets[index] = { ...summary, violations: summary.violations + violation.rowsAffected };
        violations.push(violation);
      }
    }
    return {
      lake: paths.root,
      schemaSet: set?.name ?? 'unknown',
      datasets,
      violations,
      metadataFiles: metadata.files,
      ok: metadataViolations.length === 0 && datasets.every((d) => d.violations === 0),
    };
  });
}

async function validateDataset(
  connection: DuckDBConnection,
  paths: LakePaths,
  name: string,
  definition: DatasetDefinition | undefined,
  rowsPerRule: number,
  manifestBroken = false,
): Promise<{ summary: DatasetValidation; violations: Violation[] }> {
  const typed = definition?.columns !== undefined;
  const manifest = manifestBroken
    ? ((await discoverDataset(connection, paths, definition ?? { name })) ?? {
        format: 1 as const,
        dataset: name,
        partitionBy: (definition?.partitionBy ?? []).map((k) => ({ name: k.name, type: k.type })),
        columns: [],
      })
    : await datasetManifest(connection, paths, name, definition);
  const keys = definition?.columns ? definition.partitionBy : manifest.partitionBy;
  const declared = new Map<string, { type: ColumnType; nullable: boolean; enum?: EnumDomain }>(
    definition?.columns
      ? definition.columns.map((c) => [
          c.name,
          { type: c.type, nullable: c.nullable !== false, enum: c.enum },
        ])
      : manifest.columns.map((c) => [c.name, { type: c.type, nullable: true }]),
  );
  const allowed = await allowedEnumValues(paths, [...keys, ...(definition?.columns ?? [])]);
  const violations: Violation[] = [];
  let count = 0;
  const report = (v: Omit<Violation, 'dataset'>) => {
    violations.push({ dataset: name, ...v });
    count += v.rowsAffected;
  };
  const snapshot = await loadSnapshot(paths, name);
  const logged = snapshot.version >= 0;
  // Of a logged dataset, the snapshot's files and the files it does not reference (another tool
  // wrote them into the directory): both are checked, only the first are what readers see.
  const { present, unreferenced } = logged
    ? await checkLogFiles(paths, name, snapshot, report)
    : { present: await listParquetFiles(paths.dataset(name)), unreferenced: [] };
  const relativeFiles = [...present, ...unreferenced].sort();
  const unreferencedSet = new Set(unreferenced.map((f) => path.join(name, f)));

  const checkable: Array<{ file: string; relative: string; partitions: Array<[string, string | null]> }> = [];
  const fileColumns = new Map<string, Set<string>>();
  let rows = 0;
  for (const relative of relativeFiles) {
    const file = path.join(paths.dataset(name), relative);
    const shown = path.join(name, relative);
    let problems = 0;
    const fileReport = (column: string, kind: ViolationKind, message: string) => {
      report({ file: shown, row: null, column, kind, message, rowsAffected: 1 });
      problems++;
    };

    // The path: one key=value level per partition key, in order.
    const levels = path.dirname(relative) === '.' ? [] : path.dirname(relative).split(path.sep);
    const partitions = parsePartitionPath(levels.join('/'));
    const expected = keys.map((k) => k.name);
    if (levels.length !== partitions.length || partitions.map(([k]) => k).join('/') !== expected.join('/')) {
      fileReport(
        expected.join('/'),
        'partition_path',
        `the file sits under ${levels.join('/') || 'the dataset root'}, but ${name} is partitioned as ` +
          `${expected.map((k) => `${k}=…`).join('/') || '(no partitions)'}`,
      );
    } else {
      for (const [k, [key, value]] of partitions.entries()) {
        const keyDefinition = keys[k];
        if (value === null) {
          fileReport(
            key,
            'partition_value',
            `partition value is null (${HIVE_NULL_PARTITION}); keys are never null`,
          );
          continue;
        }
        const domain = allowed.get(key);
        if (domain && !domain.values.has(value)) {
          fileReport(key, 'partition_value', enumMessage(value, domain));
        }
        if (keyDefinition && /^int/.test(keyDefinition.type.kind) && !/^-?\d+$/.test(value)) {
          fileReport(key, 'partition_value', `directory value ${JSON.stringify(value)} is not an integer`);
        }
      }
    }

    // The file's own columns and their types.
    let described: Array<[string, ColumnType]>;
    try {
      const reader = await connection.runAndReadAll(
        `SELECT * FROM read_parquet(${quoteLiteral(file)}, hive_partitioning = false) LIMIT 0`,
      );
      const types = reader.columnTypes();
      described = reader.columnNames().map((c, i) => [c, columnTypeFromDuckDB(types[i] as DuckDBType)]);
      const meta = await connection.runAndReadAll(
        `SELECT num_rows FROM parquet_file_metadata(${quoteLiteral(file)})`,
      );
      const fileRows = Number(meta.getRowsJS()[0]?.[0] ?? 0);
      rows += fileRows;
      const logEntry = snapshot.files.get(relative.split(path.sep).join('/'));
      if (logged && logEntry && logEntry.rows !== fileRows) {
        fileReport(
          '',
          'log',
          `the file holds ${countOf(fileRows, 'row')}, version ${logEntry.version} of the log recorded ${logEntry.rows}`,
        );
      }
    } catch (error) {
      const broken = parquetFileError(error);
      fileReport(
        '',
        'unreadable',
        `cannot read the file: ${broken ? broken.reason : (error as Error).message.split('\n')[0]}`,
      );
      continue;
    }
    const present = new Set(described.map(([c]) => c));
    fileColumns.set(file, present);
    for (const [column, type] of described) {
      if (keys.some((k) => k.name === column)) continue; // compared row by row below
      const expectedColumn = declared.get(column);
      if (!expectedColumn) {
        if (typed && !definition?.allowExtraColumns) {
          fileReport(column, 'unknown_column', `column is not in the ${name} schema`);
        }
        continue;
      }
      if (!readableAs(type, expectedColumn.type)) {
        fileReport(
          column,
          'type',
          `the file holds ${columnTypeSql(type)}, the ${typed ? 'schema' : 'manifest'} says ${columnTypeSql(expectedColumn.type)}`,
        );
      }
    }
    for (const [column, spec] of declared) {
      if (!spec.nullable && !present.has(column)) {
        fileReport(column, 'missing_column', 'the file lacks this non-null column');
      }
    }
    // Rows of a file whose columns are wrong cannot be checked reliably: its file-level
    // violations say what to fix first.
    if (problems === 0) checkable.push({ file, relative: shown, partitions });
  }

  const visible = checkable.filter((f) => !unreferencedSet.has(f.relative));
  if (definition?.key && visible.length > 0) {
    await checkDuplicateKeys(connection, name, definition.key, visible, keys.length > 0, rowsPerRule, report);
  }
  if (checkable.length > 0) {
    await checkRows(connection, {
      files: checkable,
      fileColumns,
      declared,
      keys: keys.map((k) => k.name),
      allowed,
      checks: definition?.checks ?? [],
      rowsPerRule,
      report,
    });
  }
  return {
    summary: { dataset: name, typed, files: relativeFiles.length, rows, violations: count },
    violations,
  };
}

// Files published but not yet committed belong to a live writer; older unreferenced ones are
// reported (a dead writer's leftovers, or files another tool wrote after runlake took over).
const UNREFERENCED_GRACE_MS = 60 * 60 * 1000;

/**
 * Checks a logged dataset's files against its log: every file of the latest snapshot exists with
 * the size the log recorded (rows are compared when the file is read), and no Parquet file in the
 * dataset's directory is unknown to the log, except files a live writer is publishing and files
 * younger than an hour. Returns the snapshot's files that exist, and the unreferenced files
 * (relative to the dataset), whose contents are checked too.
 */
async function checkLogFiles(
  paths: LakePaths,
  name: string,
  snapshot: Snapshot,
  report: (v: Omit<Violation, 'dataset'>) => void,
): Promise<{ present: string[]; unreferenced: string[] }> {
  const directory = paths.dataset(name);
  const present: string[] = [];
  for (const file of [...snapshot.files.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const relative = file.path.split('/').join(path.sep);
    const shown = path.join(name, relative);
    const info = await stat(path.join(directory, relative)).catch(() => undefined);
    if (!info) {
      report({
        file: shown,
        row: null,
        column: '',
        kind: 'log',
        message: `version ${file.version} of the log added this file (${countOf(file.rows, 'row')}), but it is missing`,
        rowsAffected: 1,
      });
      continue;
    }
    if (info.size !== file.size) {
      report({
        file: shown,
        row: null,
        column: '',
        kind: 'log',
        message: `the file has ${info.size} bytes, version ${file.version} of the log recorded ${file.size}`,
        rowsAffected: 1,
      });
      // Still read below: a truncated file is also reported unreadable, naming the cause.
    }
    present.push(relative);
  }
  // Files a live writer is publishing are skipped; a dead writer's are reported at once: engines
  // reading by path see them until a write or `vacuum` recovers that writer's work.
  const claimed = new Set<string>();
  const leftovers = new Set<string>();
  for (const intent of (await readIntents(paths)).filter((i) => i.dataset === name)) {
    const target = (await isDeadStagingEntry(intent.entry, intent)) ? leftovers : claimed;
    for (const file of [...intent.adds, ...intent.removes]) target.add(file);
  }
  const now = Date.now();
  const unreferenced: string[] = [];
  for (const relative of await listParquetFiles(directory)) {
    const key = relative.split(path.sep).join('/');
    if (snapshot.files.has(key) || claimed.has(key)) continue;
    const info = await stat(path.join(directory, relative)).catch(() => undefined);
    if (!info) continue;
    unreferenced.push(relative);
    if (leftovers.has(key)) {
      report({
        file: path.join(name, relative),
        row: null,
        column: '',
        kind: 'unreferenced',
        message:
          'a writer that died left this file (published but not committed, or removed by its commit but not ' +
          'yet moved to the trash): runlake readers do not see it, engines reading the directory do; ' +
          'the next write or `runlake vacuum` cleans it up',
        rowsAffected: 1,
      });
      continue;
    }
    if (now - info.mtimeMs < UNREFERENCED_GRACE_MS) continue;
    report({
      file: path.join(name, relative),
      row: null,
      column: '',
      kind: 'unreferenced',
      message:
        'no commit of the log references this file: runlake readers do not see it (a dead writer left it, ' +
        "or another tool wrote it); `runlake vacuum` removes a dead writer's files, `runlake adopt` takes in the others",
      rowsAffected: 1,
    });
  }
  return { present, unreferenced };
}

/** Reports key values shared by more than one row of the dataset's files. */
async function checkDuplicateKeys(
  connection: DuckDBConnection,
  name: string,
  key: readonly string[],
  files: ReadonlyArray<{ file: string }>,
  hive: boolean,
  rowsPerRule: number,
  report: (v: Omit<Violation, 'dataset'>) => void,
): Promise<void> {
  const list = `[${files.map((f) => quoteLiteral(f.file)).join(', ')}]`;
  const columns = key.map(quoteIdentifier).join(', ');
  const source = `read_parquet(${list}, hive_partitioning = ${hive}, union_by_name = true)`;
  const duplicated = await connection.runAndReadAll(
    `SELECT ${key.map((k) => `CAST(${quoteIdentifier(k)} AS VARCHAR)`).join(', ')}, count(*) AS n, count(*) OVER () AS groups,
       sum(count(*)) OVER () AS total
     FROM ${source} GROUP BY ${columns} HAVING count(*) > 1 ORDER BY n DESC LIMIT ${rowsPerRule}`,
  );
  for (const row of duplicated.getRowsJS()) {
    const values = key.map((k, i) => `${k}=${String(row[i])}`).join(', ');
    const n = Number(row[key.length]);
    const keys = Number(row[key.length + 1]);
    report({
      file: name,
      row: null,
      column: key.join(', '),
      kind: 'duplicate_key',
      message: `${countOf(n, 'row')} share the key ${values} (${countOf(keys, 'key')} ${keys === 1 ? 'is' : 'are'} duplicated in all)`,
      rowsAffected: n - 1,
    });
  }
}

/**
 * Whether a file's column type reads as the expected one: the write widening rules,
 * plus DECIMAL for floating columns (what DuckDB and some writers give a literal like 1.0).
 */
function readableAs(type: ColumnType, expected: ColumnType): boolean {
  if (isAssignable(type, expected)) return true;
  const floating = expected.kind === 'float64' || expected.kind === 'float32';
  return floating && type.kind === 'other' && type.sql.startsWith('DECIMAL');
}

interface AllowedValues {
  readonly domain: string;
  readonly values: ReadonlySet<string>;
}

async function allowedEnumValues(
  paths: LakePaths,
  columns: ReadonlyArray<{ name: string; enum?: EnumDomain }>,
): Promise<Map<string, AllowedValues>> {
  const allowed = new Map<string, AllowedValues>();
  for (const column of columns) {
    if (!column.enum) continue;
    const recorded = column.enum.extensible ? await readLakeEnumValues(paths, column.enum.name) : new Map();
    allowed.set(column.name, {
      domain: column.enum.name,
      values: new Set([...column.enum.list(), ...recorded.keys()]),
    });
  }
  return allowed;
}

function enumMessage(value: string, allowed: AllowedValues): string {
  return `${JSON.stringify(value)} is not a valid ${allowed.domain} (${[...allowed.values].join(', ')})`;
}

interface RowCheckInput {
  readonly files: ReadonlyArray<{
    file: string;
    relative: string;
    partitions: Array<[string, string | null]>;
  }>;
  readonly fileColumns: ReadonlyMap<string, ReadonlySet<string>>;
  readonly declared: ReadonlyMap<string, { type: ColumnType; nullable: boolean }>;
  readonly keys: readonly string[];
  readonly allowed: ReadonlyMap<string, AllowedValues>;
  readonly checks: ReadonlyArray<{
    name: string;
    description: string;
    sql: string;
    columns: readonly string[];
  }>;
  readonly rowsPerRule: number;
  readonly report: (v: Omit<Violation, 'dataset'>) => void;
}

/** Runs every row-level rule over the files in one scan, then lists the first rows of each. */
async function checkRows(connection: DuckDBConnection, input: RowCheckInput): Promise<void> {
  const { files, fileColumns, declared, keys, allowed } = input;
  const inAny = new Set(files.flatMap((f) => [...(fileColumns.get(f.file) ?? [])]));
  const rules: RowRule[] = [];
  for (const [column, spec] of declared) {
    if (!spec.nullable && inAny.has(column)) {
      rules.push({
        kind: 'null',
        column,
        broken: `${quoteIdentifier(column)} IS NULL`,
        shown: undefined,
        message: () => 'null in a non-null column',
      });
    }
    const domain = allowed.get(column);
    if (domain && inAny.has(column)) {
      rules.push({
        kind: 'enum',
        column,
        broken: `${quoteIdentifier(column)} NOT IN (${[...domain.values].map(quoteLiteral).join(', ')})`,
        shown: quoteIdentifier(column),
        message: (value) => enumMessage(value ?? '', domain),
      });
    }
  }
  for (const check of input.checks) {
    rules.push({
      kind: 'check',
      column: check.columns.join(', '),
      broken: `NOT coalesce((${check.sql}), true)`,
      shown: undefined,
      message: () => `fails check ${check.name}: ${check.description} (${check.sql})`,
    });
  }
  // Partition columns some tool also stored inside the files must agree with the directories.
  const storedKeys = keys.filter((k) => inAny.has(k));
  for (const key of storedKeys) {
    const directory = quoteIdentifier(`__dir_${key}`);
    // Only files that store the column: union_by_name gives the others NULL for it.
    const storing = files
      .filter((f) => fileColumns.get(f.file)?.has(key))
      .map((f) => quoteLiteral(f.relative));
    rules.push({
      kind: 'partition_value',
      column: key,
      broken: `("__relative" IN (${storing.join(', ')}) AND CAST(${quoteIdentifier(key)} AS VARCHAR) IS DISTINCT FROM ${directory})`,
      shown: `coalesce(CAST(${quoteIdentifier(key)} AS VARCHAR), 'NULL') || ' but its directory says ' || coalesce(${directory}, 'NULL')`,
      message: (value) => `the row has ${key} = ${value ?? 'NULL'}`,
    });
  }
  if (rules.length === 0) return;

  // Declared columns no file holds are NULL, so checks over them bind (and pass or fail as NULL).
  const absent = [...declared]
    .filter(([column]) => !inAny.has(column))
    .map(([column, spec]) => `, CAST(NULL AS ${columnTypeSql(spec.type)}) AS ${quoteIdentifier(column)}`)
    .join('');
  const list = `[${files.map((f) => quoteLiteral(f.file)).join(', ')}]`;
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE validate_paths ("__file" VARCHAR, "__relative" VARCHAR${keys.map((k) => `, ${quoteIdentifier(k)} VARCHAR`).join('')})`,
  );
  const values = files.map(
    (f) =>
      `(${quoteLiteral(f.file)}, ${quoteLiteral(f.relative)}${keys
        .map((_, i) => {
          const value = f.partitions[i]?.[1];
          return `, ${value === null || value === undefined ? 'NULL' : quoteLiteral(value)}`;
        })
        .join('')})`,
  );
  await connection.run(`INSERT INTO validate_paths VALUES ${values.join(', ')}`);
  // One relation: the files' own columns (no hive columns), each row's file and row number, and
  // the partition values its directory holds (as `__dir_<key>`).
  const base =
    `SELECT d.*${absent}, p."__relative"${keys.map((k) => `, p.${quoteIdentifier(k)} AS ${quoteIdentifier(`__dir_${k}`)}`).join('')} ` +
    `FROM read_parquet(${list}, hive_partitioning = false, union_by_name = true, filename = '__file', ` +
    `file_row_number = true) d JOIN validate_paths p USING ("__file")`;

  const counts = await connection.runAndReadAll(
    `SELECT ${rules.map((r, i) => `count_if(${r.broken}) AS v${i}`).join(', ')} FROM (${base})`,
  );
  const totals = (counts.getRowsJS()[0] ?? []).map(Number);
  for (const [i, rule] of rules.entries()) {
    if (!totals[i]) continue;
    const offending = await connection.runAndReadAll(
      `SELECT "__relative", file_row_number, CAST(${rule.shown ?? 'NULL'} AS VARCHAR), count(*) OVER (PARTITION BY "__relative") ` +
        `FROM (${base}) WHERE ${rule.broken} ` +
        `QUALIFY row_number() OVER (PARTITION BY "__relative" ORDER BY file_row_number) <= ${input.rowsPerRule} ` +
        'ORDER BY "__relative", file_row_number',
    );
    let previousFile = '';
    for (const [relative, row, value, affected] of offending.getRowsJS()) {
      const first = relative !== previousFile;
      previousFile = String(relative);
      input.report({
        file: String(relative),
        row: Number(row),
        column: rule.column,
        kind: rule.kind,
        message: rule.message(value === null ? null : String(value)),
        // The first listed row carries the file's count for this rule; the others are examples.
        rowsAffected: first ? Number(affected) : 0,
      });
    }
  }
}
