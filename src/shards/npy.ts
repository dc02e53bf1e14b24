/**
 * The `.npy` format (numpy's `format.py`), by hand: runlake needs the exact header length to know
 * where array data starts inside a tar member, and decodes little-endian arrays as zero-copy views
 * of the bytes it read. No npm package does both with the error context the shard reader needs.
 */
import {
  DTYPES,
  type DType,
  type DTypeInfo,
  descrOf,
  explainDescr,
  halfBits,
  halfToFloat,
  naturalDtype,
  type ParsedDescr,
  PY_TUPLE,
  type TypedArray,
} from './dtype.js';
import { ArrayInputError, NpyFormatError, type ShardLocation, UnsupportedDtypeError } from './errors.js';

/**
 * An n-dimensional array as runlake returns it: the values in a typed array, in C (row-major) or
 * Fortran (column-major) order as stored, with the shape and dtype.
 *
 * float16 values come back widened in a Float32Array (Node 20 has no Float16Array); `dtype` still
 * says `float16`. 64-bit integers come back in BigInt64Array / BigUint64Array, bools as 0/1 bytes.
 *
 * @example
 * ```ts
 * const { arrays } = reader.getSample('sample_000000000001');
 * const h = arrays.history; // { data: Float32Array(100), shape: [100], dtype: 'float32', order: 'C' }
 * ```
 */
export interface NdArray {
  readonly data: TypedArray;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly order: 'C' | 'F';
  /**
   * The npy descr, when `dtype` alone does not say it: sized dtypes (`<U5`, `|S3`, `<M8[ns]`,
   * structured field lists as numpy's repr), longdouble's width, and big-endian arrays (`>i4`;
   * the data is native, and the writer swaps it back). Writing the array writes this descr.
   */
  readonly descr?: string;
}

/**
 * What the writer accepts for one field: a typed array (a 1-D array of its natural dtype) or an
 * object with data, shape, dtype and order. Plain number/boolean/bigint arrays are converted to
 * the given dtype (float64 when none is given).
 *
 * @example
 * ```ts
 * const a: ArrayInput = new Float32Array([1, 2, 3]);
 * const b: ArrayInput = { data: [1, 2, 3, 4], shape: [2, 2], dtype: 'int32', order: 'F' };
 * ```
 */
export type ArrayInput =
  | TypedArray
  | {
      readonly data: TypedArray | readonly number[] | readonly boolean[] | readonly bigint[];
      readonly shape?: readonly number[];
      readonly dtype?: DType;
      readonly order?: 'C' | 'F';
      /** The npy descr to write (`'<U5'`, `'>i4'`, `"[('x', '<f4')]"`); sets the dtype. */
      readonly descr?: string;
    };

/**
 * Builds an {@link NdArray}, checking that the shape matches the data.
 *
 * @example
 * ```ts
 * const m = ndarray(new Float64Array(6), [2, 3]);
 * ```
 */
