// Streaming JSON readers for the two shapes experiment scripts write: one array of flat records
// (`json.dump(rows, f, indent=2)`, easily over 1 GB) and JSON Lines. Neither ever holds the whole
// file as one string (V8 caps strings at ~512 MiB): a byte scanner finds the top-level record
// boundaries, and slices of a few MiB are handed to the native JSON.parse at once, which is far
// faster than tokenising in JS.
import { type Frame, RecordFrameBuilder, ViewerFileError } from './frame.js';

const BATCH_BYTES = 8 * 2 ** 20;
const COMMA = 44;
const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const LF = 10;
const COMMA_BYTES = Uint8Array.of(COMMA);

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** The UTF-8 byte order mark (EF BB BF) some Windows tools write first. */
function isBomByte(c: number): boolean {
  return c === 0xef || c === 0xbb || c === 0xbf;
}

/** The byte chunks of a stream as one array (`total` = their summed length). */
export function concatBytes(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `{columns, rows}` shape of a query answer: column names and the row list. */
function queryAnswer(object: Record<string, unknown>): { columns: string[]; rows: unknown[] } | undefined {
  const { columns, rows } = object;
  if (!Array.isArray(columns) || !Array.isArray(rows)) return undefined;
  const names = columns.map((c) =>
    typeof c === 'string' ? c : isRecord(c) && typeof c.name === 'string' ? c.name : undefined,
  );
  if (names.some((n) => n === undefined)) return undefined;
  return { columns: names as string[], rows };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Incremental reader of a JSON array of records: `push` the file's bytes in order, then `finish`.
 * Top-level elements are cut at the commas that sit outside strings and nested values (UTF-8
 * multi-byte sequences never contain ASCII bytes, so scanning bytes is safe).
 *
 * @example
 * ```ts
 * const parser = new JsonArrayParser('rows.json');
 * parser.push(new TextEncoder().encode('[{"a": 1}, {"a": 2}]'));
 * parser.finish().numRows; // 2
 * ```
 */
export class JsonArrayParser {
  private readonly frame = new RecordFrameBuilder();
  private readonly decoder = new TextDecoder();
  private started = false;
  private done = false;
  private depth = 0;
  private inString = false;
  private escape = false;
  /** Complete elements not yet parsed (joined by commas). */
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  /** Bytes after the last cut: the start of an element that is not complete yet. */
  private tail: Uint8Array[] = [];
  private tailBytes = 0;

  constructor(readonly fileName: string) {}

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    if (!this.started) {
      while (i < n && (isSpace(chunk[i] as number) || isBomByte(chunk[i] as number))) i++;
      if (i === n) return;
      if (chunk[i] !== OPEN_BRACKET) {
        throw new ViewerFileError(
          this.fileName,
          'expected a JSON array of records (the file does not start with "[")',
        );
      }
      this.started = true;
      i++;
    }
    if (this.done) {
      this.checkTrailing(chunk, 0);
      return;
    }
    let regionStart = i;
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escape;
    for (; i < n; i++) {
      const c = chunk[i] as number;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (c === QUOTE) inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (depth === 0) {
          // The closing bracket of the top-level array.
          this.cut(chunk.subarray(regionStart, i));
          this.done = true;
          this.depth = depth;
          this.checkTrailing(chunk, i + 1);
          return;
        }
        depth--;
      } else if (c === COMMA && depth === 0) {
        this.cut(chunk.subarray(regionStart, i));
        regionStart = i + 1;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escape = escaped;
    if (regionStart < n) {
      // Copy: the stream may hand out views of a buffer it reuses.
      this.tail.push(chunk.slice(regionStart));
      this.tailBytes += n - regionStart;
    }
  }

  /** One complete element ends here: move it (and the tail before it) into the batch. */
  private cut(last: Uint8Array): void {
    if (this.batch.length > 0) {
      this.batch.push(COMMA_BYTES);
      this.batchBytes++;
    }
    for (const part of this.tail) this.batch.push(part);
    this.batch.push(last);
    this.batchBytes += this.tailBytes + last.length;
    this.tail = [];
    this.tailBytes = 0;
    if (this.batchBytes >= BATCH_BYTES) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const text = this.decoder.decode(concatBytes(this.batch, this.batchBytes));
    this.batch = [];
    this.batchBytes = 0;
    if (text.trim() === '') return; // an empty array
    let records: unknown[];
    try {
      records = JSON.parse(`[${text}]`) as unknown[];
    } catch (error) {
      throw new ViewerFileError(
        this.fileName,
        `invalid JSON in the records after row ${this.frame.rows.toLocaleString('en-US')}: ${errorText(error)}`,
      );
    }
    for (const record of records) {
      if (!isRecord(record)) {
        throw new ViewerFileError(
          this.fileName,
          `row ${(this.frame.rows + 1).toLocaleString('en-US')} is not a JSON object (the viewer reads an array of records)`,
        );
      }
      this.frame.addRecord(record);
    }
  }

  private checkTrailing(chunk: Uint8Array, from: number): void {
    for (let i = from; i < chunk.length; i++) {
      if (!isSpace(chunk[i] as number)) {
        throw new ViewerFileError(this.fileName, 'unexpected data after the closing "]" of the JSON array');
      }
    }
  }

  finish(): Frame {
    if (!this.started) throw new ViewerFileError(this.fileName, 'the file is empty');
    if (!this.done) {
      throw new ViewerFileError(
        this.fileName,
        'the JSON array is cut off (no closing "]"): the file may be truncated',
      );
    }
    this.flush();
    return this.frame.finish();
  }
}

/**
 * Incremental JSON Lines reader: one record per line; blank lines are skipped. A raw newline can
 * never occur inside a JSON value, so lines are cut at every LF byte.
 *
 * @example
 * ```ts
 * const parser = new JsonLinesParser('events.jsonl');
 * parser.push(new TextEncoder().encode('{"a":1}\n{"a":2}\n'));
 * parser.finish().numRows; // 2
 * ```
 */
export class JsonLinesParser {
  private readonly frame = new RecordFrameBuilder();
  private readonly decoder = new TextDecoder();
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  private tail: Uint8Array[] = [];
  private tailBytes = 0;
  /** Lines already parsed, for error messages. */
  private line = 0;

  constructor(readonly fileName: string) {}

  push(chunk: Uint8Array): void {
    const last = chunk.lastIndexOf(LF);
    if (last < 0) {
      this.tail.push(chunk.slice());
      this.tailBytes += chunk.length;
      return;
    }
    for (const part of this.tail) this.batch.push(part);
    this.batch.push(chunk.subarray(0, last + 1));
    this.batchBytes += this.tailBytes + last + 1;
    this.tail = last + 1 < chunk.length ? [chunk.slice(last + 1)] : [];
    this.tailBytes = chunk.length - last - 1;
    if (this.batchBytes >= BATCH_BYTES) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const text = this.decoder.decode(concatBytes(this.batch, this.batchBytes));
    this.batch = [];
    this.batchBytes = 0;
    const lines = text.split('\n');
    const firstLine = this.line + 1;
    this.line += text.endsWith('\n') ? lines.length - 1 : lines.length;
    const filled = lines.filter((l) => l.trim() !== '');
    let records: unknown[];
    try {
      records = JSON.parse(`[${filled.join(',')}]`) as unknown[];
    } catch {
      // Find the offending line for the message (only on the error path).
      for (let k = 0; k < lines.length; k++) {
        const line = lines[k] as string;
        if (line.trim() === '') continue;
        try {
          JSON.parse(line);
        } catch (error) {
          throw new ViewerFileError(
            this.fileName,
            `line ${firstLine + k}: invalid JSON: ${errorText(error)}`,
          );
        }
      }
      throw new ViewerFileError(this.fileName, `invalid JSON near line ${firstLine}`);
    }
    for (const record of records) {
      if (!isRecord(record)) {
        throw new ViewerFileError(
          this.fileName,
          `row ${(this.frame.rows + 1).toLocaleString('en-US')} is not a JSON object (each line must be one record)`,
        );
      }
      this.frame.addRecord(record);
    }
  }

  finish(): Frame {
    if (this.tailBytes > 0) {
      for (const part of this.tail) this.batch.push(part);
      this.batchBytes += this.tailBytes;
      this.tail = [];
      this.tailBytes = 0;
    }
    this.flush();
    return this.frame.finish();
  }
}

/**
 * A whole JSON document held in memory (small files): an array of records, JSON Lines, or an
 * object of equal-length column arrays (`{"step": [...], "loss": [...]}`).
 *
 * @example
 * ```ts
 * parseJsonText('{"x": [1, 2], "y": ["a", "b"]}', 'cols.json').numRows; // 2
 * ```
 */
export function parseJsonText(text: string, fileName = 'input.json'): Frame {
  const bytes = new TextEncoder().encode(text);
  const first = text.trimStart()[0];
  if (first === '[') {
    const parser = new JsonArrayParser(fileName);
    parser.push(bytes);
    return parser.finish();
  }
  if (first !== '{')
    throw new ViewerFileError(fileName, 'not JSON: expected an array of records or an object');
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    // Several objects: JSON Lines.
    const parser = new JsonLinesParser(fileName);
    parser.push(bytes);
    return parser.finish();
  }
  return columnsFromObject(whole as Record<string, unknown>, fileName);
}

/**
 * A JSON object as a frame, whichever of these shapes it has: a query answer
 * (`{"columns": [{"name", "type"}…], "rows": [{…}…]}`, as `runlake serve` sends it), records
 * nested under a single key (`{"runs": [{…}…], "truncated": false}`), equal-length column arrays
 * (`{"step": [...], "loss": [...]}`); anything else is one record, a one-row frame.
 *
 * @example
 * ```ts
 * columnsFromObject({ columns: [{ name: 'a', type: 'INTEGER' }], rows: [{ a: 1 }, { a: 2 }] }, 'q.json').numRows; // 2
 * ```
 */
export function columnsFromObject(object: Record<string, unknown>, fileName: string): Frame {
  const entries = Object.entries(object);
  const frame = new RecordFrameBuilder();
  const answer = queryAnswer(object);
  if (answer) {
    // Columns in the answer's order, present even when no row has a value.
    const builders = answer.columns.map((name) => frame.column(name));
    answer.rows.forEach((row, r) => {
      if (Array.isArray(row)) {
        builders.forEach((b, c) => {
          b.pushJson(row[c]);
        });
        frame.rows++;
      } else if (isRecord(row)) {
        frame.addRecord(row);
      } else {
        throw new ViewerFileError(fileName, `row ${r + 1} of "rows" is neither an object nor an array`);
      }
    });
    return frame.finish();
  }
  const nested = entries.filter(([, v]) => Array.isArray(v) && v.length > 0 && v.every(isRecord));
  if (nested.length === 1) {
    for (const record of (nested[0] as [string, unknown])[1] as Record<string, unknown>[])
      frame.addRecord(record);
    return frame.finish();
  }
  if (entries.length > 0 && entries.every(([, v]) => Array.isArray(v))) {
    const lengths = new Set(entries.map(([, v]) => (v as unknown[]).length));
    if (lengths.size > 1) {
      throw new ViewerFileError(fileName, 'the column arrays of the JSON object have different lengths');
    }
    const builders = entries.map(([name]) => frame.column(name));
    const rows = ((entries[0] as [string, unknown])[1] as unknown[]).length;
    for (let r = 0; r < rows; r++) {
      entries.forEach(([, values], c) => {
        builders[c]?.pushJson((values as unknown[])[r]);
      });
    }
    frame.rows = rows;
    return frame.finish();
  }
  frame.addRecord(object);
  return frame.finish();
}
