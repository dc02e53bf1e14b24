import type { ColumnType } from './column-types.js';

/** A typed array whose elements a numeric column stages as they are. */
export type NumericArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * One column's values, held so they reach DuckDB without a call per value: numbers, booleans
 * and dictionary codes are copied into data chunks a vector (2048 rows) at a time. `valid` is a
 * validity bitmask (bit `i` of byte `i >> 3` set when row `i` is not null, DuckDB's and Arrow's bit
 * order, padded to whole 64-bit words); absent when no row is null.
 *
 * - `number`: a typed array, staged with its own DuckDB type (DOUBLE, INTEGER, BIGINT, …) and
 *   cast to the column's type when copied into Parquet.
 * - `bool`: one byte per row, 0 or 1 (DuckDB's BOOLEAN layout).
 * - `dict`: strings as codes into a dictionary, staged as a DuckDB ENUM.
 * - `micros`: timestamps as microseconds since the epoch (UTC), staged as TIMESTAMP WITH TIME
 *   ZONE, whose vectors hold exactly that (an Arrow timestamp column, converted once per column).
 * - `strings`: strings too many distinct for an ENUM, assigned one by one.
 * - `values`: anything else (timestamps, lists, structs), converted one value at a time.
 */
export type ColumnData =
  | { readonly kind: 'number'; readonly values: NumericArray; readonly valid?: Uint8Array }
  | { readonly kind: 'bool'; readonly values: Uint8Array; readonly valid?: Uint8Array }
  | { readonly kind: 'micros'; readonly values: BigInt64Array; readonly valid?: Uint8Array }
  | {
      readonly kind: 'dict';
      readonly codes: Uint8Array | Uint16Array | Uint32Array;
      readonly dictionary: readonly string[];
      readonly valid?: Uint8Array;
    }
  | { readonly kind: 'strings'; readonly values: ReadonlyArray<string | null | undefined> }
  | {
      readonly kind: 'values';
      readonly type: ColumnType;
      readonly length: number;
      readonly valueAt: (row: number) => unknown;
    };

/**
 * A dictionary larger than this is staged as plain VARCHAR: the ENUM type is spelled out in the
 * stage table's SQL, and a dictionary near the row count saves nothing.
 */
export const MAX_ENUM_VALUES = 50_000;

/** An all-valid validity bitmask for `length` rows, whole 64-bit words. */
export function newValidity(length: number): Uint8Array {
  return new Uint8Array(Math.ceil(length / 64) * 8).fill(0xff);
}

/** Clears row `i`'s bit. */
export function setNull(valid: Uint8Array, i: number): void {
  valid[i >> 3] = (valid[i >> 3] as number) & ~(1 << (i & 7));
}

/** True when row `i`'s bit is set (or there is no mask). */
export function isValid(valid: Uint8Array | undefined, i: number): boolean {
  return valid === undefined || ((valid[i >> 3] as number) & (1 << (i & 7))) !== 0;
}

/**
 * Encodes a column of JS values (as rows or plain arrays hold them, already checked against
 * `type`) into typed storage: numbers into a `Float64Array` (a `BigInt64Array` once an int64
 * column holds a bigint), booleans into bytes, strings into dictionary codes; other types keep
 * their values. `null` and `undefined` are nulls.
 *
 * @example
 * ```ts
 * encodeValues(t.float64, 3, (i) => [0.5, null, 2][i]); // { kind: 'number', values: Float64Array [0.5, 0, 2], valid }
 * ```
 */
export function encodeValues(
  type: ColumnType,
  length: number,
  valueAt: (row: number) => unknown,
): ColumnData {
  switch (type.kind) {
    case 'float64':
    case 'float32':
    case 'int16':
    case 'int32':
    case 'int64': {
      const data = encodeNumbers(type.kind === 'int64', length, valueAt);
      const integral = type.kind !== 'float64' && type.kind !== 'float32';
      return integral && data.kind === 'number' ? { ...data, values: narrowIntegers(data.values) } : data;
    }
    case 'bool': {
      const values = new Uint8Array(length);
      let valid: Uint8Array | undefined;
      for (let i = 0; i < length; i++) {
        const value = valueAt(i);
        if (value === null || value === undefined) {
          valid ??= newValidity(length);
          setNull(valid, i);
        } else if (value === true) values[i] = 1;
      }
      return { kind: 'bool', values, valid };
    }
    case 'string':
      return encodeStrings(length, valueAt);
    default:
      return { kind: 'values', type, length, valueAt };
  }
}

/**
 * An integer column's numbers as an `Int32Array` when every one fits (the COPY casts to the
 * column's type either way): DuckDB appends 4-byte integers in about half the time of doubles
 * (the write-events bench's `event_id` and `step` from rows: 415–600 ms per 2.5M-row grid to
 * 213–387 ms). Other storage is returned as it is.
 *
 * @example
 * ```ts
 * narrowIntegers(new Float64Array([1, 2])); // Int32Array [1, 2]
 * narrowIntegers(new Float64Array([2 ** 40])); // Float64Array [1099511627776]
 * ```
 */
export function narrowIntegers(values: NumericArray): NumericArray {
  if (!(values instanceof Float64Array)) return values;
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number;
    if (value > 2147483647 || value < -2147483648) return values;
  }
  return Int32Array.from(values);
}

