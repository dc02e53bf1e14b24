/**
 * Grid-id schemes: how a parameter set becomes a grid id. runlake's own scheme is the default for
 * new lakes; the three exp_engine generations are reproduced bit for bit so that a lake exp_engine
 * wrote keeps one directory per configuration when runlake appends to it. See docs/grid-id.md.
 */
import { createHash } from 'node:crypto';
import {
  type CanonicalizeOptions,
  canonicalizeParams,
  canonicalJson,
  type Params,
} from './canonical-params.js';
import { ParamsError, RunlakeError } from './errors.js';
import { compareCodePoints, PythonFloat, type PythonJsonValue, pythonJsonDumps } from './python-json.js';

/**
 * The grid-id schemes a lake can use, in one table (see {@link GRID_ID_SCHEME_TABLE}).
 *
 * @example
 * ```ts
 * GRID_ID_SCHEMES.includes('exp_engine-sha256-12'); // true
 * ```
 */
export const GRID_ID_SCHEMES = [
  'runlake',
  'exp_engine-md5-8',
  'exp_engine-sha256-8',
  'exp_engine-sha256-12',
] as const;

/** One of {@link GRID_ID_SCHEMES}. */
export type GridIdScheme = (typeof GRID_ID_SCHEMES)[number];

/** The scheme of a new lake. */
export const DEFAULT_GRID_ID_SCHEME: GridIdScheme = 'runlake';

/** How one scheme canonicalizes, serialises and hashes. */
export interface GridIdSchemeDefinition {
  readonly name: GridIdScheme;
  readonly description: string;
  /** Hex characters in an id. */
  readonly length: number;
  /** The exact text that is hashed. */
  readonly canonicalText: (params: Params, options?: CanonicalizeOptions) => string;
  /** The full hex digest of that text. */
  readonly digest: (text: string) => string;
}

/** exp_engine's volatile keys, dropped at every depth (unlike runlake's top-level list). */
const EXP_ENGINE_VOLATILE = new Set([
  'base_out',
  'out_dir',
  'output_dir',
  'results_dir',
  'timestamp',
  'hostname',
  'host',
  'user',
  'seed',
  'seeds',
  'commit_results',
  'figs_dir',
  'figs',
  'log_dir',
  'run_id',
]);

/** First two generations: a key is path-like when its lowercase form contains one of these. */
const PATH_SUBSTRINGS = ['path', 'dir', 'folder', 'file'];

/**
 * Third generation: a whole word between `_` or the ends, case-insensitively as Python's `re`
 * does it (`İ` and `ı` match `i` there, but not under JavaScript's case folding; Python's `$` also
 * matches before one trailing newline).
 */
const PATH_WORD = new RegExp(
  `(?:^|_)(?:${[
    'path',
    'paths',
    'dir',
    'directory',
    'directories',
    'folder',
    'folders',
    'file',
    'filename',
    'files',
  ]
    .map((word) => word.replaceAll('i', '[i\\u0130\\u0131]'))
    .join('|')})(?:_|$|(?=\\n$))`,
  'iu',
);

const substringPathLike = (key: string) => {
  const lower = key.toLowerCase();
  return PATH_SUBSTRINGS.some((s) => lower.includes(s));
};
const wordPathLike = (key: string) => PATH_WORD.test(key);

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function expEngineScheme(
  name: GridIdScheme,
  digest: (text: string) => string,
  length: number,
  pathLike: (key: string) => boolean,
  description: string,
): GridIdSchemeDefinition {
  return {
    name,
    description,
    length,
    digest,
    canonicalText: (params) =>
      pythonJsonDumps(expEngineCanonical(params, pathLike, '') as PythonJsonValue, { compact: true }),
  };
}

/**
 * Every scheme, by name: the one place that says how each computes an id.
 *
 * @example
 * ```ts
 * GRID_ID_SCHEME_TABLE['exp_engine-md5-8'].length; // 8
 * ```
 */
