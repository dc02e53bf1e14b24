import {
  type ColumnData,
  encodeStringArray,
  encodeValues,
  MAX_ENUM_VALUES,
  narrowCodes,
  narrowIntegers,
  newValidity,
} from './column-data.js';
import type { InputColumn, InputColumns } from './column-input.js';
import { type ColumnType, t } from './column-types.js';
import { RowValidationError } from './errors.js';
import {
  type BatchColumn,
  type BatchOptions,
  type BatchPartition,
  type PartitionSource,
  partitionIndexer,
  type Row,
  type RowBatch,
  widenColumnType,
} from './row-batch.js';

/**
 * A checked and typed batch ready to stage, whichever input it came from: the columns with their
 * types, each column's values as {@link ColumnData}, and each row's partition.
 */
export interface StageBatch {
  readonly dataset: string;
  readonly rowCount: number;
  readonly columns: readonly BatchColumn[];
  readonly partitionKeys: readonly string[];
  readonly partitions: readonly BatchPartition[];
  /** `partitionOfRow[i]` indexes `partitions`. */
  readonly partitionOfRow: Int32Array;
  /** The values of every column of `columns` whose type is not null. */
  readonly data: ReadonlyMap<string, ColumnData>;
}

/**
 * Stages a row batch: each column's values pulled out of the rows once, into typed storage
 * (numbers into a `Float64Array`, strings into dictionary codes, …), so the append copies whole
 * vectors instead of converting value by value.
 *
 * @example
 * ```ts
 * const staged = stageRowBatch(buildRowBatch('events', rows, sources));
 * staged.data.get('regret'); // { kind: 'number', values: Float64Array […] }
 * ```
 */
export function stageRowBatch(batch: RowBatch): StageBatch {
  const { rows } = batch;
  const n = rows.length;
  const data = new Map<string, ColumnData>();
  const transposed = batch.columns
    .filter((c) => c.type.kind !== 'null')
    .map((c) => ({ name: c.name, type: c.type, kind: transposeKind(c.type) }));
  const fast = transposed.filter((c) => c.kind !== undefined);
  const outputs =
    fast.length > 0 ? transposer(fast.map((c) => [c.name, c.kind as TransposeKind]))(rows, n) : [];
  fast.forEach((column, j) => {
    const out = outputs[j] as TransposedColumn;
    if (out.failed) return; // a value the fast loop does not take (a bigint): encoded below
    const valid = out.valid ?? undefined;
    if (column.kind === 'string') {
      if (out.dictionary.length <= MAX_ENUM_VALUES) {
        data.set(column.name, {
          kind: 'dict',
          codes: narrowCodes(out.values as Uint32Array, out.dictionary.length),
          dictionary: out.dictionary,
          valid,
        });
      }
    } else if (column.kind === 'bool') {
      data.set(column.name, { kind: 'bool', values: out.values as Uint8Array, valid });
    } else {
      const values = out.values as Float64Array;
      const integral = column.type.kind !== 'float64' && column.type.kind !== 'float32';
      data.set(column.name, { kind: 'number', values: integral ? narrowIntegers(values) : values, valid });
    }
  });
  for (const column of transposed) {
    if (!data.has(column.name)) {
      data.set(column.name, encodeValues(column.type, n, propertyReader(rows, column.name)));
    }
  }
  return { ...batch, rowCount: n, data };
}

type TransposeKind = 'number' | 'string' | 'bool';

function transposeKind(type: ColumnType): TransposeKind | undefined {
  switch (type.kind) {
    case 'float64':
    case 'float32':
    case 'int64':
    case 'int32':
    case 'int16':
      return 'number';
    case 'string':
      return 'string';
    case 'bool':
      return 'bool';
    default:
      return undefined;
  }
}

interface TransposedColumn {
  values: Float64Array | Uint32Array | Uint8Array;
  valid: Uint8Array | null;
  dictionary: string[];
  failed: boolean;
}

/**
 * A function that reads every row once and writes each column's value into its typed storage:
 * numbers into a `Float64Array`, strings into dictionary codes (the previous row's string is
 * compared first, by identity), booleans into bytes, nulls into a validity mask. Generated for the
 * columns' names and kinds, so each read is a constant property access V8 caches for the rows'
 * shape; one pass over the rows instead of one per column. A value of another JS type (a bigint in
 * an int64 column) marks its column `failed`, to be encoded by {@link encodeValues} instead.
 */
