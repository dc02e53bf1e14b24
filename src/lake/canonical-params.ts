import { createHash } from 'node:crypto';
import { ParamsError } from './errors.js';
import { PythonFloat } from './python-json.js';

/**
 * A JSON value after canonicalization: no undefined, no non-finite numbers, no -0. Objects have a
 * `null` prototype, so a `__proto__` member is an ordinary key like any other.
 */
export type CanonicalValue =
  | null
  | boolean
  | number
  | string
  | CanonicalValue[]
  | { [key: string]: CanonicalValue };

/** A parameter set as a training runner produces it. */
export type Params = Record<string, unknown>;

/**
 * Top-level keys that never take part in a grid id: they change from run to run of the same
 * configuration (the seed, where outputs go, when it ran, what it is called). See docs/grid-id.md.
 *
 * @example
 * ```ts
 * canonicalizeParams(p, { volatileKeys: [...DEFAULT_VOLATILE_KEYS, 'host'] });
 * ```
 */
export const DEFAULT_VOLATILE_KEYS: readonly string[] = Object.freeze([
  'seed',
  'grid_id',
  'run_id',
  'run_name',
  'base_out',
  'parquet_out',
  'out_dir',
  'output_dir',
  'output_path',
  'results_dir',
  'log_dir',
  'checkpoint_dir',
  'save_dir',
  'timestamp',
  'created_at',
  'started_at',
  'start_time',
  'end_time',
]);

/** Options for {@link canonicalizeParams} and the hashing functions built on it. */
export interface CanonicalizeOptions {
  /** Top-level keys to drop. Defaults to {@link DEFAULT_VOLATILE_KEYS}. */
  readonly volatileKeys?: Iterable<string>;
}

/**
 * Returns the canonical form of a parameter set: volatile top-level keys dropped, `undefined`
 * dropped, keys sorted recursively (by UTF-16 code units, as RFC 8785), array order kept, `-0`
 * turned into `0`. Every object in the result has a `null` prototype, so a `__proto__` key is
 * kept like any other. Any finite double is accepted; NaN, ±Infinity, bigints that no double
 * equals exactly, functions, symbols, symbol keys and non-plain objects are refused with a
 * {@link ParamsError} naming the path.
 *
 * @example
 * ```ts
 * canonicalizeParams({ b: 1.0, a: { y: -0, x: [3, 1] }, seed: 7 });
 * // => { a: { x: [3, 1], y: 0 }, b: 1 }
 * ```
 */
export function canonicalizeParams(
  params: Params,
  options: CanonicalizeOptions = {},
): Record<string, CanonicalValue> {
  if (!isPlainObject(params)) throw new ParamsError('', `must be a plain object, not ${describe(params)}`);
  const volatile = new Set(options.volatileKeys ?? DEFAULT_VOLATILE_KEYS);
  return canonicalObject(params, null, (key) => volatile.has(key));
}

/**
 * Serialises a canonical value as RFC 8785 (JSON Canonicalization Scheme) text: no whitespace,
 * keys sorted by UTF-16 code units, numbers in ECMAScript shortest round-trip form.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 0.1, a: 1e21 }); // '{"a":1e+21,"b":0.1}'
 * ```
 */
