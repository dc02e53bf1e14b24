import {
  type DuckDBDataChunk,
  type DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBType,
  type DuckDBValue,
  JSDuckDBValueConverter,
} from '@duckdb/node-api';
import { AnswerTooLargeError, QueryTimeoutError } from './errors.js';
import { duckdbRefusal, prepareReadOnly } from './query-guard.js';

/** Limits every query through the server runs under. */
export interface QueryLimits {
  /** Rows returned at most; a longer result is cut and flagged `truncated`. */
  readonly maxRows: number;
  /** Milliseconds a query may run before it is interrupted. */
  readonly timeoutMs: number;
  /** Bytes an answer may hold (counted as its values are read, before encoding). */
  readonly maxAnswerBytes: number;
}

/** Where served queries run: a DuckDB instance (the sandbox's read-only one). */
export interface QueryTarget {
  readonly instance: DuckDBInstance;
}

/** A query result, capped at {@link QueryLimits.maxRows}. */
export interface QueryResult {
  readonly columnNames: readonly string[];
  readonly columnTypes: readonly DuckDBType[];
  /** Column-major values as `getColumnsJS` gives them (BIGINT as bigint, dates as Date). */
  readonly columns: readonly (readonly unknown[])[];
  readonly rowCount: number;
  /** Whether the query had more rows than the cap. */
  readonly truncated: boolean;
}

/**
 * Runs one read-only statement (see {@link prepareReadOnly}) on a fresh connection of the target's
 * DuckDB instance, with `params` bound to its `$1…`/`?` placeholders. The result is streamed chunk
 * by chunk and reading stops after `maxRows + 1` rows (the extra one only tells that there was
 * more), or with {@link AnswerTooLargeError} as soon as the values read pass `maxAnswerBytes`; a
 * timer interrupts the connection after `timeoutMs` and the query fails with
 * {@link QueryTimeoutError}.
 *
 * @example
 * ```ts
 * const result = await runReadOnlyQuery(lake, 'SELECT * FROM runs WHERE seed = $1', { maxRows: 1000, timeoutMs: 5000 }, [1]);
 * result.truncated; // false
 * ```
 */
export async function runReadOnlyQuery(
  target: QueryTarget,
  sql: string,
  limits: QueryLimits,
  params: readonly DuckDBValue[] = [],
): Promise<QueryResult> {
  return withReadOnlyStatement(target, sql, limits, params, async (prepared) => {
    const result = await prepared.stream();
    const columnNames = result.columnNames();
    const columns: unknown[][] = columnNames.map(() => []);
    let rows = 0;
    let bytes = 0;
    while (rows <= limits.maxRows) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const take = Math.min(chunk.rowCount, limits.maxRows + 1 - rows);
      // Value by value, so a chunk of huge strings stops at the limit instead of being converted
      // whole first.
      columns.forEach((column, c) => {
        chunk.visitColumnValues(c, (value, row, _c, type) => {
          if (row >= take) return;
          const converted = JSDuckDBValueConverter(value, type, JSDuckDBValueConverter);
          bytes += approximateBytes(converted);
          if (bytes > limits.maxAnswerBytes) throw new AnswerTooLargeError(limits.maxAnswerBytes);
          column.push(converted);
        });
      });
      rows += take;
    }
    const rowCount = Math.min(rows, limits.maxRows);
    return {
      columnNames,
      columnTypes: result.columnTypes(),
      columns: columns.map((column) => (column.length > rowCount ? column.slice(0, rowCount) : column)),
      rowCount,
      truncated: rows > limits.maxRows,
    };
  });
}

/**
 * About how many bytes `value` takes once encoded: text by its length, numbers and dates as a
 * few bytes, lists and structs by their members. An estimate for the answer limit, not a size.
 *
 * @example
 * ```ts
 * approximateBytes(['ab', 1, null]); // 2 + 8 + 4
 * ```
 */
export function approximateBytes(value: unknown): number {
  if (value === null || value === undefined) return 4;
  if (typeof value === 'string') return value.length;
  if (typeof value !== 'object' || value instanceof Date) return 8;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  let total = 0;
  for (const member of Array.isArray(value) ? value : Object.values(value))
    total += approximateBytes(member) + 1;
  return total;
}

/**
 * Runs one read-only statement like {@link runReadOnlyQuery}, but hands each result chunk to `use`
 * as DuckDB's own vectors instead of converting every value: numeric columns and list children
 * are read straight from their buffers, which is what makes millions of metric points cheap. The
 * row cap does not apply; the time limit does.
 *
 * @example
 * ```ts
 * await streamReadOnlyChunks(lake, 'SELECT step FROM metrics_scalar', limits, [], (chunk) => {
 *   chunk.getColumnVector(0).getItem(0);
 * });
 * ```
 */
export async function streamReadOnlyChunks(
  target: QueryTarget,
  sql: string,
  limits: QueryLimits,
  params: readonly DuckDBValue[],
  use: (chunk: DuckDBDataChunk, columnNames: readonly string[]) => void,
): Promise<void> {
  await withReadOnlyStatement(target, sql, limits, params, async (prepared) => {
    const result = await prepared.stream();
    const names = result.columnNames();
    for (
      let chunk = await result.fetchChunk();
      chunk && chunk.rowCount > 0;
      chunk = await result.fetchChunk()
    ) {
      use(chunk, names);
    }
  });
}

// One statement on a fresh connection: checked read-only, parameters bound, interrupted when it
// outlives the time limit, and DuckDB's refusals turned into the server's errors.
async function withReadOnlyStatement<T>(
  target: QueryTarget,
  sql: string,
  limits: QueryLimits,
  params: readonly DuckDBValue[],
  run: (prepared: DuckDBPreparedStatement) => Promise<T>,
): Promise<T> {
  const connection = await target.instance.connect();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    connection.interrupt();
  }, limits.timeoutMs);
  try {
    const prepared = await prepareReadOnly(connection, sql);
    if (params.length > 0) prepared.bind([...params]);
    return await run(prepared);
  } catch (error) {
    if (timedOut) throw new QueryTimeoutError(limits.timeoutMs);
    throw duckdbRefusal(sql, error);
  } finally {
    clearTimeout(timer);
    connection.closeSync();
  }
}
