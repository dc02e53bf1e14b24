import { type DuckDBConnection, type DuckDBPreparedStatement, StatementType } from '@duckdb/node-api';
import { SqlError } from '../lake/index.js';
import { ForbiddenQueryError } from './errors.js';

/** Statement kinds the query API runs: queries (SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE, SHOW, PIVOT with an IN list) and EXPLAIN. */
const READ_ONLY_TYPES: ReadonlySet<StatementType> = new Set([StatementType.SELECT, StatementType.EXPLAIN]);

/**
 * The name of a DuckDB statement type, for error messages.
 *
 * @example
 * ```ts
 * statementTypeName(StatementType.COPY); // 'COPY'
 * ```
 */
export function statementTypeName(type: StatementType): string {
  const found = Object.entries(StatementType).find(([, value]) => value === type);
  return found?.[0] ?? `statement type ${type}`;
}

/**
 * Parses `sql` with DuckDB's own parser and prepares it, refusing anything but exactly one
 * read-only statement: a second statement after `;`, INSERT/UPDATE/DELETE/CREATE/DROP, COPY,
 * ATTACH, INSTALL/LOAD, SET/PRAGMA/CALL, transactions, EXPORT… all throw
 * {@link ForbiddenQueryError}. DuckDB refusing file access while binding (a path outside the lake)
 * is also a {@link ForbiddenQueryError}; other parse and bind errors are {@link SqlError}s. The
 * returned statement is the one to run, so what was checked is what executes.
 *
 * @example
 * ```ts
 * const prepared = await prepareReadOnly(connection, 'SELECT count(*) FROM runs');
 * await prepareReadOnly(connection, 'DROP VIEW runs'); // throws ForbiddenQueryError
 * ```
 */
export async function prepareReadOnly(
  connection: DuckDBConnection,
  sql: string,
): Promise<DuckDBPreparedStatement> {
  let count: number;
  let prepared: DuckDBPreparedStatement;
  try {
    const extracted = await connection.extractStatements(sql);
    count = extracted.count;
    if (count !== 1) {
      throw new ForbiddenQueryError(
        count === 0
          ? 'the query is empty: send one read-only statement'
          : `only one read-only statement is allowed, got ${count} (a PIVOT without an explicit ON … IN (…) list also counts as several)`,
      );
    }
    prepared = await extracted.prepare(0);
  } catch (error) {
    throw duckdbRefusal(sql, error);
  }
  if (!READ_ONLY_TYPES.has(prepared.statementType)) {
    prepared.destroySync();
    throw new ForbiddenQueryError(
      `only read-only statements (SELECT, WITH, FROM, DESCRIBE, SUMMARIZE, EXPLAIN) are allowed, got ${statementTypeName(prepared.statementType)}`,
    );
  }
  return prepared;
}

/**
 * Classifies an error DuckDB raised for a query: the sandbox's refusals (file access outside the
 * lake, disabled extensions, locked configuration) become {@link ForbiddenQueryError}, errors
 * runlake raised itself pass through, and the rest become {@link SqlError}.
 *
 * @example
 * ```ts
 * duckdbRefusal(sql, new Error('Permission Error: Cannot access file "/etc/passwd"')); // ForbiddenQueryError
 * ```
 */
export function duckdbRefusal(sql: string, error: unknown): Error {
  if (error instanceof ForbiddenQueryError || error instanceof SqlError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/^Permission Error|configuration has been locked|disabled through configuration/.test(message)) {
    return new ForbiddenQueryError(`refused by the sandbox: ${message.split('\n')[0]}`);
  }
  return new SqlError(sql, error);
}
