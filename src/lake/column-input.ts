import { type Data, type DataType, TimeUnit, Type, type Vector } from 'apache-arrow';
import { type ColumnData, type NumericArray, narrowCodes, newValidity, setNull } from './column-data.js';
import { RowValidationError } from './errors.js';
import type { Row } from './row-batch.js';

/**
 * The values of one column in a {@link ColumnObject}: a typed array (no nulls) or a plain array
 * whose `null`/`undefined` items are nulls.
 */
export type ColumnValues =
  | Float64Array
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | readonly unknown[];

/**
 * Rows as columns: column name to its values, every column the same length.
 *
 * @example
 * ```ts
 * const columns: ColumnObject = {
 *   step: new BigInt64Array([0n, 1n]),
 *   value: new Float64Array([2.3, 2.1]),
 *   metric_name: ['loss', 'loss'],
 * };
 * ```
 */
export type ColumnObject = Readonly<Record<string, ColumnValues>>;

/**
 * The parts of an Apache Arrow `Table` or `RecordBatch` a write reads (structural, so a table
 * from another copy of `apache-arrow` works too).
 */
export interface ArrowTableLike {
  readonly schema: { readonly fields: ReadonlyArray<{ readonly name: string; readonly type: DataType }> };
  readonly numRows: number;
  getChildAt(index: number): Vector | null;
}

/**
 * What a write takes: row objects, a {@link ColumnObject}, or an Apache Arrow `Table` /
 * `RecordBatch`. All three are checked by the same rules and written the same way; the last two
 * reach DuckDB without a call per value.
 */
export type WriteInput = readonly Row[] | ColumnObject | ArrowTableLike;

/**
 * One input column, normalised: its values as a row would hold them (`valueAt`), and, when the
 * source was typed (a typed array, an Arrow buffer), storage that stages as it is.
 */
export interface InputColumn {
  readonly name: string;
  /**
   * What the source says the values are: `float`/`int`/`bool`/`string` fix the column's type
   * (a typed array or an Arrow type); `any` values are inferred as row values are.
   */
  readonly hint: 'float' | 'int' | 'bool' | 'string' | 'timestamp' | 'any';
  /** Typed storage, staged without touching the values (absent for plain arrays). */
  readonly data?: ColumnData;
  /** Nulls in the column, when known without a scan (typed sources). */
  readonly nullCount?: number;
  /** The source array itself, for a column given as a plain array (read in one pass). */
  readonly array?: readonly unknown[];
  readonly valueAt: (row: number) => unknown;
}

/** A columnar input, normalised column by column. */
export interface InputColumns {
  readonly rowCount: number;
  readonly columns: readonly InputColumn[];
}

/**
 * True when a write input is columnar (a column object or an Arrow table/batch) rather than an
 * array of rows.
 *
 * @example
 * ```ts
 * isColumnarInput({ step: [1, 2] }); // true
 * isColumnarInput([{ step: 1 }]); // false
 * ```
 */
export function isColumnarInput(input: WriteInput): input is ColumnObject | ArrowTableLike {
  return !Array.isArray(input);
}

/**
 * The row count of a write input (for a column object, its longest column; {@link readColumns}
 * refuses columns of different lengths).
 *
 * @example
 * ```ts
 * inputRowCount({ step: new Int32Array(3) }); // 3
 * ```
 */
export function inputRowCount(input: WriteInput): number {
  if (Array.isArray(input)) return input.length;
  if (isArrowTable(input)) return input.numRows;
  let count = 0;
  for (const values of Object.values(input as ColumnObject)) {
    // Only arrays count: readColumns refuses anything else, naming the column.
    if (Array.isArray(values) || ArrayBuffer.isView(values)) count = Math.max(count, values.length);
  }
  return count;
}

/**
 * True when no row of the input has a value for `column` (absent, or null everywhere).
 *
 * @example
 * ```ts
 * columnIsAllNull({ seed: [null, null] }, 'seed'); // true
 * ```
 */