export const GRID_ID_SCHEME_TABLE: Readonly<Record<GridIdScheme, GridIdSchemeDefinition>> = Object.freeze({
  runlake: {
    name: 'runlake',
    description: 'SHA-256 of RFC 8785 JSON, top-level volatile keys, 8 hex characters',
    length: 8,
    digest: sha256,
    canonicalText: (params: Params, options?: CanonicalizeOptions) =>
      canonicalJson(canonicalizeParams(params, options)),
  },
  'exp_engine-md5-8': expEngineScheme(
    'exp_engine-md5-8',
    md5,
    8,
    substringPathLike,
    "exp_engine's first generation: MD5 of json.dumps, path-like keys by substring, 8 hex characters",
  ),
  'exp_engine-sha256-8': expEngineScheme(
    'exp_engine-sha256-8',
    sha256,
    8,
    substringPathLike,
    "exp_engine's second generation: SHA-256 of json.dumps, path-like keys by substring, 8 hex characters",
  ),
  'exp_engine-sha256-12': expEngineScheme(
    'exp_engine-sha256-12',
    sha256,
    12,
    wordPathLike,
    "exp_engine's third generation: SHA-256 of json.dumps, path-like keys by whole word, 12 hex characters",
  ),
});

/**
 * Whether `name` is a grid-id scheme.
 *
 * @example
 * ```ts
 * isGridIdScheme('exp_engine-sha256-12'); // true
 * ```
 */
export function isGridIdScheme(name: unknown): name is GridIdScheme {
  return typeof name === 'string' && (GRID_ID_SCHEMES as readonly string[]).includes(name);
}

/**
 * Checks a scheme name given by a user (a CLI flag, a setting), naming the known ones.
 *
 * @throws {RunlakeError} for an unknown name.
 * @example
 * ```ts
 * parseGridIdScheme('exp_engine-md5-8'); // 'exp_engine-md5-8'
 * ```
 */
export function parseGridIdScheme(name: string): GridIdScheme {
  if (isGridIdScheme(name)) return name;
  throw new RunlakeError(`unknown grid-id scheme "${name}" (known: ${GRID_ID_SCHEMES.join(', ')})`);
}

/**
 * The exact text a scheme hashes for `params`: runlake's RFC 8785 JSON, or exp_engine's
 * `json.dumps(canonical, sort_keys=True, separators=(',', ':'), ensure_ascii=True)`.
 *
 * @example
 * ```ts
 * canonicalParamsText({ lr: 1e-7, seed: 3 }, 'exp_engine-sha256-12'); // '{"lr":1e-07}'
 * ```
 */
export function canonicalParamsText(
  params: Params,
  scheme: GridIdScheme = DEFAULT_GRID_ID_SCHEME,
  options: CanonicalizeOptions = {},
): string {
  return GRID_ID_SCHEME_TABLE[scheme].canonicalText(params, options);
}

/**
 * The grid id of `params` under `scheme`. For the exp_engine schemes a whole `number` is a Python
 * `int`; wrap a whole float in {@link PythonFloat} (`pyFloat(1)`) to hash it as `1.0`, or read the
 * params with `parsePythonJson`, which keeps the distinction. Unlike runlake's scheme, those accept
 * NaN, ±Infinity and integers of any size, as exp_engine did.
 *
 * @example
 * ```ts
 * gridIdFor({ algo: 'memorypair', gamma_bar: pyFloat(1) }, 'exp_engine-sha256-12').length; // 12
 * ```
 */
export function gridIdFor(
  params: Params,
  scheme: GridIdScheme = DEFAULT_GRID_ID_SCHEME,
  options: CanonicalizeOptions = {},
): string {
  const definition = GRID_ID_SCHEME_TABLE[scheme];
  return definition.digest(definition.canonicalText(params, options)).slice(0, definition.length);
}

/**
 * The scheme whose ids have this length, when only one has: 12 characters can only be exp_engine's
 * third generation.
 *
 * @example
 * ```ts
 * schemeOfIdLength(12); // 'exp_engine-sha256-12'
 * schemeOfIdLength(8); // undefined (three schemes use 8)
 * ```
 */
export function schemeOfIdLength(length: number): GridIdScheme | undefined {
  const matching = GRID_ID_SCHEMES.filter((s) => GRID_ID_SCHEME_TABLE[s].length === length);
  return matching.length === 1 ? matching[0] : undefined;
}