function transposer(
  columns: ReadonlyArray<readonly [string, TransposeKind]>,
): (rows: readonly Row[], n: number) => TransposedColumn[] {
  const key = JSON.stringify(columns);
  const cached = transposers.get(key);
  if (cached) return cached;
  const setup: string[] = [];
  const body: string[] = [];
  const result: string[] = [];
  columns.forEach(([name, kind], j) => {
    // Names are embedded as JSON string literals: no text of a name is evaluated as code.
    const read = `v = row[${JSON.stringify(name)}];`;
    const nullCase = `else if (v === null || v === undefined) { if (valid${j} === null) valid${j} = newValidity(n); valid${j}[r >> 3] &= ~(1 << (r & 7)); } else failed${j} = true;`;
    setup.push(`let valid${j} = null, failed${j} = false;`);
    if (kind === 'number') {
      setup.push(`const values${j} = new Float64Array(n);`);
      body.push(`${read} if (typeof v === 'number') values${j}[r] = v; ${nullCase}`);
      result.push(`{ values: values${j}, valid: valid${j}, dictionary: [], failed: failed${j} }`);
    } else if (kind === 'bool') {
      setup.push(`const values${j} = new Uint8Array(n);`);
      body.push(`${read} if (v === true) values${j}[r] = 1; else if (v === false) {} ${nullCase}`);
      result.push(`{ values: values${j}, valid: valid${j}, dictionary: [], failed: failed${j} }`);
    } else {
      setup.push(
        `const values${j} = new Uint32Array(n), dictionary${j} = [], index${j} = new Map(); let previous${j}, previousCode${j} = 0;`,
      );
      body.push(
        `${read} if (typeof v === 'string') { if (v === previous${j}) values${j}[r] = previousCode${j}; else { let code = index${j}.get(v); if (code === undefined) { code = dictionary${j}.length; dictionary${j}.push(v); index${j}.set(v, code); } values${j}[r] = code; previous${j} = v; previousCode${j} = code; } } ${nullCase}`,
      );
      result.push(`{ values: values${j}, valid: valid${j}, dictionary: dictionary${j}, failed: failed${j} }`);
    }
  });
  const source = `return (rows, n) => {
    ${setup.join('\n    ')}
    let v;
    for (let r = 0; r < n; r++) {
      const row = rows[r];
      ${body.join('\n      ')}
    }
    return [${result.join(', ')}];
  };`;
  const made = new Function('newValidity', source)(newValidity) as (
    rows: readonly Row[],
    n: number,
  ) => TransposedColumn[];
  if (transposers.size > 256) transposers.clear();
  transposers.set(key, made);
  return made;
}

// Writers repeat the same columns call after call: compile each column list once.
const transposers = new Map<string, (rows: readonly Row[], n: number) => TransposedColumn[]>();

/**
 * `(r) => rows[r][name]` with the name as a constant property access, which V8 caches per row
 * shape (rows of one call share theirs); a computed `row[name]` would look the key up each time.
 */
function propertyReader(rows: readonly Row[], name: string): (row: number) => unknown {
  // The name is embedded as a JSON string literal: no text of it is evaluated as code.
  const read = new Function('rows', `return (r) => rows[r][${JSON.stringify(name)}];`) as (
    rows: readonly Row[],
  ) => (row: number) => unknown;
  return read(rows);
}

/**
 * Checks columnar input (see `readColumns`) and infers each column's type by the rules rows follow
 * (numbers are int64 when every one is integral, float64 otherwise; `null`/`undefined` are
 * nulls), except that a typed source fixes its column's type: a `Float64Array`/`Float32Array`
 * or Arrow float column is float64, an integer typed array or Arrow integer column int64.
 * Partition keys are checked per row as rows are. Throws the {@link RowValidationError} the
 * row path would throw for the same rows: the first bad row, and for that row, a partition
 * problem before a column's, columns in input order.
 *
 * @example
 * ```ts
 * const batch = buildColumnBatch('events', readColumns('events', { seed: [1, 1], loss: new Float64Array([0.5, 0.4]) }), [
 *   { name: 'seed', type: t.int64 },
 * ]);
 * ```
 */
