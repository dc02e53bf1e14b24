import { createReadStream } from 'node:fs';

/**
 * How a JSON input holds its rows: one top-level array, or one value per line (JSONL).
 *
 * @example
 * ```ts
 * const layout: JsonLayout = 'lines';
 * ```
 */
export type JsonLayout = 'array' | 'lines';

/**
 * The kind of a JSON value, as {@link scanJsonRows} compares them between rows.
 *
 * @example
 * ```ts
 * const kind: JsonValueKind = 'number'; // integers and floats alike
 * ```
 */
export type JsonValueKind = 'string' | 'number' | 'boolean' | 'object' | 'array';

/**
 * The first problem {@link scanJsonRows} found in a JSON or JSONL input.
 *
 * @example
 * ```ts
 * if (problem.kind === 'flip') console.error(problem.column, problem.row, problem.line);
 * ```
 */
export type JsonScanProblem =
  | {
      /** Not JSON: a stray character, or the file ends inside a value (truncated). */
      readonly kind: 'syntax';
      /** 1-based line of the offending byte (for a truncated file, the last line). */
      readonly line: number;
      /** 0-based row the offending byte belongs to (-1 before the first row). */
      readonly row: number;
      /** 1-based line where that row starts. */
      readonly rowLine: number;
      /** True when the file ends before the JSON does. */
      readonly truncated: boolean;
      readonly reason: string;
    }
  | {
      /** A row that is not a JSON object. */
      readonly kind: 'not-object';
      readonly line: number;
      readonly row: number;
      readonly found: JsonValueKind | 'null';
    }
  | {
      /** A column whose values change kind between rows (integer → float is not a change). */
      readonly kind: 'flip';
      readonly column: string;
      readonly row: number;
      readonly line: number;
      readonly found: JsonValueKind;
      readonly expected: JsonValueKind;
      readonly firstRow: number;
      readonly firstLine: number;
    };

/**
 * Options for {@link scanJsonRows}.
 *
 * @example
 * ```ts
 * await scanJsonRows('a.json', 'array', { columns: new Set(['l2_distance']) });
 * ```
 */
export interface JsonScanOptions {
  /** Columns whose value kinds are compared between rows; none when absent. */
  readonly columns?: ReadonlySet<string>;
}

