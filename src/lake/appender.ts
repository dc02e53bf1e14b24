import { type DuckDBConnection, DuckDBDataChunk, type DuckDBValue } from '@duckdb/node-api';
import { type ColumnType, duckdbType, toDuckDBValue } from './column-types.js';

/** A column to append: its type and how to read its value for row `r`. */
export interface AppendColumn {
  readonly type: ColumnType;
  readonly valueAt: (row: number) => unknown;
}

// DuckDB's vector size: a full chunk per appendDataChunk call.
const CHUNK_ROWS = 2048;

/**
 * Appends `rowCount` rows to an existing table, column by column through DuckDB data chunks (the
 * fastest bulk path the Node client offers: one native copy per column per 2048 rows).
 *
 * @example
 * ```ts
 * await appendColumns(connection, 'stage', rows.length, [
 *   { type: t.int64, valueAt: (r) => rows[r].step },
 * ]);
 * ```
 */
export async function appendColumns(
  connection: DuckDBConnection,
  table: string,
  rowCount: number,
  columns: readonly AppendColumn[],
): Promise<void> {
  const converters = columns.map((c) => valueConverter(c.type));
  const appender = await connection.createAppender(table);
  try {
    const chunk = DuckDBDataChunk.create(
      columns.map((c) => duckdbType(c.type)),
      CHUNK_ROWS,
    );
    for (let start = 0; start < rowCount; start += CHUNK_ROWS) {
      const count = Math.min(CHUNK_ROWS, rowCount - start);
      chunk.rowCount = count;
      for (let j = 0; j < columns.length; j++) {
        const vector = chunk.getColumnVector(j);
        const { valueAt } = columns[j] as AppendColumn;
        const convert = converters[j] as (value: unknown) => DuckDBValue;
        for (let r = 0; r < count; r++) {
          const value = valueAt(start + r);
          vector.setItem(r, value === undefined || value === null ? null : convert(value));
        }
        vector.flush();
      }
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

function valueConverter(type: ColumnType): (value: unknown) => DuckDBValue {
  switch (type.kind) {
    case 'int64':
      return (v) => (typeof v === 'bigint' ? v : BigInt(v as number));
    case 'int16':
    case 'int32':
    case 'float64':
    case 'float32':
      return (v) => (typeof v === 'number' ? v : Number(v));
    case 'string':
    case 'bool':
      return (v) => v as DuckDBValue;
    default:
      return (v) => toDuckDBValue(type, v);
  }
}
