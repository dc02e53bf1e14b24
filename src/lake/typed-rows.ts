import type { InputColumn, InputColumns } from './column-input.js';
import { type ColumnType, columnTypeSql } from './column-types.js';
import type { ColumnDefinition, DatasetDefinition, PartitionKeyDefinition } from './dataset.js';
import type { EnumDomain } from './enum-domain.js';
import { RowValidationError } from './errors.js';
import type { Row } from './row-batch.js';

/** Why a value does not fit a type, or `undefined` when it does. */
type ValueCheck = (value: unknown, type: ColumnType) => string | undefined;

const INTEGER_RANGES = {
  int16: [-32768n, 32767n],
  int32: [-2147483648n, 2147483647n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
} as const;

function integerCheck(kind: keyof typeof INTEGER_RANGES): ValueCheck {
  const [min, max] = INTEGER_RANGES[kind];
  return (value) => {
    let big: bigint;
    if (typeof value === 'bigint') big = value;
    else if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
    else return `${describe(value)} is not an integer`;
    return big < min || big > max ? `${describe(value)} is outside ${min}..${max}` : undefined;
  };
}

// Floating columns take any JS number (NaN and ±Infinity included: a diverged loss is data).
const floatCheck: ValueCheck = (value) =>
  typeof value === 'number' || (typeof value === 'bigint' && Number.isSafeInteger(Number(value)))
    ? undefined
    : `${describe(value)} is not a number`;

// Typed arrays whose elements a list column of the given element kind holds exactly.
const TYPED_ARRAYS_FOR: Partial<Record<ColumnType['kind'], ReadonlyArray<new () => ArrayLike<unknown>>>> = {
  float32: [Float32Array, Float64Array, Int8Array, Uint8Array, Int16Array, Uint16Array],
  float64: [
    Float64Array,
    Float32Array,
    Int8Array,
    Uint8Array,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
  ],
  int16: [Int8Array, Uint8Array, Int16Array],
  int32: [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array],
  int64: [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array],
};

// The one dispatch table for typed-column values; lists and structs recurse into it.
const VALUE_CHECKS: Record<ColumnType['kind'], ValueCheck> = {
  int16: integerCheck('int16'),
  int32: integerCheck('int32'),
  int64: integerCheck('int64'),
  float32: floatCheck,
  float64: floatCheck,
  bool: (value) => (typeof value === 'boolean' ? undefined : `${describe(value)} is not a boolean`),
  string: (value) => (typeof value === 'string' ? undefined : `${describe(value)} is not a string`),
  timestamp: (value) => {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : undefined;
    if (typeof value === 'string' && ISO_TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value)))
      return undefined;
    return `${describe(value)} is not a Date or an ISO-8601 timestamp`;
  },
  list: (value, type) => {
    const element = (type as Extract<ColumnType, { kind: 'list' }>).element;
    if (ArrayBuffer.isView(value)) {
      const accepted = TYPED_ARRAYS_FOR[element.kind] ?? [];
      return accepted.some((ctor) => value instanceof ctor)
        ? undefined
        : `a ${value.constructor.name} cannot hold ${columnTypeSql(element)} items`;
    }
    if (!Array.isArray(value)) return `${describe(value)} is not a list`;
    const check = VALUE_CHECKS[element.kind];
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null || item === undefined) continue;
      const reason = check(item, element);
      if (reason) return `item ${i}: ${reason}`;
    }
    return undefined;
  },
  struct: (value, type) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
      return `${describe(value)} is not an object`;
    }
    const fields = new Map((type as Extract<ColumnType, { kind: 'struct' }>).fields);
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!fields.has(key)) return `field "${key}" is not one of ${[...fields.keys()].join(', ')}`;
    }
    for (const [name, fieldType] of fields) {
      const item = record[name];
      if (item === null || item === undefined) continue;
      const reason = VALUE_CHECKS[fieldType.kind](item, fieldType);
      if (reason) return `field "${name}": ${reason}`;
    }
    return undefined;
  },
  null: () => 'no value fits a NULL column',
  other: (_value, type) => `runlake cannot write ${columnTypeSql(type)} values`,
};

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Why `value` cannot be stored in a column of `type`, or `undefined` when it can. Integers must
 * fit the column's width; list columns also take typed arrays whose elements they hold exactly
 * (a `Float32Array` for `FLOAT[]`); timestamps take a `Date` or an ISO-8601 string.
 *
 * @example
 * ```ts
 * typedValueProblem(t.int16, 40000); // '40000 is outside -32768..32767'
 * ```
 */