export function columnIsAllNull(input: WriteInput, column: string): boolean {
  if (Array.isArray(input)) return (input as readonly Row[]).every((r) => r?.[column] == null);
  let found: InputColumn | undefined;
  try {
    found = readColumns('', input as ColumnObject | ArrowTableLike, column).columns[0];
  } catch {
    return false; // the write itself refuses the input, naming its dataset
  }
  if (!found) return true;
  if (found.nullCount !== undefined) return found.nullCount === inputRowCount(input);
  const count = inputRowCount(input);
  for (let i = 0; i < count; i++) if (found.valueAt(i) != null) return false;
  return true;
}

function isArrowTable(input: unknown): input is ArrowTableLike {
  const candidate = input as Partial<ArrowTableLike>;
  return (
    typeof candidate.getChildAt === 'function' &&
    typeof candidate.numRows === 'number' &&
    Array.isArray(candidate.schema?.fields)
  );
}

/**
 * Reads a column object or an Arrow table (or only its column `only`) into {@link InputColumns}.
 * Refuses, with a
 * {@link RowValidationError} naming the column, a column that is not an array or typed array,
 * columns of different lengths, and Arrow types a lake cannot hold.
 *
 * @example
 * ```ts
 * readColumns('events', { step: new Int32Array([1, 2]), op: ['a', 'b'] }).rowCount; // 2
 * ```
 */
export function readColumns(
  dataset: string,
  input: ColumnObject | ArrowTableLike,
  only?: string,
): InputColumns {
  if (isArrowTable(input)) return readArrow(dataset, input, only);
  if (input === null || typeof input !== 'object') {
    throw new RowValidationError(dataset, 0, '', 'input is neither rows, a column object nor an Arrow table');
  }
  const entries = Object.entries(input as ColumnObject).filter(
    ([name, values]) => values !== undefined && (only === undefined || name === only),
  );
  const rowCount = inputRowCount(input);
  const columns = entries.map(([name, values]): InputColumn => {
    if (ArrayBuffer.isView(values) && !(values instanceof DataView)) {
      const typed = values as NumericArray;
      if (typed.length !== rowCount) lengthMismatch(dataset, name, typed.length, entries, rowCount);
      const float = typed instanceof Float64Array || typed instanceof Float32Array;
      return {
        name,
        hint: float ? 'float' : 'int',
        data: { kind: 'number', values: typed },
        nullCount: 0,
        valueAt: (i) => typed[i],
      };
    }
    if (!Array.isArray(values)) {
      throw new RowValidationError(
        dataset,
        0,
        name,
        `column values are ${values === null ? 'null' : `a ${typeof values}`}, not an array or a typed array`,
      );
    }
    const array = values as readonly unknown[];
    if (array.length !== rowCount) lengthMismatch(dataset, name, array.length, entries, rowCount);
    return { name, hint: 'any', array, valueAt: (i) => array[i] };
  });
  return { rowCount, columns };
}

function lengthMismatch(
  dataset: string,
  name: string,
  length: number,
  entries: ReadonlyArray<[string, { length: number }]>,
  rowCount: number,
): never {
  const longest = entries.find(([, v]) => v.length === rowCount)?.[0] ?? '';
  throw new RowValidationError(
    dataset,
    length,
    name,
    `column has ${length} values but column "${longest}" has ${rowCount}`,
  );
}

function readArrow(dataset: string, table: ArrowTableLike, only: string | undefined): InputColumns {
  const rowCount = table.numRows;
  const columns: InputColumn[] = [];
  table.schema.fields.forEach((field, index) => {
    if (only !== undefined && field.name !== only) return;
    const vector = table.getChildAt(index) as Vector;
    columns.push(arrowColumn(dataset, field.name, field.type, vector, rowCount));
  });
  return { rowCount, columns };
}

