import { type DuckDBConnection, type DuckDBPreparedStatement, StatementType } from '@duckdb/node-api';
import {
  leadingKeyword,
  RunlakeError,
  type SerializedSql,
  SqlError,
  serializeSqlText,
} from '../lake/index.js';
import { ForbiddenQueryError, MemoryBudgetError, PayloadTooLargeError } from './errors.js';

/** The largest serialized parse tree the guard reads (see assertPlainQuery). */
const MAX_TREE_CHARS = 64 * 1024 * 1024;

/**
 * Table functions a served query may call: generators, the file readers (confined to the lake by
 * `allowed_directories`), Parquet and JSON inspection, and catalog listings. Everything else is
 * refused, because DuckDB's other table functions change state or escape the parse-tree check:
 * `query`/`query_table`/`json_execute_serialized_sql` run SQL text the guard never saw,
 * `enable_logging(storage='file', …)` writes files, `checkpoint`, `enable_profiling` and
 * `arrow_scan` (raw memory pointers) are not reads of the lake.
 */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  'range',
  'generate_series',
  'unnest',
  'repeat',
  'repeat_row',
  'glob',
  'read_parquet',
  'parquet_scan',
  'parquet_metadata',
  'parquet_file_metadata',
  'parquet_kv_metadata',
  'parquet_schema',
  'read_csv',
  'read_csv_auto',
  'sniff_csv',
  'read_json',
  'read_json_auto',
  'read_json_objects',
  'read_json_objects_auto',
  'read_ndjson',
  'read_ndjson_auto',
  'read_ndjson_objects',
  'read_text',
  'read_blob',
  'json_each',
  'json_tree',
  'summary',
  'duckdb_columns',
  'duckdb_constraints',
  'duckdb_databases',
  'duckdb_functions',
  'duckdb_keywords',
  'duckdb_schemas',
  'duckdb_tables',
  'duckdb_types',
  'duckdb_views',
  'pragma_table_info',
  'pragma_show',
  'pragma_version',
  'pragma_platform',
  'pg_timezone_names',
  'icu_calendar_names',
  'test_all_types',
]);

/**
 * Scalar functions a served query may not call: they change per-database state (`nextval`,
 * `setseed`), write to DuckDB's log, or hold a thread without checking for interrupts
 * (`sleep_ms`).
 */
export const REFUSED_SCALAR_FUNCTIONS: ReadonlySet<string> = new Set([
  'nextval',
  'currval',
  'setseed',
  'write_log',
  'sleep_ms',
  'json_execute_serialized_sql',
]);

// `EXPLAIN` and `EXPLAIN ANALYZE` in front of a statement. DuckDB's JSON serializer only takes
// SELECT trees, so the statement behind the prefix is checked on its own; the prefix is matched
// as plain keywords and whitespace, so what is checked is exactly what follows it.
const EXPLAIN_PREFIX = /^\s*explain\s+(?:analyze\s+)?/i;

/**
 * Parses `sql` with DuckDB's own parser and prepares it, refusing anything but exactly one plain
 * query. The check is structural, not a list of refused statement names:
 * 1. `json_serialize_sql` must accept the statement, and it only serializes SELECT trees (SELECT,
 *    WITH, FROM, VALUES, DESCRIBE, SUMMARIZE, SHOW, PIVOT inside a query). `EXPLAIN [ANALYZE]`
 *    is allowed in front of such a tree, and only there.
 * 2. Every table function in the tree must be in {@link ALLOWED_TABLE_FUNCTIONS} and no scalar
 *    function in {@link REFUSED_SCALAR_FUNCTIONS}.
 * 3. DuckDB must see exactly one statement, of type SELECT or EXPLAIN, when it prepares it.
 *
 * Refusals throw {@link ForbiddenQueryError} naming the statement kind; parse and bind errors are
 * {@link SqlError}s. The returned statement is the one to run, so what was checked is what executes.
 *
 * @example
 * ```ts
 * const prepared = await prepareReadOnly(connection, 'SELECT count(*) FROM runs');
 * await prepareReadOnly(connection, 'EXPLAIN ANALYZE DROP VIEW runs'); // throws ForbiddenQueryError
 * ```
 */
export async function prepareReadOnly(
  connection: DuckDBConnection,
  sql: string,
): Promise<DuckDBPreparedStatement> {
  const explained = EXPLAIN_PREFIX.exec(sql);
  const query = explained ? sql.slice(explained[0].length) : sql;
  if (!ACCEPTED.has(sql)) {
    await assertPlainQuery(connection, query, explained ? explained[0].trim().toUpperCase() : undefined);
    remember(sql);
  }
  let prepared: DuckDBPreparedStatement;
  try {
    const extracted = await connection.extractStatements(sql);
    if (extracted.count !== 1) {
      throw new ForbiddenQueryError(
        `only one read-only statement is allowed, got ${extracted.count} (a PIVOT without an explicit ON … IN (…) list also counts as several)`,
      );
    }
    prepared = await extracted.prepare(0);
  } catch (error) {
    throw duckdbRefusal(sql, error);
  }
  if (prepared.statementType !== StatementType.SELECT && prepared.statementType !== StatementType.EXPLAIN) {
    const kind = statementTypeName(prepared.statementType);
    prepared.destroySync();
    throw new ForbiddenQueryError(`the query API runs read-only queries only; this is a ${kind} statement`);
  }
  return prepared;
}