export function typedValueProblem(type: ColumnType, value: unknown): string | undefined {
  return VALUE_CHECKS[type.kind](value, type);
}

/** Values the allowed-set of a domain should accept, beyond the domain's own. */
export type LakeEnumValues = ReadonlyMap<string, ReadonlyMap<string, string>>;

/**
 * Enum values a write used that the lake has not recorded yet (registered in this process only),
 * by domain, with their descriptions.
 */
export type NewEnumValues = Map<EnumDomain, Map<string, string>>;

/**
 * Checks rows against a typed dataset, column by column: unknown columns (unless the dataset
 * allows extras), values of the wrong type, values outside an enum domain, and nulls in non-null
 * columns. Partition keys a row lacks are checked with the write's `partitionDefaults`. Throws a
 * {@link RowValidationError} naming the first bad row and column; returns the
 * registered-but-unrecorded enum values the rows use, for the writer to record in the lake.
 *
 * @example
 * ```ts
 * validateTypedRows(GEOMETRY_STATE, rows, await lakeEnumValues(paths, GEOMETRY_STATE));
 * ```
 */
export function validateTypedRows(
  dataset: DatasetDefinition,
  rows: readonly Row[],
  lakeValues: LakeEnumValues,
  partitionDefaults: Readonly<Record<string, unknown>> = {},
): NewEnumValues {
  const declared: Array<ColumnDefinition | PartitionKeyDefinition> = [
    ...dataset.partitionBy,
    ...(dataset.columns ?? []),
  ];
  const known = new Set(declared.map((c) => c.name));
  const partitionKeys = new Set(dataset.partitionBy.map((k) => k.name));
  const fresh: NewEnumValues = new Map();
  const fail = (row: number, column: string, reason: string): never => {
    throw new RowValidationError(dataset.name, row, column, reason);
  };
  const checked = declared.map((column) => ({
    column,
    nullable: !partitionKeys.has(column.name) && (column as ColumnDefinition).nullable !== false,
    check: VALUE_CHECKS[column.type.kind],
    domain: column.enum,
    recorded: column.enum ? lakeValues.get(column.enum.name) : undefined,
  }));
  // Partition keys may come from the write's defaults instead of the rows; writeRows checks them.
  const required = checked.filter((c) => !c.nullable && !partitionKeys.has(c.column.name));

  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    if (row === null || typeof row !== 'object' || Array.isArray(row)) fail(r, '', 'row is not an object');
    const record = row as Row;
    if (!dataset.allowExtraColumns) {
      for (const name in record) {
        if (!known.has(name) && record[name] !== undefined) {
          fail(r, name, `column is not in the ${dataset.name} schema (${[...known].join(', ')})`);
        }
      }
    }
    for (const { column } of required) {
      const value = record[column.name];
      if (value === null || value === undefined) fail(r, column.name, 'null in a non-null column');
    }
    for (const { column, check, domain, recorded } of checked) {
      // A partition key a row lacks takes the write's default (or fixed) value.
      const value = record[column.name] ?? partitionDefaults[column.name];
      if (value === null || value === undefined) continue;
      const reason = check(value, column.type);
      if (reason) fail(r, column.name, `schema says ${columnTypeSql(column.type)}: ${reason}`);
      if (domain) {
        const text = value as string;
        if (recorded?.has(text)) continue;
        const entry = domain.get(text);
        if (!entry) {
          throw new RowValidationError(
            dataset.name,
            r,
            column.name,
            `${JSON.stringify(text)} is not a valid ${domain.name} (${[...domain.list(), ...(recorded?.keys() ?? [])].join(', ')})` +
              (domain.extensible ? `; register new values with registerEnumValue('${domain.name}', …)` : ''),
          );
        }
        if (!entry.canonical) {
          const values = fresh.get(domain) ?? new Map<string, string>();
          fresh.set(domain, values);
          values.set(text, entry.description);
        }
      }
    }
  }
  return fresh;
}