export function buildColumnBatch(
  dataset: string,
  input: InputColumns,
  partitionSources: readonly PartitionSource[],
  options: BatchOptions = {},
): StageBatch {
  const { rowCount } = input;
  const byName = new Map(input.columns.map((c) => [c.name, c]));
  const partitionNames = new Set(partitionSources.map((p) => p.name));
  const failures: Array<{ row: number; rank: number; column: string; reason: string }> = [];

  // Partitions: each row's raw key values, compared with the previous row's first.
  const { partitions, indexOf } = partitionIndexer(dataset, partitionSources);
  const partitionOfRow = new Int32Array(rowCount);
  const keyColumns = partitionSources.map((p) => byName.get(p.name));
  const previousRaw: unknown[] = new Array(partitionSources.length);
  try {
    let previousIndex = -1;
    for (let r = 0; r < rowCount; r++) {
      let same = previousIndex >= 0;
      for (let k = 0; k < partitionSources.length; k++) {
        const source = partitionSources[k] as PartitionSource;
        const raw = keyColumns[k]?.valueAt(r) ?? source.defaultValue ?? source.fixedValue;
        if (raw !== previousRaw[k]) {
          same = false;
          previousRaw[k] = raw;
        }
      }
      if (!same) previousIndex = indexOf(r, previousRaw);
      (partitions[previousIndex] as BatchPartition).rowCount++;
      partitionOfRow[r] = previousIndex;
    }
  } catch (error) {
    if (!(error instanceof RowValidationError)) throw error;
    failures.push({ row: error.rowIndex, rank: 0, column: error.column, reason: error.reason });
  }

  const columns: BatchColumn[] = [];
  const data = new Map<string, ColumnData>();
  const float32 = options.float32Columns;
  input.columns.forEach((input, position) => {
    if (partitionNames.has(input.name)) return;
    const declared = options.declaredTypes?.get(input.name);
    const inferred = inferColumn(input, rowCount, declared);
    if ('row' in inferred) {
      failures.push({ ...inferred, rank: 1 + position, column: input.name });
      return;
    }
    let type = inferred.type;
    const wantsFloat32 = !declared && (float32 === 'all' || float32?.has(input.name));
    if (wantsFloat32 && (type.kind === 'float64' || type.kind === 'int64')) type = t.float32;
    columns.push({ name: input.name, type, nonNullCount: inferred.nonNullCount });
    if (type.kind !== 'null') data.set(input.name, inferred.data ?? columnData(input, type, rowCount));
  });

  const first = failures.sort((a, b) => a.row - b.row || a.rank - b.rank)[0];
  if (first) throw new RowValidationError(dataset, first.row, first.column, first.reason);
  return {
    dataset,
    rowCount,
    columns,
    partitionKeys: partitionSources.map((p) => p.name),
    partitions,
    partitionOfRow,
    data,
  };
}

/**
 * A column's type and non-null count (and its staged values when inferring produced them), or
 * its first bad row and why.
 */
function inferColumn(
  input: InputColumn,
  rowCount: number,
  declared: ColumnType | undefined,
): { type: ColumnType; nonNullCount: number; data?: ColumnData } | { row: number; reason: string } {
  if (input.name.length === 0) return { row: 0, reason: 'column name is empty' };
  if (input.nullCount !== undefined && input.hint !== 'any') {
    const nonNullCount = rowCount - input.nullCount;
    if (declared) return { type: declared, nonNullCount };
    if (nonNullCount === 0) return { type: t.null, nonNullCount };
    if (
      input.hint === 'int' &&
      input.data?.kind === 'number' &&
      input.data.values instanceof BigUint64Array
    ) {
      const values = input.data.values;
      for (let i = 0; i < values.length; i++) {
        if ((values[i] as bigint) > 0x7fffffffffffffffn)
          return { row: i, reason: `bigint ${values[i]} is outside int64` };
      }
    }
    const type = { float: t.float64, int: t.int64, bool: t.bool, string: t.string, timestamp: t.timestamp }[
      input.hint
    ];
    return { type, nonNullCount };
  }
  // A plain array of strings: checked and dictionary-encoded in one pass.
  const strings =
    input.array && (!declared || declared.kind === 'string') ? stringArray(input.array) : undefined;
  if (strings) return { type: t.string, ...strings };
  // Values as rows hold them: the row path's inference, value by value.
  const column = { type: declared ?? (t.null as ColumnType), firstTypedRow: -1 };
  let nonNullCount = 0;
  for (let r = 0; r < rowCount; r++) {
    const value = input.valueAt(r);
    if (value === null || value === undefined) continue;
    nonNullCount++;
    if (declared) continue;
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
    if (problem) return { row: r, reason: problem };
  }
  return { type: column.type, nonNullCount };
}

/**
 * A plain array's dictionary encoding when its first non-null value is a string and every other
 * one is too (else undefined: the column is inferred value by value, which names the bad row).
 */
function stringArray(array: readonly unknown[]): { data: ColumnData; nonNullCount: number } | undefined {
  const first = array.find((v) => v !== null && v !== undefined);
  if (typeof first !== 'string') return undefined;
  const encoded = encodeStringArray(array);
  return 'data' in encoded ? encoded : undefined;
}

/**
 * The staged values of a column of type `type`: its typed storage as it is when that storage
 * holds the type (numbers for a numeric column, codes for a string column), else its values
 * encoded for the type.
 */
function columnData(input: InputColumn, type: ColumnType, rowCount: number): ColumnData {
  const data = input.data;
  if (data) {
    const numeric =
      type.kind === 'float64' ||
      type.kind === 'float32' ||
      type.kind === 'int64' ||
      type.kind === 'int32' ||
      type.kind === 'int16';
    if (data.kind === 'number' && numeric && !(data.values instanceof BigUint64Array)) return data;
    if (data.kind === 'bool' && type.kind === 'bool') return data;
    if (data.kind === 'dict' && type.kind === 'string') return data;
    if (data.kind === 'micros' && type.kind === 'timestamp') return data;
  }
  return encodeValues(type, rowCount, input.valueAt);
}