/** The validity mask of Arrow chunks as one mask from row 0, or undefined without nulls. */
function arrowValidity(chunks: readonly Data[], rowCount: number): Uint8Array | undefined {
  if (chunks.every((d) => d.nullCount === 0)) return undefined;
  const valid = newValidity(rowCount);
  let row = 0;
  for (const data of chunks) {
    const bitmap = data.nullBitmap;
    if (data.nullCount > 0 && bitmap && bitmap.length > 0) {
      for (let i = 0; i < data.length; i++) {
        const bit = data.offset + i;
        if (((bitmap[bit >> 3] as number) & (1 << (bit & 7))) === 0) setNull(valid, row + i);
      }
    } else if (data.nullCount > 0) {
      // No bitmap but nulls: a Null-typed column, every row null.
      for (let i = 0; i < data.length; i++) setNull(valid, row + i);
    }
    row += data.length;
  }
  return valid;
}

/** Arrow's primitive chunks as one typed array from row 0 (no copy for a single unsliced chunk). */
function concatValues(chunks: readonly Data[], rowCount: number): NumericArray {
  const first = chunks[0]?.values as NumericArray;
  if (chunks.length === 1 && first.length === rowCount && chunks[0]?.offset === 0) return first;
  const Ctor = first.constructor as new (n: number) => NumericArray;
  const out = new Ctor(rowCount);
  let row = 0;
  for (const data of chunks) {
    const values = data.values as NumericArray;
    (out as Float64Array).set((values as Float64Array).subarray(data.offset, data.offset + data.length), row);
    row += data.length;
  }
  return out;
}

function arrowColumn(
  dataset: string,
  name: string,
  type: DataType,
  vector: Vector,
  rowCount: number,
): InputColumn {
  const chunks = vector.data as readonly Data[];
  const nullCount = chunks.reduce((n, d) => n + d.nullCount, 0);
  const valid = arrowValidity(chunks, rowCount);
  const generic: InputColumn = {
    name,
    hint: 'any',
    nullCount,
    valueAt: (i) => arrowValue(vector.get(i)),
  };
  switch (type.typeId) {
    case Type.Float: {
      // Half floats arrive as Uint16Array bits: read them through Arrow.
      if ((type as { precision?: number }).precision === 0) return { ...generic, hint: 'float' };
      const values = concatValues(chunks, rowCount);
      return {
        name,
        hint: 'float',
        nullCount,
        data: { kind: 'number', values, valid },
        valueAt: (i) => (valid && nullAt(valid, i) ? null : values[i]),
      };
    }
    case Type.Int: {
      const values = concatValues(chunks, rowCount);
      return {
        name,
        hint: 'int',
        nullCount,
        data: { kind: 'number', values, valid },
        valueAt: (i) => (valid && nullAt(valid, i) ? null : values[i]),
      };
    }
    case Type.Bool: {
      const values = new Uint8Array(rowCount);
      let row = 0;
      for (const data of chunks) {
        const bits = data.values as Uint8Array;
        for (let i = 0; i < data.length; i++) {
          const bit = data.offset + i;
          values[row + i] = ((bits[bit >> 3] as number) >> (bit & 7)) & 1;
        }
        row += data.length;
      }
      return {
        name,
        hint: 'bool',
        nullCount,
        data: { kind: 'bool', values, valid },
        valueAt: (i) => (valid && nullAt(valid, i) ? null : values[i] === 1),
      };
    }
    case Type.Dictionary:
      return arrowDictionary(dataset, name, type, chunks, rowCount, valid, nullCount) ?? generic;
    case Type.Utf8:
    case Type.LargeUtf8:
      return { ...generic, hint: 'string' };
    case Type.Null:
      return { ...generic, nullCount: rowCount, valueAt: () => null };
    case Type.Timestamp: {
      // Microseconds since the epoch, TIMESTAMP WITH TIME ZONE's own storage: copied, not converted
      // to a Date per value (the unit's scale is applied once per value only when it is not µs).
      const unit = (type as unknown as { unit: TimeUnit }).unit;
      const values = new BigInt64Array(rowCount);
      let row = 0;
      for (const data of chunks) {
        const source = (data.values as BigInt64Array).subarray(data.offset, data.offset + data.length);
        if (unit === TimeUnit.MICROSECOND) values.set(source, row);
        else {
          for (let i = 0; i < source.length; i++) values[row + i] = toMicros(source[i] as bigint, unit);
        }
        row += data.length;
      }
      return {
        name,
        hint: 'timestamp',
        nullCount,
        data: { kind: 'micros', values, valid },
        valueAt: (i) => (valid && nullAt(valid, i) ? null : new Date(Number((values[i] as bigint) / 1000n))),
      };
    }
    case Type.Date:
      // Arrow gives epoch milliseconds whatever the unit; a row holds a Date.
      return {
        ...generic,
        valueAt: (i) => {
          const value = vector.get(i) as number | bigint | Date | null;
          return value === null || value === undefined ? null : new Date(Number(value));
        },
      };
    case Type.List:
    case Type.FixedSizeList:
    case Type.Struct:
      return generic;
    default:
      throw new RowValidationError(
        dataset,
        0,
        name,
        `Arrow type ${String(type)} has no lake column type (numbers, booleans, strings, timestamps, lists and structs do)`,
      );
  }
}

