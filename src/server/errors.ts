import type { Hono } from 'hono';
import {
  FrameError,
  IngestClosedError,
  IngestLockedError,
  SequenceGapError,
} from '../ingest/tracking/index.js';
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

/**
 * A request body, SQL text or run list longer than the server's limit. Maps to HTTP 413.
 *
 * @example
 * ```ts
 * throw new PayloadTooLargeError('the request body is larger than the 1048576-byte limit (--max-body-bytes)');
 * ```
 */
export class PayloadTooLargeError extends RunlakeError {
  override readonly name: string = 'PayloadTooLargeError';
}

/**
 * An answer that would be larger than the server's answer limit. Maps to HTTP 507: the request is
 * fine, the server will not hold that much for one client; narrow the query or raise the limit.
 *
 * @example
 * ```ts
 * throw new AnswerTooLargeError(64 * 1024 * 1024);
 * ```
 */
export class AnswerTooLargeError extends RunlakeError {
  override readonly name: string = 'AnswerTooLargeError';
  constructor(readonly maxAnswerBytes: number) {
    super(
      `the answer is larger than the ${maxAnswerBytes}-byte limit (--max-answer-bytes); select fewer rows or columns, or aggregate`,
    );
  }
}

/**
 * A query that needed more memory than the server's budget. Maps to HTTP 507.
 *
 * @example
 * ```ts
 * throw new MemoryBudgetError('the query needed more than the 2 GiB memory budget (--memory-budget)');
 * ```
 */
export class MemoryBudgetError extends RunlakeError {
  override readonly name: string = 'MemoryBudgetError';
}

/**
 * A request from another site: an `Origin` that is not the server's own, or a `Host` the server
 * does not answer to (DNS rebinding). Maps to HTTP 403.
 *
 * @example
 * ```ts
 * throw new CrossSiteError('Origin https://evil.example is not allowed (--allow-origin)');
 * ```
 */
export class CrossSiteError extends RunlakeError {
  override readonly name: string = 'CrossSiteError';
}

/**
 * The query process stopped (killed after ignoring an interrupt, or crashed) while a request was
 * in it, and a retry on a fresh one failed too. Maps to HTTP 503.
 *
 * @example
 * ```ts
 * throw new ServiceUnavailableError('the query process stopped twice while answering this request');
 * ```
 */
export class ServiceUnavailableError extends RunlakeError {
  override readonly name: string = 'ServiceUnavailableError';
}

/**
 * An error the query process answered with, carried to the HTTP process as the status and body
 * it already mapped (see {@link errorResponse}).
 *
 * @example
 * ```ts
 * throw new RemoteError({ status: 408, body: { error: 'the query ran longer…', kind: 'timeout' } });
 * ```
 */
export class RemoteError extends Error {
  override readonly name = 'RemoteError';
  constructor(readonly response: ErrorResponse) {
    super(response.body.error);
  }
}

/** The HTTP status and JSON body the server answers an error with. */
export interface ErrorResponse {
  readonly status: 400 | 401 | 403 | 404 | 408 | 409 | 413 | 500 | 503 | 507;
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
  [CrossSiteError, 403, 'cross_site'],
  [ForbiddenQueryError, 403, 'forbidden'],
  [PayloadTooLargeError, 413, 'too_large'],
  [AnswerTooLargeError, 507, 'answer_too_large'],
  [MemoryBudgetError, 507, 'memory'],
  [ServiceUnavailableError, 503, 'unavailable'],
  [IngestClosedError, 503, 'unavailable'],
  [SequenceGapError, 409, 'sequence_gap'],
  [IngestLockedError, 409, 'locked'],
  [FrameError, 400, 'bad_frame'],
  [QueryTimeoutError, 408, 'timeout'],
  [NotFoundError, 404, 'not_found'],
  [SqlError, 400, 'sql'],
  [BadRequestError, 400, 'bad_request'],
  [RunlakeError, 400, 'bad_request'],
];

/**
 * Maps any error to the status code and `{error, kind}` body the server answers with: refused
 * SQL or a cross-site request 403, missing or wrong token 401, time limit 408, unknown path 404,
 * a batch out of sequence 409, a body over the limit 413, an answer or query over the server's budget 507, a query process
 * that stopped 503, other runlake and SQL errors 400, and anything else (a bug) 500.
 *
 * @example
 * ```ts
 * errorResponse(new QueryTimeoutError(100)); // { status: 408, body: { error: '…', kind: 'timeout' } }
 * ```
 */
export function errorResponse(error: unknown): ErrorResponse {
  if (error instanceof RemoteError) return error.response;
  for (const [type, status, kind] of STATUS_TABLE) {
    if (error instanceof type) return { status, body: { error: firstLine(error.message), kind } };
  }
  const message = error instanceof Error ? firstLine(error.message) : String(error);
  return { status: 500, body: { error: `internal error: ${message}`, kind: 'internal' } };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/**
 * Answers every error of `app` with {@link errorResponse}'s status and `{error, kind}` body, and an
 * unknown route with 404: the one place both servers (TCP and the ingest socket) map errors.
 *
 * @example
 * ```ts
 * const app = answerErrorsAsJson(new Hono());
 * ```
 */
export function answerErrorsAsJson(app: Hono): Hono {
  app.onError((error, c) => {
    const { status, body } = errorResponse(error);
    return c.json(body, status);
  });
  app.notFound((c) => {
    const { status, body } = errorResponse(new NotFoundError(`no route ${c.req.method} ${c.req.path}`));
    return c.json(body, status);
  });
  return app;
}
