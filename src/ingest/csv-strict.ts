import { open } from 'node:fs/promises';
import { InputFileError, quoteLiteral } from '../lake/index.js';

/**
 * Reading a CSV with a fixed dialect (a header row, one delimiter, RFC 4180 quoting, DuckDB's
 * `strict_mode`) instead of DuckDB's sniffer. Left to sniff, DuckDB reinterprets a malformed file
 * as some other dialect rather than refusing it: a ragged row (`3,insert` under
 * `event_id,op,regret`) turns the whole file into one column literally named
 * `event_id,op,regret`, or into zero rows. With the dialect fixed, DuckDB names the line instead.
 */

/**
 * A column of a strictly read CSV: its header name and the DuckDB type it is read as.
 *
 * @example
 * ```ts
 * const column: CsvColumn = { name: 'regret', type: 'VARCHAR' };
 * ```
 */
export interface CsvColumn {
  readonly name: string;
  readonly type: string;
}

const HEADER_BYTES = 1 << 20;

/**
 * Reads a CSV's header row (the first record, RFC 4180 quoting, at most 1 MiB) as column names,
 * refusing an empty, unterminated, blank-named or duplicated header with an
 * {@link InputFileError} naming `input` and line 1.
 *
 * @example
 * ```ts
 * await readCsvHeader('runs/seed_1.csv', '/abs/runs/seed_1.csv', ','); // ['event_id', 'op', 'regret']
 * ```
 */
export async function readCsvHeader(input: string, inputPath: string, delimiter: string): Promise<string[]> {
  const handle = await open(inputPath, 'r');
  let head: string;
  try {
    const buffer = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEADER_BYTES, 0);
    head = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  return parseCsvHeader(input, head, delimiter, head.length >= HEADER_BYTES);
}

/**
 * The first record of a CSV (RFC 4180 quoting), as column names. `cut` says `head` is only the
 * start of a longer file, so a header without a line break in it is too long rather than whole.
 *
 * @example
 * ```ts
 * parseCsvHeader('a.csv', 'x,"y,z"\n1,2\n', ','); // ['x', 'y,z']
 * ```
 */
export function parseCsvHeader(input: string, head: string, delimiter: string, cut = false): string[] {
  const text = head.replace(/^\uFEFF/, '');
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') break;
    else field += ch;
  }
  if (quoted || (i === text.length && cut)) {
    throw new InputFileError(
      input,
      'line 1: cannot read the header row (unterminated quote or longer than 1 MiB)',
    );
  }
  fields.push(field);
  if (fields.length === 1 && fields[0] === '')
    throw new InputFileError(input, 'line 1: the file has no header row');
  const seen = new Set<string>();
  for (const [index, name] of fields.entries()) {
    if (name === '') throw new InputFileError(input, `line 1: header field ${index + 1} is empty`);
    if (seen.has(name)) throw new InputFileError(input, `line 1: the header names column "${name}" twice`);
    seen.add(name);
  }
  return fields;
}

/**
 * A DuckDB `read_csv(…)` call with the dialect fixed and nothing sniffed: the header row, the
 * given delimiter, `"` quoting and escaping, `strict_mode`, and the given column types. A row
 * with more or fewer fields than the header, an unterminated quote or invalid UTF-8 stops the
 * read with DuckDB's "CSV Error on Line: N" (see {@link csvReadError}).
 *
 * @example
 * ```ts
 * strictCsvSource('/abs/a.csv', ',', [{ name: 'x', type: 'VARCHAR' }]);
 * // "read_csv('/abs/a.csv', auto_detect = false, header = true, delim = ',', …, columns = {'x': 'VARCHAR'})"
 * ```
 */
export function strictCsvSource(inputPath: string, delimiter: string, columns: readonly CsvColumn[]): string {
  const typed = columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(c.type)}`).join(', ');
  return (
    `read_csv(${quoteLiteral(inputPath)}, auto_detect = false, header = true, delim = ${quoteLiteral(delimiter)}, ` +
    `quote = '"', escape = '"', strict_mode = true, columns = {${typed}})`
  );
}

const CSV_LINE = /CSV Error on Line: (\d+)/;

/**
 * DuckDB's CSV error as one line naming `input`, the 1-based line and the cause: a row whose
 * field count differs from the header's, invalid UTF-8, an unterminated quote. DuckDB's message
 * runs over a dozen lines with the reader's settings; only the useful part is kept.
 *
 * @example
 * ```ts
 * csvReadError('ragged.csv', duckdbError).message;
 * // 'ragged.csv: line 4: malformed CSV row: expected 3 fields like the header, found 2 ("3,insert")'
 * ```
 */
export function csvReadError(input: string, error: unknown): InputFileError {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split('\n')[0] ?? '';
  const line = CSV_LINE.exec(message)?.[1];
  if (line && /Invalid unicode/i.test(message)) {
    // DuckDB's "Original Line" for this error is the line before, so it is not shown.
    return new InputFileError(input, `line ${line}: invalid UTF-8; re-encode the file as UTF-8`);
  }
  const original = /Original Line: ([^\n]*)/.exec(message)?.[1];
  const shown =
    original !== undefined
      ? ` (${JSON.stringify(original.length > 120 ? `${original.slice(0, 120)}…` : original)})`
      : '';
  const fields = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
  if (line && fields) {
    return new InputFileError(
      input,
      `line ${line}: malformed CSV row: expected ${fields[1]} fields like the header, found ${fields[2]}${shown}`,
    );
  }
  if (line) {
    const detail = /Original Line: [\s\S]*?\n\n([^\n]+)/.exec(message)?.[1];
    return new InputFileError(input, `line ${line}: malformed CSV row${shown}: ${detail?.trim() ?? first}`);
  }
  return new InputFileError(input, `cannot read as CSV: ${first}`);
}
