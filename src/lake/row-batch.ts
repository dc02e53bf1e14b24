import { type ColumnType, columnTypeSql, inferValueType, t, unifyTypes } from './column-types.js';
import { PartitionValueError, RowValidationError } from './errors.js';
import {
  formatPartitionValue,
  HIVE_NULL_PARTITION,
  type PartitionValue,
  partitionDirectory,
} from './partition-path.js';

/** One row as a caller hands it in: column name to value. */
export type Row = Readonly<Record<string, unknown>>;

/** How one partition key gets its value for each row. */
export interface PartitionSource {
  readonly name: string;
  /** The scalar type the value must have. */
  readonly type: ColumnType;
  /** Used for rows that do not carry the key. */
  readonly defaultValue?: PartitionValue;
  /** When set, every row that carries the key must agree with it. */
  readonly fixedValue?: PartitionValue;
  /**
   * A row without a value goes to the Hive default partition (`key=__HIVE_DEFAULT_PARTITION__`,
   * read back as NULL) instead of being refused, as pandas/pyarrow (and so exp_engine) write it.
   */
  readonly nullable?: boolean;
}

/** A data column of a batch, with the type inferred over all rows. */
export interface BatchColumn {
  readonly name: string;
  type: ColumnType;
  /** Rows where the value is present and not null. */
  nonNullCount: number;
}

/** One distinct partition: its key values as directory text, in key order. */
export interface BatchPartition {
  readonly text: readonly string[];
  rowCount: number;
}

/**
 * Rows checked and typed column by column, ready to stage: the data columns with their unified
 * types, and for each row the index of its partition.
 */
export interface RowBatch {
  readonly dataset: string;
  readonly rows: readonly Row[];
  readonly columns: readonly BatchColumn[];
  readonly partitionKeys: readonly string[];
  readonly partitions: readonly BatchPartition[];
  /** `partitionOfRow[i]` indexes `partitions`. */
  readonly partitionOfRow: Int32Array;
}

/** Options for {@link buildRowBatch}. */
export interface BatchOptions {
  /** Columns to store as float32 instead of float64 (`'all'` for every floating column). */
  readonly float32Columns?: ReadonlySet<string> | 'all';
  /**
   * Column types of a typed dataset. Their values were checked against these types already
   * (`validateTypedRows`), so the batch takes the declared type instead of inferring one.
   */
  readonly declaredTypes?: ReadonlyMap<string, ColumnType>;
}