export function ndarray(
  data: TypedArray,
  shape: readonly number[] = [data.length],
  options: { dtype?: DType; order?: 'C' | 'F'; descr?: string } = {},
): NdArray {
  return toNdArray(
    { data, shape, dtype: options.dtype, order: options.order, descr: options.descr },
    'array',
  );
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
/**
 * numpy's own default limit (`max_header_size`), which guards against a hostile header.
 *
 * @example
 * ```ts
 * parseNpyHeader(bytes); // throws NpyFormatError when the header is longer than MAX_NPY_HEADER_BYTES
 * ```
 */
export const MAX_NPY_HEADER_BYTES = 10_000;

/**
 * Validates and normalises writer input into an {@link NdArray}; throws {@link ArrayInputError}.
 *
 * @example
 * ```ts
 * toNdArray([1, 2, 3], 'history').dtype; // 'float64'
 * ```
 */
export function toNdArray(input: ArrayInput | readonly number[], field: string, sampleId?: string): NdArray {
  const fail = (reason: string): never => {
    throw new ArrayInputError(field, reason, sampleId);
  };
  if (input === null || typeof input !== 'object') return fail(`expected a typed array or {data, shape}`);
  const isTyped = ArrayBuffer.isView(input);
  const spec = (isTyped ? { data: input } : Array.isArray(input) ? { data: input } : input) as {
    data?: unknown;
    shape?: unknown;
    dtype?: unknown;
    order?: unknown;
    descr?: unknown;
  };
  const raw = spec.data;
  const natural = naturalDtype(raw);
  if (spec.dtype !== undefined && !(typeof spec.dtype === 'string' && spec.dtype in DTYPES))
    fail(`unknown dtype ${JSON.stringify(spec.dtype)}; use one of ${Object.keys(DTYPES).join(', ')}`);
  let parsed: ParsedDescr | undefined;
  if (spec.descr !== undefined) {
    if (typeof spec.descr !== 'string') return fail('descr must be a string');
    const explained = explainDescr(
      spec.descr.startsWith('[') ? parseStructuredDescr(spec.descr, fail) : spec.descr,
    );
    if ('refused' in explained) return fail(explained.refused);
    parsed = explained;
    if (
      spec.dtype !== undefined &&
      spec.dtype !== parsed.dtype.name &&
      !(spec.dtype === 'void' && parsed.dtype.name === 'structured')
    )
      fail(`dtype ${String(spec.dtype)} disagrees with descr ${spec.descr} (${parsed.dtype.name})`);
  }
  const dtype = parsed?.dtype ?? DTYPES[(spec.dtype as DType | undefined) ?? natural ?? 'float64'];
  if (!parsed) {
    if (dtype.needsDescr) fail(`dtype ${dtype.name} needs a descr (e.g. ${exampleDescr(dtype.name)})`);
    parsed = explainDescr(descrOf(dtype)) as ParsedDescr;
  }
  const order = spec.order ?? 'C';
  if (order !== 'C' && order !== 'F') fail(`order must be "C" or "F", got ${JSON.stringify(order)}`);
  let data: TypedArray;
  if (natural !== undefined) {
    const typed = Buffer.isBuffer(raw)
      ? new Uint8Array(raw.buffer, raw.byteOffset, raw.length)
      : (raw as TypedArray);
    if (typed.constructor !== dtype.arrayType && !dtype.alsoAccepts.includes(typed.constructor as never))
      fail(`${typed.constructor.name} cannot hold dtype ${dtype.name}; pass a ${dtype.arrayType.name}`);
    data = typed;
  } else if (Array.isArray(raw)) {
    data = fromPlain(raw, dtype, fail);
  } else {
    return fail('data must be a typed array or an array of numbers');
  }
  const shape = spec.shape === undefined ? [data.length] : spec.shape;
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)
  )
    fail(`shape must be a list of non-negative integers, got ${JSON.stringify(spec.shape)}`);
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const lanes = parsed.lanes;
  if (spec.shape === undefined && lanes !== 1) {
    if (data.length % lanes !== 0)
      fail(`${data.length} values are not a whole number of ${parsed.descr} elements (${lanes} each)`);
    return finish([data.length / lanes]);
  }
  if (count * lanes !== data.length)
    fail(
      `shape [${(shape as number[]).join(', ')}] holds ${count} values` +
        (lanes === 1 ? '' : ` of ${parsed.descr} (${count * lanes} ${dtype.arrayType.name} elements)`) +
        ` but the data has ${data.length}`,
    );
  return finish([...(shape as number[])]);
  function finish(dims: number[]): NdArray {
    const descr = (parsed as ParsedDescr).descr;
    const array = { data, shape: dims, dtype: dtype.name, order: order as 'C' | 'F' };
    return descr === defaultDescr(dtype) ? array : { ...array, descr };
  }
}

function exampleDescr(dtype: DType): string {
  return (
    { datetime64: "'<M8[ns]'", timedelta64: "'<m8[s]'", unicode: "'<U8'", bytes: "'|S8'", void: "'|V8'" }[
      dtype as 'unicode'
    ] ?? `"[('x', '<f4'), ('y', '<i8')]"`
  );
}

/** The descr an array of `dtype` needs no explicit `descr` for. */
function defaultDescr(dtype: DTypeInfo): string | undefined {
  return dtype.needsDescr ? undefined : descrOf(dtype);
}

/** A structured descr given as text (numpy's repr of the field list) → the parsed field list. */
function parseStructuredDescr(text: string, fail: (reason: string) => never): unknown {
  return toDescrValue(parsePythonLiteral(text, fail));
}

