/**
 * Helpers for the dtypes JS has no native type for (see docs/shards.md, "Arrays"): build arrays
 * of strings, bytes and datetimes for the writer, and read their values back. The arrays
 * themselves keep the on-disk representation, so they write back byte-exact.
 */
import { DTYPES, explainDescr, type ParsedDescr, repr } from './dtype.js';
import { decodeNpy, type NdArray, ndarray, parseDescrText } from './npy.js';

/**
 * The values of a `unicode` (`<U…`) or `bytes` (`|S…`) array as strings, trailing NULs removed
 * as numpy removes them (`bytes` decoded as latin1, one char per byte).
 *
 * @example
 * ```ts
 * npyStrings(reader.getSample('a').arrays.names); // ['alice', 'bob']
 * ```
 */
export function npyStrings(array: NdArray): string[] {
  const { lanes } = parsed(array);
  const out: string[] = [];
  if (array.dtype === 'unicode') {
    const units = array.data as Uint32Array;
    for (let i = 0; i < units.length; i += lanes) {
      let end = i + lanes;
      while (end > i && units[end - 1] === 0) end--;
      out.push(String.fromCodePoint(...units.subarray(i, end)));
    }
    return out;
  }
  if (array.dtype === 'bytes') return npyByteRows(array).map((row) => Buffer.from(row).toString('latin1'));
  throw new TypeError(`npyStrings needs a unicode or bytes array, got ${array.dtype}`);
}

/**
 * The values of a `bytes` (`|S…`) array as byte rows, trailing NULs removed as numpy does.
 *
 * @example
 * ```ts
 * npyByteRows(array)[0]; // Uint8Array [0x61, 0x62]
 * ```
 */
export function npyByteRows(array: NdArray): Uint8Array[] {
  const { lanes } = parsed(array);
  const bytes = array.data as Uint8Array;
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += lanes) {
    let end = i + lanes;
    while (end > i && bytes[end - 1] === 0) end--;
    out.push(bytes.slice(i, end));
  }
  return out;
}

/**
 * Builds a `unicode` array (`<U n`, n the longest string in code points, at least 1), as
 * `numpy.array(strings)` does.
 *
 * @example
 * ```ts
 * writer.addSample({ names: unicodeArray(['alice', 'bob']) });
 * ```
 */
export function unicodeArray(
  strings: readonly string[],
  shape: readonly number[] = [strings.length],
): NdArray {
  const points = strings.map((s) => Array.from(s, (c) => c.codePointAt(0) as number));
  const width = points.reduce((m, p) => Math.max(m, p.length), 1);
  const data = new Uint32Array(width * strings.length);
  for (const [i, p] of points.entries()) data.set(p, i * width);
  return ndarray(data, shape, { descr: `<U${width}` });
}

/**
 * Builds a `bytes` array (`|S n`, n the longest row, at least 1); strings are taken as latin1.
 *
 * @example
 * ```ts
 * writer.addSample({ tags: bytesArray(['ab', new Uint8Array([0, 255])]) });
 * ```
 */
export function bytesArray(
  rows: readonly (Uint8Array | string)[],
  shape: readonly number[] = [rows.length],
): NdArray {
  const bytes = rows.map((r) => (typeof r === 'string' ? Buffer.from(r, 'latin1') : r));
  const width = bytes.reduce((m, b) => Math.max(m, b.length), 1);
  const data = new Uint8Array(width * rows.length);
  for (const [i, b] of bytes.entries()) data.set(b, i * width);
  return ndarray(data, shape, { descr: `|S${width}` });
}

/**
 * Builds a `datetime64` or `timedelta64` array: int64 counts of `unit` (`'ns'`, `'s'`, `'D'`, …);
 * NaT is the smallest int64.
 *
 * @example
 * ```ts
 * datetimeArray(new BigInt64Array([1_700_000_000n]), 's'); // descr '<M8[s]'
 * ```
 */
export function datetimeArray(
  values: BigInt64Array,
  unit: string,
  options: { shape?: readonly number[]; kind?: 'datetime64' | 'timedelta64' } = {},
): NdArray {
  const letter = options.kind === 'timedelta64' ? 'm' : 'M';
  return ndarray(values, options.shape ?? [values.length], { descr: `<${letter}8[${unit}]` });
}

/**
 * The unit of a `datetime64` / `timedelta64` array (`'ns'`, `'D'`, …).
 *
 * @example
 * ```ts
 * datetimeUnit(array); // 'ns'
 * ```
 */
export function datetimeUnit(array: NdArray): string {
  if (array.dtype !== 'datetime64' && array.dtype !== 'timedelta64')
    throw new TypeError(`datetimeUnit needs a datetime64 or timedelta64 array, got ${array.dtype}`);
  // `<m8` without a unit is numpy's generic unit.
  return /\[(\d*[A-Za-zμ]+)\]$/.exec(array.descr ?? '')?.[1] ?? 'generic';
}

/**
 * One JSON-able value per element, for display: numbers (non-finite as strings), bigints as
 * strings, complex as `[re, im]`, strings for `unicode`/`bytes`, hex for raw dtypes.
 *
 * @example
 * ```ts
 * arrayValues(unicodeArray(['a'])); // ['a']
 * ```
 */
