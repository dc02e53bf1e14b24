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
  Table,
  TimestampMillisecond,
  tableToIPC,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { plainValue } from '../lake/index.js';
import type { QueryResult } from './query-runner.js';

/** A query result as the JSON API sends it. */
export interface JsonQueryResult {
  readonly columns: readonly { readonly name: string; readonly type: string }[];
  readonly rows: readonly Record<string, unknown>[];
  readonly rowCount: number;
  readonly truncated: boolean;
}

/**
 * A query result as JSON: column names and DuckDB types, then one object per row (BIGINT as a
 * number when it is a safe integer, else a decimal string; dates and timestamps as ISO strings).
 *
 * @example
 * ```ts
 * resultToJson(result); // { columns: [{ name: 'n', type: 'BIGINT' }], rows: [{ n: 3 }], rowCount: 1, truncated: false }
 * ```
 */
export function resultToJson(result: QueryResult): JsonQueryResult {
  const rows: Record<string, unknown>[] = [];
  for (let r = 0; r < result.rowCount; r++) {
    const row: Record<string, unknown> = {};
    result.columnNames.forEach((name, c) => {
      row[name] = plainValue(result.columns[c]?.[r] ?? null);
    });
    rows.push(row);
  }
  return {
    columns: result.columnNames.map((name, c) => ({ name, type: String(result.columnTypes[c]) })),
    rows,
    rowCount: result.rowCount,
    truncated: result.truncated,
  };
}

/**
 * A query result as an Arrow IPC stream. Column types follow DuckDB's: integers keep their width
 * and sign (BIGINT is Int64), FLOAT/DOUBLE/DECIMAL are floats, VARCHAR/ENUM/UUID are Utf8, DATE and
 * TIMESTAMP are millisecond timestamps, LIST/ARRAY and STRUCT nest; anything else (HUGEINT,
 * INTERVAL, MAP, …) is sent as text.
 *
 * @example
 * ```ts
 * const bytes = resultToArrow(result);
 * tableFromIPC(bytes).numRows; // result.rowCount
 * ```
 */
export function resultToArrow(result: QueryResult): Uint8Array {
  const vectors = Object.fromEntries(
    result.columnNames.map((name, c) => {
      const type = result.columnTypes[c] as DuckDBType;
      const arrowType = arrowTypeOf(type);
      const values = (result.columns[c] ?? []).map((v) => arrowValue(type, v));
      return [name, vectorFromArray(values, arrowType)];
    }),
  );
  return tableToIPC(new Table(vectors), 'stream');
}

function arrowTypeOf(type: DuckDBType): DataType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return new Bool();
    case DuckDBTypeId.TINYINT:
      return new Int8();
    case DuckDBTypeId.SMALLINT:
      return new Int16();
    case DuckDBTypeId.INTEGER:
      return new Int32();
    case DuckDBTypeId.BIGINT:
      return new Int64();
    case DuckDBTypeId.UTINYINT:
      return new Uint8();
    case DuckDBTypeId.USMALLINT:
      return new Uint16();
    case DuckDBTypeId.UINTEGER:
      return new Uint32();
    case DuckDBTypeId.UBIGINT:
      return new Uint64();
    case DuckDBTypeId.FLOAT:
      return new Float32();
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      return new Float64();
    case DuckDBTypeId.DATE:
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return new TimestampMillisecond();
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return new List(new Field('item', arrowTypeOf((type as DuckDBListType).valueType), true));
    case DuckDBTypeId.STRUCT: {
      const struct = type as DuckDBStructType;
      return new Struct(
        struct.entryNames.map(
          (name, i) => new Field(name, arrowTypeOf(struct.entryTypes[i] as DuckDBType), true),
        ),
      );
    }
    default:
      return new Utf8();
  }
}

function arrowValue(type: DuckDBType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type.typeId) {
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
      return typeof value === 'bigint' ? value : BigInt(value as number);
    case DuckDBTypeId.DATE:
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return value instanceof Date ? value.getTime() : Number(value);
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return (value as unknown[]).map((v) => arrowValue((type as DuckDBListType).valueType, v));
    case DuckDBTypeId.STRUCT: {
      const struct = type as DuckDBStructType;
      const record = value as Record<string, unknown>;
      return Object.fromEntries(
        struct.entryNames.map((name, i) => [
          name,
          arrowValue(struct.entryTypes[i] as DuckDBType, record[name]),
        ]),
      );
    }
    default: {
      if (arrowTypeOf(type) instanceof Utf8) {
        const plain = plainValue(value);
        return typeof plain === 'string' ? plain : JSON.stringify(plain);
      }
      return typeof value === 'bigint' ? Number(value) : value;
    }
  }
}
