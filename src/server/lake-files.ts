// `GET /api/files` and `GET /api/files/<dataset>/<path>`: the lake's data files, read-only, for
// the file viewer. Only files a dataset's current snapshot lists (or, for a dataset written
// without a commit log, the Parquet files its view reads) are served; a path is checked segment by
// segment, so `..`, encoded slashes and NUL bytes never reach the file system.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import {
  DatasetRegistry,
  type LakePaths,
  lakePaths,
  listDatasetNames,
  listParquetFiles,
  loadSnapshot,
} from '../lake/index.js';
import { BadRequestError, NotFoundError } from './errors.js';

/** One data file of a dataset, as `GET /api/files` lists it. */
export interface LakeFileEntry {
  /** Path inside the dataset directory, `/`-separated (`run_id=r1/part-0.parquet`). */
  readonly path: string;
  readonly size: number;
  /** Rows, when the commit log records them (datasets written without a log: null). */
  readonly rows: number | null;
}

/** One dataset of `GET /api/files`. */
export interface LakeFilesDataset {
  readonly name: string;
  /** The snapshot version the files belong to; -1 for a dataset without a commit log. */
  readonly version: number;
  /** How many data files the dataset has (all of them, not only this page's). */
  readonly total: number;
  /** The dataset's files on this page (all of them from {@link listLakeFiles}). */
  readonly files: readonly LakeFileEntry[];
}

/** The answer of `GET /api/files`. */
export interface LakeFilesResponse {
  /** Every dataset asked for (with at least one file), each with its files on this page. */
  readonly datasets: readonly LakeFilesDataset[];
  /** Files of all those datasets together; a page holds `files[offset, offset + limit)` of them. */
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
}

/** What one page of `GET /api/files` holds: the datasets' files in order, from `offset`. */
export interface LakeFilesPage {
  /** Only this dataset (absent: every dataset). */
  readonly dataset?: string;
  readonly offset: number;
  readonly limit: number;
}

/** The files `GET /api/files` lists when no `limit` is given. */
export const DEFAULT_FILES_PAGE = 1000;
/** The largest `limit` of `GET /api/files`. */
export const MAX_FILES_PAGE = 10_000;

const DATASET_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * The datasets of a lake and the data files of each one's current snapshot, sorted by path: all
 * of them, or the page `page` names (one dataset, `limit` files from `offset`). A dataset the
 * lake does not have is a {@link NotFoundError}.
 *
 * @example
 * ```ts
 * const { datasets } = await listLakeFiles(lakePaths('runlake-demo-squiggle'));
 * datasets.find((d) => d.name === 'runs')?.files[0]; // { path: 'part-….parquet', size: 4213, rows: 12 }
 * (await listLakeFiles(paths, { dataset: 'runs', offset: 100, limit: 50 })).datasets[0]?.files.length; // ≤ 50
 * ```
 */
export async function listLakeFiles(
  paths: LakePaths,
  page: LakeFilesPage = { offset: 0, limit: Number.POSITIVE_INFINITY },
): Promise<LakeFilesResponse> {
  const names = await listDatasetNames(paths, new DatasetRegistry());
  if (page.dataset !== undefined && !names.includes(page.dataset)) {
    throw new NotFoundError(`the lake has no dataset "${page.dataset}"`);
  }
  const datasets: LakeFilesDataset[] = [];
  // The page is a window on the files of all the datasets asked for, dataset by dataset.
  let before = 0;
  const end = page.offset + page.limit;
  for (const name of names) {
    if (page.dataset !== undefined && name !== page.dataset) continue;
    const { version, files } = await datasetFiles(paths, name);
    if (files.length === 0) continue;
    const from = Math.max(0, page.offset - before);
    const to = Math.max(from, Math.min(files.length, end - before));
    datasets.push({ name, version, total: files.length, files: files.slice(from, to) });
    before += files.length;
  }
  const limit = Number.isFinite(page.limit) ? page.limit : before;
  return { datasets, total: before, offset: page.offset, limit };
}

/**
 * The page a `GET /api/files` query asks for: `dataset` (a dataset name), `offset` (default 0)
 * and `limit` (default {@link DEFAULT_FILES_PAGE}, at most {@link MAX_FILES_PAGE}); a bad value is
 * a {@link BadRequestError} naming it.
 *
 * @example
 * ```ts
 * filesPage({ dataset: 'runs', limit: '50' }); // { dataset: 'runs', offset: 0, limit: 50 }
 * filesPage({ limit: '-1' }); // throws BadRequestError
 * ```
 */
