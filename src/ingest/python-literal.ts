/**
 * A parser for Python literal text — what `str(dict)` / `repr(dict)` print, as DataDecide stores
 * its `metrics` column — without evaluating anything. It reads dicts, lists, tuples, strings
 * (single, double or triple quoted, with `r`/`u` prefixes and Python's escapes), ints (any size),
 * floats (`nan`, `inf`, `-inf`, `NaN`, `Infinity`), `True`, `False`, `None`, and the scalar wrappers
 * numpy 2 and `float()` print (`np.float64(0.25)`, `np.int64(3)`, `np.True_`, `float('nan')`).
 */

/**
 * A parsed Python literal. Dicts are null-prototype objects with string keys.
 *
 * @example
 * ```ts
 * const value: PythonValue = parsePythonLiteral("{'acc': [0.5, None]}"); // { acc: [0.5, null] }
 * ```
 */
export type PythonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PythonValue[]
  | { [key: string]: PythonValue };

/**
 * A Python literal that could not be parsed: the 0-based character `position` where parsing
 * stopped and why.
 *
 * @example
 * ```ts
 * try { parsePythonLiteral("{'a': }"); } catch (e) { (e as PythonLiteralError).position; } // 6
 * ```
 */
export class PythonLiteralError extends Error {
  constructor(
    readonly position: number,
    readonly reason: string,
    readonly text: string,
  ) {
    super(`${reason} at character ${position} (${excerpt(text, position)})`);
    this.name = 'PythonLiteralError';
  }
}

function excerpt(text: string, position: number): string {
  const start = Math.max(0, position - 12);
  const end = Math.min(text.length, position + 12);
  return `near ${JSON.stringify(`${start > 0 ? '…' : ''}${text.slice(start, position)}⟨here⟩${text.slice(position, end)}${end < text.length ? '…' : ''}`)}`;
}

const FLOAT_WORDS: Record<string, number> = {
  nan: Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  infinity: Number.POSITIVE_INFINITY,
};
const NUMPY_MODULES = new Set(['np', 'numpy']);
const NUMPY_BOOLS: Record<string, boolean> = { True_: true, False_: false, bool_: false };
const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};
const MAX_DEPTH = 200;

/**
 * Parses one Python literal (the whole text, surrounding whitespace allowed). Dict keys that are
 * not strings become their Python `str()` (`1`, `True`, `None`, `(1, 2)`); a repeated key keeps its
 * last value, as Python does. Integers beyond ±2^53 are `bigint`s.
 *
 * @throws {PythonLiteralError} with the position of the first character that does not fit.
 * @example
 * ```ts
 * parsePythonLiteral("{'acc_raw': 0.25, 'no_answer': 0, 'bpb': nan}"); // { acc_raw: 0.25, no_answer: 0, bpb: NaN }
 * ```
 */
export function parsePythonLiteral(text: string): PythonValue {
  const parser = new Parser(text);
  parser.skipSpace();
  const value = parser.value(0);
  parser.skipSpace();
  if (!parser.atEnd()) parser.fail('unexpected text after the literal');
  return value;
}

/**
 * Flattens a parsed literal into `[name, leaf]` pairs: nested dict keys join with `.`, list and
 * tuple items by index (`scores.0`); empty dicts and lists produce nothing.
 *
 * @example
 * ```ts
 * flattenPythonValue({ acc: 0.5, per: { char: 0.4 } }); // [['acc', 0.5], ['per.char', 0.4]]
 * ```
 */
export function flattenPythonValue(
  value: PythonValue,
  prefix = '',
): Array<[string, null | boolean | number | bigint | string]> {
  if (value !== null && typeof value === 'object') {
    const entries: Array<[string, PythonValue]> = Array.isArray(value)
      ? value.map((item, i) => [String(i), item])
      : Object.entries(value);
    return entries.flatMap(([key, item]) => flattenPythonValue(item, prefix ? `${prefix}.${key}` : key));
  }
  return [[prefix, value]];
}

class Parser {
  #pos = 0;
  constructor(readonly text: string) {}

  atEnd(): boolean {
    return this.#pos >= this.text.length;
  }

  fail(reason: string, at = this.#pos): never {
    throw new PythonLiteralError(at, reason, this.text);
  }

  skipSpace(): void {
    while (this.#pos < this.text.length && /\s/.test(this.text[this.#pos] as string)) this.#pos++;
  }

  #peek(): string {
    return this.text[this.#pos] ?? '';
  }

  #expect(char: string): void {
    this.skipSpace();
    if (this.#peek() !== char) {
      this.fail(this.atEnd() ? `unexpected end, expected "${char}"` : `expected "${char}"`);
    }
    this.#pos++;
  }

