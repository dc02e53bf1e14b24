import {
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
  StatementType,
} from '@duckdb/node-api';
import { quoteLiteral } from './column-types.js';
import { RunlakeError, SqlError } from './errors.js';
import { lineAndColumn } from './sql-message.js';

/**
 * A statement refused because it is not a single SELECT: `runlake query` reads, it never changes
 * the lake or writes files (`DROP`, `COPY … TO`, `INSERT`, `EXPLAIN ANALYZE` of any of those).
 *
 * @example
 * ```ts
 * e.statementType === 'DROP';
 * ```
 */
export class ReadOnlyQueryError extends RunlakeError {
  override readonly name = 'ReadOnlyQueryError';
  constructor(
    readonly statementType: string,
    what: string,
  ) {
    super(`read-only: ${what} runs SELECT statements only; got ${statementType}`);
  }
}

/** DuckDB's parse of SQL text as `json_serialize_sql` returns it. */
export interface SerializedSql {
  /** Whether the text is not one or more SELECT trees (`error_type` "not implemented") or does not parse ("parser"). */
  readonly error?: boolean;
  readonly error_type?: string;
  readonly error_message?: string;
  /** The character offset of a parser error. */
  readonly position?: string;
  /** One parse tree per statement. */
  readonly statements?: readonly unknown[];
}

/**
 * DuckDB's parser, without binding or running anything: `json_serialize_sql` parses the text and
 * serializes SELECT trees (SELECT, WITH, FROM-first, VALUES, DESCRIBE, SUMMARIZE, SHOW); for any
 * other statement, or a syntax error, it says why (with the offset). The tree is returned as
 * text, so a caller can bound its size before parsing it.
 *
 * @example
 * ```ts
 * JSON.parse(await serializeSqlText(connection, 'DROP VIEW runs')).error_type; // 'not implemented'
 * ```
 */
export async function serializeSqlText(connection: DuckDBConnection, sql: string): Promise<string> {
  const reader = await connection.runAndReadAll(`SELECT json_serialize_sql(${quoteLiteral(sql)})`);
  return String(reader.getRows()[0]?.[0] ?? '{}');
}

async function serializeSql(connection: DuckDBConnection, sql: string): Promise<SerializedSql> {
  return JSON.parse(await serializeSqlText(connection, sql)) as SerializedSql;
}

/**
 * The first keyword of a statement, upper-cased, past leading comments and parentheses: how a
 * refusal names a statement DuckDB will not serialize ("DROP", "COPY", "ATTACH").
 *
 * @example
 * ```ts
 * leadingKeyword('/* x *\/ drop view runs'); // 'DROP'
 * ```
 */