function encodeNumbers(int64: boolean, length: number, valueAt: (row: number) => unknown): ColumnData {
  const values = new Float64Array(length);
  let valid: Uint8Array | undefined;
  for (let i = 0; i < length; i++) {
    const value = valueAt(i);
    if (typeof value === 'number') values[i] = value;
    else if (value === null || value === undefined) {
      valid ??= newValidity(length);
      setNull(valid, i);
    } else if (typeof value === 'bigint') {
      // A bigint beyond 2^53 would lose digits in a double: an int64 column stages as BIGINT.
      if (int64) return encodeBigInts(length, valueAt);
      values[i] = Number(value);
    }
  }
  return { kind: 'number', values, valid };
}

function encodeBigInts(length: number, valueAt: (row: number) => unknown): ColumnData {
  const values = new BigInt64Array(length);
  let valid: Uint8Array | undefined;
  for (let i = 0; i < length; i++) {
    const value = valueAt(i);
    if (typeof value === 'bigint') values[i] = value;
    else if (typeof value === 'number') values[i] = BigInt(value);
    else {
      valid ??= newValidity(length);
      setNull(valid, i);
    }
  }
  return { kind: 'number', values, valid };
}

/**
 * Strings as dictionary codes. Consecutive rows often repeat the same string (one metric's
 * points, one op): the previous value is compared first, by identity, before the Map lookup.
 */
function encodeStrings(length: number, valueAt: (row: number) => unknown): ColumnData {
  return (dictionaryEncode(length, valueAt, false) as { data: ColumnData }).data;
}

/**
 * A plain array of strings (and `null`/`undefined`) encoded in the same pass that checks it:
 * its {@link ColumnData} and non-null count, or the first row holding something else (then the
 * caller infers that column value by value, as rows are).
 *
 * @example
 * ```ts
 * encodeStringArray(['loss', null, 'loss']); // { data: { kind: 'dict', codes: Uint8Array [0, 0, 0], … }, nonNullCount: 2 }
 * encodeStringArray(['loss', 3]); // { row: 1 }
 * ```
 */
export function encodeStringArray(
  array: readonly unknown[],
): { data: ColumnData; nonNullCount: number } | { row: number } {
  return dictionaryEncode(array.length, (i) => array[i], true);
}

function dictionaryEncode(
  length: number,
  valueAt: (row: number) => unknown,
  stopAtNonString: boolean,
): { data: ColumnData; nonNullCount: number } | { row: number } {
  const codes = new Uint32Array(length);
  const dictionary: string[] = [];
  const index = new Map<string, number>();
  let valid: Uint8Array | undefined;
  let previous: string | undefined;
  let previousCode = 0;
  let nulls = 0;
  for (let i = 0; i < length; i++) {
    const value = valueAt(i);
    if (typeof value !== 'string') {
      if (stopAtNonString && value !== null && value !== undefined) return { row: i };
      valid ??= newValidity(length);
      setNull(valid, i);
      nulls++;
      continue;
    }
    if (value === previous) {
      codes[i] = previousCode;
      continue;
    }
    let code = index.get(value);
    if (code === undefined) {
      code = dictionary.length;
      dictionary.push(value);
      index.set(value, code);
    }
    codes[i] = code;
    previous = value;
    previousCode = code;
  }
  const nonNullCount = length - nulls;
  if (dictionary.length > MAX_ENUM_VALUES) {
    const values = Array.from({ length }, (_, i) =>
      isValid(valid, i) ? dictionary[codes[i] as number] : null,
    );
    return { data: { kind: 'strings', values }, nonNullCount };
  }
  return {
    data: { kind: 'dict', codes: narrowCodes(codes, dictionary.length), dictionary, valid },
    nonNullCount,
  };
}

/**
 * Codes in the width DuckDB gives an ENUM of `size` values (UTINYINT up to 255 values, USMALLINT
 * up to 65535, else UINTEGER), so they copy into its vectors as they are.
 */
export function narrowCodes(
  codes: Uint8Array | Uint16Array | Uint32Array | Int32Array | Int16Array | Int8Array,
  size: number,
): Uint8Array | Uint16Array | Uint32Array {
  if (size <= 255) return codes instanceof Uint8Array ? codes : new Uint8Array(codes);
  if (size <= 65535) return codes instanceof Uint16Array ? codes : new Uint16Array(codes);
  return codes instanceof Uint32Array ? codes : new Uint32Array(codes);
}

/** Rows of a column's data (`values` columns carry theirs). */
export function dataLength(data: ColumnData): number {
  switch (data.kind) {
    case 'dict':
      return data.codes.length;
    case 'values':
      return data.length;
    default:
      return data.values.length;
  }
}
