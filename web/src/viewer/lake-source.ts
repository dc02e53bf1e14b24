// The viewer served by `runlake serve`: the lake's data files (GET /api/files) and SQL answers
// (POST /api/query, format=arrow) as byte sources. Opened from file:// none of this exists, and
// the viewer stays the standalone file viewer.
import { streamChunks } from './byte-stream.js';
import { ViewerFileError } from './frame.js';
import type { ByteSource } from './load-file.js';

/** One dataset of `GET /api/files` (src/server/lake-files.ts). */
export interface LakeFilesDataset {
  readonly name: string;
  readonly version: number;
  /** The dataset's file count (all pages). */
  readonly total: number;
  /** Its files on this page. */
  readonly files: readonly { readonly path: string; readonly size: number; readonly rows: number | null }[];
}

/** One page of `GET /api/files`: the datasets, and `limit` of their files from `offset` of `total`. */
export interface LakeFilesAnswer {
  readonly datasets: readonly LakeFilesDataset[];
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
}

/** How many files the viewer's lake file picker asks for at a time. */
export const LAKE_FILES_PAGE = 100;

/**
 * The page's `?token=`, sent as a bearer token to the server that served the page.
 *
 * @example
 * ```ts
 * pageToken('?token=s3cret&sql=SELECT%201'); // 's3cret'
 * ```
 */
export function pageToken(search: string = location.search): string | undefined {
  return new URLSearchParams(search).get('token') ?? undefined;
}

/**
 * Headers for a request to the page's own server: the bearer token when the page has one (never
 * sent to another origin).
 *
 * @example
 * ```ts
 * fetch('api/files', { headers: sameOriginHeaders('api/files') });
 * ```
 */
export function sameOriginHeaders(url: string): Record<string, string> {
  const token = pageToken();
  if (!token) return {};
  const target = new URL(url, location.href);
  return target.origin === location.origin ? { Authorization: `Bearer ${token}` } : {};
}

/** The server's one-line error (`{error}`), else the status line. */
async function errorLine(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: unknown };
    if (typeof body.error === 'string') return body.error;
  } catch {
    // Not a JSON error body.
  }
  return `HTTP ${response.status} ${response.statusText}`;
}

/**
 * One page of the lake's datasets and files (`dataset` alone, or all of them) when the page was
 * served by `runlake serve`; undefined when it was not (opened from file://, or from another file
 * server) or the server did not answer.
 *
 * @example
 * ```ts
 * const page = await lakeFiles({ offset: 0 }); // { datasets: [{ name: 'metrics_scalar', total: 12, files: [...] }, …], total: 89, … }
 * const more = await lakeFiles({ dataset: 'runs', offset: 100 });
 * ```
 */
export async function lakeFiles(page: {
  readonly dataset?: string;
  readonly offset: number;
  readonly limit?: number;
}): Promise<LakeFilesAnswer | undefined> {
  if (location.protocol !== 'http:' && location.protocol !== 'https:') return undefined;
  const query = new URLSearchParams({
    ...(page.dataset !== undefined ? { dataset: page.dataset } : {}),
    offset: String(page.offset),
    limit: String(page.limit ?? LAKE_FILES_PAGE),
  });
  const url = `api/files?${query}`;
  try {
    const response = await fetch(url, { headers: sameOriginHeaders(url) });
    if (!response.ok || !(response.headers.get('content-type') ?? '').includes('json')) return undefined;
    const body = (await response.json()) as Partial<LakeFilesAnswer>;
    return Array.isArray(body.datasets) && typeof body.total === 'number'
      ? (body as LakeFilesAnswer)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The URL of one lake file (`api/files/<dataset>/<path>`, each segment encoded).
 *
 * @example
 * ```ts
 * lakeFileUrl('runs', 'run_id=r 1/part-0.parquet'); // 'api/files/runs/run_id%3Dr%201/part-0.parquet'
 * ```
 */
export function lakeFileUrl(dataset: string, file: string): string {
  return `api/files/${encodeURIComponent(dataset)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** Streams a response body as a byte source. */
function responseSource(name: string, response: Response): ByteSource {
  const body = response.body;
  if (!body) throw new ViewerFileError(name, 'the server sent no body');
  const length = Number(response.headers.get('content-length'));
  const truncated = response.headers.get('x-runlake-truncated') === 'true';
  const rows = Number(response.headers.get('x-runlake-row-count'));
  return {
    name,
    ...(truncated
      ? {
          note: `The server cut the answer at ${Number.isFinite(rows) ? rows.toLocaleString('en-US') : 'its maximum'} rows (runlake serve --max-rows): add a LIMIT or aggregate.`,
        }
      : {}),
    size: Number.isFinite(length) && length > 0 ? length : undefined,
    chunks: () => streamChunks(body),
  };
}

/**
 * A SQL query's answer from the page's server, as Arrow IPC, to open like a file; a refused or
 * failed query is a ViewerFileError with the server's one line.
 *
 * @example
 * ```ts
 * await open(queryAnswerSource("SELECT * FROM metrics_scalar WHERE metric_name = 'loss'"), 'SQL answer');
 * ```
 */
export async function queryAnswerSource(sql: string): Promise<ByteSource> {
  const name = 'SQL answer';
  let response: Response;
  try {
    response = await fetch('api/query', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...sameOriginHeaders('api/query') },
      body: JSON.stringify({ sql, format: 'arrow' }),
    });
  } catch (error) {
    throw new ViewerFileError(
      name,
      `cannot reach the runlake server: ${error instanceof Error ? error.message : error}`,
    );
  }
  if (!response.ok) throw new ViewerFileError(name, await errorLine(response));
  return responseSource(name, response);
}
