import { endianness } from 'node:os';

/**
 * The element types runlake stores in `.npy` members, named as numpy names them. The first twelve
 * have a native JS typed array; the others come back in a faithful representation (see
 * {@link DTYPES} and docs/shards.md "Arrays"): complex as interleaved real/imaginary floats,
 * `unicode` (`<U…`) as UTF-32 code units, `bytes` (`|S…`) as raw bytes, `datetime64` /
 * `timedelta64` as int64 counts of the unit in `descr`, `longdouble` / `clongdouble`, `void` and
 * `structured` as the bytes on disk with their `descr`.
 *
 * @example
 * ```ts
 * const d: DType = 'float32';
 * ```
 */
export type DType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'complex64'
  | 'complex128'
  | 'longdouble'
  | 'clongdouble'
  | 'datetime64'
  | 'timedelta64'
  | 'unicode'
  | 'bytes'
  | 'void'
  | 'structured';

/**
 * The JS typed arrays array data comes back in (and may be given in).
 *
 * @example
 * ```ts
 * const data: TypedArray = new Float32Array(4);
 * ```
 */
export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

type TypedArrayConstructor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * One row of the dtype table: how a dtype is spelled in an npy `descr`, how wide an element is on
 * disk, which typed array holds its values in JS, and how its bytes are swapped.
 *
 * @example
 * ```ts
 * DTYPES.float16.itemsize === 2 && DTYPES.float16.arrayType === Float32Array;
 * DTYPES.complex64.lanes === 2; // real, imaginary
 * ```
 */
export interface DTypeInfo {
  readonly name: DType;
  /**
   * numpy's kind character: `b` bool, `i` signed, `u` unsigned, `f` float, `c` complex, `M`
   * datetime64, `m` timedelta64, `U` unicode, `S` bytes, `V` void/structured.
   */
  readonly kind: 'b' | 'i' | 'u' | 'f' | 'c' | 'M' | 'm' | 'U' | 'S' | 'V';
  /** Bytes per element on disk; 0 when the descr sets it (`<U5` is 20, `|S3` is 3, `<f16` is 16). */
  readonly itemsize: number;
  /** The typed array the values come back in. For float16 it is Float32Array (see `halfToFloat`). */
  readonly arrayType: TypedArrayConstructor;
  /** Typed arrays accepted as input besides `arrayType` (e.g. Float64Array values for float16). */
  readonly alsoAccepts: readonly TypedArrayConstructor[];
  /** True when values are bigint (64-bit integers, datetime64, timedelta64). */
  readonly bigint: boolean;
  /**
   * Typed-array elements per array element for fixed-size dtypes (2 for complex: real,
   * imaginary); for sized dtypes it follows from the descr (`<U5`: 5, `|S3`: 3).
   */
  readonly lanes: number;
  /**
   * `raw`: the data is the bytes on disk, never swapped; the descr says what they mean (numpy's
   * longdouble is platform-defined, structured fields mix dtypes). `swap`: big-endian input is
   * swapped per typed-array element and swapped back on write. `half`: float16 bit patterns.
   */
  readonly codec: 'swap' | 'raw' | 'half';
  /** The npy type code; sized dtypes (`U`, `S`, `V`, `M8[unit]`, …) need a `descr` on write. */
  readonly code: string;
  /** True when writing needs an explicit `descr` (its length or unit is not implied). */
  readonly needsDescr: boolean;
}

function row(
  name: DType,
  code: string,
  arrayType: TypedArrayConstructor,
  options: {
    alsoAccepts?: readonly TypedArrayConstructor[];
    codec?: DTypeInfo['codec'];
    bigint?: boolean;
    needsDescr?: boolean;
  } = {},
): DTypeInfo {
  const kind = code[0] as DTypeInfo['kind'];
  const itemsize =
    /^[biufcMm]\d+$/.test(code) && !(name === 'longdouble' || name === 'clongdouble')
      ? Number(code.slice(1))
      : 0;
  const codec = options.codec ?? 'swap';
  return {
    name,
    kind,
    itemsize,
    arrayType,
    alsoAccepts: options.alsoAccepts ?? [],
    bigint: options.bigint ?? (itemsize === 8 && (kind === 'i' || kind === 'u')),
    lanes: codec === 'half' || itemsize === 0 ? 1 : itemsize / arrayType.BYTES_PER_ELEMENT,
    codec,
    code,
    needsDescr: options.needsDescr ?? false,
  };
}

