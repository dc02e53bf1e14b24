import { type Dirent, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { RunlakeError } from './errors.js';
import { fileSystemError } from './fs-errors.js';
import { lakePaths } from './layout.js';

/**
 * A path a read command (`info`, `query`, `validate`, `serve`, …) refuses: missing, not a
 * directory, or a directory that holds no lake, such as an empty folder or one dataset's folder
 * (`serve lake/runs`), which would otherwise be served as an empty lake without a word.
 *
 * @example
 * ```ts
 * if (e instanceof NotALakeError) console.error(e.lake, e.suggestion); // 'lake/runs', 'lake'
 * ```
 */
export class NotALakeError extends RunlakeError {
  override readonly name = 'NotALakeError';
  constructor(
    readonly lake: string,
    reason: string,
    /** The nearest enclosing directory that is a lake, as the user would type it. */
    readonly suggestion?: string,
  ) {
    super(`${reason}${suggestion ? `; did you mean ${suggestion}?` : ''}`);
  }
}

// Dataset directory names, as listDatasetNames accepts them; `grids` is the params store.
const DATASET_NAME = /^[a-z][a-z0-9_]*$/;
// Directory names an exp_engine lake has from the start, even before any Parquet file.
const LAKE_FOLDERS = new Set(['events', 'seeds', 'grids']);
// How far down a dataset folder is searched for a Parquet file, and how many ancestors for a
// lake to suggest: partition trees are a few levels deep, and a lookup must stay instant.
const MAX_PARTITION_DEPTH = 8;
const MAX_ANCESTORS = 8;

function entriesOf(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

// Whether `dir` holds a .parquet file within `depth` levels, visiting at most `budget.left`
// directories (so pointing a read command at a home directory answers at once); symlinks are not
// followed.
function holdsParquet(dir: string, depth: number, budget: { left: number }): boolean {
  if (budget.left-- <= 0) return false;
  const entries = entriesOf(dir);
  if (entries.some((e) => e.isFile() && e.name.endsWith('.parquet'))) return true;
  if (depth === 0) return false;
  return entries.some((e) => e.isDirectory() && holdsParquet(path.join(dir, e.name), depth - 1, budget));
}

// The lake markers that need no directory walk: what runlake records, and exp_engine's folders.
function hasLakeMarkers(dir: string): boolean {
  const paths = lakePaths(dir);
  if (entriesOf(paths.meta).some((e) => e.name === 'lake.json' && e.isFile())) return true;
  if (entriesOf(path.join(paths.meta, 'datasets')).some((e) => e.isFile() && e.name.endsWith('.json')))
    return true;
  return entriesOf(paths.root).some((e) => e.isDirectory() && LAKE_FOLDERS.has(e.name));
}

/**
 * Whether `dir` is a lake: runlake recorded one there (`.runlake/lake.json` or a dataset
 * manifest), or it has exp_engine's folders (`events/`, `seeds/`, `grids/`), or a top-level
 * dataset folder holding Parquet files (a lake another tool wrote). A dataset's own folder is not
 * one: its subfolders are `key=value` partitions, not datasets.
 *
 * @example
 * ```ts
 * isLakeDirectory('runlake-demo'); // true
 * isLakeDirectory('runlake-demo/events'); // false
 * ```
 */
export function isLakeDirectory(dir: string): boolean {
  if (hasLakeMarkers(dir)) return true;
  const root = path.resolve(dir);
  const budget = { left: 5_000 };
  return entriesOf(root).some(
    (e) =>
      e.isDirectory() &&
      DATASET_NAME.test(e.name) &&
      holdsParquet(path.join(root, e.name), MAX_PARTITION_DEPTH, budget),
  );
}

/**
 * Refuses, with one line naming the path and the reason, a lake path a read command cannot use:
 * one that does not exist, is not a directory, or is a directory that is not a lake (see
 * {@link isLakeDirectory}). When the path sits inside a lake (a dataset folder, a partition),
 * the message suggests that lake. Write commands (`import`, `convert`, `ingest`) create lakes
 * and use {@link assertWritableLakePath} instead.
 *
 * @example
 * ```ts
 * assertLakeDirectory('results/runs');
 * // throws: 'results/runs is not a runlake lake (no .runlake/lake.json and no dataset folders); did you mean results?'
 * ```
 */
export function assertLakeDirectory(lake: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(lake).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotALakeError(lake, `lake directory "${lake}" does not exist`, enclosingLake(lake));
    throw fileSystemError(error, lake, 'read');
  }
  if (!isDirectory) throw new NotALakeError(lake, `"${lake}" is not a directory`, enclosingLake(lake));
  if (isLakeDirectory(lake)) return;
  const empty = entriesOf(lake).length === 0;
  throw new NotALakeError(
    lake,
    `${lake} is not a runlake lake (no .runlake/lake.json and no dataset folders${empty ? '; the directory is empty' : ''})`,
    enclosingLake(lake),
  );
}

/**
 * Refuses a lake path a write command cannot create a lake at: one that exists but is not a
 * directory (a file, where the write would fail with a raw ENOTDIR/EEXIST deep inside). A missing
 * path or any directory is fine: the write creates the lake.
 *
 * @example
 * ```ts
 * assertWritableLakePath('new-lake'); // ok, created by the write
 * ```
 */
export function assertWritableLakePath(lake: string): void {
  try {
    if (!statSync(lake).isDirectory()) {
      throw new NotALakeError(lake, `"${lake}" is a file, not a lake directory`);
    }
  } catch (error) {
    if (error instanceof RunlakeError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fileSystemError(error, lake, 'read');
  }
}

/**
 * The nearest ancestor of `lake` that is a lake, spelled the way the user gave `lake` (relative
 * stays relative), or `undefined`.
 *
 * @example
 * ```ts
 * enclosingLake('results/events/grid_id=ab12cd34'); // 'results'
 * ```
 */
export function enclosingLake(lake: string): string | undefined {
  let current = path.resolve(lake);
  for (let i = 0; i < MAX_ANCESTORS; i++) {
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
    // Only the markers: a Parquet walk of every ancestor would call /tmp a lake whenever some
    // folder below it holds a Parquet file.
    if (hasLakeMarkers(current)) {
      return path.isAbsolute(lake) ? current : path.relative(process.cwd(), current) || '.';
    }
  }
  return undefined;
}
