import { createRequire } from 'node:module';
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBType,
  type DuckDBValue,
  ENUM,
  FLOAT,
  INTEGER,
  SMALLINT,
  TIMESTAMPTZ,
  TINYINT,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api';
import type { ColumnData, NumericArray } from './column-data.js';
import { type ColumnType, columnTypeSql, duckdbType, quoteLiteral, toDuckDBValue } from './column-types.js';

/**
 * The native calls of `@duckdb/node-bindings` that copy typed-array bytes straight into a data
 * chunk's vectors (what `@duckdb/node-api`'s own vectors call in `flush`). Loaded through
 * node-api's own resolution, so they are the very bindings node-api runs on.
 */
interface ChunkBindings {
  data_chunk_get_vector(chunk: unknown, column: number): unknown;
  copy_data_to_vector(
    vector: unknown,
    targetByteOffset: number,
    source: ArrayBufferLike,
    sourceByteOffset: number,
    byteCount: number,
  ): void;
  copy_data_to_vector_validity(
    vector: unknown,
    targetByteOffset: number,
    source: ArrayBufferLike,
    sourceByteOffset: number,
    byteCount: number,
  ): void;
  vector_ensure_validity_writable(vector: unknown): void;
  vector_assign_string_element(vector: unknown, index: number, text: string): void;
}

const bindings = createRequire(createRequire(import.meta.url).resolve('@duckdb/node-api'))(
  '@duckdb/node-bindings',
) as ChunkBindings;

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

const NUMERIC_STAGE: ReadonlyArray<[new (n: number) => NumericArray, DuckDBType, string]> = [
  [Float64Array, DOUBLE, 'DOUBLE'],
  [Float32Array, FLOAT, 'FLOAT'],
  [BigInt64Array, BIGINT, 'BIGINT'],
  [Int32Array, INTEGER, 'INTEGER'],
  [Int16Array, SMALLINT, 'SMALLINT'],
  [Int8Array, TINYINT, 'TINYINT'],
  [Uint8Array, UTINYINT, 'UTINYINT'],
  [Uint16Array, USMALLINT, 'USMALLINT'],
  [Uint32Array, UINTEGER, 'UINTEGER'],
  [BigUint64Array, UBIGINT, 'UBIGINT'],
];

function numericStage(values: NumericArray): [DuckDBType, string] {
  for (const [ctor, type, sql] of NUMERIC_STAGE) if (values instanceof ctor) return [type, sql];
  throw new Error(`no DuckDB type stages a ${values.constructor.name}`);
}

/**
 * The DuckDB type a column's data is staged with, and its SQL spelling for the stage table: the
 * storage's own type (a `Float64Array` is DOUBLE whatever the column's type; the COPY casts), an
 * ENUM of the dictionary for dictionary codes.
 *
 * @example
 * ```ts
 * stageType({ kind: 'number', values: new Int32Array(2) }); // { type: INTEGER, sql: 'INTEGER' }
 * ```
 */
export function stageType(data: ColumnData): { type: DuckDBType; sql: string } {
  switch (data.kind) {
    case 'number': {
      const [type, sql] = numericStage(data.values);
      return { type, sql };
    }
    case 'bool':
      return { type: BOOLEAN, sql: 'BOOLEAN' };
    case 'micros':
      return { type: TIMESTAMPTZ, sql: 'TIMESTAMP WITH TIME ZONE' };
    case 'dict': {
      // A column null in every row has no strings: its codes (all 0, all null) need one value.
      const values = data.dictionary.length > 0 ? [...data.dictionary] : [''];
      return { type: ENUM(values), sql: `ENUM(${values.map(quoteLiteral).join(', ')})` };
    }
    case 'strings':
      return { type: VARCHAR, sql: 'VARCHAR' };
    case 'values':
      return { type: duckdbType(data.type), sql: columnTypeSql(data.type) };
  }
}

/**
 * Appends `rowCount` rows of column data to an existing table whose columns have the
 * {@link stageType}s of `columns`. Numbers, booleans and dictionary codes are copied into each
 * data chunk's vectors with one native memory copy per column per 2048 rows (and one for the
 * validity mask of a column with nulls); only `strings` and `values` columns go value by value.
 *
 * @example
 * ```ts
 * await appendColumnData(connection, 'stage', 3, [{ kind: 'number', values: new Float64Array([1, 2, 3]) }]);
 * ```
 */
export async function appendColumnData(
  connection: DuckDBConnection,
  table: string,
  rowCount: number,
  columns: readonly ColumnData[],
): Promise<void> {
  const appender = await connection.createAppender(table);
  try {
    const chunk = DuckDBDataChunk.create(
      columns.map((c) => stageType(c).type),
      CHUNK_ROWS,
    );
    const converters = columns.map((c) => (c.kind === 'values' ? valueConverter(c.type) : undefined));
    const chunkValidity = new Uint8Array(CHUNK_ROWS / 8);
    for (let start = 0; start < rowCount; start += CHUNK_ROWS) {
      const count = Math.min(CHUNK_ROWS, rowCount - start);
      chunk.rowCount = count;
      for (let j = 0; j < columns.length; j++) {
        const data = columns[j] as ColumnData;
        if (data.kind === 'values') {
          const vector = chunk.getColumnVector(j);
          const convert = converters[j] as (value: unknown) => DuckDBValue;
          for (let r = 0; r < count; r++) {
            const value = data.valueAt(start + r);
            vector.setItem(r, value === undefined || value === null ? null : convert(value));
          }
          vector.flush();
          continue;
        }
        const vector = bindings.data_chunk_get_vector(chunk.chunk, j);
        if (data.kind === 'strings') {
          chunkValidity.fill(0xff);
          let nulls = false;
          for (let r = 0; r < count; r++) {
            const value = data.values[start + r];
            if (typeof value === 'string') bindings.vector_assign_string_element(vector, r, value);
            else {
              nulls = true;
              chunkValidity[r >> 3] = (chunkValidity[r >> 3] as number) & ~(1 << (r & 7));
            }
          }
          if (nulls) copyValidity(vector, chunkValidity, 0, count);
          else if (start > 0) copyValidity(vector, chunkValidity, 0, count); // undo an earlier chunk's nulls
          continue;
        }
        const values = data.kind === 'dict' ? data.codes : data.values;
        const width = values.BYTES_PER_ELEMENT;
        bindings.copy_data_to_vector(
          vector,
          0,
          values.buffer,
          values.byteOffset + start * width,
          count * width,
        );
        if (data.valid) copyValidity(vector, data.valid, start / 8, count);
      }
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** Copies the validity bits of `count` rows, from byte `byteOffset` of `mask`, into a vector. */
function copyValidity(vector: unknown, mask: Uint8Array, byteOffset: number, count: number): void {
  bindings.vector_ensure_validity_writable(vector);
  bindings.copy_data_to_vector_validity(
    vector,
    0,
    mask.buffer,
    mask.byteOffset + byteOffset,
    Math.ceil(count / 64) * 8,
  );
}
