/**
 * JSON as W&B exports write it: Python's `json.dumps` spells non-finite floats as the bare tokens
 * `NaN`, `Infinity` and `-Infinity`, which `JSON.parse` refuses. {@link parseWandbJson} accepts
 * them (as the numbers NaN and ±Infinity) and otherwise parses strict JSON; a syntax error names
 * the 1-based line and column where the text stops making sense.
 */

import { jsonNestingDepth, MAX_JSON_DEPTH } from '../lake/index.js';

/** A JSON syntax error with the 1-based line and column of the offending character. */
export interface JsonSyntaxProblem {
  readonly line: number;
  readonly column: number;
  readonly reason: string;
}

/**
 * Thrown by {@link parseWandbJson} for text that is not JSON (extended with NaN/Infinity).
 *
 * @example
 * ```ts
 * try { parseWandbJson('{"a": 1'); } catch (e) { if (e instanceof WandbJsonError) e.line; }
 * ```
 */
export class WandbJsonError extends Error implements JsonSyntaxProblem {
  override readonly name = 'WandbJsonError';
  constructor(
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
  }
}

/**
 * Parses JSON text that may hold the non-finite tokens Python writes (`NaN`, `Infinity`,
 * `-Infinity`). Strict JSON goes through `JSON.parse` (fast); only text it refuses is parsed again
 * here, to accept the tokens or to locate the error. Text nested deeper than `MAX_JSON_DEPTH`
 * (256) is refused with the line and column where it goes too deep: everything that walks a
 * parsed export (flattening configs, canonicalizing params) recurses.
 *
 * @example
 * ```ts
 * parseWandbJson('{"loss": NaN, "_step": 3}'); // { loss: NaN, _step: 3 }
 * ```
 */
export function parseWandbJson(text: string): unknown {
  // Deep text goes to the parser below, which stops at the limit with a line and column.
  if (jsonNestingDepth(text) > MAX_JSON_DEPTH) return new Parser(text).document();
  try {
    return JSON.parse(text);
  } catch {
    return new Parser(text).document();
  }
}

/**
 * Serialises a value as JSON text, writing non-finite numbers as the strings `"NaN"`,
 * `"Infinity"` and `"-Infinity"` (JSON has no such numbers, and the text must stay valid JSON),
 * bigints as numbers and Dates as ISO strings.
 *
 * @example
 * ```ts
 * toJsonText({ loss: Number.NaN }); // '{"loss":"NaN"}'
 * ```
 */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (typeof v === 'bigint') return Number(v);
    return v;
  });
}

class Parser {
  #at = 0;
  #depth = 0;
  constructor(readonly text: string) {}

  document(): unknown {
    this.#space();
    const value = this.#value();
    this.#space();
    if (this.#at < this.text.length) this.#fail('unexpected text after the JSON value');
    return value;
  }

  #fail(reason: string, at = this.#at): never {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new WandbJsonError(line, at - lineStart + 1, reason);
  }

  #space(): void {
    while (this.#at < this.text.length) {
      const c = this.text.charCodeAt(this.#at);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return;
      this.#at++;
    }
  }

  #value(): unknown {
    if (this.#at >= this.text.length) this.#fail('unexpected end of input (truncated JSON?)');
    const c = this.text[this.#at];
    if (c === '{') return this.#object();
    if (c === '[') return this.#array();
    if (c === '"') return this.#string();
    for (const [word, value] of WORDS) {
      if (this.text.startsWith(word, this.#at)) {
        this.#at += word.length;
        return value;
      }
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.#number();
    return this.#fail(`unexpected character ${JSON.stringify(c)}`);
  }

  #expect(char: string, what: string): void {
    this.#space();
    if (this.#at >= this.text.length)
      this.#fail(`unexpected end of input, expected ${what} (truncated JSON?)`);
    if (this.text[this.#at] !== char)
      this.#fail(`expected ${what}, found ${JSON.stringify(this.text[this.#at])}`);
    this.#at++;
  }

  // Called as an object or array opens; the recursion below is bounded by MAX_JSON_DEPTH.
  #enter(): void {
    if (++this.#depth > MAX_JSON_DEPTH) {
      this.#fail(
        `JSON nested more than ${MAX_JSON_DEPTH} levels deep; runlake reads at most ${MAX_JSON_DEPTH} levels`,
      );
    }
  }

  #object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.#enter();
    this.#at++;
    this.#space();
    if (this.text[this.#at] === '}') {
      this.#at++;
      this.#depth--;
      return out;
    }
    for (;;) {
      this.#space();
      if (this.#at >= this.text.length)
        this.#fail('unexpected end of input inside an object (truncated JSON?)');
      if (this.text[this.#at] !== '"') this.#fail('expected a quoted key');
      const key = this.#string();
      this.#expect(':', '":"');
      this.#space();
      out[key] = this.#value();
      this.#space();
      if (this.#at >= this.text.length)
        this.#fail('unexpected end of input inside an object (truncated JSON?)');
      const c = this.text[this.#at++];
      if (c === '}') {
        this.#depth--;
        return out;
      }
      if (c !== ',') this.#fail(`expected "," or "}", found ${JSON.stringify(c)}`, this.#at - 1);
    }
  }

  #array(): unknown[] {
    const out: unknown[] = [];
    this.#enter();
    this.#at++;
    this.#space();
    if (this.text[this.#at] === ']') {
      this.#at++;
      this.#depth--;
      return out;
    }
    for (;;) {
      this.#space();
      out.push(this.#value());
      this.#space();
      if (this.#at >= this.text.length)
        this.#fail('unexpected end of input inside an array (truncated JSON?)');
      const c = this.text[this.#at++];
      if (c === ']') {
        this.#depth--;
        return out;
      }
      if (c !== ',') this.#fail(`expected "," or "]", found ${JSON.stringify(c)}`, this.#at - 1);
    }
  }

  #string(): string {
    const start = this.#at;
    this.#at++;
    for (;;) {
      const quote = this.text.indexOf('"', this.#at);
      if (quote < 0) this.#fail('unterminated string (truncated JSON?)', start);
      let backslashes = 0;
      for (let i = quote - 1; i > start && this.text[i] === '\\'; i--) backslashes++;
      this.#at = quote + 1;
      if (backslashes % 2 === 0) break;
    }
    try {
      return JSON.parse(this.text.slice(start, this.#at)) as string;
    } catch (error) {
      return this.#fail(`bad string: ${(error as Error).message}`, start);
    }
  }

  #number(): number {
    NUMBER.lastIndex = this.#at;
    const match = NUMBER.exec(this.text);
    if (!match) return this.#fail('bad number');
    this.#at += match[0].length;
    return Number(match[0]);
  }
}

const WORDS: ReadonlyArray<readonly [string, unknown]> = [
  ['true', true],
  ['false', false],
  ['null', null],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
];

const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