// SQL texts that passed the parse-tree check. The verdict depends on the text alone (the allow-
// lists are constants), and the dashboard's own queries are a few templates with bound
// parameters, so most requests skip the extra parse. Insertion-ordered, oldest dropped first.
const ACCEPTED = new Set<string>();
const ACCEPTED_MAX = 1024;

function remember(sql: string): void {
  if (sql.length > 16 * 1024) return;
  ACCEPTED.add(sql);
  if (ACCEPTED.size > ACCEPTED_MAX) ACCEPTED.delete(ACCEPTED.values().next().value as string);
}

// Step 1 and 2 of prepareReadOnly: the statement is a single SELECT tree that calls only allowed
// functions. Parsing runs nothing: json_serialize_sql never binds or executes its argument.
async function assertPlainQuery(
  connection: DuckDBConnection,
  query: string,
  prefix: string | undefined,
): Promise<void> {
  let tree: string;
  try {
    tree = await serializeSqlText(connection, query);
  } catch (error) {
    throw duckdbRefusal(query, error);
  }
  // The tree is tens of times the SQL's size; past this, parsing it would cost more memory than
  // any real dashboard query needs.
  if (tree.length > MAX_TREE_CHARS) {
    throw new PayloadTooLargeError(
      `the query's parse tree is larger than ${MAX_TREE_CHARS} characters; split or simplify the query`,
    );
  }
  const parsed = JSON.parse(tree) as SerializedSql;
  if (parsed.error) {
    if (parsed.error_type === 'not implemented') {
      const kind = `${prefix ? `${prefix} of ` : ''}a ${leadingKeyword(query)} statement`;
      throw new ForbiddenQueryError(
        `the query API runs read-only queries only (SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN [ANALYZE] of those); this is ${kind}`,
      );
    }
    throw duckdbRefusal(query, new Error(parsed.error_message ?? 'the SQL does not parse'));
  }
  if ((parsed.statements?.length ?? 0) !== 1) {
    throw new ForbiddenQueryError(
      `only one read-only statement is allowed, got ${parsed.statements?.length ?? 0}`,
    );
  }
  for (const name of tableFunctionsOf(parsed.statements)) {
    if (!ALLOWED_TABLE_FUNCTIONS.has(name)) {
      throw new ForbiddenQueryError(
        `the table function ${name}() is not available through the query API (it is not a read of the lake)`,
      );
    }
  }
  for (const name of scalarFunctionsOf(parsed.statements)) {
    if (REFUSED_SCALAR_FUNCTIONS.has(name)) {
      throw new ForbiddenQueryError(`the function ${name}() is not available through the query API`);
    }
  }
}

// Every node of the serialized tree, iteratively (a deep tree must not exhaust the stack).
function* nodesOf(root: unknown): Generator<Record<string, unknown>> {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...node);
    else if (node !== null && typeof node === 'object') {
      yield node as Record<string, unknown>;
      stack.push(...Object.values(node));
    }
  }
}

function functionName(node: unknown): string | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  const name = (node as { function_name?: unknown }).function_name;
  return typeof name === 'string' ? name.toLowerCase() : undefined;
}

function* tableFunctionsOf(root: unknown): Generator<string> {
  for (const node of nodesOf(root)) {
    if (node.type === 'TABLE_FUNCTION') yield functionName(node.function) ?? '(unnamed)';
  }
}

function* scalarFunctionsOf(root: unknown): Generator<string> {
  for (const node of nodesOf(root)) {
    const name = node.class === 'FUNCTION' ? functionName(node) : undefined;
    if (name !== undefined) yield name;
  }
}

/**
 * The name of a DuckDB statement type, for error messages.
 *
 * @example
 * ```ts
 * statementTypeName(StatementType.COPY); // 'COPY'
 * ```
 */
export function statementTypeName(type: StatementType): string {
  return StatementType[type] ?? `statement type ${type}`;
}

/**
 * Classifies an error DuckDB raised for a query: the sandbox's refusals (file access outside the
 * lake, disabled extensions, locked configuration, the read-only catalog) become
 * {@link ForbiddenQueryError}, errors runlake raised itself pass through, and the rest become
 * {@link SqlError}.
 *
 * @example
 * ```ts
 * duckdbRefusal(sql, new Error('Permission Error: Cannot access file "/etc/passwd"')); // ForbiddenQueryError
 * ```
 */
export function duckdbRefusal(sql: string, error: unknown): Error {
  if (error instanceof RunlakeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/^Out of Memory Error|std::bad_alloc|bad allocation/.test(message)) {
    return new MemoryBudgetError(
      `the query needs more memory than the server's budget (--memory-budget): ${message.split('\n')[0]}`,
    );
  }
  if (
    /^Permission Error|configuration has been locked|disabled through configuration|read-only mode/.test(
      message,
    )
  ) {
    return new ForbiddenQueryError(`refused by the sandbox: ${message.split('\n')[0]}`);
  }
  return new SqlError(sql, error);
}