// Typed arrays whose every element a column of the kind holds: their values need no check.
const ALWAYS_FITS: Partial<Record<ColumnType['kind'], ReadonlyArray<new () => ArrayLike<unknown>>>> = {
  float64: [
    Float64Array,
    Float32Array,
    Int8Array,
    Uint8Array,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
  ],
  float32: [
    Float64Array,
    Float32Array,
    Int8Array,
    Uint8Array,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
  ],
  int64: [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array],
  int32: [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array],
  int16: [Int8Array, Uint8Array, Int16Array],
};

/** True when a column's typed storage holds only values of `type`, so no value needs a check. */
function storageFits(input: InputColumn, type: ColumnType): boolean {
  const data = input.data;
  if (!data) return false;
  if (data.kind === 'number')
    return (ALWAYS_FITS[type.kind] ?? []).some((ctor) => data.values instanceof ctor);
  if (data.kind === 'bool') return type.kind === 'bool';
  if (data.kind === 'dict') return type.kind === 'string';
  if (data.kind === 'micros') return type.kind === 'timestamp';
  return false;
}

/**
 * {@link validateTypedRows} for columnar input (see `readColumns`): the same checks and the same
 * error for the same data, column by column. A column whose typed storage always fits its
 * declared type (a `Float64Array` for a DOUBLE column, Arrow dictionary codes for a VARCHAR one)
 * is not scanned; enum domains are checked once per distinct dictionary value.
 *
 * @example
 * ```ts
 * validateTypedColumns(METRICS_SCALAR, readColumns('metrics_scalar', columns), lakeValues);
 * ```
 */
