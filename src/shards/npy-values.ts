/**
 * Helpers for the dtypes JS has no native type for (see docs/shards.md, "Arrays"): build arrays
 * of strings, bytes and datetimes for the writer, and read their values back. The arrays
 * themselves keep the on-disk representation, so they write back byte-exact.
 */
import { DTYPES, explainDescr, type ParsedDescr } from './dtype.js';
import { type NdArray, ndarray } from './npy.js';

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
  const match = /\[(\d*[A-Za-zμ]+)\]$/.exec(array.descr ?? '');
  if (!match) throw new TypeError(`datetimeUnit needs a datetime64 or timedelta64 array, got ${array.dtype}`);
  return match[1] as string;
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