export function filesPage(query: Readonly<Record<string, string | undefined>>): LakeFilesPage {
  const count = (key: 'offset' | 'limit', fallback: number, max: number): number => {
    const text = query[key];
    if (text === undefined) return fallback;
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value > max) {
      throw new BadRequestError(
        `${key} must be a whole number from 0 to ${max.toLocaleString('en-US')}, not "${text}"`,
      );
    }
    return value;
  };
  const dataset = query.dataset;
  if (dataset !== undefined && !DATASET_NAME.test(dataset)) {
    throw new BadRequestError(`dataset must be a dataset name (a-z, 0-9, _), not "${dataset}"`);
  }
  return {
    ...(dataset !== undefined ? { dataset } : {}),
    offset: count('offset', 0, Number.MAX_SAFE_INTEGER),
    limit: count('limit', DEFAULT_FILES_PAGE, MAX_FILES_PAGE),
  };
}

async function datasetFiles(
  paths: LakePaths,
  name: string,
): Promise<{ version: number; files: LakeFileEntry[] }> {
  const snapshot = await loadSnapshot(paths, name);
  if (snapshot.version >= 0) {
    const files = [...snapshot.files.values()]
      .map((f) => ({ path: f.path, size: f.size, rows: f.rows }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { version: snapshot.version, files };
  }
  const directory = paths.dataset(name);
  const files: LakeFileEntry[] = [];
  for (const relative of await listParquetFiles(directory)) {
    const info = await stat(path.join(directory, relative)).catch(() => undefined);
    if (info?.isFile()) files.push({ path: relative.split(path.sep).join('/'), size: info.size, rows: null });
  }
  return { version: -1, files };
}

/**
 * The dataset and file a `/api/files/<dataset>/<path…>` URL path names, each segment decoded and
 * checked: an empty, `.` or `..` segment, or one holding a slash, backslash or NUL once decoded,
 * is a {@link BadRequestError}.
 *
 * @example
 * ```ts
 * fileRequestPath('runs/run_id%3Dr1/part-0.parquet'); // { dataset: 'runs', file: 'run_id=r1/part-0.parquet' }
 * fileRequestPath('runs/..%2F..%2Fsecret'); // throws BadRequestError
 * ```
 */
export function fileRequestPath(rest: string): { dataset: string; file: string } {
  const segments = rest.split('/').map((segment) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new BadRequestError(`the file path has a malformed %-escape: "${segment}"`);
    }
    if (decoded === '' || decoded === '.' || decoded === '..' || /[/\\\0]/.test(decoded)) {
      throw new BadRequestError(
        'the file path must be <dataset>/<path inside the dataset>, without empty, "." or ".." parts',
      );
    }
    return decoded;
  });
  const [dataset, ...file] = segments;
  if (!dataset || file.length === 0) {
    throw new BadRequestError('name a file: /api/files/<dataset>/<path>, as GET /api/files lists them');
  }
  if (!DATASET_NAME.test(dataset)) throw new BadRequestError(`"${dataset}" is not a dataset name`);
  return { dataset, file: file.join('/') };
}

/**
 * The routes, to mount at `/api/files` behind the server's token check.
 *
 * @example
 * ```ts
 * app.route('/api/files', lakeFileRoutes('/data/lake'));
 * ```
 */
export function lakeFileRoutes(lakeRoot: string): Hono {
  const paths = lakePaths(lakeRoot);
  const routes = new Hono();
  routes.get('/', async (c) => {
    const page = filesPage(c.req.query());
    c.header('Cache-Control', 'no-store');
    return c.json(await listLakeFiles(paths, page));
  });
  routes.get('/*', async (c) => {
    // The raw path: Hono's decoded one would turn %2F into a separator before the check.
    const pathname = new URL(c.req.raw.url).pathname;
    const at = pathname.indexOf('/api/files/');
    const { dataset, file } = fileRequestPath(pathname.slice(at + '/api/files/'.length));
    const names = await listDatasetNames(paths, new DatasetRegistry());
    if (!names.includes(dataset)) throw new NotFoundError(`the lake has no dataset "${dataset}"`);
    const listed = (await datasetFiles(paths, dataset)).files.find((f) => f.path === file);
    if (!listed) {
      throw new NotFoundError(
        `${dataset} has no data file "${file}" in its current snapshot (GET /api/files lists them)`,
      );
    }
    const directory = path.resolve(paths.dataset(dataset));
    const full = path.join(directory, ...file.split('/'));
    // A symlinked part file is served only when it stays inside the lake.
    const real = await realpath(full).catch(() => undefined);
    const lakeReal = await realpath(paths.root);
    if (!real || !(real === lakeReal || real.startsWith(lakeReal + path.sep))) {
      throw new NotFoundError(`${dataset}/${file} is not readable inside the lake`);
    }
    const info = await stat(real);
    const body = Readable.toWeb(createReadStream(real)) as ReadableStream<Uint8Array>;
    return new Response(body, {
      status: 200,
      headers: {
        'Content-Type': file.endsWith('.parquet')
          ? 'application/vnd.apache.parquet'
          : 'application/octet-stream',
        'Content-Length': String(info.size),
        'Content-Disposition': `inline; filename="${path.basename(file).replace(/["\\\r\n]/g, '_')}"`,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      },
    });
  });
  return routes;
}
