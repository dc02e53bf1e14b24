import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The directory the built web app is served from: `web/dist` of the runlake package.
 *
 * @example
 * ```ts
 * defaultWebRoot(); // '/…/node_modules/runlake/web/dist'
 * ```
 */
export function defaultWebRoot(): string {
  return fileURLToPath(new URL('../../web/dist/', import.meta.url));
}

/**
 * The content type a static file is served with, from its extension
 * (`application/octet-stream` when unknown).
 *
 * @example
 * ```ts
 * contentTypeOf('assets/app.js'); // 'text/javascript; charset=utf-8'
 * ```
 */
export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Reads the file a URL path names inside `root`, or `undefined` when there is none. The path is
 * decoded and resolved, and anything that would land outside `root` (`..`, encoded slashes,
 * absolute paths, NUL bytes) is not served. A directory serves its `index.html`.
 *
 * @example
 * ```ts
 * await staticFile('web/dist', '/assets/app.js'); // { body: <bytes>, contentType: 'text/javascript; …' }
 * await staticFile('web/dist', '/../package.json'); // undefined
 * ```
 */
export async function staticFile(
  root: string,
  urlPath: string,
): Promise<{ body: Uint8Array; contentType: string } | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const base = path.resolve(root);
  let file = path.resolve(base, `.${path.posix.normalize(`/${decoded}`)}`);
  if (file !== base && !file.startsWith(base + path.sep)) return undefined;
  try {
    if ((await stat(file)).isDirectory()) file = path.join(file, 'index.html');
    return { body: await readFile(file), contentType: contentTypeOf(file) };
  } catch {
    return undefined;
  }
}