export function leadingKeyword(sql: string): string {
  const stripped = sql.replace(/^(?:[\s(]+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)+/, '');
  return (/^[A-Za-z_]+/.exec(stripped)?.[0] ?? 'UNKNOWN').toUpperCase();
}

// A parser error as one line, its position mapped into the user's text (`offset` characters of
// runlake's own wrapping precede it).
function syntaxError(sql: string, shown: string, serialized: SerializedSql, offset = 0): SqlError {
  const position = Number(serialized.position);
  let where = '';
  if (Number.isFinite(position)) {
    const at = position - offset;
    const { line, column } = lineAndColumn(shown, at);
    const near = shown.slice(at, at + 40).trimEnd();
    where = ` (at line ${line}, column ${column}${near ? ` near "${near}"` : ', at the end'})`;
  }
  return new SqlError(sql, new Error(`Parser Error: ${serialized.error_message ?? 'syntax error'}${where}`));
}

// The name of a statement's type for a refusal: DuckDB's, or the leading keyword where DuckDB
// reports SELECT for a non-SELECT tree (PRAGMA, CALL rewritten to a table function).
async function statementTypeName(connection: DuckDBConnection, sql: string): Promise<string> {
  const keyword = leadingKeyword(sql);
  try {
    const extracted = await connection.extractStatements(sql);
    const prepared = await extracted.prepare(0);
    const type = StatementType[prepared.statementType];
    prepared.destroySync();
    return type && type !== 'SELECT' && type !== 'INVALID' ? type : keyword;
  } catch {
    return keyword; // e.g. INSERT into a view fails to bind; the keyword still names it
  }
}

/**
 * Checks that `sql` is one SELECT statement (DuckDB's parser decides, not a keyword match) and
 * prepares it, so binder errors (unknown columns, with DuckDB's candidates) name the user's own
 * text. Refused: a syntax error (`SqlError`, with line and column), several statements, and any
 * statement that is not a SELECT ({@link ReadOnlyQueryError}, naming its type).
 *
 * @example
 * ```ts
 * const prepared = await prepareSelect(lake.connection, 'SELECT * FROM events');
 * await prepareSelect(lake.connection, 'DROP TABLE runs'); // throws: "read-only: runlake query runs SELECT statements only; got DROP"
 * ```
 */
export async function prepareSelect(
  connection: DuckDBConnection,
  sql: string,
  what = 'runlake query',
): Promise<DuckDBPreparedStatement> {
  const serialized = await serializeSql(connection, sql);
  if (serialized.error) {
    if (serialized.error_type === 'parser') throw syntaxError(sql, sql, serialized);
    throw new ReadOnlyQueryError(await statementTypeName(connection, sql), what);
  }
  const count = serialized.statements?.length ?? 0;
  if (count !== 1) {
    throw new SqlError(sql, new Error(`${what} runs one statement at a time; got ${count}`));
  }
  try {
    const extracted = await connection.extractStatements(sql);
    const prepared = await extracted.prepare(0);
    if (prepared.statementType !== StatementType.SELECT) {
      const type = StatementType[prepared.statementType] ?? 'UNKNOWN';
      prepared.destroySync();
      throw new ReadOnlyQueryError(type, what);
    }
    return prepared;
  } catch (error) {
    throw error instanceof RunlakeError ? error : new SqlError(sql, error);
  }
}

/**
 * Parses a clause the user gave on its own (`--where`, `--order-by`) before runlake builds a
 * query around it, so a syntax error points into the user's text instead of at whatever runlake
 * appended (`--where "regret <"` would otherwise fail "near LIMIT"), and the clause cannot smuggle
 * in a second statement.
 *
 * @example
 * ```ts
 * await checkSqlClause(lake.connection, 'WHERE', 'regret <', '--where');
 * // throws: "SQL error: --where: Parser Error: syntax error at end of input (at line 1, column 9, at the end)"
 * ```
 */
export async function checkSqlClause(
  connection: DuckDBConnection,
  keyword: 'WHERE' | 'ORDER BY',
  clause: string,
  option: string,
): Promise<void> {
  const prefix = `SELECT * FROM (SELECT 1) ${keyword} `;
  const serialized = await serializeSql(connection, prefix + clause);
  if (serialized.error && serialized.error_type === 'parser') {
    const error = syntaxError(clause, clause, serialized, prefix.length);
    throw new SqlError(clause, new Error(`${option}: ${(error.cause as Error).message}`));
  }
  if (serialized.error || serialized.statements?.length !== 1) {
    throw new SqlError(clause, new Error(`${option} must be one SQL expression, not a statement`));
  }
}

/**
 * Runs a prepared statement and reads at most `limit` rows, streaming: DuckDB stops producing
 * rows once enough are read, so no `LIMIT` has to be wrapped around the user's SQL. `more` says
 * whether rows were left unread.
 *
 * @example
 * ```ts
 * const { reader, rows, more } = await readAtMost(prepared, 100);
 * ```
 */
export async function readAtMost(
  prepared: DuckDBPreparedStatement,
  limit: number | undefined,
): Promise<{ reader: DuckDBResultReader; rows: Record<string, unknown>[]; more: boolean }> {
  if (limit === undefined) {
    const reader = await prepared.runAndReadAll();
    return { reader, rows: reader.getRowObjectsJS() as Record<string, unknown>[], more: false };
  }
  const reader = await prepared.streamAndReadUntil(limit + 1);
  const all = reader.getRowObjectsJS() as Record<string, unknown>[];
  return { reader, rows: all.slice(0, limit), more: all.length > limit };
}
