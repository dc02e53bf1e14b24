import type { DuckDBDataChunk, DuckDBPreparedStatement, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import type { Lake } from '../lake/index.js';
import { QueryTimeoutError } from './errors.js';
import { duckdbRefusal, prepareReadOnly } from './query-guard.js';

/** Limits every query through the server runs under. */
export interface QueryLimits {
  /** Rows returned at most; a longer result is cut and flagged `truncated`. */
  readonly maxRows: number;
  /** Milliseconds a query may run before it is interrupted. */
  readonly timeoutMs: number;
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
 * Runs one read-only statement (see {@link prepareReadOnly}) on a fresh connection of the lake's
 * DuckDB instance, with `params` bound to its `$1…`/`?` placeholders. The result is streamed and
 * reading stops after `maxRows + 1` rows (the extra one only tells that there was more); a timer
 * interrupts the connection after `timeoutMs` and the query fails with {@link QueryTimeoutError}.
 *
 * @example
 * ```ts
 * const result = await runReadOnlyQuery(lake, 'SELECT * FROM runs WHERE seed = $1', { maxRows: 1000, timeoutMs: 5000 }, [1]);
 * result.truncated; // false
 * ```
 */
export async function runReadOnlyQuery(
  lake: Lake,
  sql: string,
  limits: QueryLimits,
  params: readonly DuckDBValue[] = [],
): Promise<QueryResult> {
  return withReadOnlyStatement(lake, sql, limits, params, async (prepared) => {
    const reader = await prepared.streamAndReadUntil(limits.maxRows + 1);
    const truncated = reader.currentRowCount > limits.maxRows;
    const rowCount = Math.min(reader.currentRowCount, limits.maxRows);
    return {
      columnNames: reader.columnNames(),
      columnTypes: reader.columnTypes(),
      columns: reader.getColumnsJS().map((column) => column.slice(0, rowCount)),
      rowCount,
      truncated,
    };
  });
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
  lake: Lake,
  sql: string,
  limits: QueryLimits,
  params: readonly DuckDBValue[],
  use: (chunk: DuckDBDataChunk, columnNames: readonly string[]) => void,
): Promise<void> {
  await withReadOnlyStatement(lake, sql, limits, params, async (prepared) => {
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
  lake: Lake,
  sql: string,
  limits: QueryLimits,
  params: readonly DuckDBValue[],
  run: (prepared: DuckDBPreparedStatement) => Promise<T>,
): Promise<T> {
  const connection = await lake.instance.connect();
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