const PARTITION_TYPE_CHECKS: Partial<Record<ColumnType['kind'], (v: unknown) => boolean>> = {
  string: (v) => typeof v === 'string',
  int64: (v) => (typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'bigint',
  float64: (v) => typeof v === 'number' && Number.isFinite(v),
  bool: (v) => typeof v === 'boolean',
};

/**
 * Checks every row and infers each column's type in one pass. Throws a
 * {@link RowValidationError} naming the first bad row and column: a row that is not an object, a
 * missing or mistyped partition key, a value that disagrees with a fixed partition value, a value
 * whose type conflicts with earlier rows of its column, or a value a lake cannot store.
 *
 * @example
 * ```ts
 * const batch = buildRowBatch('events', rows, [{ name: 'seed', type: t.int64 }]);
 * batch.columns.map((c) => c.name);
 * ```
 */
export function buildRowBatch(
  dataset: string,
  rows: readonly Row[],
  partitionSources: readonly PartitionSource[],
  options: BatchOptions = {},
): RowBatch {
  const partitionNames = new Set(partitionSources.map((p) => p.name));
  type TrackedColumn = BatchColumn & { firstTypedRow: number; declared: boolean };
  const columns = new Map<string, TrackedColumn>();
  const partitionOfRow = new Int32Array(rows.length);
  const fail = (row: number, column: string, reason: string): never => {
    throw new RowValidationError(dataset, row, column, reason);
  };
  const { partitions, indexOf } = partitionIndexer(dataset, partitionSources);

  // Rows of one call usually share their partition and their key order: remember the previous
  // row's raw partition values and the column at each key position, so the common case costs a
  // few identity comparisons instead of string building and Map lookups.
  const previousRaw: unknown[] = new Array(partitionSources.length);
  let previousIndex = -1;
  const slotNames: string[] = [];
  const slotColumns: Array<TrackedColumn | null> = [];

  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    if (row === null || typeof row !== 'object' || Array.isArray(row)) fail(r, '', 'row is not an object');
    const record = row as Row;

    let samePartition = previousIndex >= 0;
    for (let k = 0; k < partitionSources.length; k++) {
      const source = partitionSources[k] as PartitionSource;
      const raw = record[source.name] ?? source.defaultValue ?? source.fixedValue;
      if (raw !== previousRaw[k]) {
        samePartition = false;
        previousRaw[k] = raw;
      }
    }
    let index = previousIndex;
    if (!samePartition) {
      index = indexOf(r, previousRaw);
      previousIndex = index;
    }
    (partitions[index] as BatchPartition).rowCount++;
    partitionOfRow[r] = index;

    let slot = 0;
    for (const name in record) {
      let column: TrackedColumn | null | undefined;
      if (slotNames[slot] === name) {
        column = slotColumns[slot];
      } else {
        if (partitionNames.has(name)) {
          column = null;
        } else {
          column = columns.get(name);
          if (!column) {
            if (name.length === 0) fail(r, name, 'column name is empty');
            const declared = options.declaredTypes?.get(name);
            column = {
              name,
              type: declared ?? t.null,
              nonNullCount: 0,
              firstTypedRow: -1,
              declared: !!declared,
            };
            columns.set(name, column);
          }
        }
        slotNames[slot] = name;
        slotColumns[slot] = column;
      }
      slot++;
      if (column === null || column === undefined) continue;
      const value = record[name];
      if (value === null || value === undefined) continue;
      column.nonNullCount++;
      if (column.declared) continue;
      // Fast paths: a scalar landing in a column already known to hold its type.
      const kind = column.type.kind;
      switch (typeof value) {
        case 'number':
          if (kind === 'float64' || kind === 'float32' || (kind === 'int64' && Number.isSafeInteger(value)))
            continue;
          break;
        case 'string':
          if (kind === 'string') continue;
          break;
        case 'boolean':
          if (kind === 'bool') continue;
          break;
      }
      const problem = widenColumnType(column, value, r);
      if (problem) fail(r, name, problem);
    }
  }

  const float32 = options.float32Columns;
  for (const column of columns.values()) {
    if (column.declared) continue;
    const wantsFloat32 = float32 === 'all' || float32?.has(column.name);
    if (wantsFloat32 && (column.type.kind === 'float64' || column.type.kind === 'int64'))
      column.type = t.float32;
  }

  return {
    dataset,
    rows,
    columns: [...columns.values()].map(({ name, type, nonNullCount }) => ({ name, type, nonNullCount })),
    partitionKeys: partitionSources.map((p) => p.name),
    partitions,
    partitionOfRow,
  };
}

/** A column whose type is inferred value by value: its type so far, and the row that first set it. */
export interface InferredColumn {
  type: ColumnType;
  firstTypedRow: number;
}

/**
 * Widens a column's inferred type to hold `value` (a non-null value of row `row`), or says why it
 * cannot: a value a lake cannot store, or one whose type conflicts with earlier rows'.
 *
 * @example
 * ```ts
 * const column = { type: t.int64, firstTypedRow: 0 };
 * widenColumnType(column, 0.5, 3); // undefined; column.type is now float64
 * ```
 */
