import { endianness } from 'node:os';

/**
 * The element types runlake stores in `.npy` members, named as numpy names them.
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
  | 'float64';

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
 * disk, and which typed array holds its values in JS.
 *
 * @example
 * ```ts
 * DTYPES.float16.itemsize === 2 && DTYPES.float16.arrayType === Float32Array;
 * ```
 */
export interface DTypeInfo {
  readonly name: DType;
  /** numpy's kind character: `b` bool, `i` signed, `u` unsigned, `f` float. */
  readonly kind: 'b' | 'i' | 'u' | 'f';
  /** Bytes per element on disk. */
  readonly itemsize: 1 | 2 | 4 | 8;
  /** The typed array the values come back in. For float16 it is Float32Array (see `halfToFloat`). */
  readonly arrayType: TypedArrayConstructor;
  /** Typed arrays accepted as input besides `arrayType` (e.g. Float64Array values for float16). */
  readonly alsoAccepts: readonly TypedArrayConstructor[];
  /** True when values are bigint (64-bit integers). */
  readonly bigint: boolean;
}

function row(
  name: DType,
  kind: DTypeInfo['kind'],
  itemsize: DTypeInfo['itemsize'],
  arrayType: TypedArrayConstructor,
  alsoAccepts: readonly TypedArrayConstructor[] = [],
): DTypeInfo {
  return { name, kind, itemsize, arrayType, alsoAccepts, bigint: itemsize === 8 && kind !== 'f' };
}

/**
 * The dtype table: every per-dtype decision (npy descr, width, typed array) is looked up here.
 *
 * @example
 * ```ts
 * DTYPES.int64.arrayType === BigInt64Array;
 * ```
 */
export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  bool: row('bool', 'b', 1, Uint8Array, [Uint8ClampedArray]),
  int8: row('int8', 'i', 1, Int8Array),
  int16: row('int16', 'i', 2, Int16Array),
  int32: row('int32', 'i', 4, Int32Array),
  int64: row('int64', 'i', 8, BigInt64Array),
  uint8: row('uint8', 'u', 1, Uint8Array, [Uint8ClampedArray]),
  uint16: row('uint16', 'u', 2, Uint16Array),
  uint32: row('uint32', 'u', 4, Uint32Array),
  uint64: row('uint64', 'u', 8, BigUint64Array),
  // Node 20 has no Float16Array: half floats are widened to float32 on read (exactly: every half
  // is a float32) and rounded to nearest-even on write.
  float16: row('float16', 'f', 2, Float32Array, [Float64Array]),
  float32: row('float32', 'f', 4, Float32Array),
  float64: row('float64', 'f', 8, Float64Array),
};

const BY_CODE = new Map<string, DTypeInfo>(
  Object.values(DTYPES).map((d) => [`${d.kind}${d.itemsize}`, d] as const),
);

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
  return data === null || typeof data !== 'object' ? undefined : NATURAL.get(data.constructor);
}

/**
 * A parsed npy `descr`: the dtype and its byte order.
 *
 * @example
 * ```ts
 * parseDescr('>i4'); // { dtype: DTYPES.int32, littleEndian: false }
 * ```
 */
export interface ParsedDescr {
  readonly dtype: DTypeInfo;
  readonly littleEndian: boolean;
}

/**
 * Parses an npy `descr` such as `'<f4'`, `'>f8'`, `'|u1'`, `'|b1'`; undefined when unsupported.
 *
 * @example
 * ```ts
 * parseDescr('<f2')?.dtype.name; // 'float16'
 * parseDescr('<c8'); // undefined
 * ```
 */
export function parseDescr(descr: string): ParsedDescr | undefined {
  if (descr.length < 2 || descr.length > 3) return undefined;
  const order = descr.length === 3 ? descr[0] : '|';
  const dtype = BY_CODE.get(descr.slice(descr.length - 2));
  if (!dtype) return undefined;
  if (order === '|' || order === '=')
    return dtype.itemsize === 1 || order === '=' ? { dtype, littleEndian: true } : undefined;
  if (order === '<') return { dtype, littleEndian: true };
  if (order === '>') return { dtype, littleEndian: false };
  return undefined;
}

/**
 * The descr runlake writes for a dtype: little-endian, `|` for single bytes (as numpy does).
 *
 * @example
 * ```ts
 * descrOf(DTYPES.bool); // '|b1'
 * ```
 */
export function descrOf(dtype: DTypeInfo): string {
  return `${dtype.itemsize === 1 ? '|' : '<'}${dtype.kind}${dtype.itemsize}`;
}

if (endianness() !== 'LE') {
  // Zero-copy views and the byte swaps below assume a little-endian host (every Node platform
  // runlake targets); refuse loudly rather than return wrong numbers.
  throw new Error('runlake shards need a little-endian host');
}

let halfTable: Float32Array | undefined;

/**
 * Widens IEEE half-precision bit patterns to float32 values (exact; NaN payloads kept as NaN).
 *
 * @example
 * ```ts
 * halfToFloat(new Uint16Array([0x3c00]))[0]; // 1
 * ```
 */
export function halfToFloat(bits: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const fraction = h & 0x3ff;
      halfTable[h] =
        exponent === 0
          ? sign * 2 ** -14 * (fraction / 1024)
          : exponent === 31
            ? fraction
              ? Number.NaN
              : sign * Number.POSITIVE_INFINITY
            : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
    }
  }
  const table = halfTable;
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i] as number] as number;
  return out;
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
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
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