/**
 * A descr as text → the value `explainDescr` takes: a string, or for a structured descr
 * (numpy's repr of the field list) arrays of `(name, descr[, shape])` tuples.
 *
 * @example
 * ```ts
 * parseDescrText("[('x', '<f4')]"); // [['x', '<f4']]
 * ```
 */
export function parseDescrText(text: string): unknown {
  if (!text.startsWith('[')) return text;
  return parseStructuredDescr(text, (reason) => {
    throw new NpyFormatError({}, `descr ${text}: ${reason}`);
  });
}

function fromPlain(values: readonly unknown[], dtype: DTypeInfo, fail: (r: string) => never): TypedArray {
  const out = new (dtype.arrayType as new (n: number) => TypedArray)(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (dtype.bigint) {
      if (typeof v === 'bigint') (out as BigInt64Array)[i] = v;
      else if (typeof v === 'number' && Number.isSafeInteger(v)) (out as BigInt64Array)[i] = BigInt(v);
      else fail(`value ${String(v)} at ${i} is not an integer`);
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      (out as Float64Array)[i] = Number(v);
    } else {
      fail(`value ${String(v)} at ${i} is not a number`);
    }
  }
  return out;
}

/**
 * The two parts of an encoded `.npy`: the header (magic, version, dict, padding) and the data
 * bytes, which for little-endian dtypes are a view of the input (no copy).
 *
 * @example
 * ```ts
 * const { header, data } = encodeNpy(ndarray(new Float32Array(4)));
 * header.length % 64 === 0;
 * ```
 */
export interface EncodedNpy {
  readonly header: Uint8Array;
  readonly data: Uint8Array;
  readonly byteLength: number;
}

/**
 * Encodes an array as `.npy` (version 1.0, or 2.0 when the header needs it), as `numpy.save` does.
 *
 * @example
 * ```ts
 * const { header, data } = encodeNpy(ndarray(new Int32Array([1, 2]), [2]));
 * ```
 */
export function encodeNpy(array: NdArray): EncodedNpy {
  const dtype = DTYPES[array.dtype];
  const descr = array.descr ?? descrOf(dtype);
  const littleEndian = !descr.startsWith('>');
  const shape =
    array.shape.length === 0
      ? '()'
      : array.shape.length === 1
        ? `(${array.shape[0]},)`
        : `(${array.shape.join(', ')})`;
  const descrText = descr.startsWith('[') ? descr : `'${descr}'`;
  const dict = `{'descr': ${descrText}, 'fortran_order': ${array.order === 'F' ? 'True' : 'False'}, 'shape': ${shape}, }`;
  // numpy leaves room for the growth axis to reach 21 digits (GROWTH_AXIS_MAX_DIGITS) before
  // padding to 64 bytes; without it long headers (structured descrs) would differ from numpy's.
  const growthDim = array.shape.length
    ? array.shape[array.order === 'F' ? array.shape.length - 1 : 0]
    : undefined;
  const growth = growthDim === undefined ? 0 : Math.max(0, 21 - String(growthDim).length);
  const textLength = dict.length + growth;
  let prefix = 10;
  let total = Math.ceil((prefix + textLength + 1) / ALIGN) * ALIGN;
  if (total - prefix > 0xffff) {
    prefix = 12;
    total = Math.ceil((prefix + textLength + 1) / ALIGN) * ALIGN;
  }
  const header = new Uint8Array(total);
  header.set(MAGIC, 0);
  header[6] = prefix === 10 ? 1 : 2;
  header[7] = 0;
  const view = new DataView(header.buffer);
  if (prefix === 10) view.setUint16(8, total - prefix, true);
  else view.setUint32(8, total - prefix, true);
  for (let i = 0; i < dict.length; i++) header[prefix + i] = dict.charCodeAt(i);
  header.fill(0x20, prefix + dict.length, total - 1);
  header[total - 1] = 0x0a;
  let data: Uint8Array;
  if (dtype.codec === 'half') {
    const bits = halfBits(array.data as Float32Array);
    if (!littleEndian) Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength).swap16();
    data = new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
  } else {
    data = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
    const unit = array.data.BYTES_PER_ELEMENT;
    if (!littleEndian && dtype.codec === 'swap' && unit > 1) {
      // The data is native (little-endian); the descr says the file holds big-endian values.
      const swapped = Buffer.from(data);
      if (unit === 2) swapped.swap16();
      else if (unit === 4) swapped.swap32();
      else swapped.swap64();
      data = swapped;
    }
  }
  return { header, data, byteLength: header.length + data.length };
}

