import { createHash, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from './errors.js';

/**
 * Checks a request's token against the server's, in constant time: the token comes from
 * `Authorization: Bearer <token>` or, for browser links, the `token` query parameter. Throws
 * {@link UnauthorizedError} naming what was missing or wrong; does nothing when the server has
 * no token.
 *
 * @example
 * ```ts
 * checkToken('s3cret', new Request('http://127.0.0.1:8787/api/lake?token=s3cret')); // passes
 * checkToken('s3cret', new Request('http://127.0.0.1:8787/api/lake')); // throws UnauthorizedError
 * ```
 */
export function checkToken(expected: string | undefined, request: Request): void {
  if (expected === undefined) return;
  const header = request.headers.get('authorization');
  let given: string | null = null;
  if (header !== null) {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match?.[1]) throw new UnauthorizedError('the Authorization header must be "Bearer <token>"');
    given = match[1];
  } else {
    given = new URL(request.url).searchParams.get('token');
  }
  if (given === null) {
    throw new UnauthorizedError(
      'this server needs a token: send "Authorization: Bearer <token>" or ?token=<token>',
    );
  }
  // Hash both sides so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  if (!timingSafeEqual(a, b)) throw new UnauthorizedError('the token is wrong');
}
