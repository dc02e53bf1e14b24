import { isIP } from 'node:net';
import { CrossSiteError } from './errors.js';

/** Which other sites and host names a server accepts requests from. */
export interface SitePolicy {
  /** Extra `Host` names to answer to (real deployments behind a name), beyond IP addresses and localhost. */
  readonly allowHosts?: readonly string[];
  /** Origins (`https://dash.example.org`) whose pages may call the API cross-site. */
  readonly allowOrigins?: readonly string[];
}

/**
 * Whether `host` is a loopback address or name: `localhost`, 127.0.0.0/8 or `::1`.
 *
 * @example
 * ```ts
 * isLoopbackHost('127.0.0.2'); // true
 * isLoopbackHost('0.0.0.0'); // false
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** The host name of a `Host` header value (`127.0.0.1:8787` → `127.0.0.1`, `[::1]:80` → `::1`). */
function hostName(header: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (bracketed?.[1]) return bracketed[1].toLowerCase();
  return header.replace(/:\d+$/, '').toLowerCase();
}

/**
 * Refuses requests another site makes through the user's browser:
 *
 * - **DNS rebinding.** A page on `evil.example` whose name is made to resolve to 127.0.0.1
 *   reaches the server with `Host: evil.example`. Only IP-address hosts, `localhost` and the
 *   names in `allowHosts` are answered; an address cannot be rebound.
 * - **Cross-site requests.** A browser sends `Origin` on every cross-origin request and on
 *   same-origin POSTs, and `Sec-Fetch-Site` on every request. A request whose `Origin` is not the
 *   server's own (same host and port as `Host`) or in `allowOrigins`, or that the browser marks
 *   `cross-site`, is refused, GET included: no answer is computed for another site.
 *
 * Requests without these headers (curl, scripts, the Python client) pass; the token is what
 * guards those.
 *
 * @example
 * ```ts
 * checkSite(new Request('http://127.0.0.1:8787/api/lake', { headers: { Origin: 'https://evil.example' } }), {});
 * // throws CrossSiteError
 * ```
 */
export function checkSite(request: Request, policy: SitePolicy): string | undefined {
  const host = request.headers.get('host') ?? new URL(request.url).host;
  const name = hostName(host);
  const allowedHosts = new Set((policy.allowHosts ?? []).map((h) => h.toLowerCase()));
  if (!(isIP(name) !== 0 || name === 'localhost' || allowedHosts.has(name))) {
    throw new CrossSiteError(
      `Host "${host}" is not one this server answers to (an IP address, localhost, or a name given with --allow-host)`,
    );
  }
  const origin = request.headers.get('origin');
  if (origin !== null) {
    if (policy.allowOrigins?.includes(origin)) return origin;
    let sameOrigin = false;
    try {
      sameOrigin = new URL(origin).host.toLowerCase() === host.toLowerCase();
    } catch {
      // "null" (a file:// page, a sandboxed frame) and other non-URLs are not the server's origin.
    }
    if (!sameOrigin) {
      throw new CrossSiteError(`requests from Origin ${origin} are not allowed (add it with --allow-origin)`);
    }
    return undefined;
  }
  if (request.headers.get('sec-fetch-site') === 'cross-site') {
    throw new CrossSiteError(
      "cross-site requests are not allowed (add the page's origin with --allow-origin)",
    );
  }
  return undefined;
}
