// A streaming CSV parser (RFC 4180: header row, quoted fields with commas, newlines and doubled
// quotes, LF or CRLF). It is fed decoded text chunks as they arrive, so a file larger than V8's
// ~512 MiB string limit never becomes one string, and it appends each field straight into a typed
// column builder instead of making an object per row.
import { ColumnBuilder, type Frame, ViewerFileError } from './frame.js';

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

enum State {
  /** At the first character of a field. */
  FieldStart,
  /** Inside an unquoted field. */
  Unquoted,
  /** Inside a quoted field. */
  InQuotes,
  /** Saw a quote inside a quoted field: either the first of a doubled quote or the closing one. */
  QuoteInQuotes,
  /** After a closing quote: only a comma, CR or LF may follow. */
  AfterQuoted,
}

/**
 * Incremental CSV parser: `push` text chunks in order, then `finish` for the frame.
 *
 * @example
 * ```ts
 * const parser = new CsvParser('runs.csv');
 * parser.push('step,loss\n1,0.5\n');
 * parser.finish().numRows; // 1
 * ```
 */
export class CsvParser {
  private state = State.FieldStart;
  /** Text of the current field gathered from earlier chunks (or before a doubled quote). */
  private field = '';
  private fieldIndex = 0;
  private header: string[] | undefined;
  private builders: ColumnBuilder[] = [];
  private line = 1;
  private recordLine = 1;
  private first = true;

  constructor(readonly fileName: string) {}