/**
 * A parsed npy header: dtype, byte order, memory order, shape, where the data starts, how many
 * data bytes the shape needs.
 *
 * @example
 * ```ts
 * const h = parseNpyHeader(bytes);
 * h.dataOffset; // 128 for a typical v1 header
 * ```
 */
export interface NpyHeader {
  readonly dtype: DTypeInfo;
  /** Bytes per element on disk. */
  readonly itemsize: number;
  /** Typed-array elements per array element (see {@link ParsedDescr.lanes}). */
  readonly lanes: number;
  readonly littleEndian: boolean;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  readonly count: number;
  readonly dataOffset: number;
  readonly dataBytes: number;
  readonly descr: string;
}

const headerCache = new Map<string, Omit<NpyHeader, 'dataOffset'>>();
const HEADER_CACHE_MAX = 4096;

/**
 * Parses the header of `.npy` bytes. Throws {@link NpyFormatError} (with `where` in the message)
 * for a bad magic, an unknown version, a header over {@link MAX_NPY_HEADER_BYTES}, a header that is
 * not the dict numpy writes, a negative or huge shape, or an unsupported dtype.
 *
 * @example
 * ```ts
 * parseNpyHeader(fs.readFileSync('a.npy')).shape; // [3, 4]
 * ```
 */