enum S {
  Value,
  AfterValue,
  Key,
  KeyOrClose,
  Colon,
  String,
  Number,
  Literal,
  Done,
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Streams a JSON array or JSONL file through a small JSON tokenizer and returns the first problem
 * with its line and row: a syntax error (including a truncated file), a row that is not an
 * object, or (for `options.columns`) a column whose value kind flips between rows. Memory stays
 * constant whatever the file size; DuckDB reads the file, this only locates what DuckDB refused.
 *
 * @example
 * ```ts
 * const problem = await scanJsonRows('results.json', 'array');
 * if (problem?.kind === 'syntax') console.error(`line ${problem.line}: ${problem.reason}`);
 * ```
 */
export async function scanJsonRows(
  file: string,
  layout: JsonLayout,
  options: JsonScanOptions = {},
): Promise<JsonScanProblem | undefined> {
  const columns = options.columns ?? new Set<string>();
  const rowDepth = layout === 'array' ? 1 : 0;
  const stack: number[] = []; // 0x5b '[' or 0x7b '{'
  let state = S.Value as S;
  let line = 1;
  let row = -1;
  let rowLine = 0;
  let started = false; // array layout: the top-level '[' was seen
  let isKey = false;
  let escaped = false;
  let keyBytes: number[] | undefined;
  let currentKey = '';
  let token = '';
  let literal = '';
  const firstKinds = new Map<string, { kind: JsonValueKind; row: number; line: number }>();
  let problem: JsonScanProblem | undefined;

  const syntax = (reason: string, truncated = false): JsonScanProblem => ({
    kind: 'syntax',
    line,
    row,
    rowLine,
    truncated,
    reason,
  });
  const describe = (byte: number) =>
    byte === 0x0a ? 'a line break' : `"${String.fromCharCode(byte)}" (byte 0x${byte.toString(16)})`;

  // Called when a value starts; returns a problem for a bad row or a flipped column.
  const valueStarts = (kind: JsonValueKind | 'null'): JsonScanProblem | undefined => {
    const depth = stack.length;
    if (depth === rowDepth) {
      row++;
      rowLine = line;
      if (kind !== 'object') return { kind: 'not-object', line, row, found: kind };
    } else if (depth === rowDepth + 1 && kind !== 'null' && columns.has(currentKey)) {
      const first = firstKinds.get(currentKey);
      if (!first) firstKinds.set(currentKey, { kind, row, line });
      else if (first.kind !== kind) {
        return {
          kind: 'flip',
          column: currentKey,
          row,
          line,
          found: kind,
          expected: first.kind,
          firstRow: first.row,
          firstLine: first.line,
        };
      }
    }
    return undefined;
  };

  const afterValue = () => {
    state = stack.length === 0 ? (layout === 'array' ? S.Done : S.Value) : S.AfterValue;
  };

  const step = (byte: number): JsonScanProblem | undefined => {
    switch (state) {
      case S.String:
        if (escaped) escaped = false;
        else if (byte === 0x5c) escaped = true;
        else if (byte === 0x22) {
          if (isKey) {
            if (keyBytes) {
              try {
                currentKey = JSON.parse(`"${Buffer.from(keyBytes).toString('utf8')}"`) as string;
              } catch {
                return syntax('invalid escape in an object key');
              }
            }
            keyBytes = undefined;
            state = S.Colon;
          } else afterValue();
          return undefined;
        } else if (byte < 0x20) return syntax(`${describe(byte)} inside a string (unterminated string?)`);
        keyBytes?.push(byte);
        return undefined;
      case S.Number:
        if (
          (byte >= 0x30 && byte <= 0x39) ||
          byte === 0x2e ||
          byte === 0x2d ||
          byte === 0x2b ||
          (byte | 0x20) === 0x65
        ) {
          token += String.fromCharCode(byte);
          return undefined;
        }
        if (!NUMBER.test(token)) return syntax(`invalid number "${token}"`);
        afterValue();
        return step(byte);
      case S.Literal:
        if (byte >= 0x61 && byte <= 0x7a) {
          token += String.fromCharCode(byte);
          if (token.length <= literal.length && literal.startsWith(token)) return undefined;
          return syntax(`invalid literal "${token}"`);
        }
        if (token !== literal) return syntax(`invalid literal "${token}"`);
        afterValue();
        return step(byte);
      default:
        break;
    }
    if (WS.has(byte)) return undefined;
    switch (state) {
      case S.Done:
        return syntax(`unexpected ${describe(byte)} after the closing "]"`);
      case S.Colon:
        if (byte !== 0x3a)
          return syntax(`expected ":" after the key "${currentKey}", found ${describe(byte)}`);
        state = S.Value;
        return undefined;
      case S.KeyOrClose:
      case S.Key:
        if (byte === 0x22) {
          state = S.String;
          isKey = true;
          keyBytes = stack.length === rowDepth + 1 ? [] : undefined;
          return undefined;
        }
        if (byte === 0x7d && state === S.KeyOrClose) {
          stack.pop();
          afterValue();
          return undefined;
        }
        return syntax(`expected ${state === S.Key ? 'a key' : 'a key or "}"'}, found ${describe(byte)}`);
      case S.AfterValue: {
        const top = stack[stack.length - 1];
        if (byte === 0x2c) {
          state = top === 0x7b ? S.Key : S.Value;
          return undefined;
        }
        if ((byte === 0x5d && top === 0x5b) || (byte === 0x7d && top === 0x7b)) {
          stack.pop();
          afterValue();
          return undefined;
        }
        return syntax(`expected "," or "${top === 0x7b ? '}' : ']'}", found ${describe(byte)}`);
      }
      case S.Value: {
        if (layout === 'array' && !started) {
          if (byte !== 0x5b)
            return syntax(`a JSON input must be an array of row objects; found ${describe(byte)}`);
          started = true;
          stack.push(0x5b);
          state = S.Value;
          return undefined;
        }
        if (byte === 0x5d && stack[stack.length - 1] === 0x5b) {
          // an empty array (or a trailing comma, which JSON does not allow)
          stack.pop();
          afterValue();
          return undefined;
        }
        isKey = false;
        if (byte === 0x7b || byte === 0x5b) {
          const p = valueStarts(byte === 0x7b ? 'object' : 'array');
          if (p) return p;
          stack.push(byte);
          state = byte === 0x7b ? S.KeyOrClose : S.Value;
          return undefined;
        }
        if (byte === 0x22) {
          const p = valueStarts('string');
          if (p) return p;
          state = S.String;
          return undefined;
        }
        if (byte === 0x2d || (byte >= 0x30 && byte <= 0x39)) {
          const p = valueStarts('number');
          if (p) return p;
          state = S.Number;
          token = String.fromCharCode(byte);
          return undefined;
        }
        if (byte === 0x74 || byte === 0x66 || byte === 0x6e) {
          const p = valueStarts(byte === 0x6e ? 'null' : 'boolean');
          if (p) return p;
          literal = byte === 0x74 ? 'true' : byte === 0x66 ? 'false' : 'null';
          token = String.fromCharCode(byte);
          state = S.Literal;
          return undefined;
        }
        return syntax(`expected a value, found ${describe(byte)}`);
      }
      default:
        return undefined;
    }
  };

  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  try {
    outer: for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i] as number;
        if (byte === 0x0a && layout === 'lines' && (stack.length > 0 || state === S.String)) {
          problem = syntax(
            `row ${row} does not end on its line (a JSONL row is one complete object per line)`,
          );
          break outer;
        }
        problem = step(byte);
        if (problem) break outer;
        if (byte === 0x0a) line++;
      }
    }
  } finally {
    stream.destroy();
  }
  if (problem) return problem;
  // End of file: finish a number or literal that ends the file, then check nothing is open.
  if (state === S.Number || state === S.Literal) {
    problem = step(0x20);
    if (problem) return problem;
  }
  if (layout === 'array' && !started) return syntax('the file is empty; expected a JSON array', true);
  if (stack.length > 0 || state === S.String || state === S.Colon) {
    return syntax(
      row >= 0
        ? `the file ends inside row ${row} (which starts on line ${rowLine}): truncated JSON`
        : 'the file ends inside the JSON array: truncated JSON',
      true,
    );
  }
  return undefined;
}

/**
 * Describes a {@link JsonScanProblem} as one line of an error message (without the file name).
 *
 * @example
 * ```ts
 * describeJsonProblem({ kind: 'not-object', line: 3, row: 1, found: 'number' });
 * // 'line 3, row 1: a row must be a JSON object, found a number'
 * ```
 */
export function describeJsonProblem(problem: JsonScanProblem): string {
  switch (problem.kind) {
    case 'syntax':
      if (problem.truncated) return `line ${problem.line}: ${problem.reason}`;
      return `line ${problem.line}${problem.row >= 0 ? `, row ${problem.row}` : ''}: invalid JSON: ${problem.reason}`;
    case 'not-object':
      return `line ${problem.line}, row ${problem.row}: a row must be a JSON object, found ${article(problem.found)}`;
    case 'flip':
      return (
        `line ${problem.line}, row ${problem.row}: column "${problem.column}" holds ${article(problem.found)} ` +
        `where earlier rows hold ${problem.expected}s (first at row ${problem.firstRow}, line ${problem.firstLine}); ` +
        'a column keeps one type (only integer → float widens)'
      );
  }
}

function article(kind: string): string {
  return kind === 'null' ? 'null' : `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}
