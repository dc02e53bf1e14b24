import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
  FLOAT,
  INTEGER,
  LIST,
  listValue,
  SMALLINT,
  STRUCT,
  structValue,
  TIMESTAMPTZ,
  timestampTZValue,
  VARCHAR,
} from '@duckdb/node-api';

/**
 * The column types a lake keeps. Each maps to one DuckDB/Parquet type; `null` is a column whose
 * values were all null when it first appeared, and takes the type of the first non-null write.
 * `other` carries a DuckDB type runlake does not write itself (found in files written by other
 * tools, e.g. DECIMAL or DATE); it only unifies with itself.
 */
export type ColumnType =
  | { readonly kind: 'int16' }
  | { readonly kind: 'int32' }
  | { readonly kind: 'int64' }
  | { readonly kind: 'float64' }
  | { readonly kind: 'float32' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'string' }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'null' }
  | { readonly kind: 'list'; readonly element: ColumnType }
  | { readonly kind: 'struct'; readonly fields: ReadonlyArray<readonly [string, ColumnType]> }
  | { readonly kind: 'other'; readonly sql: string };

type ScalarKind =
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float64'
  | 'float32'
  | 'bool'
  | 'string'
  | 'timestamp'
  | 'null';

/** Per scalar kind: its SQL spelling, its DuckDB type, and how a JS value becomes a DuckDB value. */
interface ScalarTypeTraits {
  readonly sql: string;
  readonly duckdb: DuckDBType;
  readonly toDuckDB: (value: unknown) => DuckDBValue;
}

// The one dispatch table for scalar types; lists and structs recurse into it.
const SCALAR_TRAITS: Record<ScalarKind, ScalarTypeTraits> = {
  int16: { sql: 'SMALLINT', duckdb: SMALLINT, toDuckDB: (v) => Number(v) },
  int32: { sql: 'INTEGER', duckdb: INTEGER, toDuckDB: (v) => Number(v) },
  int64: {
    sql: 'BIGINT',
    duckdb: BIGINT,
    toDuckDB: (v) => (typeof v === 'bigint' ? v : BigInt(v as number)),
  },
  float64: {
    sql: 'DOUBLE',
    duckdb: DOUBLE,
    toDuckDB: (v) => (typeof v === 'bigint' ? Number(v) : (v as number)),
  },
  float32: {
    sql: 'FLOAT',
    duckdb: FLOAT,
    toDuckDB: (v) => (typeof v === 'bigint' ? Number(v) : (v as number)),
  },
  bool: { sql: 'BOOLEAN', duckdb: BOOLEAN, toDuckDB: (v) => v as boolean },
  string: { sql: 'VARCHAR', duckdb: VARCHAR, toDuckDB: (v) => v as string },
  timestamp: {
    sql: 'TIMESTAMP WITH TIME ZONE',
    duckdb: TIMESTAMPTZ,
    toDuckDB: (v) => timestampTZValue(timestampMicros(v as Date | string)),
  },
  // Nested nulls (the element type of `[]`) are staged as INTEGER, the type DuckDB itself gives a
  // NULL literal in Parquet; a top-level column that is all null is left out of the file instead.
  null: { sql: 'INTEGER', duckdb: INTEGER, toDuckDB: () => null },
};

/**
 * Microseconds since the epoch of a `Date` or an ISO-8601 string, keeping the string's
 * microseconds that a `Date` would truncate.
 */
function timestampMicros(value: Date | string): bigint {
  if (value instanceof Date) return BigInt(value.getTime()) * 1000n;
  const millis = Date.parse(value);
  const fraction = /\.(\d+)/.exec(value)?.[1] ?? '';
  const extraMicros = Number(fraction.slice(3, 6).padEnd(3, '0'));
  // Date.parse keeps the first three fraction digits; the next three always add time.
  return BigInt(millis) * 1000n + BigInt(extraMicros);
}

const SCALAR_KINDS = new Set<string>([
  'int16',
  'int32',
  'int64',
  'float64',
  'float32',
  'bool',
  'string',
  'timestamp',
  'null',
]);

