import { RunlakeError, SqlError } from '../lake/index.js';

/**
 * A request the server refuses because of what it asks for: a missing or malformed parameter,
 * an unknown run or metric. Maps to HTTP 400.
 *
 * @example
 * ```ts
 * throw new BadRequestError('width must be an integer between 1 and 10000, got "abc"');
 * ```
 */
export class BadRequestError extends RunlakeError {
  override readonly name: string = 'BadRequestError';
}

/**
 * SQL the query API will not run: anything but one read-only statement, or one that reaches for
 * files outside the lake, extensions or settings. Maps to HTTP 403.
 *
 * @example
 * ```ts
 * throw new ForbiddenQueryError('only one read-only statement is allowed, got a COPY statement');
 * ```
 */
export class ForbiddenQueryError extends RunlakeError {
  override readonly name: string = 'ForbiddenQueryError';
}

/**
 * A request without the server's token, or with a different one. Maps to HTTP 401.
 *
 * @example
 * ```ts
 * throw new UnauthorizedError('this server needs a token: send "Authorization: Bearer <token>"');
 * ```
 */
export class UnauthorizedError extends RunlakeError {
  override readonly name: string = 'UnauthorizedError';
}

/**
 * A query that ran past the server's time limit and was interrupted. Maps to HTTP 408.
 *
 * @example
 * ```ts
 * throw new QueryTimeoutError(5000);
 * ```
 */
export class QueryTimeoutError extends RunlakeError {
  override readonly name: string = 'QueryTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`the query ran longer than the ${timeoutMs} ms limit and was interrupted`);
  }
}

/**
 * A path or resource the server does not have. Maps to HTTP 404.
 *
 * @example
 * ```ts
 * throw new NotFoundError('no route GET /api/nope');
 * ```
 */
export class NotFoundError extends RunlakeError {
  override readonly name: string = 'NotFoundError';
}

/** The HTTP status and JSON body the server answers an error with. */
export interface ErrorResponse {
  readonly status: 400 | 401 | 403 | 404 | 408 | 500;
  readonly body: { readonly error: string; readonly kind: string };
}

/**
 * Which error class answers with which status, most specific first. This table is the one place
 * errors become status codes; the first row whose class the error is an instance of wins.
 */
const STATUS_TABLE: readonly (readonly [
  abstract new (...args: never[]) => Error,
  ErrorResponse['status'],
  string,
])[] = [
  [UnauthorizedError, 401, 'unauthorized'],
  [ForbiddenQueryError, 403, 'forbidden'],
  [QueryTimeoutError, 408, 'timeout'],
  [NotFoundError, 404, 'not_found'],
  [SqlError, 400, 'sql'],
  [BadRequestError, 400, 'bad_request'],
  [RunlakeError, 400, 'bad_request'],
];

/**
 * Maps any error to the status code and `{error, kind}` body the server answers with: refused
 * SQL 403, missing or wrong token 401, time limit 408, unknown path 404, other runlake and SQL
 * errors 400, and anything else (a bug) 500 with a generic message.
 *
 * @example
 * ```ts
 * errorResponse(new QueryTimeoutError(100)); // { status: 408, body: { error: '…', kind: 'timeout' } }
 * ```
 */
export function errorResponse(error: unknown): ErrorResponse {
  for (const [type, status, kind] of STATUS_TABLE) {
    if (error instanceof type) return { status, body: { error: firstLine(error.message), kind } };
  }
  const message = error instanceof Error ? firstLine(error.message) : String(error);
  return { status: 500, body: { error: `internal error: ${message}`, kind: 'internal' } };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