export function parseNpyHeader(bytes: Uint8Array, where: ShardLocation = {}): NpyHeader {
  const fail = (reason: string): never => {
    throw new NpyFormatError(where, reason);
  };
  if (bytes.length < 10) fail(`member too short for an npy header (${bytes.length} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) fail('bad magic (not an .npy file)');
  const major = bytes[6] as number;
  if (major < 1 || major > 3) fail(`unsupported npy version ${major}.${bytes[7]}`);
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) fail('member too short for an npy header');
  const b8 = bytes[8] as number;
  const b9 = bytes[9] as number;
  const headerLength =
    major === 1
      ? b8 | (b9 << 8)
      : (b8 | (b9 << 8) | ((bytes[10] as number) << 16)) + (bytes[11] as number) * 2 ** 24;
  if (headerLength > MAX_NPY_HEADER_BYTES)
    fail(`header of ${headerLength} bytes exceeds the ${MAX_NPY_HEADER_BYTES}-byte limit`);
  const dataOffset = prefix + headerLength;
  if (bytes.length < dataOffset)
    fail(`header says ${headerLength} bytes but only ${bytes.length - prefix} follow the prefix`);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + prefix, headerLength).toString(
    major === 3 ? 'utf8' : 'latin1',
  );
  let parsed = headerCache.get(text);
  if (!parsed) {
    parsed = parseHeaderText(text, where);
    if (headerCache.size >= HEADER_CACHE_MAX) headerCache.clear();
    headerCache.set(text, parsed);
  }
  return { ...parsed, dataOffset };
}

function parseHeaderText(text: string, where: ShardLocation): Omit<NpyHeader, 'dataOffset'> {
  const fail = (reason: string): never => {
    throw new NpyFormatError(where, reason);
  };
  const value = parsePythonLiteral(text, fail);
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Tuple)
    return fail(`header is not a dict: ${JSON.stringify(text.trim().slice(0, 80))}`);
  const dict = value as Record<string, unknown>;
  const keys = Object.keys(dict).sort().join(',');
  if (keys !== 'descr,fortran_order,shape')
    fail(`header keys must be descr, fortran_order and shape; got ${keys || 'none'}`);
  const rawDescr = toDescrValue(dict.descr);
  const parsedDescr = explainDescr(rawDescr);
  if ('refused' in parsedDescr)
    throw new UnsupportedDtypeError(
      where,
      typeof rawDescr === 'string' ? rawDescr : JSON.stringify(rawDescr),
      parsedDescr.refused,
    );
  const descr = parsedDescr.descr;
  const fortranOrder = dict.fortran_order;
  if (typeof fortranOrder !== 'boolean') fail('fortran_order must be True or False');
  const shapeValue = dict.shape;
  if (!(shapeValue instanceof Tuple)) return fail('shape must be a tuple');
  const shape: number[] = [];
  let count = 1;
  for (const dim of shapeValue.items) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim))
      fail(`shape entry ${String(dim)} is not an integer`);
    if ((dim as number) < 0) fail(`negative shape entry ${dim} in (${shapeValue.items.join(', ')})`);
    shape.push(dim as number);
    count *= dim as number;
  }
  const dataBytes = count * parsedDescr.itemsize;
  if (!Number.isSafeInteger(dataBytes) || dataBytes > 2 ** 48)
    fail(`shape (${shape.join(', ')}) is too large (${dataBytes} bytes)`);
  return {
    dtype: parsedDescr.dtype,
    itemsize: parsedDescr.itemsize,
    lanes: parsedDescr.lanes,
    littleEndian: parsedDescr.littleEndian,
    fortranOrder: fortranOrder as boolean,
    shape,
    count,
    dataBytes,
    descr,
  };
}

/**
 * Decodes `.npy` bytes into an {@link NdArray}. Little-endian data that is aligned in `bytes` comes
 * back as a view (no copy); big-endian data is byte-swapped into a new array.
 *
 * @example
 * ```ts
 * const a = decodeNpy(fs.readFileSync('a.npy'));
 * a.shape; // [3, 4]
 * ```
 */
export function decodeNpy(bytes: Uint8Array, where: ShardLocation = {}): NdArray {
  const header = parseNpyHeader(bytes, where);
  const available = bytes.length - header.dataOffset;
  if (available < header.dataBytes)
    throw new NpyFormatError(
      where,
      `shape (${header.shape.join(', ')}) of ${header.descr} needs ${header.dataBytes} data bytes but the member holds ${available}`,
    );
  const array = {
    data: decodeData(bytes, header),
    shape: header.shape,
    dtype: header.dtype.name,
    order: header.fortranOrder ? ('F' as const) : ('C' as const),
  };
  return header.descr === defaultDescr(header.dtype) ? array : { ...array, descr: header.descr };
}

function decodeData(bytes: Uint8Array, header: NpyHeader): TypedArray {
  const { dtype, littleEndian } = header;
  const count = header.count * header.lanes;
  const start = bytes.byteOffset + header.dataOffset;
  const size = dtype.arrayType.BYTES_PER_ELEMENT;
  // A copy in a plain Uint8Array (a Buffer's slice would share, and be a Buffer).
  if (dtype.codec === 'raw')
    return new Uint8Array(bytes.subarray(header.dataOffset, header.dataOffset + header.dataBytes));
  if (dtype.codec === 'half') {
    const bits = new Uint16Array(count);
    const raw = new Uint8Array(bits.buffer);
    raw.set(bytes.subarray(header.dataOffset, header.dataOffset + header.dataBytes));
    if (!littleEndian) Buffer.from(raw.buffer, 0, raw.length).swap16();
    return halfToFloat(bits);
  }
  const Ctor = dtype.arrayType as new (
    buffer: ArrayBufferLike,
    offset?: number,
    length?: number,
  ) => TypedArray;
  if (littleEndian || size === 1) {
    if (start % size === 0) return new Ctor(bytes.buffer, start, count);
    const copy = new Ctor(new ArrayBuffer(header.dataBytes));
    new Uint8Array(copy.buffer).set(bytes.subarray(header.dataOffset, header.dataOffset + header.dataBytes));
    return copy;
  }
  const buffer = new ArrayBuffer(header.dataBytes);
  const swapped = Buffer.from(buffer);
  swapped.set(bytes.subarray(header.dataOffset, header.dataOffset + header.dataBytes));
  if (size === 2) swapped.swap16();
  else if (size === 4) swapped.swap32();
  else swapped.swap64();
  return new Ctor(buffer, 0, count);
}

// ---------------------------------------------------------------------------------------------
// The subset of Python literals numpy writes in headers: dicts, str, True/False, int, tuples.

class Tuple {
  constructor(
    readonly items: unknown[],
    readonly list = false,
  ) {}
}

/** Header literals → plain values for `explainDescr`: lists and tuples become arrays (tuples marked). */
function toDescrValue(value: unknown): unknown {
  if (!(value instanceof Tuple)) return value;
  const items = value.items.map(toDescrValue);
  if (!value.list) Object.defineProperty(items, PY_TUPLE, { value: true });
  return items;
}

function parsePythonLiteral(text: string, fail: (reason: string) => never): unknown {
  let i = 0;
  const skip = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  let depth = 0;
  const value = (): unknown => {
    skip();
    const c = text[i];
    if (c === undefined) return fail('header ends early');
    if (c === '{' || c === '(' || c === '[') {
      if (++depth > 8) fail('header nests too deeply');
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      const items: unknown[] = [];
      const dict: Record<string, unknown> = Object.create(null);
      let trailingComma = false;
      for (;;) {
        skip();
        if (text[i] === close) {
          i++;
          break;
        }
        if (c === '{') {
          const key = value();
          if (typeof key !== 'string') fail('dict keys must be strings');
          skip();
          if (text[i] !== ':') fail(`expected ":" at header offset ${i}`);
          i++;
          dict[key as string] = value();
        } else {
          items.push(value());
        }
        skip();
        if (text[i] === ',') {
          i++;
          trailingComma = true;
        } else if (text[i] === close) {
          trailingComma = false;
        } else {
          fail(`expected "," or "${close}" at header offset ${i}`);
        }
      }
      depth--;
      if (c === '{') return dict;
      // `(3)` is an int in Python, `(3,)` a tuple.
      if (c === '(' && items.length === 1 && !trailingComma) return items[0];
      return new Tuple(items, c === '[');
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string in header');
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) fail('escaped strings are not supported in npy headers');
      i = end + 1;
      return s;
    }
    const word = /^(?:True|False|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (!word) return fail(`unexpected ${JSON.stringify(text.slice(i, i + 16))} in header`);
    i += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    const digits = word[0].replace('L', '');
    if (digits.replace('-', '').length > 17) fail(`shape entry ${digits} is too large`);
    return Number(digits);
  };
  const result = value();
  skip();
  if (i !== text.length) fail(`unexpected trailing text in header at offset ${i}`);
  return result;
}

/**
 * The last npy header a reader decoded, by raw bytes: the members of one field almost always share
 * one header, so comparing bytes skips decoding and parsing the header text.
 *
 * @example
 * ```ts
 * const cache = new NpyHeaderCache();
 * decodeNpyFast(bytes, 512, size, cache);
 * ```
 */
export class NpyHeaderCache {
  /** @internal */
  bytes: Buffer | undefined;
  /** @internal */
  header: NpyHeader | undefined;
}

/**
 * Decodes the `.npy` bytes at `bytes[start, start + length)` when they are a plain little-endian
 * (or single-byte) v1 array whose header matches the cache, or parse cleanly; returns null for
 * anything else, so the caller can take the careful path that reports errors with their location.
 *
 * @example
 * ```ts
 * const array = decodeNpyFast(buffer, 512, size, cache) ?? decodeNpy(buffer.subarray(512), where);
 * ```
 */
export function decodeNpyFast(
  bytes: Buffer,
  start: number,
  length: number,
  cache: NpyHeaderCache,
): NdArray | null {
  if (length < 10 || bytes[start] !== 0x93 || bytes[start + 6] !== 1) return null;
  const headerLength = (bytes[start + 8] as number) | ((bytes[start + 9] as number) << 8);
  const dataOffset = 10 + headerLength;
  if (dataOffset > length) return null;
  let header = cache.header;
  const cached = cache.bytes;
  if (
    !header ||
    !cached ||
    cached.length !== headerLength ||
    bytes.compare(cached, 0, headerLength, start + 10, start + dataOffset) !== 0
  ) {
    try {
      header = parseNpyHeader(bytes.subarray(start, start + length));
    } catch {
      return null;
    }
    cache.bytes = Buffer.from(bytes.subarray(start + 10, start + dataOffset));
    cache.header = header;
  }
  const { dtype, count, dataBytes } = header;
  if (dataOffset + dataBytes > length || dtype.codec !== 'swap' || header.lanes !== 1) return null;
  if (!header.littleEndian && dtype.itemsize !== 1) return null;
  const byteOffset = bytes.byteOffset + start + dataOffset;
  if (byteOffset % dtype.itemsize !== 0) return null;
  const Ctor = dtype.arrayType as new (buffer: ArrayBufferLike, offset: number, length: number) => TypedArray;
  const array = {
    data: new Ctor(bytes.buffer, byteOffset, count),
    shape: header.shape,
    dtype: dtype.name,
    order: header.fortranOrder ? ('F' as const) : ('C' as const),
  };
  return dtype.needsDescr ? { ...array, descr: header.descr } : array;
}