/**
 * exp_engine's canonical form: volatile and path-like keys dropped at every depth, keys in code
 * point order, floats rounded to 10 decimals and snapped to whole numbers when within 1e-10,
 * lists kept in order, everything else as it is.
 */
function expEngineCanonical(value: unknown, pathLike: (key: string) => boolean, at: string): unknown {
  if (value instanceof PythonFloat || (typeof value === 'number' && !Number.isSafeInteger(value))) {
    // A float stays a float even when rounding makes it whole (4e-11 → 0.0, not 0).
    const rounded = roundFloat(typeof value === 'number' ? value : value.value);
    return Number.isInteger(rounded) ? new PythonFloat(rounded) : rounded;
  }
  if (value === null || ['string', 'boolean', 'bigint', 'number'].includes(typeof value)) return value;
  if (Array.isArray(value)) {
    return value.map((item, i) =>
      expEngineCanonical(item === undefined ? null : item, pathLike, `${at}[${i}]`),
    );
  }
  if (typeof value === 'object' && isPlain(value)) {
    const out: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(value).sort(compareCodePoints)) {
      if (EXP_ENGINE_VOLATILE.has(key) || pathLike(key)) continue;
      const member = (value as Record<string, unknown>)[key];
      if (member === undefined) continue;
      out[key] = expEngineCanonical(member, pathLike, at ? `${at}.${key}` : key);
    }
    return out;
  }
  throw new ParamsError(at, `${describeValue(value)} is not a JSON value`);
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describeValue(value: unknown): string {
  if (typeof value === 'object' && value !== null) return `a ${value.constructor?.name ?? 'object'} instance`;
  return `a ${typeof value}`;
}

/**
 * exp_engine's float rule: `round(v, 10)`, then a whole number when within 1e-10 of one; NaN and
 * ±Infinity pass through (Python's `round` raises on them and exp_engine keeps the value).
 */
function roundFloat(x: number): number {
  if (!Number.isFinite(x)) return x;
  const rounded = roundTo10Decimals(x);
  const whole = roundHalfEven(rounded);
  if (Math.abs(rounded - whole) < 1e-10) return whole === 0 ? 0 : whole;
  return rounded;
}

/**
 * Python's `round(x, 10)`: the decimal with 10 places nearest to the exact binary value, ties to
 * even, read back as the nearest double. `toFixed` rounds exactly but breaks ties away from zero;
 * the only doubles that are ties at 10 places are odd multiples of 2^-11.
 */
function roundTo10Decimals(x: number): number {
  if (Number.isInteger(x)) return x;
  const scaled = x * 2048; // exact: a power of two
  if (Number.isInteger(scaled) && Math.abs(scaled) % 2 === 1) {
    // x·10^10 = j·5^10 / 2 with j odd: halfway between two integers; take the even one.
    const half = BigInt(Math.abs(scaled)) * 9765625n;
    const lower = (half - 1n) / 2n;
    const even = lower % 2n === 0n ? lower : lower + 1n;
    const value = Number(`${even}e-10`);
    return x < 0 ? -value : value;
  }
  return Number(x.toFixed(10));
}

/** Python's `round(x)` for a double: nearest whole number, ties to even. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Returns a copy of `params` with `grid_id` set to its id under `scheme` (runlake's by default).
 * Under runlake's scheme it is idempotent (`grid_id` is volatile there); under exp_engine's the
 * id is computed without a `grid_id` already present, so attaching twice gives the same id and a
 * lake's writers accept the result, as exp_engine's lineage B stored it.
 *
 * @example
 * ```ts
 * attachGridId({ algo: 'memorypair', gamma_bar: 1.0 }).grid_id; // e.g. '3f9c2a1b'
 * attachGridId({ algo: 'memorypair', gamma_bar: pyFloat(1) }, { scheme: 'exp_engine-sha256-12' }).grid_id.length; // 12
 * ```
 */
export function attachGridId<T extends Params>(
  params: T,
  options: CanonicalizeOptions & { readonly scheme?: GridIdScheme } = {},
): T & { grid_id: string } {
  const { grid_id: _, ...rest } = params;
  const scheme = options.scheme ?? DEFAULT_GRID_ID_SCHEME;
  return { ...params, grid_id: gridIdFor(scheme === 'runlake' ? params : rest, scheme, options) };
}