/**
 * A dictionary of strings: its codes and dictionary as they are, when every chunk shares one
 * dictionary of distinct strings; otherwise codes remapped into one merged dictionary.
 */
function arrowDictionary(
  dataset: string,
  name: string,
  type: DataType,
  chunks: readonly Data[],
  rowCount: number,
  valid: Uint8Array | undefined,
  nullCount: number,
): InputColumn | undefined {
  const valueType = (type as unknown as { dictionary: DataType }).dictionary;
  if (valueType.typeId !== Type.Utf8 && valueType.typeId !== Type.LargeUtf8) {
    throw new RowValidationError(
      dataset,
      0,
      name,
      `Arrow dictionary of ${String(valueType)} is not supported`,
    );
  }
  const merged: string[] = [];
  const index = new Map<string, number>();
  const codes = new Uint32Array(rowCount);
  let row = 0;
  let lastDictionary: unknown;
  let remap: Uint32Array = new Uint32Array(0);
  for (const data of chunks) {
    if (data.dictionary !== lastDictionary) {
      lastDictionary = data.dictionary;
      const words = (data.dictionary?.toArray() ?? []) as Array<string | null>;
      remap = new Uint32Array(words.length);
      words.forEach((word, k) => {
        const text = word ?? '';
        let code = index.get(text);
        if (code === undefined) {
          code = merged.length;
          merged.push(text);
          index.set(text, code);
        }
        remap[k] = code;
      });
    }
    const keys = data.values as NumericArray;
    for (let i = 0; i < data.length; i++) {
      codes[row + i] = remap[Number(keys[data.offset + i])] ?? 0;
    }
    row += data.length;
  }
  const narrowed = narrowCodes(codes, merged.length);
  return {
    name,
    hint: 'string',
    nullCount,
    data: { kind: 'dict', codes: narrowed, dictionary: merged, valid },
    valueAt: (i) => (valid && nullAt(valid, i) ? null : merged[narrowed[i] as number]),
  };
}

function toMicros(value: bigint, unit: TimeUnit): bigint {
  if (unit === TimeUnit.SECOND) return value * 1_000_000n;
  if (unit === TimeUnit.MILLISECOND) return value * 1000n;
  if (unit === TimeUnit.NANOSECOND) return value / 1000n;
  return value;
}

function nullAt(valid: Uint8Array, i: number): boolean {
  return ((valid[i >> 3] as number) & (1 << (i & 7))) === 0;
}

/**
 * An Arrow value as a row would hold it: nested vectors become arrays, struct rows plain objects,
 * typed arrays arrays of numbers, timestamps and dates `Date`s (Arrow gives epoch milliseconds).
 */
function arrowValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return value;
  if (value instanceof Date) return value;
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>);
  const nested = value as { toArray?: () => unknown; toJSON?: () => unknown };
  if (typeof nested.toArray === 'function' && 'type' in value && 'data' in value) {
    return Array.from(nested.toArray() as ArrayLike<unknown>, arrowValue);
  }
  if (typeof nested.toJSON === 'function') {
    const object = nested.toJSON() as Record<string, unknown>;
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, arrowValue(v)]));
  }
  return value;
}
