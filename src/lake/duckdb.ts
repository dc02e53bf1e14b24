import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

let writerInstance: Promise<DuckDBInstance> | undefined;

/**
 * The in-memory DuckDB instance this process stages writes in. One per process: connections are
 * cheap, instances are not, and DuckDB runs queries from several connections in parallel.
 *
 * @example
 * ```ts
 * const connection = await (await stagingInstance()).connect();
 * ```
 */
export function stagingInstance(): Promise<DuckDBInstance> {
  writerInstance ??= DuckDBInstance.create(':memory:', {
    autoload_known_extensions: 'false',
    autoinstall_known_extensions: 'false',
  });
  return writerInstance;
}

/**
 * Runs `use` with a fresh connection to the staging instance and closes it afterwards.
 *
 * @example
 * ```ts
 * await withStagingConnection((c) => c.run('SELECT 1'));
 * ```
 */
export async function withStagingConnection<T>(
  use: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const connection = await (await stagingInstance()).connect();
  try {
    return await use(connection);
  } finally {
    connection.closeSync();
  }
}

/**
 * Runs a query and returns its rows as JSON-friendly objects (BIGINT as number when it is a safe
 * integer, otherwise as a decimal string; timestamps as ISO strings).
 *
 * @example
 * ```ts
 * const rows = await queryObjects(connection, 'SELECT count(*) AS n FROM events');
 * ```
 */
export async function queryObjects(
  connection: DuckDBConnection,
  sql: string,
): Promise<Record<string, unknown>[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjectsJS().map((row) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(row)) out[key] = plainValue(value);
    return out;
  });
}

/**
 * Turns a value from `getRowObjectsJS` into a plain JSON-compatible value.
 *
 * @example
 * ```ts
 * plainValue(3n); // 3
 * ```
 */
export function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plainValue);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainValue(v)]));
  }
  return value;
}
