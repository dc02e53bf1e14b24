/**
 * The `runs` dataset held in the query process, per served snapshot. A Squiggle lake partitions
 * `runs` by `run_id`, so a lake of 10,000 runs has 10,000 one-row Parquet files, and reading them
 * all through the view takes DuckDB seconds on every `GET /api/runs`. Committed part files never
 * change, so the rows read from one file stay right for as long as a snapshot lists that file:
 * the cache keeps each file's rows, and a new snapshot (any dataset committed) reads only the
 * `runs` files that are new in it and drops the rows of files it no longer lists (a run removed or
 * replaced). Nothing is written anywhere: the rows live in this process's memory.
 */
import path from 'node:path';
import { quoteIdentifier, quoteLiteral, readParquetSql } from '../lake/index.js';
import { ServiceUnavailableError } from './errors.js';
import { type QueryLimits, runReadOnlyQuery } from './query-runner.js';
import { resultToJson } from './result-encoding.js';
import { runParams } from './runs-params.js';
import type { SandboxedLake } from './sandbox.js';

/** One run as `GET /api/runs` lists it: the `runs` view's columns, then `params`. Frozen. */
export type CachedRun = Readonly<Record<string, unknown>>;

/** The rows read from a snapshot's `runs` files, by file, and the view columns they have. */
interface RowsByFile {
  /** The view's columns and types, one `name type` per line: rows read under others are re-read. */
  readonly columns: string;
  /** Rows by the file's path relative to the dataset directory. */
  readonly byFile: ReadonlyMap<string, readonly Record<string, unknown>[]>;
}

/** The column DuckDB adds with each row's file path (not a name a runs column can take). */
const FILE_COLUMN = '__runlake_file';
/** Part files read per query: each query stays well inside the time limit, and progress is kept. */
const FILES_PER_READ = 1_000;

/** The rows read so far per lake root: what the next read of that lake starts from. */
const lastRead = new Map<string, RowsByFile>();
/** The last read started per lake root: reads of one lake run one after another. */
const reading = new Map<string, Promise<unknown>>();
/** Part files read so far by this process (see {@link runsCacheStats}). */
let filesRead = 0;
/** The runs of each served snapshot, in run_id order (a promise while they are being read). */
const perSnapshot = new WeakMap<SandboxedLake, Promise<readonly CachedRun[] | undefined>>();

/**
 * The runs of the served snapshot in `run_id` order, each with its `params`, read once per
 * snapshot and then answered from memory; undefined when the `runs` dataset has no commit log
 * (a lake another tool wrote: its view reads a glob, with no file list to key rows by).
 *
 * A snapshot reads only the part files no earlier read of the lake has read, a thousand files
 * per query (each under `limits`' time limit), and keeps what it read even when a later query
 * fails, so the next call carries on from there. Reads of one lake run one after another, so a
 * lake that commits while its runs are first read does not start a second full read. A caller
 * waits at most `limits.timeoutMs`: past it, it gets a {@link ServiceUnavailableError} saying so,
 * and the read goes on for the next call.
 *
 * @example
 * ```ts
 * const runs = await cachedRuns(served, limits);
 * runs?.[0]?.params; // { lr: 0.0003, model: 'tiny' }
 * ```
 */
export function cachedRuns(
  served: SandboxedLake,
  limits: QueryLimits,
): Promise<readonly CachedRun[] | undefined> {
  return withinTime(warmRuns(served, limits), served, limits.timeoutMs);
}

/**
 * Starts (or joins) the read of the served snapshot's runs that {@link cachedRuns} answers from,
 * and resolves when it is done, however long that takes: what `runlake serve` runs on each
 * snapshot as soon as it is open.
 *
 * @example
 * ```ts
 * void warmRuns(served, limits).catch(() => {}); // the next GET /api/runs finds them in memory
 * ```
 */
export function warmRuns(
  served: SandboxedLake,
  limits: QueryLimits,
): Promise<readonly CachedRun[] | undefined> {
  let runs = perSnapshot.get(served);
  if (!runs) {
    const root = path.resolve(served.lake.baseOut);
    const started = (reading.get(root) ?? Promise.resolve())
      .catch(() => {})
      .then(() => readRuns(served, root, limits));
    runs = started;
    reading.set(root, started);
    perSnapshot.set(served, started);
    // A failed read (a file vanished, the time limit) is tried again by the next call.
    started.catch(() => {
      if (perSnapshot.get(served) === started) perSnapshot.delete(served);
      if (reading.get(root) === started) reading.delete(root);
    });
  }
  return runs;
}

/** `pending`, or a 503 once `timeoutMs` have passed (the read it waits for goes on). */
function withinTime<T>(pending: Promise<T>, served: SandboxedLake, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const files = served.lake.datasets.get('runs')?.fileCount ?? 0;
      reject(
        new ServiceUnavailableError(
          `the runs table (${files} part files) is still being read after ${timeoutMs} ms; it goes on in the background, try again in a moment`,
        ),
      );
    }, timeoutMs);
  });
  return Promise.race([pending, late]).finally(() => clearTimeout(timer));
}