export function arrayValues(array: NdArray): unknown[] {
  const number = (v: number | bigint): unknown =>
    typeof v === 'bigint' ? v.toString() : Number.isFinite(v) ? v : String(v);
  if (array.dtype === 'unicode' || array.dtype === 'bytes') return npyStrings(array);
  const info = DTYPES[array.dtype];
  const { lanes } = parsed(array);
  const data = array.data as ArrayLike<number | bigint>;
  const out: unknown[] = [];
  if (info.codec === 'raw') {
    const bytes = array.data as Uint8Array;
    for (let i = 0; i < bytes.length; i += lanes)
      out.push(Buffer.from(bytes.subarray(i, i + lanes)).toString('hex'));
    return out;
  }
  if (lanes === 2) {
    for (let i = 0; i < data.length; i += 2)
      out.push([number(data[i] as number), number(data[i + 1] as number)]);
    return out;
  }
  return Array.from(data, number);
}

function parsed(array: NdArray): ParsedDescr {
  const info = DTYPES[array.dtype];
  const descr = array.descr ?? `${info.itemsize === 1 ? '|' : '<'}${info.code}`;
  const result = explainDescr(descr.startsWith('[') ? undefined : descr);
  if ('refused' in result) {
    // Structured arrays: one element is `itemsize` raw bytes; the data length says how many.
    const count = array.shape.reduce((a, b) => a * b, 1);
    const lanes = count === 0 ? 1 : array.data.length / count;
    return { dtype: info, littleEndian: true, itemsize: lanes, descr, lanes };
  }
  return result;
}

/**
 * One field of a structured record, as numpy's `descr` lays it out.
 *
 * @example
 * ```ts
 * structuredFields(array); // [{ name: 'x', descr: '<f4', offset: 0, shape: [] }, …]
 * ```
 */
export interface StructuredField {
  readonly name: string;
  /** A simple descr (`'<f4'`) or, for a nested record, numpy's field list. */
  readonly descr: string;
  /** Byte offset of the field inside a record. */
  readonly offset: number;
  /** The field's subarray shape (`[]` for a scalar field). */
  readonly shape: readonly number[];
  readonly itemsize: number;
}

/**
 * The fields of a `structured` array's records, with their byte offsets.
 *
 * @example
 * ```ts
 * structuredFields(reader.getSample('a').arrays.points).map((f) => f.name); // ['x', 'y']
 * ```
 */
export function structuredFields(array: NdArray): StructuredField[] {
  if (array.dtype !== 'structured' || !array.descr)
    throw new TypeError(`structuredFields needs a structured array, got ${array.dtype}`);
  const list = parseDescrText(array.descr) as unknown[];
  const out: StructuredField[] = [];
  let offset = 0;
  for (const field of list) {
    const [name, inner, shape] = field as [string, unknown, unknown];
    const descr = Array.isArray(inner) ? repr(inner) : String(inner);
    const dims = shape === undefined ? [] : ((Array.isArray(shape) ? shape : [shape]) as number[]);
    const parsedField = explainDescr(inner);
    if ('refused' in parsedField) throw new TypeError(parsedField.refused);
    const itemsize = parsedField.itemsize * dims.reduce((a, b) => a * b, 1);
    out.push({ name, descr, offset, shape: dims, itemsize });
    offset += itemsize;
  }
  return out;
}

/**
 * One field of a `structured` array as its own array (a copy), with the record array's shape
 * followed by the field's subarray shape.
 *
 * @example
 * ```ts
 * structuredField(points, 'x').data; // Float32Array of every record's x
 * ```
 */
export function structuredField(array: NdArray, name: string): NdArray {
  const fields = structuredFields(array);
  const field = fields.find((f) => f.name === name);
  if (!field) throw new TypeError(`no field "${name}" (fields: ${fields.map((f) => f.name).join(', ')})`);
  const record = fields.reduce((n, f) => n + f.itemsize, 0);
  const bytes = array.data as Uint8Array;
  const count = record === 0 ? 0 : bytes.length / record;
  const out = new Uint8Array(count * field.itemsize);
  for (let i = 0; i < count; i++)
    out.set(
      bytes.subarray(i * record + field.offset, i * record + field.offset + field.itemsize),
      i * field.itemsize,
    );
  // Through the decoder, so the field gets the typed array, byte order and descr its dtype has.
  return decodeNpy(npyOf(out, field.descr, [...array.shape, ...field.shape], array.order));
}

/** `.npy` bytes for raw data with a descr (the decoder then picks the typed array). */
function npyOf(data: Uint8Array, descr: string, shape: readonly number[], order: 'C' | 'F'): Uint8Array {
  const dims = shape.length === 0 ? '()' : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': ${descr.startsWith('[') ? descr : `'${descr}'`}, 'fortran_order': ${order === 'F' ? 'True' : 'False'}, 'shape': ${dims}, }`;
  const total = Math.ceil((12 + dict.length + 1) / 64) * 64;
  const header = Buffer.alloc(total, 0x20);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0], 0);
  header.writeUInt32LE(total - 12, 8);
  header.write(dict, 12, 'latin1');
  header[total - 1] = 0x0a;
  return Buffer.concat([header, data]);
}
