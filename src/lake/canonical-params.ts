import { createHash } from 'node:crypto';
import { ParamsError } from './errors.js';

/** A JSON value after canonicalization: no undefined, no non-finite numbers, no -0. */
export type CanonicalValue = null | boolean | number | string | CanonicalValue[] | { [key: string]: CanonicalValue };

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
 * turned into `0`. NaN, ±Infinity, integers beyond ±2^53, functions, symbols and non-plain
 * objects are refused with a {@link ParamsError} naming the path.
 *
 * @example
 * ```ts
 * canonicalizeParams({ b: 1.0, a: { y: -0, x: [3, 1] }, seed: 7 });
 * // => { a: { x: [3, 1], y: 0 }, b: 1 }
 * ```
 */
export function canonicalizeParams(params: Params, options: CanonicalizeOptions = {}): Record<string, CanonicalValue> {
  if (!isPlainObject(params)) throw new ParamsError('', 'params must be a plain object');
  const volatile = new Set(options.volatileKeys ?? DEFAULT_VOLATILE_KEYS);
  const out: Record<string, CanonicalValue> = {};
  for (const key of sortedKeys(params)) {
    if (volatile.has(key)) continue;
    const value = canonicalValue(params[key], key);
    if (value !== undefined) out[key] = value;
  }
  return out;
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
    const members = sortedKeys(value).map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as CanonicalValue)}`);
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
  return createHash('sha256')
    .update(canonicalJson(canonicalizeParams(params, options)), 'utf8')
    .digest('hex');
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

/** Number of hex characters in a grid id. */
export const GRID_ID_LENGTH = 8;

/**
 * Returns a copy of `params` with `grid_id` set to {@link gridHash}. Idempotent: `grid_id` is a
 * volatile key, so attaching twice gives the same id.
 *
 * @example
 * ```ts
 * const p = attachGridId({ algo: 'memorypair', gamma_bar: 1.0 });
 * p.grid_id; // e.g. '3f9c2a1b'
 * ```
 */
export function attachGridId<T extends Params>(params: T, options: CanonicalizeOptions = {}): T & { grid_id: string } {
  return { ...params, grid_id: gridHash(params, options) };
}

function canonicalValue(value: unknown, path: string): CanonicalValue | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return canonicalNumber(value, path);
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(-Number.MAX_SAFE_INTEGER)) {
      throw new ParamsError(path, `integer ${value} is outside ±(2^53 - 1) and cannot be hashed exactly`);
    }
    return Number(value);
  }
  if (Array.isArray(value)) {
    // JSON has no undefined; inside an array it becomes null, as JSON.stringify does.
    return value.map((item, i) => canonicalValue(item, `${path}[${i}]`) ?? null);
  }
  if (isPlainObject(value)) {
    const out: Record<string, CanonicalValue> = {};
    for (const key of sortedKeys(value)) {
      const item = canonicalValue(value[key], `${path}.${key}`);
      if (item !== undefined) out[key] = item;
    }
    return out;
  }
  const kind = value instanceof Date ? 'a Date (store it as an ISO string)' : `a ${typeof value}`;
  throw new ParamsError(path, `${kind} is not a JSON value`);
}

function canonicalNumber(value: number, path: string): number {
  if (!Number.isFinite(value)) throw new ParamsError(path, `${value} is not a finite number`);
  if (Number.isInteger(value) && Math.abs(value) > Number.MAX_SAFE_INTEGER) {
    throw new ParamsError(path, `integer ${value} is outside ±(2^53 - 1) and cannot be hashed exactly`);
  }
  return value === 0 ? 0 : value;
}

/** Keys in UTF-16 code-unit order, which is what Array.prototype.sort does for strings. */
function sortedKeys(object: object): string[] {
  return Object.keys(object).sort();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
