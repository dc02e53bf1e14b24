import type { DuckDBType } from '@duckdb/node-api';
import { Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { arrowTypeOfDuckDB, arrowValueOfDuckDB, plainValue } from '../lake/index.js';
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
      const values = (result.columns[c] ?? []).map((v) => arrowValueOfDuckDB(type, v));
      return [name, vectorFromArray(values, arrowTypeOfDuckDB(type))];
    }),
  );
  return tableToIPC(new Table(vectors), 'stream');
}
