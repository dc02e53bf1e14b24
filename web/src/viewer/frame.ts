// The viewer's in-memory table: one typed array per column, whatever the file format was. Filters,
// the table and the plot all work on these arrays (never on one JS object per row), which is what
// keeps 3.8M rows responsive.

/**
 * Numbers, always as float64 (a missing value is NaN). One array type for every numeric column
 * keeps the filter and aggregation loops monomorphic: mixing Float32Array, Int32Array and
 * Float64Array made them several times slower on 3.8M rows. `type` keeps the file's own type.
 */
export interface NumericColumn {
  readonly kind: 'numeric';
  readonly name: string;
  /** The type shown to the user, e.g. `float32`, `int64`, `int`, `float`. */
  readonly type: string;
  readonly values: Float64Array;
  /** Every non-missing value is a whole number (so it can be offered as a select of values). */
  readonly integer: boolean;
}

/** Strings (and anything else shown as text), dictionary-encoded: a missing value has code -1. */
export interface CategoryColumn {
  readonly kind: 'category';
  readonly name: string;
  readonly type: string;
  readonly codes: Int32Array;
  readonly dictionary: readonly string[];
  /** Every value is a list (a Parquet/Arrow list, or a JSON array), shown as its JSON text. */
  readonly list?: boolean;
}

export type Column = NumericColumn | CategoryColumn;

export interface Frame {
  readonly numRows: number;
  readonly columns: readonly Column[];
}

/** The formats the viewer reads. */
export type FileFormat = 'parquet' | 'arrow' | 'csv' | 'json' | 'jsonl';

/** A user-facing error about one input file: the message names the file and the cause. */
export class ViewerFileError extends Error {
  constructor(
    readonly fileName: string,
    readonly reason: string,
  ) {
    super(`${fileName}: ${reason}`);
    this.name = 'ViewerFileError';
  }
}

/** Shown for a value that is missing (null, empty CSV field). */
export const MISSING = '';

/**
 * Grows a Float64Array or Int32Array by doubling: builders append millions of values and
 * reallocating per value would dominate the parse.
 */
class GrowableF64 {
  values = new Float64Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const next = new Float64Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = value;
  }
}

class GrowableI32 {
  values = new Int32Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const next = new Int32Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = value;
  }
}

/**
 * Builds one column from values arriving row by row (CSV fields, JSON record values). The type is
 * inferred as it goes: numeric until the first value that is not a number, then the column turns
 * into a dictionary-encoded category column (earlier numbers become their decimal text).
 */
export class ColumnBuilder {
  private numbers: GrowableF64 | undefined = new GrowableF64();
  private codes: GrowableI32 | undefined;
  private readonly lookup = new Map<string, number>();
  private readonly dictionary: string[] = [];
  private integer = true;
  private sawValue = false;
  private sawBoolean = false;
  /** Values that were JSON arrays, and values that were anything else. */
  private arrays = 0;
  private nonArrays = 0;

  constructor(
    readonly name: string,
    initialNulls = 0,
  ) {
    for (let i = 0; i < initialNulls; i++) this.pushNull();
  }

  get length(): number {
    return this.numbers ? this.numbers.length : (this.codes?.length ?? 0);
  }

  /** True while the column is numeric and has held at least one number. */
  get holdsNumbers(): boolean {
    return this.numbers !== undefined && this.sawValue && !this.sawBoolean;
  }

  pushNull(): void {
    if (this.numbers) this.numbers.push(Number.NaN);
    else this.codes?.push(-1);
  }

  pushNumber(value: number): void {
    this.sawValue = true;
    if (this.numbers) {
      if (this.integer && !Number.isInteger(value)) this.integer = false;
      this.numbers.push(value);
    } else {
      this.pushString(String(value));
    }
  }

  pushString(value: string): void {
    this.sawValue = true;
    if (this.numbers) this.toCategory();
    let code = this.lookup.get(value);
    if (code === undefined) {
      code = this.dictionary.length;
      this.dictionary.push(value);
      this.lookup.set(value, code);
    }
    this.codes?.push(code);
  }

  pushBoolean(value: boolean): void {
    this.sawBoolean = true;
    this.pushString(value ? 'true' : 'false');
  }

  /** A CSV field: empty is missing, numeric text is a number, anything else a string. */
  pushText(text: string): void {
    if (text === '') {
      this.pushNull();
      return;
    }
    const n = this.numbers ? parseNumber(text) : undefined;
    if (n !== undefined) this.pushNumber(n);
    else this.pushString(text);
  }