export function validateTypedColumns(
  dataset: DatasetDefinition,
  input: InputColumns,
  lakeValues: LakeEnumValues,
  partitionDefaults: Readonly<Record<string, unknown>> = {},
): NewEnumValues {
  const declared: Array<ColumnDefinition | PartitionKeyDefinition> = [
    ...dataset.partitionBy,
    ...(dataset.columns ?? []),
  ];
  const known = new Set(declared.map((c) => c.name));
  const partitionKeys = new Set(dataset.partitionBy.map((k) => k.name));
  const { rowCount } = input;
  const byName = new Map(input.columns.map((c) => [c.name, c]));
  const fresh: NewEnumValues = new Map();
  // The row path stops at the first bad row, and within it at the first failing check in this
  // order: unknown columns (input order), nulls in non-null columns, then values (schema order).
  const failures: Array<{ row: number; rank: number; column: string; reason: string }> = [];
  const firstRow = (from: InputColumn, bad: (value: unknown) => boolean): number => {
    for (let r = 0; r < rowCount; r++) if (bad(from.valueAt(r))) return r;
    return -1;
  };
  if (rowCount === 0) return fresh;

  if (!dataset.allowExtraColumns) {
    input.columns.forEach((column, position) => {
      if (known.has(column.name)) return;
      const row = firstRow(column, (v) => v !== undefined);
      if (row >= 0) {
        failures.push({
          row,
          rank: position,
          column: column.name,
          reason: `column is not in the ${dataset.name} schema (${[...known].join(', ')})`,
        });
      }
    });
  }
  const base = input.columns.length;
  declared.forEach((column, position) => {
    const from = byName.get(column.name);
    const nullable = !partitionKeys.has(column.name) && (column as ColumnDefinition).nullable !== false;
    if (!nullable && !partitionKeys.has(column.name)) {
      const row =
        !from || from.nullCount === rowCount
          ? 0
          : from.nullCount === 0
            ? -1
            : firstRow(from, (v) => v === null || v === undefined);
      if (row >= 0) {
        failures.push({
          row,
          rank: base + position,
          column: column.name,
          reason: 'null in a non-null column',
        });
      }
    }
    const rank = base + declared.length + position;
    const check = VALUE_CHECKS[column.type.kind];
    const fallback = partitionDefaults[column.name];
    // A partition key the input lacks takes the write's default (or fixed) value in every row.
    const valueAt = from
      ? fallback === undefined || fallback === null
        ? from.valueAt
        : (r: number) => from.valueAt(r) ?? fallback
      : () => fallback;
    const fits =
      from !== undefined && storageFits(from, column.type) && (from.nullCount === 0 || fallback == null);
    // Rows past a bad value need no enum check: the row path stops there.
    let limit = from ? rowCount : Math.min(rowCount, 1);
    if (!fits) {
      for (let r = 0; r < limit; r++) {
        const value = valueAt(r);
        if (value === null || value === undefined) continue;
        const reason = check(value, column.type);
        if (reason) {
          failures.push({
            row: r,
            rank,
            column: column.name,
            reason: `schema says ${columnTypeSql(column.type)}: ${reason}`,
          });
          limit = r;
        }
      }
    }
    const domain = column.enum;
    if (!domain) return;
    const recorded = lakeValues.get(domain.name);
    // Each distinct value is looked up once; the first row holding a bad one is the error's row.
    const seen = new Map<string, string | undefined>();
    let read = valueAt;
    const data = from?.data;
    if (data?.kind === 'dict' && valueAt === from?.valueAt && limit === rowCount) {
      // Dictionary codes: a code's value is the same in every row that holds it.
      const { codes, dictionary, valid } = data;
      const codeOf = (r: number) =>
        valid && ((valid[r >> 3] as number) & (1 << (r & 7))) === 0 ? -1 : codes[r];
      const first = new Int32Array(dictionary.length).fill(-1);
      for (let r = 0; r < rowCount; r++) {
        const code = codeOf(r) as number;
        if (code >= 0 && (first[code] as number) < 0) first[code] = r;
      }
      const order = [...first.keys()].filter((code) => (first[code] as number) >= 0);
      order.sort((a, b) => (first[a] as number) - (first[b] as number));
      const rows = order.map((code) => first[code] as number);
      read = (k: number) => dictionary[order[k] as number];
      for (let k = 0; k < rows.length; k++) {
        const problem = enumProblem(read(k) as string);
        if (problem) {
          failures.push({ row: rows[k] as number, rank, column: column.name, reason: problem });
          return;
        }
      }
      return;
    }
    function enumProblem(text: string): string | undefined {
      let problem = seen.get(text);
      if (problem !== undefined || seen.has(text)) return problem;
      if (!recorded?.has(text)) {
        const entry = domain?.get(text);
        if (!entry && domain) {
          problem =
            `${JSON.stringify(text)} is not a valid ${domain.name} (${[...domain.list(), ...(recorded?.keys() ?? [])].join(', ')})` +
            (domain.extensible ? `; register new values with registerEnumValue('${domain.name}', …)` : '');
        } else if (entry && !entry.canonical && domain) {
          const values = fresh.get(domain) ?? new Map<string, string>();
          fresh.set(domain, values);
          values.set(text, entry.description);
        }
      }
      seen.set(text, problem);
      return problem;
    }
    for (let r = 0; r < limit; r++) {
      const value = read(r);
      if (value === null || value === undefined) continue;
      const problem = enumProblem(value as string);
      if (problem) {
        failures.push({ row: r, rank, column: column.name, reason: problem });
        return;
      }
    }
  });
  const first = failures.sort((a, b) => a.row - b.row || a.rank - b.rank)[0];
  if (first) throw new RowValidationError(dataset.name, first.row, first.column, first.reason);
  return fresh;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return 'a Date';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return value === null ? 'null' : `a ${typeof value}`;
}