  value(depth: number): PythonValue {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    this.skipSpace();
    const c = this.#peek();
    if (c === '') this.fail('unexpected end, expected a value');
    if (c === '{') return this.#dict(depth);
    if (c === '[') return this.#sequence(depth, ']');
    if (c === '(') return this.#sequence(depth, ')');
    if (c === "'" || c === '"') return this.#string('');
    if (/[0-9+\-.]/.test(c)) return this.#number();
    if (/[A-Za-z_]/.test(c)) return this.#word(depth);
    return this.fail(`unexpected character ${JSON.stringify(c)}`);
  }

  #dict(depth: number): PythonValue {
    const open = this.#pos;
    this.#pos++; // {
    const result: { [key: string]: PythonValue } = Object.create(null);
    this.skipSpace();
    if (this.#peek() === '}') {
      this.#pos++;
      return result;
    }
    for (;;) {
      const keyAt = this.#pos;
      const key = this.value(depth + 1);
      this.skipSpace();
      if (this.#peek() !== ':') {
        // `{1, 2}` is a set, which no metrics dict holds.
        this.fail(this.#peek() === ',' || this.#peek() === '}' ? 'sets are not supported' : 'expected ":"');
      }
      this.#pos++;
      result[dictKey(key, keyAt, this)] = this.value(depth + 1);
      this.skipSpace();
      const next = this.#peek();
      if (next === ',') {
        this.#pos++;
        this.skipSpace();
        if (this.#peek() === '}') {
          this.#pos++;
          return result;
        }
        continue;
      }
      if (next === '}') {
        this.#pos++;
        return result;
      }
      this.fail(
        this.atEnd()
          ? `unexpected end, the dict opened at character ${open} is not closed`
          : 'expected "," or "}"',
      );
    }
  }