export function canonicalJson(value: CanonicalValue): string {
  // JSON.stringify emits ECMAScript number formatting and RFC 8785 string escaping for scalars.
  // Objects are assembled by hand: engines enumerate integer-like keys ("2", "10") first in
  // numeric order, which is not the code-unit order RFC 8785 requires.
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members = sortedKeys(value).map(
      (key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as CanonicalValue)}`,
    );
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The full SHA-256 (64 hex characters) of the canonical JSON of `params`.
 *
 * @example
 * ```ts
 * fullParamsHash({ lr: 0.1 }).length; // 64
 * ```
 */
export function fullParamsHash(params: Params, options: CanonicalizeOptions = {}): string {
  return canonicalHash(canonicalizeParams(params, options));
}

/**
 * The SHA-256 (64 hex characters) of an already canonical parameter set's canonical JSON.
 *
 * @example
 * ```ts
 * canonicalHash(canonicalizeParams(params)) === fullParamsHash(params); // true
 * ```
 */
export function canonicalHash(canonical: Record<string, CanonicalValue>): string {
  return createHash('sha256').update(canonicalJson(canonical), 'utf8').digest('hex');
}

/**
 * The grid id of a parameter set: the first 8 hex characters of {@link fullParamsHash}.
 *
 * @example
 * ```ts
 * gridHash({ algo: 'memorypair', seed: 1 }) === gridHash({ algo: 'memorypair', seed: 2 }); // true
 * ```
 */
export function gridHash(params: Params, options: CanonicalizeOptions = {}): string {
  return fullParamsHash(params, options).slice(0, GRID_ID_LENGTH);
}

/**
 * Number of hex characters in a grid id.
 *
 * @example
 * ```ts
 * gridHash(params).length === GRID_ID_LENGTH; // true
 * ```
 */
export const GRID_ID_LENGTH = 8;

/**
 * The canonical copy of a plain object, built on a `null` prototype: on an ordinary object,
 * `out.__proto__ = value` would set the prototype instead of adding a member, and the key would
 * silently vanish from the hash.
 */
function canonicalObject(
  object: Record<string, unknown>,
  path: string | null,
  skip: (key: string) => boolean = () => false,
): Record<string, CanonicalValue> {
  // JSON.stringify and Object.keys ignore symbol keys; refuse them rather than hash without them.
  const symbol = Object.getOwnPropertySymbols(object).find((s) =>
    Object.prototype.propertyIsEnumerable.call(object, s),
  );
  if (symbol !== undefined) {
    throw new ParamsError(
      memberPath(path, String(symbol)),
      'a symbol key is not a JSON object key (keys must be strings)',
    );
  }
  const out = Object.create(null) as Record<string, CanonicalValue>;
  for (const key of sortedKeys(object)) {
    if (skip(key)) continue;
    const item = canonicalValue(object[key], memberPath(path, key));
    if (item !== undefined) out[key] = item; // safe: `out` has no __proto__ accessor to trigger
  }
  return out;
}

function canonicalValue(value: unknown, path: string): CanonicalValue | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return canonicalNumber(value, path);
  // A Python float read from JSON text (`1.0`): runlake's scheme has one number type.
  if (value instanceof PythonFloat) return canonicalNumber(value.value, path);
  if (typeof value === 'bigint') return bigintToNumber(value, path);
  if (Array.isArray(value)) {
    // JSON has no undefined; inside an array it becomes null, as JSON.stringify does.
    return value.map((item, i) => canonicalValue(item, `${path}[${i}]`) ?? null);
  }
  if (isPlainObject(value)) return canonicalObject(value, path);
  throw new ParamsError(path, `${describe(value)} is not a JSON value`);
}

/** Any finite double is accepted as it is (the hash is defined over IEEE-754 doubles); -0 becomes 0. */
function canonicalNumber(value: number, path: string): number {
  if (!Number.isFinite(value)) throw new ParamsError(path, `${value} is not a finite number`);
  return value === 0 ? 0 : value;
}

/** A bigint is accepted iff some double equals it exactly; it becomes that double. */
function bigintToNumber(value: bigint, path: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || BigInt(number) !== value) {
    throw new ParamsError(path, `${integerText(value)} is not exactly representable as an IEEE-754 double`);
  }
  return number === 0 ? 0 : number;
}

/** `integer 9007199254740993`; huge ones by size, as the Python port does, since their digits would swamp the message. */
function integerText(value: bigint): string {
  const bits = (value < 0n ? -value : value).toString(2).length;
  return bits <= 128 ? `integer ${value}` : `${value < 0n ? 'a negative' : 'an'} integer of ${bits} bits`;
}

/**
 * The path of a member: `key` in the parameter set itself (`path` null), `path.key` below it
 * (`opt.betas`, `layers[1].scale`; `.x` inside a top-level member named '').
 */
function memberPath(path: string | null, key: string): string {
  return path === null ? key : `${path}.${key}`;
}

/** Names what a non-JSON value is, for error messages: 'a Map', 'a Config instance', 'a function'. */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value !== 'object') return withArticle(typeof value);
  if (value instanceof Date) return 'a Date (store it as an ISO string)';
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  const name = constructorName(value);
  if (tag !== 'Object' && (name === undefined || name === tag)) return withArticle(tag);
  if (name !== undefined && name !== 'Object') return `${withArticle(name)} instance`;
  return 'an object with a custom prototype';
}

function constructorName(value: object): string | undefined {
  try {
    const ctor: unknown = Object.getPrototypeOf(value)?.constructor;
    return typeof ctor === 'function' && ctor.name !== '' ? ctor.name : undefined;
  } catch {
    return undefined; // a Proxy or a getter that throws
  }
}

/** 'an ArrayBuffer', 'a Map'; words starting with U take 'a' ('a Uint8Array', 'a URL'). */
function withArticle(word: string): string {
  return `${/^[aeio]/i.test(word) ? 'an' : 'a'} ${word}`;
}

/** Keys in UTF-16 code-unit order, which is what Array.prototype.sort does for strings. */
function sortedKeys(object: object): string[] {
  return Object.keys(object).sort();
}

/** A plain object: its prototype is `Object.prototype` or `null` (as canonical objects are). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