/**
 * The dtype table: every per-dtype decision (npy descr, width, typed array, byte swapping) is
 * looked up here.
 *
 * @example
 * ```ts
 * DTYPES.int64.arrayType === BigInt64Array;
 * DTYPES.datetime64.arrayType === BigInt64Array; // counts of the unit in the descr
 * ```
 */
export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  bool: row('bool', 'b1', Uint8Array, { alsoAccepts: [Uint8ClampedArray] }),
  int8: row('int8', 'i1', Int8Array),
  int16: row('int16', 'i2', Int16Array),
  int32: row('int32', 'i4', Int32Array),
  int64: row('int64', 'i8', BigInt64Array),
  uint8: row('uint8', 'u1', Uint8Array, { alsoAccepts: [Uint8ClampedArray] }),
  uint16: row('uint16', 'u2', Uint16Array),
  uint32: row('uint32', 'u4', Uint32Array),
  uint64: row('uint64', 'u8', BigUint64Array),
  // Node 20 has no Float16Array: half floats are widened to float32 on read (exactly, NaN payload
  // and sign bits included) and rounded to nearest-even on write.
  float16: row('float16', 'f2', Float32Array, { alsoAccepts: [Float64Array], codec: 'half' }),
  float32: row('float32', 'f4', Float32Array),
  float64: row('float64', 'f8', Float64Array),
  // Interleaved real, imaginary: element i is (data[2i], data[2i + 1]).
  complex64: row('complex64', 'c8', Float32Array),
  complex128: row('complex128', 'c16', Float64Array),
  // 80-bit x87 in 12 or 16 bytes, or IEEE binary128, depending on the writer's platform: JS has
  // no such number, so the bytes are kept exactly with the descr.
  longdouble: row('longdouble', 'f16', Uint8Array, { codec: 'raw' }),
  clongdouble: row('clongdouble', 'c32', Uint8Array, { codec: 'raw' }),
  // Counts of the unit in the descr (`<M8[ns]`); NaT is the smallest int64.
  datetime64: row('datetime64', 'M8', BigInt64Array, { bigint: true, needsDescr: true }),
  timedelta64: row('timedelta64', 'm8', BigInt64Array, { bigint: true, needsDescr: true }),
  // UTF-32 code units, descr-length per element, NUL-padded (see `npyStrings`).
  unicode: row('unicode', 'U', Uint32Array, { needsDescr: true }),
  bytes: row('bytes', 'S', Uint8Array, { codec: 'raw', needsDescr: true }),
  void: row('void', 'V', Uint8Array, { codec: 'raw', needsDescr: true }),
  structured: row('structured', 'V', Uint8Array, { codec: 'raw', needsDescr: true }),
};

/** The dtype a typed array holds when no dtype is given. */
const NATURAL = new Map<unknown, DType>([
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
  [Uint8ClampedArray, 'uint8'],
  [Int16Array, 'int16'],
  [Uint16Array, 'uint16'],
  [Int32Array, 'int32'],
  [Uint32Array, 'uint32'],
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [BigInt64Array, 'int64'],
  [BigUint64Array, 'uint64'],
]);

/**
 * The dtype a typed array naturally holds (Float32Array → float32), or undefined for other values.
 *
 * @example
 * ```ts
 * naturalDtype(new Int16Array(2)); // 'int16'
 * ```
 */
export function naturalDtype(data: unknown): DType | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  // A Buffer is a Uint8Array subclass: its bytes are uint8.
  return NATURAL.get(data.constructor) ?? (Buffer.isBuffer(data) ? 'uint8' : undefined);
}

/**
 * A parsed npy `descr`: the dtype, its byte order, the bytes per element and the descr itself
 * (structured descrs as numpy's `repr` of the field list).
 *
 * @example
 * ```ts
 * parseDescr('>i4'); // { dtype: DTYPES.int32, littleEndian: false, itemsize: 4, descr: '>i4' }
 * ```
 */