  #sequence(depth: number, close: string): PythonValue {
    const open = this.#pos;
    this.#pos++;
    const items: PythonValue[] = [];
    this.skipSpace();
    if (this.#peek() === close) {
      this.#pos++;
      return items;
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.skipSpace();
      const next = this.#peek();
      if (next === ',') {
        this.#pos++;
        this.skipSpace();
        if (this.#peek() === close) {
          this.#pos++;
          return items;
        }
        continue;
      }
      if (next === close) {
        this.#pos++;
        // `(x)` is x in Python, not a tuple.
        return close === ')' && items.length === 1 ? (items[0] as PythonValue) : items;
      }
      this.fail(
        this.atEnd()
          ? `unexpected end, the ${close === ']' ? 'list' : 'tuple'} opened at character ${open} is not closed`
          : `expected "," or "${close}"`,
      );
    }
  }

  #string(prefix: string): string {
    const raw = prefix.toLowerCase().includes('r');
    const quote = this.#peek();
    const start = this.#pos;
    const triple = this.text.startsWith(quote.repeat(3), this.#pos);
    const delimiter = triple ? quote.repeat(3) : quote;
    this.#pos += delimiter.length;
    let out = '';
    for (;;) {
      if (this.atEnd()) this.fail('unexpected end, the string is not closed', start);
      if (this.text.startsWith(delimiter, this.#pos)) {
        this.#pos += delimiter.length;
        return out;
      }
      const c = this.#peek();
      if (c === '\n' && !triple) this.fail('line break inside a single-quoted string');
      if (c !== '\\') {
        out += c;
        this.#pos++;
        continue;
      }
      const escapeAt = this.#pos;
      const e = this.text[this.#pos + 1];
      if (e === undefined) this.fail('unexpected end after "\\"');
      if (raw) {
        out += `\\${e}`;
        this.#pos += 2;
        continue;
      }
      this.#pos += 2;
      if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
      else if (e === '\n') {
        // a backslash-newline continues the line
      } else if (e === 'x') out += this.#hexEscape(2, escapeAt);
      else if (e === 'u') out += this.#hexEscape(4, escapeAt);
      else if (e === 'U') out += this.#hexEscape(8, escapeAt);
      else if (/[0-7]/.test(e)) {
        let digits = e;
        while (digits.length < 3 && /[0-7]/.test(this.#peek())) digits += this.text[this.#pos++];
        out += String.fromCodePoint(Number.parseInt(digits, 8));
      } else if (e === 'N') this.fail('\\N{…} escapes are not supported', escapeAt);
      else out += `\\${e}`; // Python keeps unknown escapes as they are
    }
  }

  #hexEscape(length: number, at: number): string {
    const digits = this.text.slice(this.#pos, this.#pos + length);
    if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(digits))
      this.fail(`bad \\${'xuU'[[2, 4, 8].indexOf(length)]} escape`, at);
    const code = Number.parseInt(digits, 16);
    if (code > 0x10ffff) this.fail('escape beyond U+10FFFF', at);
    this.#pos += length;
    return String.fromCodePoint(code);
  }

  #number(): number | bigint {
    const start = this.#pos;
    let sign = '';
    if (this.#peek() === '+' || this.#peek() === '-') {
      sign = this.#peek();
      this.#pos++;
      this.skipSpace(); // `- 1` is valid Python
    }
    const word = /^[A-Za-z]+/.exec(this.text.slice(this.#pos))?.[0];
    if (word !== undefined) {
      const special = FLOAT_WORDS[word.toLowerCase()];
      if (special === undefined) this.fail(`"${word}" is not a number`);
      this.#pos += word.length;
      return sign === '-' ? -special : special;
    }
    const match = /^(?:\d[\d_]*)?(?:\.[\d_]*)?(?:[eE][+-]?\d[\d_]*)?/.exec(this.text.slice(this.#pos));
    const body = match?.[0] ?? '';
    if (!/\d/.test(body)) this.fail('expected a number', start);
    this.#pos += body.length;
    const clean = body.replaceAll('_', '');
    if (/^\d+$/.test(clean)) {
      const big = BigInt(`${sign}${clean}`);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big;
    }
    return Number(`${sign}${clean}`);
  }

  #word(depth: number): PythonValue {
    const start = this.#pos;
    const word =
      /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(this.text.slice(this.#pos))?.[0] ?? '';
    const next = this.text[this.#pos + word.length];
    if ((next === "'" || next === '"') && /^[rRuUbB]{1,2}$/.test(word)) {
      if (/b/i.test(word)) this.fail('bytes literals are not supported');
      this.#pos += word.length;
      return this.#string(word);
    }
    this.#pos += word.length;
    if (word === 'True') return true;
    if (word === 'False') return false;
    if (word === 'None') return null;
    const lower = word.toLowerCase();
    if (lower === 'nan' || lower === 'inf' || lower === 'infinity') return FLOAT_WORDS[lower] as number;
    const [module, name, ...rest] = word.split('.');
    if (
      name !== undefined &&
      rest.length === 0 &&
      NUMPY_MODULES.has(module as string) &&
      name in NUMPY_BOOLS
    ) {
      return NUMPY_BOOLS[name] as boolean;
    }
    this.skipSpace();
    if (this.#peek() === '(' && isScalarWrapper(word)) {
      this.#pos++;
      const inner = this.value(depth + 1);
      this.#expect(')');
      return wrap(word, inner, start, this);
    }
    return this.fail(
      `"${word}" is not a literal (only True, False, None, nan, inf and numeric wrappers are)`,
      start,
    );
  }
}

// `np.float64(0.5)`, `numpy.int32(3)`, `np.str_('a')`, `float('nan')`, `int(3)`: scalar values
// printed through a constructor. Nothing is called; the wrapped literal is the value.
function isScalarWrapper(word: string): boolean {
  if (word === 'float' || word === 'int' || word === 'bool' || word === 'str') return true;
  const [module, name, ...rest] = word.split('.');
  return (
    rest.length === 0 &&
    NUMPY_MODULES.has(module as string) &&
    /^(float(16|32|64|128)?|int(8|16|32|64)?|uint(8|16|32|64)?|bool_?|str_|longdouble|double|single|half)$/.test(
      name ?? '',
    )
  );
}

function wrap(word: string, inner: PythonValue, at: number, parser: Parser): PythonValue {
  const kind = word.split('.').pop() as string;
  if (
    kind.startsWith('float') ||
    kind === 'longdouble' ||
    kind === 'double' ||
    kind === 'single' ||
    kind === 'half'
  ) {
    if (typeof inner === 'number') return inner;
    if (typeof inner === 'bigint') return Number(inner);
    if (typeof inner === 'string') {
      const parsed = FLOAT_WORDS[inner.trim().toLowerCase().replace(/^[+-]/, '')];
      const negative = inner.trim().startsWith('-');
      if (parsed !== undefined) return negative ? -parsed : parsed;
      if (/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(inner)) return Number(inner);
    }
  } else if (kind.startsWith('int') || kind.startsWith('uint')) {
    if (typeof inner === 'number' || typeof inner === 'bigint') return inner;
  } else if (kind.startsWith('bool')) {
    if (typeof inner === 'boolean') return inner;
  } else if (typeof inner === 'string') {
    return inner;
  }
  return parser.fail(`${word}(…) does not wrap a matching literal`, at);
}

function dictKey(key: PythonValue, at: number, parser: Parser): string {
  if (typeof key === 'string') return key;
  if (key === null) return 'None';
  if (typeof key === 'boolean') return key ? 'True' : 'False';
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  if (Array.isArray(key))
    return `(${key.map((k, i) => dictKey(k, at, parser) + (key.length === 1 && i === 0 ? ',' : '')).join(', ')})`;
  return parser.fail('a dict cannot be a dict key', at);
}