  push(chunk: string): void {
    let text = chunk;
    if (this.first) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const n = text.length;
    let start = 0;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      let state = this.state;
      if (state === State.InQuotes) {
        if (c === QUOTE) {
          this.field += text.slice(start, i);
          this.state = State.QuoteInQuotes;
        } else if (c === LF) {
          this.line++;
        }
        continue;
      }
      if (state === State.QuoteInQuotes) {
        if (c === QUOTE) {
          // A doubled quote is one literal quote; the field continues after it.
          this.field += '"';
          start = i + 1;
          this.state = State.InQuotes;
          continue;
        }
        state = this.state = State.AfterQuoted;
      }
      if (c === COMMA) {
        this.endField(text, start, i);
        start = i + 1;
      } else if (c === LF) {
        this.endField(text, start, i);
        this.endRecord();
        this.line++;
        this.recordLine = this.line;
        start = i + 1;
      } else if (state === State.FieldStart) {
        if (c === QUOTE) {
          this.state = State.InQuotes;
          start = i + 1;
        } else {
          this.state = State.Unquoted;
        }
      } else if (state === State.AfterQuoted && c !== CR) {
        throw new ViewerFileError(
          this.fileName,
          `line ${this.line}: unexpected character ${JSON.stringify(text[i])} after a closing quote`,
        );
      }
    }
    // Keep the unfinished field's text for the next chunk.
    if (this.state === State.InQuotes || this.state === State.Unquoted || this.state === State.FieldStart) {
      this.field += text.slice(start);
    }
  }

  private endField(text: string, start: number, end: number): void {
    let value: string;
    if (this.state === State.AfterQuoted) {
      value = this.field;
    } else {
      value = this.field + text.slice(start, end);
      // CRLF line endings: the CR belongs to the line break, not the last field.
      if (value.charCodeAt(value.length - 1) === CR) value = value.slice(0, -1);
    }
    this.field = '';
    this.state = State.FieldStart;
    const index = this.fieldIndex++;
    if (!this.header) {
      this.pendingHeader.push(value);
      return;
    }
    if (index === 0) {
      // Held back until the record proves not to be a blank line (see endRecord).
      this.firstValue = value;
      return;
    }
    if (index === 1) (this.builders[0] as ColumnBuilder).pushText(this.firstValue);
    const builder = this.builders[index];
    if (!builder) {
      throw new ViewerFileError(
        this.fileName,
        `line ${this.recordLine}: expected ${this.builders.length} fields (as in the header), found more`,
      );
    }
    builder.pushText(value);
  }

  private pendingHeader: string[] = [];
  private firstValue = '';

  private endRecord(): void {
    const count = this.fieldIndex;
    this.fieldIndex = 0;
    if (!this.header) {
      const names = this.pendingHeader;
      this.pendingHeader = [];
      if (names.length === 1 && names[0] === '') return; // blank line before the header
      this.header = uniqueNames(names);
      this.builders = this.header.map((name) => new ColumnBuilder(name));
      return;
    }
    if (count === 1) {
      // A blank line (e.g. the file's trailing newline) is skipped, not read as a row.
      if (this.firstValue === '') return;
      if (this.builders.length === 1) {
        (this.builders[0] as ColumnBuilder).pushText(this.firstValue);
        return;
      }
    }
    if (count === this.builders.length) return;
    throw new ViewerFileError(
      this.fileName,
      `line ${this.recordLine}: expected ${this.builders.length} fields (as in the header), found ${count}`,
    );
  }

  // The file's last record, with no line break after it: refused when it is visibly cut off.
  private checkUnterminatedRecord(): void {
    if (!this.header) return;
    const fields = this.fieldIndex + 1;
    const truncated = (detail: string) =>
      new ViewerFileError(
        this.fileName,
        `line ${this.recordLine}: the file is truncated: it ends mid-line, ${detail}, with no line break after it`,
      );
    if (fields < this.builders.length) {
      throw truncated(`after ${fields} of the header's ${this.builders.length} fields`);
    }
    const last = this.field.endsWith('\r') ? this.field.slice(0, -1) : this.field;
    const builder = this.builders[this.fieldIndex];
    if (this.state !== State.AfterQuoted && last !== '' && CUT_NUMBER.test(last) && builder?.holdsNumbers) {
      throw truncated(`in the number ${JSON.stringify(last)} of column "${builder.name}"`);
    }
  }

  /**
   * Ends the input. The last record may lack a trailing newline (RFC 4180 allows it), but such a
   * record is then the one place a file cut off mid-write shows, so it must be complete: it is
   * refused as truncated when it has fewer fields than the header, or when its last field is the
   * start of a number and not a whole one (`3.`, `1e-`, `-`) in a column that holds numbers. A
   * cut that happens to leave a complete value (`3.1` of `3.14`) cannot be told from data.
   */
  finish(): Frame {
    if (this.state === State.InQuotes || this.state === State.QuoteInQuotes) {
      if (this.state === State.InQuotes) {
        throw new ViewerFileError(this.fileName, `line ${this.recordLine}: a quoted field is never closed`);
      }
      this.state = State.AfterQuoted;
    }
    if (this.fieldIndex > 0 || this.field !== '' || this.state === State.AfterQuoted) {
      this.checkUnterminatedRecord();
      this.endField('', 0, 0);
      this.endRecord();
    }
    if (!this.header) throw new ViewerFileError(this.fileName, 'the file is empty (no header row)');
    const columns = this.builders.map((b) => b.finish());
    return { numRows: this.builders[0]?.length ?? 0, columns };
  }
}

// A number cut short: a sign, digits and a dot, or a mantissa and an exponent marker with no
// exponent digits. None of these is how any CSV writer spells a number.
const CUT_NUMBER = /^[+-]?(?:\.|\d+\.|\d*\.?\d+[eE][+-]?)?$/;

/** Header names made unique and non-empty, since columns are looked up by name. */
function uniqueNames(names: readonly string[]): string[] {
  const seen = new Set<string>();
  return names.map((raw, i) => {
    let name = raw.trim() || `column_${i + 1}`;
    for (let k = 2; seen.has(name); k++) name = `${raw.trim() || `column_${i + 1}`}_${k}`;
    seen.add(name);
    return name;
  });
}

/**
 * Parses a whole CSV text (tests and small inputs; the viewer streams through CsvParser).
 *
 * @example
 * ```ts
 * parseCsv('a,b\n1,"x, y"\n', 'f.csv').numRows; // 1
 * ```
 */
export function parseCsv(text: string, fileName = 'input.csv'): Frame {
  const parser = new CsvParser(fileName);
  parser.push(text);
  return parser.finish();
}