export interface ParsedDescr {
  readonly dtype: DTypeInfo;
  readonly littleEndian: boolean;
  readonly itemsize: number;
  readonly descr: string;
  /** Typed-array elements per array element (`<U5`: 5, `<c8`: 2, `|S3`: 3). */
  readonly lanes: number;
}

/**
 * What `parseDescr` could not accept, and why (for the error message).
 *
 * @example
 * ```ts
 * const r = explainDescr('|O');
 * if ('refused' in r) console.error(r.refused);
 * ```
 */
export interface RefusedDescr {
  readonly refused: string;
}

const DATETIME_UNITS = new Set(['Y', 'M', 'W', 'D', 'h', 'm', 's', 'ms', 'us', 'μs', 'ns', 'ps', 'fs', 'as']);
const SIMPLE = /^([<>|=])?([a-zA-Z])(\d*)(?:\[(\d*)([A-Za-zμ]+)\])?$/;
const MAX_ITEMSIZE = 2 ** 31;

/**
 * Parses an npy `descr` such as `'<f4'`, `'>f8'`, `'|u1'`, `'<U5'`, `'<M8[ns]'`, or a structured
 * field list (as the npy header parser returns it); undefined when unsupported. Use
 * {@link explainDescr} for the reason.
 *
 * @example
 * ```ts
 * parseDescr('<f2')?.dtype.name; // 'float16'
 * parseDescr('<c8')?.dtype.name; // 'complex64'
 * parseDescr('|O'); // undefined: object arrays need pickle
 * ```
 */
export function parseDescr(descr: unknown): ParsedDescr | undefined {
  const parsed = explainDescr(descr);
  return 'refused' in parsed ? undefined : parsed;
}

/**
 * {@link parseDescr} with the reason a descr is refused.
 *
 * @example
 * ```ts
 * explainDescr('|O'); // { refused: 'object arrays (|O) need pickle; ...' }
 * ```
 */
export function explainDescr(descr: unknown): ParsedDescr | RefusedDescr {
  if (Array.isArray(descr)) return structuredDescr(descr, 0);
  if (typeof descr !== 'string') return { refused: `descr ${String(descr)} is not a string or a field list` };
  const m = SIMPLE.exec(descr);
  if (!m) return { refused: `unknown dtype ${descr}` };
  const order = m[1] ?? '|';
  const letter = m[2] as string;
  const digits = m[3] ?? '';
  const unit = m[5];
  if (letter === 'O')
    return {
      refused: `object arrays (${descr}) need pickle; runlake refuses them as np.load(allow_pickle=False) does`,
    };
  if (unit !== undefined && letter !== 'M' && letter !== 'm') return { refused: `unknown dtype ${descr}` };
  const size = digits === '' ? Number.NaN : Number(digits);
  let dtype: DTypeInfo | undefined;
  let itemsize = size;
  switch (letter) {
    case 'U':
      dtype = DTYPES.unicode;
      itemsize = size * 4;
      break;
    case 'S':
    case 'a':
      dtype = DTYPES.bytes;
      break;
    case 'V':
      dtype = DTYPES.void;
      break;
    case 'M':
    case 'm':
      // No unit (`<m8`) is numpy's generic unit.
      if (size !== 8 || (unit !== undefined && !DATETIME_UNITS.has(unit)))
        return { refused: `unsupported ${letter === 'M' ? 'datetime64' : 'timedelta64'} dtype ${descr}` };
      dtype = letter === 'M' ? DTYPES.datetime64 : DTYPES.timedelta64;
      break;
    case 'f':
      dtype = size === 12 || size === 16 ? DTYPES.longdouble : BY_CODE.get(`f${digits}`);
      break;
    case 'c':
      dtype = size === 24 || size === 32 ? DTYPES.clongdouble : BY_CODE.get(`c${digits}`);
      break;
    default:
      dtype = BY_CODE.get(`${letter}${digits}`);
  }
  if (!dtype || !Number.isSafeInteger(itemsize) || itemsize < 0 || itemsize > MAX_ITEMSIZE)
    return { refused: `unknown dtype ${descr}` };
  if (order === '|' && itemsize > 1 && dtype.codec !== 'raw' && dtype.kind !== 'U')
    return { refused: `dtype ${descr} needs a byte order` };
  if (order !== '<' && order !== '>' && order !== '|' && order !== '=')
    return { refused: `unknown dtype ${descr}` };
  const lanes = dtype.itemsize !== 0 || dtype.codec === 'raw' ? dtype.lanes : size;
  return {
    dtype,
    littleEndian: order !== '>',
    itemsize,
    descr,
    lanes: dtype.codec === 'raw' ? itemsize : lanes,
  };
}