async function readRuns(
  served: SandboxedLake,
  root: string,
  limits: QueryLimits,
): Promise<readonly CachedRun[] | undefined> {
  const dataset = served.lake.datasets.get('runs');
  if (!dataset?.files) return undefined;
  const directory = served.lake.paths.dataset('runs');
  const readLimits: QueryLimits = { ...limits, maxRows: Number.MAX_SAFE_INTEGER - 1 };
  const columns = resultToJson(
    await runReadOnlyQuery(
      served,
      "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'runs' AND schema_name = 'main' ORDER BY column_index",
      readLimits,
    ),
  ).rows.map((row) => ({ name: String(row.column_name), type: String(row.data_type) }));
  // No view to match (it could not be created): the query over it says why.
  if (columns.length === 0) return undefined;
  const signature = columns.map((c) => `${c.name} ${c.type}`).join('\n');
  const previous = lastRead.get(root);
  const known =
    previous?.columns === signature ? previous.byFile : new Map<string, Record<string, unknown>[]>();
  // Files this snapshot no longer lists are dropped; what is read is added as it comes.
  const byFile = new Map<string, readonly Record<string, unknown>[]>();
  for (const file of dataset.files) {
    const rows = known.get(file.relative);
    if (rows) byFile.set(file.relative, rows);
  }
  lastRead.set(root, { columns: signature, byFile });
  const added = dataset.files.filter((f) => !byFile.has(f.relative)).map((f) => f.relative);
  for (let from = 0; from < added.length; from += FILES_PER_READ) {
    const batch = added.slice(from, from + FILES_PER_READ);
    const read = await readFiles(served, directory, batch, columns, dataset.manifest, readLimits);
    for (const file of batch) byFile.set(file, read.get(file) ?? []);
  }

  const gridParams = new Map<string, string>();
  if (columns.some((c) => c.name === 'grid_id')) {
    const grids = await runReadOnlyQuery(served, 'SELECT grid_id, params_json FROM grids', readLimits);
    for (const row of resultToJson(grids).rows) {
      if (typeof row.grid_id === 'string' && typeof row.params_json === 'string')
        gridParams.set(row.grid_id, row.params_json);
    }
  }
  const runs: CachedRun[] = [];
  for (const file of dataset.files) {
    for (const row of byFile.get(file.relative) ?? []) {
      runs.push(Object.freeze({ ...row, params: runParams(row, gridParams) }));
    }
  }
  return runs.sort(byRunId);
}

/**
 * The rows of `files` (relative to `directory`) as the `runs` view shows them: each of the view's
 * columns cast to its type, NULL where a file lacks it, keyed by file.
 */
async function readFiles(
  served: SandboxedLake,
  directory: string,
  files: readonly string[],
  columns: readonly { readonly name: string; readonly type: string }[],
  manifest: Parameters<typeof readParquetSql>[1],
  limits: QueryLimits,
): Promise<Map<string, Record<string, unknown>[]>> {
  const read = new Map<string, Record<string, unknown>[]>();
  if (files.length === 0) return read;
  filesRead += files.length;
  const relativeOf = new Map(files.map((f) => [path.join(directory, f), f]));
  // readParquetSql ends with its closing parenthesis; the file name column joins its options.
  const source = `${readParquetSql([...relativeOf.keys()], manifest).slice(0, -1)}, filename = ${quoteLiteral(FILE_COLUMN)})`;
  // A typed empty row joined BY NAME gives every view column, NULL where the files lack it (no
  // probe of which columns they hold), then each is cast to the view's type as the view casts it.
  const typed = columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdentifier(c.name)}`);
  const select = columns.map(
    (c) => `CAST(${quoteIdentifier(c.name)} AS ${c.type}) AS ${quoteIdentifier(c.name)}`,
  );
  const result = resultToJson(
    // ORDER BY makes DuckDB hand over full chunks: read as they are, the one-row files come one
    // chunk each, and converting a thousand chunks costs more than their rows.
    await runReadOnlyQuery(
      served,
      `SELECT ${select.join(', ')}, ${FILE_COLUMN} FROM (SELECT * FROM ${source} UNION ALL BY NAME ` +
        `SELECT ${typed.join(', ')}, CAST(NULL AS VARCHAR) AS ${FILE_COLUMN} WHERE false) ORDER BY ${FILE_COLUMN}`,
      limits,
    ),
  );
  for (const { [FILE_COLUMN]: file, ...row } of result.rows) {
    const relative = relativeOf.get(String(file)) ?? String(file);
    const rows = read.get(relative);
    if (rows) rows.push(row);
    else read.set(relative, [row]);
  }
  return read;
}

/**
 * How many `runs` part files this process has read into the cache, over all snapshots: a
 * snapshot that adds one run reads one file. For tests and diagnostics.
 *
 * @example
 * ```ts
 * const before = runsCacheStats().filesRead;
 * await listRuns(served, limits);
 * runsCacheStats().filesRead - before; // the files new since the last snapshot read
 * ```
 */
export function runsCacheStats(): { readonly filesRead: number } {
  return { filesRead };
}

/** run_id order as DuckDB's ORDER BY gives it: by code unit, NULLs last. */
function byRunId(a: CachedRun, b: CachedRun): number {
  const x = a.run_id;
  const y = b.run_id;
  if (x === y) return 0;
  if (x === null || x === undefined) return 1;
  if (y === null || y === undefined) return -1;
  return String(x) < String(y) ? -1 : 1;
}