/**
 * What is wrong with a value read from a manifest as a {@link ColumnType}, or `undefined` when it
 * is one. A manifest is a file anyone can edit, and its types end up in SQL (`CAST(… AS <type>)`),
 * so an `other` type is refused when it could end the statement.
 *
 * @example
 * ```ts
 * columnTypeProblem({ kind: 'list', element: { kind: 'float32' } }); // undefined
 * columnTypeProblem({ kind: 'float' }); // 'unknown type kind "float"'
 * ```
 */
export function columnTypeProblem(value: unknown, depth = 0): string | undefined {
  if (depth > 32) return 'type nested more than 32 levels deep';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'type is not an object';
  const type = value as { kind?: unknown; element?: unknown; fields?: unknown; sql?: unknown };
  if (typeof type.kind !== 'string') return 'type has no "kind"';
  if (SCALAR_KINDS.has(type.kind)) return undefined;
  if (type.kind === 'list') return columnTypeProblem(type.element, depth + 1);
  if (type.kind === 'struct') {
    if (!Array.isArray(type.fields)) return 'struct type has no "fields" list';
    for (const field of type.fields) {
      if (!Array.isArray(field) || field.length !== 2 || typeof field[0] !== 'string')
        return 'struct field is not a [name, type] pair';
      const inner = columnTypeProblem(field[1], depth + 1);
      if (inner) return inner;
    }
    return undefined;
  }
  if (type.kind === 'other') {
    if (typeof type.sql !== 'string' || type.sql.trim() === '') return '"other" type has no "sql"';
    if (type.sql.length > 1000 || /;|--|\/\*/.test(type.sql))
      return `"other" type ${JSON.stringify(type.sql.slice(0, 40))} is not a SQL type`;
    return undefined;
  }
  return `unknown type kind ${JSON.stringify(type.kind)}`;
}

/**
 * Shorthand constructors, for typed dataset definitions.
 *
 * @example
 * ```ts
 * const columns = [{ name: 'step', type: t.int64 }, { name: 'emb', type: t.list(t.float32) }];
 * ```
 */
export const t = {
  int16: { kind: 'int16' },
  int32: { kind: 'int32' },
  int64: { kind: 'int64' },
  float64: { kind: 'float64' },
  float32: { kind: 'float32' },
  bool: { kind: 'bool' },
  string: { kind: 'string' },
  timestamp: { kind: 'timestamp' },
  null: { kind: 'null' },
  list: (element: ColumnType): ColumnType => ({ kind: 'list', element }),
  struct: (fields: Record<string, ColumnType>): ColumnType => ({
    kind: 'struct',
    fields: Object.entries(fields),
  }),
} as const satisfies Record<string, ColumnType | ((...args: never[]) => ColumnType)>;

/**
 * The DuckDB SQL spelling of a column type.
 *
 * @example
 * ```ts
 * columnTypeSql(t.list(t.float32)); // 'FLOAT[]'
 * ```
 */
export function columnTypeSql(type: ColumnType): string {
  switch (type.kind) {
    case 'list':
      return `${columnTypeSql(type.element)}[]`;
    case 'struct':
      return `STRUCT(${type.fields.map(([name, f]) => `${quoteIdentifier(name)} ${columnTypeSql(f)}`).join(', ')})`;
    case 'other':
      return type.sql;
    default:
      return SCALAR_TRAITS[type.kind].sql;
  }
}

/**
 * The `@duckdb/node-api` type object used to stage a column in a data chunk.
 *
 * @example
 * ```ts
 * duckdbType(t.int64) === BIGINT;
 * ```
 */
export function duckdbType(type: ColumnType): DuckDBType {
  switch (type.kind) {
    case 'list':
      return LIST(duckdbType(type.element));
    case 'struct':
      return STRUCT(Object.fromEntries(type.fields.map(([name, f]) => [name, duckdbType(f)])));
    case 'other':
      throw new Error(`cannot stage values of DuckDB type ${type.sql}`);
    default:
      return SCALAR_TRAITS[type.kind].duckdb;
  }
}

/**
 * Converts one JS value, already checked against `type` by {@link inferValueType}, into the value
 * a DuckDB vector of that type accepts.
 *
 * @example
 * ```ts
 * toDuckDBValue(t.int64, 3); // 3n
 * ```
 */