  /** A JSON value: nested arrays/objects are shown as their JSON text. */
  pushJson(value: unknown): void {
    if (value === null || value === undefined) {
      this.pushNull();
      return;
    }
    if (Array.isArray(value)) this.arrays++;
    else this.nonArrays++;
    if (typeof value === 'number') this.pushNumber(value);
    else if (typeof value === 'string') this.pushString(value);
    else if (typeof value === 'boolean') this.pushBoolean(value);
    else this.pushString(JSON.stringify(value));
  }

  private toCategory(): void {
    const numbers = this.numbers;
    if (!numbers) return;
    this.numbers = undefined;
    this.codes = new GrowableI32();
    for (let i = 0; i < numbers.length; i++) {
      const v = numbers.values[i] as number;
      if (Number.isNaN(v)) this.codes.push(-1);
      else this.pushString(String(v));
    }
  }

  finish(): Column {
    if (this.numbers) {
      const values = this.numbers.values.slice(0, this.numbers.length);
      // A column with no values at all stays numeric (all missing); "int" only when there were values.
      const integer = this.integer && this.sawValue;
      return { kind: 'numeric', name: this.name, type: integer ? 'int' : 'float', values, integer };
    }
    const codes = (this.codes as GrowableI32).values.slice(0, this.length);
    return {
      kind: 'category',
      name: this.name,
      type: this.sawBoolean ? 'bool' : this.arrays > 0 && this.nonArrays === 0 ? 'list' : 'string',
      codes,
      dictionary: this.dictionary,
      ...(this.arrays > 0 && this.nonArrays === 0 ? { list: true } : {}),
    };
  }
}

/**
 * Parses a CSV field as a number the way a researcher expects: decimal or exponent notation,
 * `NaN`/`Infinity`; not hex, not blanks, not `1,5`. Returns undefined for anything else.
 */
export function parseNumber(text: string): number | undefined {
  const first = text.charCodeAt(0);
  // Fast reject: a number starts with a digit, a sign, a dot, N(aN) or I(nfinity).
  const plausible =
    (first >= 48 && first <= 57) ||
    first === 45 ||
    first === 43 ||
    first === 46 ||
    first === 78 ||
    first === 73;
  if (!plausible) return undefined;
  const n = Number(text);
  if (!Number.isNaN(n)) {
    // Number() also accepts hex/binary/octal and surrounding blanks; a data file means decimal.
    if (text.length > 1 && first === 48) {
      const second = text.charCodeAt(1);
      if (
        second === 120 ||
        second === 88 ||
        second === 98 ||
        second === 66 ||
        second === 111 ||
        second === 79
      )
        return undefined;
    }
    if (text.trim() !== text) return undefined;
    return n;
  }
  return text === 'NaN' ? Number.NaN : undefined;
}

/** Builders for record-shaped input whose keys may appear late (earlier rows get nulls). */
export class RecordFrameBuilder {
  private readonly builders: ColumnBuilder[] = [];
  private readonly byName = new Map<string, ColumnBuilder>();
  rows = 0;

  /** The builder for `name`, created (null-filled up to the current row) on first sight. */
  column(name: string): ColumnBuilder {
    let builder = this.byName.get(name);
    if (!builder) {
      builder = new ColumnBuilder(name, this.rows);
      this.builders.push(builder);
      this.byName.set(name, builder);
    }
    return builder;
  }

  /** Adds one JSON record (a plain object); keys it lacks become missing values. */
  addRecord(record: Record<string, unknown>): void {
    for (const key in record) this.column(key).pushJson(record[key]);
    this.rows++;
    for (const builder of this.builders) if (builder.length < this.rows) builder.pushNull();
  }

  finish(): Frame {
    return { numRows: this.rows, columns: this.builders.map((b) => b.finish()) };
  }
}

/** The column's value at `row` as display text ('' when missing). */
export function cellText(column: Column, row: number): string {
  if (column.kind === 'category') {
    const code = column.codes[row] as number;
    return code < 0 ? MISSING : (column.dictionary[code] ?? MISSING);
  }
  const v = column.values[row] as number;
  if (Number.isNaN(v)) return MISSING;
  if (column.integer || Number.isInteger(v)) return String(v);
  // float32 values carry binary noise past ~7 digits (0.1234 is 0.12340000271797180).
  return column.type === 'float32' ? String(Number(v.toPrecision(7))) : String(Number(v.toPrecision(10)));
}
