/**
 * JSON as Python's `json` module reads and writes it. exp_engine hashed and stored parameters
 * with `json.dumps`, where `1` (an int) and `1.0` (a float) are different values, integers have
 * no size limit, and NaN/Infinity are tokens. Reading such files with `JSON.parse` would lose
 * exactly the distinctions its grid ids depend on, so this module keeps them.
 */
import { MAX_JSON_DEPTH } from './json-text.js';

/**
 * A Python `float` whose value is a whole number (`1.0`, `1e+16`). JavaScript has one number
 * type, so a whole `number` means a Python `int`; wrap it to mean a float.
 *
 * @example
 * ```ts
 * pythonJsonDumps({ gamma_bar: new PythonFloat(1) }); // '{"gamma_bar": 1.0}'
 * ```
 */
export class PythonFloat {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

/**
 * Marks a number as a Python `float` (see {@link PythonFloat}).
 *
 * @example
 * ```ts
 * gridIdFor({ gamma_bar: pyFloat(1) }, 'exp_engine-sha256-12');
 * ```
 */
export function pyFloat(value: number): PythonFloat {
  return new PythonFloat(value);
}

/**
 * A value as Python's `json` sees it: a `number` that is a whole, finite number is an `int`, any
 * other `number` and every {@link PythonFloat} a `float`, a `bigint` an `int`.
 */
export type PythonJsonValue =
  | null
  | boolean
  | string
  | number
  | bigint
  | PythonFloat
  | PythonJsonValue[]
  | { [key: string]: PythonJsonValue };

/** Thrown for text `json.loads` would refuse; the message names the offset. */
export class PythonJsonError extends Error {
  constructor(
    readonly offset: number,
    reason: string,
  ) {
    super(`${reason} at character ${offset}`);
    this.name = 'PythonJsonError';
  }
}

/** True when `value` is a Python float in the sense of {@link PythonJsonValue}. */
export function isPythonFloat(value: unknown): value is number | PythonFloat {
  return value instanceof PythonFloat || (typeof value === 'number' && !Number.isSafeInteger(value));
}

/**
 * Parses JSON text as `json.loads` does, keeping what `JSON.parse` loses: an integer literal is an
 * `int` (a `number` when it is a safe integer, else a `bigint`), a literal with a fraction or an
 * exponent is a `float` (a {@link PythonFloat} when its value is whole, so `1.0` stays a float),
 * and `NaN`, `Infinity`, `-Infinity` are accepted. Objects are built on a `null` prototype; a
 * repeated key keeps its last value, as in Python.
 *
 * @throws {PythonJsonError} for text that is not JSON, naming the offset.
 * @example
 * ```ts
 * const p = parsePythonJson('{"a": 1.0, "b": 12345678901234567890}') as Record<string, unknown>;
 * p.a instanceof PythonFloat; // true
 * typeof p.b; // 'bigint'
 * ```
 */
export function parsePythonJson(text: string, maxDepth = MAX_JSON_DEPTH): PythonJsonValue {
  let at = 0;
  const fail = (reason: string): never => {
    throw new PythonJsonError(at, reason);
  };
  const skipSpace = () => {
    while (at < text.length) {
      const c = text.charCodeAt(at);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) at++;
      else break;
    }
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
  const parseString = (): string => {
    at++; // opening quote
    let out = '';
    let start = at;
    for (;;) {
      if (at >= text.length) fail('unterminated string');
      const c = text.charCodeAt(at);
      if (c === 0x22) {
        out += text.slice(start, at);
        at++;
        return out;
      }
      if (c < 0x20) fail('invalid control character in string');
      if (c !== 0x5c) {
        at++;
        continue;
      }
      out += text.slice(start, at);
      const e = text[at + 1];
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (e !== undefined && e in simple) {
        out += simple[e];
        at += 2;
      } else if (e === 'u') {
        const hex = text.slice(at + 2, at + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape');
        out += String.fromCharCode(Number.parseInt(hex, 16));
        at += 6;
      } else {
        fail('invalid escape');
      }
      start = at;
    }
  };
  const parseValue = (depth: number): PythonJsonValue => {
    skipSpace();
    const c = text[at];
    if (c === '{' || c === '[') {
      if (depth >= maxDepth) fail(`nested deeper than ${maxDepth} levels`);
      at++;
      skipSpace();
      if (c === '[') {
        const list: PythonJsonValue[] = [];
        if (text[at] === ']') {
          at++;
          return list;
        }
        for (;;) {
          list.push(parseValue(depth + 1));
          skipSpace();
          if (text[at] === ',') at++;
          else if (text[at] === ']') {
            at++;
            return list;
          } else fail("expected ',' or ']'");
        }
      }
      const object: Record<string, PythonJsonValue> = Object.create(null);
      if (text[at] === '}') {
        at++;
        return object;
      }
      for (;;) {
        skipSpace();
        if (text[at] !== '"') fail('expected a property name in double quotes');
        const key = parseString();
        skipSpace();
        if (text[at] !== ':') fail("expected ':'");
        at++;
        object[key] = parseValue(depth + 1);
        skipSpace();
        if (text[at] === ',') at++;
        else if (text[at] === '}') {
          at++;
          return object;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === '"') return parseString();
    for (const [word, value] of WORDS) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = at;
    const match = NUMBER.exec(text);
    if (!match) return fail('expecting value');
    at += match[0].length;
    if (match[1] === undefined && match[2] === undefined) {
      const big = BigInt(match[0]);
      const small = Number(big);
      return Number.isSafeInteger(small) ? small : big;
    }
    const value = Number(match[0]);
    return Number.isFinite(value) && Number.isInteger(value) ? new PythonFloat(value) : value;
  };
  const value = parseValue(0);
  skipSpace();
  if (at < text.length) fail('extra data');
  return value;
}

const WORDS: ReadonlyArray<readonly [string, PythonJsonValue]> = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
];

/**
 * `repr(float)` in Python: the shortest digits that read back as the same double, laid out as
 * Python does (`1.0`, `0.0001`, `1e-05`, `1e+16`, `1.5e+300`, `nan`→`NaN` as `json` writes it).
 *
 * @example
 * ```ts
 * pythonFloatRepr(1e-7); // '1e-07'
 * pythonFloatRepr(1e15); // '1000000000000000.0'
 * ```
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  // toExponential() with no argument gives the shortest round-trip digits, as repr does.
  const [mantissa, exponentText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  const point = exponent + 1; // the value is 0.<digits> × 10^point
  if (point <= -4 || point > 16) {
    const rest = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const e = Math.abs(exponent).toString().padStart(2, '0');
    return `${sign}${digits[0]}${rest}e${exponent < 0 ? '-' : '+'}${e}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * A value of {@link parsePythonJson} as plain JSON for display and SQL: floats as numbers, an
 * integer beyond 2^53 as its digits (a string, so none is silently rounded), NaN and ±Infinity as
 * the strings `json.dumps` writes for them.
 *
 * @example
 * ```ts
 * plainJsonValue(parsePythonJson('{"a": 1.0, "b": NaN}')); // { a: 1, b: 'NaN' }
 * ```
 */
export function plainJsonValue(value: PythonJsonValue): CanonicalJson {
  if (value instanceof PythonFloat) return value.value;
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : pythonFloatRepr(value);
  if (Array.isArray(value)) return value.map(plainJsonValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, CanonicalJson> = Object.create(null);
    for (const [key, member] of Object.entries(value)) out[key] = plainJsonValue(member);
    return out;
  }
  return value;
}

/** A plain JSON value (what `JSON.parse` returns). */
export type CanonicalJson =
  | null
  | boolean
  | number
  | string
  | CanonicalJson[]
  | { [key: string]: CanonicalJson };

/** Options for {@link pythonJsonDumps}: the `json.dumps` arguments exp_engine used. */
export interface PythonDumpsOptions {
  /** `indent=n`: newlines and n spaces per level, `', '`→`','` and `': '` separators. */
  readonly indent?: number;
  /** `sort_keys=True` (code point order). Default true. */
  readonly sortKeys?: boolean;
  /** `separators=(',', ':')`; ignored with `indent`. Default false (`', '` and `': '`). */
  readonly compact?: boolean;
}

/**
 * `json.dumps(value, sort_keys=True, ensure_ascii=True, …)`: keys sorted by code point, every
 * character outside printable ASCII escaped as `\uXXXX`, floats as `repr`, ints in full, NaN and
 * Infinity as their tokens.
 *
 * @example
 * ```ts
 * pythonJsonDumps({ b: 0.1, a: 'é' }, { compact: true }); // '{"a":"\\u00e9","b":0.1}'
 * ```
 */
export function pythonJsonDumps(value: PythonJsonValue, options: PythonDumpsOptions = {}): string {
  const sortKeys = options.sortKeys ?? true;
  const indent = options.indent;
  const itemSeparator = indent !== undefined || options.compact ? ',' : ', ';
  const keySeparator = options.compact && indent === undefined ? ':' : ': ';
  const write = (v: PythonJsonValue, level: number): string => {
    if (v === null) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (typeof v === 'string') return pythonJsonString(v);
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof PythonFloat) return pythonFloatRepr(v.value);
    if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : pythonFloatRepr(v);
    const items: string[] = Array.isArray(v)
      ? v.map((item) => (item === undefined ? 'null' : write(item, level + 1)))
      : orderedKeys(v, sortKeys)
          .filter((key) => v[key] !== undefined)
          .map(
            (key) => `${pythonJsonString(key)}${keySeparator}${write(v[key] as PythonJsonValue, level + 1)}`,
          );
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    if (items.length === 0) return `${open}${close}`;
    if (indent === undefined) return `${open}${items.join(itemSeparator)}${close}`;
    const inner = `\n${' '.repeat(indent * (level + 1))}`;
    return `${open}${inner}${items.join(`${itemSeparator}${inner}`)}\n${' '.repeat(indent * level)}${close}`;
  };
  return write(value, 0);
}

function orderedKeys(object: Record<string, unknown>, sort: boolean): string[] {
  const keys = Object.keys(object);
  return sort ? keys.sort(compareCodePoints) : keys;
}

/**
 * Orders strings by Unicode code point, as Python sorts `str` (JavaScript's default sort compares
 * UTF-16 code units, which puts astral characters before U+E000–U+FFFF).
 *
 * @example
 * ```ts
 * ['\uffff', '😀'].sort(compareCodePoints); // ['\uffff', '😀']
 * ```
 */
export function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    // codePointAt joins a surrogate pair and leaves a lone surrogate as its own code point, as
    // Python's str does.
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(j) as number;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** A string as `json.dumps(..., ensure_ascii=True)` writes it. */
function pythonJsonString(text: string): string {
  return `"${text.replace(/[^ -~]|["\\]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}