export function toDuckDBValue(type: ColumnType, value: unknown): DuckDBValue {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case 'list':
      return listValue((value as unknown[]).map((item) => toDuckDBValue(type.element, item)));
    case 'struct': {
      const record = value as Record<string, unknown>;
      return structValue(
        Object.fromEntries(type.fields.map(([name, f]) => [name, toDuckDBValue(f, record[name])])),
      );
    }
    case 'other':
      throw new Error(`cannot stage values of DuckDB type ${type.sql}`);
    default:
      return SCALAR_TRAITS[type.kind].toDuckDB(value);
  }
}

/** Why a JS value has no column type: returned by {@link inferValueType}. */
export interface UnsupportedValue {
  readonly unsupported: string;
}

/**
 * The column type of one JS value: numbers are int64 when integral and float64 otherwise, `Date`
 * is a timestamp, arrays are lists and plain objects structs. Returns an {@link UnsupportedValue}
 * for values a lake cannot keep (functions, symbols, class instances, mixed-type arrays).
 *
 * @example
 * ```ts
 * inferValueType([1, 2.5]); // { kind: 'list', element: { kind: 'float64' } }
 * ```
 */
export function inferValueType(value: unknown): ColumnType | UnsupportedValue {
  if (value === null || value === undefined) return t.null;
  switch (typeof value) {
    case 'number':
      return Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER ? t.int64 : t.float64;
    case 'bigint':
      return BigInt.asIntN(64, value) === value
        ? t.int64
        : { unsupported: `bigint ${value} is outside int64` };
    case 'boolean':
      return t.bool;
    case 'string':
      return t.string;
    case 'object':
      return inferObjectType(value);
    default:
      return { unsupported: `a ${typeof value} is not storable` };
  }
}

function inferObjectType(value: object): ColumnType | UnsupportedValue {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? { unsupported: 'an invalid Date' } : t.timestamp;
  }
  if (Array.isArray(value)) {
    let element: ColumnType = t.null;
    for (const [i, item] of value.entries()) {
      const itemType = inferValueType(item);
      if ('unsupported' in itemType) return { unsupported: `item ${i}: ${itemType.unsupported}` };
      const merged = unifyTypes(element, itemType);
      if (!merged) {
        return {
          unsupported: `list mixes ${columnTypeSql(element)} and ${columnTypeSql(itemType)} (item ${i})`,
        };
      }
      element = merged;
    }
    return t.list(element);
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    return { unsupported: `a ${proto?.constructor?.name ?? 'class'} instance is not storable` };
  }
  const fields: Array<[string, ColumnType]> = [];
  for (const [name, item] of Object.entries(value)) {
    const itemType = inferValueType(item);
    if ('unsupported' in itemType) return { unsupported: `field "${name}": ${itemType.unsupported}` };
    fields.push([name, itemType]);
  }
  if (fields.length === 0) return { unsupported: 'an empty object has no fields to store' };
  return { kind: 'struct', fields };
}

// Integers widen to wider integers; a float32 holds int16 exactly, but not int32 or int64, so those
// pairs meet at float64.
const NUMERIC_RANK: Partial<Record<ColumnType['kind'], number>> = {
  int16: 0,
  int32: 1,
  int64: 2,
  float32: 3,
  float64: 4,
};

/**
 * The type a column takes when it holds values of both types, or `undefined` when they conflict.
 * Widening rules: null takes the other type; int16 → int32 → int64 → float32 → float64 (int32 or
 * int64 with float32 gives float64, which holds both); lists unify element types; structs take the union of their fields.
 *
 * @example
 * ```ts
 * unifyTypes(t.int64, t.float64); // { kind: 'float64' }
 * unifyTypes(t.int64, t.string); // undefined
 * ```
 */
