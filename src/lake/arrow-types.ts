import { type DuckDBListType, type DuckDBStructType, type DuckDBType, DuckDBTypeId } from '@duckdb/node-api';
import {
  Bool,
  type DataType,
  Field,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  List,
  Struct,
  TimestampMillisecond,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
} from 'apache-arrow';
import { plainValue } from './duckdb.js';

/**
 * How one DuckDB type crosses into Arrow: its Arrow type, and how a value as `getColumnsJS` gives
 * it becomes a value `vectorFromArray` takes for that type. Nested types recurse through
 * {@link arrowTypeOfDuckDB} and {@link arrowValueOfDuckDB}.
 */
interface ArrowMapping {
  readonly type: (duckdb: DuckDBType) => DataType;
  readonly value?: (duckdb: DuckDBType, value: unknown) => unknown;
}

const toBigInt = (_: DuckDBType, value: unknown) =>
  typeof value === 'bigint' ? value : BigInt(value as number);
const toMilliseconds = (_: DuckDBType, value: unknown) =>
  value instanceof Date ? value.getTime() : Number(value);
const timestamp: ArrowMapping = { type: () => new TimestampMillisecond(), value: toMilliseconds };
const list: ArrowMapping = {
  type: (duckdb) =>
    new List(new Field('item', arrowTypeOfDuckDB((duckdb as DuckDBListType).valueType), true)),
  value: (duckdb, value) =>
    (value as unknown[]).map((v) => arrowValueOfDuckDB((duckdb as DuckDBListType).valueType, v)),
};

// The one table both the query API's Arrow answers and convert's Parquet schema hints read.
const ARROW_MAPPINGS: Partial<Record<DuckDBTypeId, ArrowMapping>> = {
  [DuckDBTypeId.BOOLEAN]: { type: () => new Bool() },
  [DuckDBTypeId.TINYINT]: { type: () => new Int8() },
  [DuckDBTypeId.SMALLINT]: { type: () => new Int16() },
  [DuckDBTypeId.INTEGER]: { type: () => new Int32() },
  [DuckDBTypeId.BIGINT]: { type: () => new Int64(), value: toBigInt },
  [DuckDBTypeId.UTINYINT]: { type: () => new Uint8() },
  [DuckDBTypeId.USMALLINT]: { type: () => new Uint16() },
  [DuckDBTypeId.UINTEGER]: { type: () => new Uint32() },
  [DuckDBTypeId.UBIGINT]: { type: () => new Uint64(), value: toBigInt },
  [DuckDBTypeId.FLOAT]: { type: () => new Float32() },
  [DuckDBTypeId.DOUBLE]: { type: () => new Float64() },
  [DuckDBTypeId.DECIMAL]: { type: () => new Float64(), value: (_, value) => Number(value) },
  [DuckDBTypeId.VARCHAR]: { type: () => new Utf8() },
  [DuckDBTypeId.DATE]: timestamp,
  [DuckDBTypeId.TIMESTAMP]: timestamp,
  [DuckDBTypeId.TIMESTAMP_S]: timestamp,
  [DuckDBTypeId.TIMESTAMP_MS]: timestamp,
  [DuckDBTypeId.TIMESTAMP_NS]: timestamp,
  [DuckDBTypeId.TIMESTAMP_TZ]: timestamp,
  [DuckDBTypeId.LIST]: list,
  [DuckDBTypeId.ARRAY]: list,
  [DuckDBTypeId.STRUCT]: {
    type: (duckdb) => {
      const struct = duckdb as DuckDBStructType;
      return new Struct(
        struct.entryNames.map(
          (name, i) => new Field(name, arrowTypeOfDuckDB(struct.entryTypes[i] as DuckDBType), true),
        ),
      );
    },
    value: (duckdb, value) => {
      const struct = duckdb as DuckDBStructType;
      const record = value as Record<string, unknown>;
      return Object.fromEntries(
        struct.entryNames.map((name, i) => [
          name,
          arrowValueOfDuckDB(struct.entryTypes[i] as DuckDBType, record[name]),
        ]),
      );
    },
  },
};

const NESTED = new Set([DuckDBTypeId.LIST, DuckDBTypeId.ARRAY, DuckDBTypeId.STRUCT]);

// Types without an Arrow twin here (HUGEINT, INTERVAL, MAP, UUID, ENUM, …) travel as text.
const AS_TEXT: ArrowMapping = {
  type: () => new Utf8(),
  value: (_, value) => {
    const plain = plainValue(value);
    return typeof plain === 'string' ? plain : JSON.stringify(plain);
  },
};

/**
 * The Arrow type a DuckDB column crosses as: integers keep their width and sign, FLOAT/DOUBLE/
 * DECIMAL are floats, VARCHAR is Utf8, DATE and TIMESTAMP are millisecond timestamps, LIST/ARRAY
 * and STRUCT nest, and every other type is Utf8 text.
 *
 * @example
 * ```ts
 * arrowTypeOfDuckDB(BIGINT).toString(); // 'Int64'
 * ```
 */
export function arrowTypeOfDuckDB(type: DuckDBType): DataType {
  return (ARROW_MAPPINGS[type.typeId] ?? AS_TEXT).type(type);
}

/**
 * A DuckDB value (as `getColumnsJS` gives it) in the form `vectorFromArray` takes for
 * {@link arrowTypeOfDuckDB} of its type: BIGINT as bigint, timestamps as epoch milliseconds,
 * text-typed values as strings.
 *
 * @example
 * ```ts
 * arrowValueOfDuckDB(TIMESTAMP, new Date(0)); // 0
 * ```
 */
export function arrowValueOfDuckDB(type: DuckDBType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const convert = (ARROW_MAPPINGS[type.typeId] ?? AS_TEXT).value;
  return convert ? convert(type, value) : value;
}

/**
 * The Arrow type of a flat DuckDB column type named as `DESCRIBE` prints it (`BIGINT`, `VARCHAR`,
 * …), or `undefined` when the name is not a plain scalar type with a mapping.
 *
 * @example
 * ```ts
 * arrowTypeOfDuckDBName('DOUBLE')?.toString(); // 'Float64'
 * arrowTypeOfDuckDBName('INTEGER[]'); // undefined
 * ```
 */
export function arrowTypeOfDuckDBName(name: string): DataType | undefined {
  const typeId: unknown = DuckDBTypeId[name as keyof typeof DuckDBTypeId];
  if (typeof typeId !== 'number' || NESTED.has(typeId)) return undefined;
  return ARROW_MAPPINGS[typeId as DuckDBTypeId]?.type({ typeId } as DuckDBType);
}