/** A structured dtype: numpy writes `dtype.descr`, a list of (name, descr[, shape]) tuples. */
function structuredDescr(fields: readonly unknown[], depth: number): ParsedDescr | RefusedDescr {
  if (depth > 8) return { refused: 'structured dtype nests too deeply' };
  let itemsize = 0;
  for (const field of fields) {
    if (!Array.isArray(field) || field.length < 2 || field.length > 3 || typeof field[0] !== 'string')
      return { refused: `structured dtype field ${repr(field)} is not (name, descr[, shape])` };
    const inner = Array.isArray(field[1]) ? structuredDescr(field[1], depth + 1) : explainDescr(field[1]);
    if ('refused' in inner) return inner;
    let count = 1;
    if (field.length === 3) {
      const shape = field[2];
      const dims = Array.isArray(shape) ? shape : [shape];
      for (const d of dims) {
        if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
          return { refused: `structured dtype field ${repr(field)} has a bad shape` };
        count *= d;
      }
    }
    itemsize += inner.itemsize * count;
    if (itemsize > MAX_ITEMSIZE) return { refused: 'structured dtype is too large' };
  }
  return { dtype: DTYPES.structured, littleEndian: true, itemsize, descr: repr(fields), lanes: itemsize };
}

/**
 * A Python literal as numpy's header writer spells it (`repr`): strings in single quotes, tuples
 * with a trailing comma when they hold one item, lists in brackets. Structured descrs are arrays
 * of arrays here; a tuple is an array marked with {@link PY_TUPLE}.
 *
 * @example
 * ```ts
 * repr(pyTuple(['x', '<f4'])); // "('x', '<f4')"
 * ```
 */
export function repr(value: unknown): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (Array.isArray(value)) {
    const items = value.map(repr);
    if ((value as { [PY_TUPLE]?: boolean })[PY_TUPLE])
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    return `[${items.join(', ')}]`;
  }
  return String(value);
}

/**
 * Marks an array as a Python tuple for {@link repr}.
 *
 * @example
 * ```ts
 * pyTuple([2]); // repr: '(2,)'
 * ```
 */
export const PY_TUPLE: unique symbol = Symbol('tuple');

/**
 * An array marked as a Python tuple (see {@link repr}).
 *
 * @example
 * ```ts
 * const t = pyTuple(['x', '<f4']);
 * ```
 */
export function pyTuple<T>(items: T[]): T[] {
  Object.defineProperty(items, PY_TUPLE, { value: true });
  return items;
}

const BY_CODE = new Map<string, DTypeInfo>(
  Object.values(DTYPES)
    .filter((d) => d.itemsize !== 0)
    .map((d) => [d.code, d] as const),
);

/**
 * The descr runlake writes for a fixed-size dtype: little-endian, `|` for single bytes (as numpy
 * does). Sized dtypes (`unicode`, `bytes`, `void`, `structured`, `datetime64`, `timedelta64`)
 * have no default: their arrays carry a `descr`.
 *
 * @example
 * ```ts
 * descrOf(DTYPES.bool); // '|b1'
 * descrOf(DTYPES.complex64); // '<c8'
 * ```
 */
export function descrOf(dtype: DTypeInfo): string {
  if (dtype.needsDescr) throw new Error(`dtype ${dtype.name} needs an explicit descr`);
  return `${dtype.itemsize === 1 ? '|' : '<'}${dtype.code}`;
}