export function unifyTypes(a: ColumnType, b: ColumnType): ColumnType | undefined {
  if (a.kind === 'null') return b;
  if (b.kind === 'null') return a;
  const rankA = NUMERIC_RANK[a.kind];
  const rankB = NUMERIC_RANK[b.kind];
  if (rankA !== undefined && rankB !== undefined) {
    if (rankA === rankB) return a;
    const [narrow, wide] = rankA < rankB ? [a, b] : [b, a];
    return wide.kind === 'float32' && narrow.kind !== 'int16' ? t.float64 : wide;
  }
  if (a.kind === 'list' && b.kind === 'list') {
    const element = unifyTypes(a.element, b.element);
    return element && t.list(element);
  }
  if (a.kind === 'struct' && b.kind === 'struct') return unifyStructs(a.fields, b.fields);
  if (a.kind === 'other' && b.kind === 'other') return a.sql === b.sql ? a : undefined;
  return a.kind === b.kind ? a : undefined;
}

function unifyStructs(
  a: ReadonlyArray<readonly [string, ColumnType]>,
  b: ReadonlyArray<readonly [string, ColumnType]>,
): ColumnType | undefined {
  const fields = new Map<string, ColumnType>(a);
  for (const [name, type] of b) {
    const existing = fields.get(name);
    const merged = existing ? unifyTypes(existing, type) : type;
    if (!merged) return undefined;
    fields.set(name, merged);
  }
  return { kind: 'struct', fields: [...fields] };
}

/**
 * True when every value of `type` can be stored in a column of `target` without loss of meaning
 * (the widening rules of {@link unifyTypes}, one way).
 *
 * @example
 * ```ts
 * isAssignable(t.int64, t.float64); // true
 * ```
 */
export function isAssignable(type: ColumnType, target: ColumnType): boolean {
  const merged = unifyTypes(target, type);
  return merged !== undefined && sameType(merged, target);
}

/**
 * Structural equality of two column types.
 *
 * @example
 * ```ts
 * sameType(t.list(t.int64), t.list(t.int64)); // true
 * ```
 */
export function sameType(a: ColumnType, b: ColumnType): boolean {
  return columnTypeSql(a) === columnTypeSql(b);
}

const TYPE_ID_TO_COLUMN: Partial<Record<DuckDBTypeId, ColumnType>> = {
  [DuckDBTypeId.BIGINT]: t.int64,
  [DuckDBTypeId.INTEGER]: t.int32,
  [DuckDBTypeId.SMALLINT]: t.int16,
  [DuckDBTypeId.TINYINT]: t.int16,
  [DuckDBTypeId.UINTEGER]: t.int64,
  [DuckDBTypeId.USMALLINT]: t.int32,
  [DuckDBTypeId.UTINYINT]: t.int16,
  [DuckDBTypeId.DOUBLE]: t.float64,
  [DuckDBTypeId.FLOAT]: t.float32,
  [DuckDBTypeId.BOOLEAN]: t.bool,
  [DuckDBTypeId.VARCHAR]: t.string,
  [DuckDBTypeId.TIMESTAMP_TZ]: t.timestamp,
  [DuckDBTypeId.SQLNULL]: t.null,
};

/**
 * The column type of a DuckDB type found in existing files. Integers map to the narrowest of
 * int16/int32/int64 that holds them; types runlake does not write become `other`.
 *
 * @example
 * ```ts
 * columnTypeFromDuckDB(LIST(DOUBLE)); // t.list(t.float64)
 * ```
 */
export function columnTypeFromDuckDB(type: DuckDBType): ColumnType {
  if (type.typeId === DuckDBTypeId.LIST) return t.list(columnTypeFromDuckDB(type.valueType));
  if (type.typeId === DuckDBTypeId.STRUCT) {
    return {
      kind: 'struct',
      fields: type.entryNames.map((name, i) => [
        name,
        columnTypeFromDuckDB(type.entryTypes[i] as DuckDBType),
      ]),
    };
  }
  return TYPE_ID_TO_COLUMN[type.typeId] ?? { kind: 'other', sql: type.toString() };
}

/**
 * Quotes a SQL identifier for DuckDB.
 *
 * @example
 * ```ts
 * quoteIdentifier('my "col"'); // '"my ""col"""'
 * ```
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Quotes a SQL string literal for DuckDB.
 *
 * @example
 * ```ts
 * quoteLiteral("it's"); // "'it''s'"
 * ```
 */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