export function widenColumnType(column: InferredColumn, value: unknown, row: number): string | undefined {
  const valueType = inferValueType(value);
  if ('unsupported' in valueType) return valueType.unsupported;
  const kind = column.type.kind;
  if (valueType.kind === kind && kind !== 'list' && kind !== 'struct') return undefined;
  const merged = unifyTypes(column.type, valueType);
  if (!merged) {
    return (
      `${describe(value)} is ${columnTypeSql(valueType)}, but earlier rows (from row ${column.firstTypedRow}) ` +
      `hold ${columnTypeSql(column.type)}`
    );
  }
  if (column.firstTypedRow < 0) column.firstTypedRow = row;
  column.type = merged;
  return undefined;
}

/**
 * Gives each distinct tuple of raw partition values its partition, checking the values on first
 * sight: a missing key without a default (unless nullable), a value of the wrong type, a value that
 * disagrees with a fixed one, or one that cannot name a directory. Shared by the row and column
 * paths, so both refuse the same rows with the same message.
 *
 * @example
 * ```ts
 * const { partitions, indexOf } = partitionIndexer('events', [{ name: 'seed', type: t.int64 }]);
 * indexOf(0, [1]); // 0, and partitions[0].text is ['1']
 * ```
 */
export function partitionIndexer(
  dataset: string,
  partitionSources: readonly PartitionSource[],
): { partitions: BatchPartition[]; indexOf: (row: number, raw: readonly unknown[]) => number } {
  const fixedText = partitionSources.map((p) =>
    p.fixedValue === undefined ? undefined : formatPartitionValue(p.name, p.fixedValue),
  );
  const partitions: BatchPartition[] = [];
  const partitionIndex = new Map<string, number>();
  const fail = (row: number, column: string, reason: string): never => {
    throw new RowValidationError(dataset, row, column, reason);
  };
  // A value that cannot name a directory is a fault of one row: say which (callers reading a
  // file add the file), rather than only the column.
  const partitionText = <T>(row: number, make: () => T): T => {
    try {
      return make();
    } catch (error) {
      if (!(error instanceof PartitionValueError)) throw error;
      return fail(row, error.column, `partition value ${describe(error.value)}: ${error.reason}`);
    }
  };
  const indexOf = (r: number, raw: readonly unknown[]): number => {
    let tupleKey = '';
    const text: string[] = [];
    for (let k = 0; k < partitionSources.length; k++) {
      const source = partitionSources[k] as PartitionSource;
      let value = raw[k];
      if ((value === undefined || value === null) && source.nullable) {
        text.push(HIVE_NULL_PARTITION);
        tupleKey += `${HIVE_NULL_PARTITION}\u0000`;
        continue;
      }
      if (value === undefined || value === null) {
        fail(r, source.name, 'partition key is missing (and no default was given)');
      }
      const check = PARTITION_TYPE_CHECKS[source.type.kind];
      if (check && !check(value)) {
        fail(r, source.name, `partition value ${describe(value)} is not a ${columnTypeSql(source.type)}`);
      }
      if (source.type.kind === 'float64') value = Number(value);
      const formatted = partitionText(r, () => formatPartitionValue(source.name, value as PartitionValue));
      const fixed = fixedText[k];
      if (fixed !== undefined && formatted !== fixed) {
        fail(r, source.name, `row has ${describe(value)} but the write is for ${source.name}=${fixed}`);
      }
      text.push(formatted);
      tupleKey += `${formatted}\u0000`;
    }
    const known = partitionIndex.get(tupleKey);
    if (known !== undefined) return known;
    // Fails here, before any file exists, for a value that cannot name a directory.
    partitionText(r, () =>
      partitionDirectory(
        // The Hive default partition is a valid directory even though no value may spell it.
        partitionSources.map((p, k) => [p.name, text[k] === HIVE_NULL_PARTITION ? '' : (text[k] as string)]),
      ),
    );
    partitionIndex.set(tupleKey, partitions.length);
    partitions.push({ text, rowCount: 0 });
    return partitions.length - 1;
  };
  return { partitions, indexOf };
}

/** A value as error messages show it. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return `Date(${value.toISOString?.() ?? 'invalid'})`;
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