if (endianness() !== 'LE') {
  // Zero-copy views and the byte swaps below assume a little-endian host (every Node platform
  // runlake targets); refuse loudly rather than return wrong numbers.
  throw new Error('runlake shards need a little-endian host');
}

let halfTable: Uint32Array | undefined;

/**
 * Widens IEEE half-precision bit patterns to float32 values, bit-exactly: every half is a float32,
 * and NaNs keep their sign and payload (the payload moves to the top of the float32 fraction, as
 * a hardware conversion does), so {@link floatToHalf} gives back the same bits.
 *
 * @example
 * ```ts
 * halfToFloat(new Uint16Array([0x3c00]))[0]; // 1
 * ```
 */
export function halfToFloat(bits: Uint16Array): Float32Array {
  if (!halfTable) {
    // Float32 bit patterns, built without going through JS numbers (which would canonicalise NaNs).
    halfTable = new Uint32Array(65536);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let h = 0; h < 65536; h++) {
      const sign = (h & 0x8000) << 16;
      const exponent = (h >> 10) & 0x1f;
      const fraction = h & 0x3ff;
      if (exponent === 31) {
        halfTable[h] = (sign | 0x7f800000 | (fraction << 13)) >>> 0;
      } else {
        f[0] =
          (h & 0x8000 ? -1 : 1) *
          (exponent === 0 ? 2 ** -14 * (fraction / 1024) : 2 ** (exponent - 15) * (1 + fraction / 1024));
        halfTable[h] = u[0] as number;
      }
    }
  }
  const table = halfTable;
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i] as number] as number;
  return new Float32Array(out.buffer);
}

/**
 * The float16 bit patterns of a float16 array's values as runlake holds them: a Float32Array is
 * read by its bits (so NaN payloads from {@link halfToFloat} survive), a Float64Array by value.
 *
 * @example
 * ```ts
 * halfBits(halfToFloat(new Uint16Array([0x7e01])))[0]; // 0x7e01
 * ```
 */
export function halfBits(values: Float32Array | Float64Array | ArrayLike<number>): Uint16Array {
  if (!(values instanceof Float32Array)) return floatToHalf(values);
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < words.length; i++) {
    const x = words[i] as number;
    out[i] = (x & 0x7f800000) === 0x7f800000 && x & 0x7fffff ? nanToHalf(x) : float32BitsToHalf(x);
  }
  return out;
}

// A float32 NaN keeps its sign and the top ten payload bits; a payload that only lived in the low
// bits becomes a quiet NaN rather than infinity.
function nanToHalf(x: number): number {
  const payload = (x >>> 13) & 0x3ff;
  return ((x >>> 16) & 0x8000) | 0x7c00 | (payload || 0x200);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Rounds numbers to IEEE half precision (nearest, ties to even, as numpy does), as bit patterns.
 *
 * @example
 * ```ts
 * floatToHalf(new Float32Array([1, 65536]))[1]; // 0x7c00 (+inf: overflow)
 * ```
 */
export function floatToHalf(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    // Double → float32 → half can round twice; numpy rounds float64 → float16 directly, so route
    // float64 inputs through an exact check on the float32 step.
    f32[0] = v;
    let x = u32[0] as number;
    if (f32[0] !== v && Number.isFinite(v) && !Number.isNaN(v)) x = nudgeDoubleRounding(v, x);
    out[i] = float32BitsToHalf(x);
  }
  return out;
}

// If rounding v to float32 landed exactly on a half-way point between two halves, the second
// rounding (to half) would break the tie wrongly; push the float32 one ulp towards v.
function nudgeDoubleRounding(v: number, bits: number): number {
  const rounded = f32[0] as number;
  const exponent = (bits >> 23) & 0xff;
  // 13 low fraction bits are dropped for normal halves; a tie has exactly 0x1000 there.
  if ((bits & 0x1fff) !== 0x1000 || exponent < 103) return bits;
  return v > rounded === bits >>> 31 < 1 ? bits + 1 : bits - 1;
}

function float32BitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return mantissa ? nanToHalf(x) : sign | 0x7c00;
  let e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let m = mantissa >> 13;
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}
