/**
 * `vacuum`: deletes what no snapshot within the retention period can read — part files in the
 * trash that commits removed longer ago than the retention, log files older than the checkpoint
 * that starts the retained history — and cleans up after writers that died (their uncommitted
 * files). Files in a dataset that the log does not know and no writer claims are reported, never
 * deleted: another tool may have written them.
 */
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  cleanLog,
  latestVersion,
  listCommitVersions,
  loadSnapshot,
  logDirectory,
  readCommit,
  writeCheckpoint,
} from './commit-log.js';
import { RunlakeError } from './errors.js';
import { lakePaths } from './layout.js';
import { sweepStaleStaging } from './staging.js';
import { readIntents } from './transaction.js';
import { listFilesNoFollow } from './walk.js';

// A temp file this old belongs to no live writer (a commit's temp file lives milliseconds).
const STALE_TEMP_MS = 60 * 60 * 1000;

/** Default retention: seven days, as Delta Lake's `VACUUM`. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** Options for {@link vacuumLake}. */
export interface VacuumOptions {
  /** Keep what a snapshot younger than this many milliseconds may read (default 7 days). */
  readonly retainMs?: number;
  /** List what would be deleted, delete nothing. */
  readonly dryRun?: boolean;
  /** Only these datasets (default: every dataset with a log). */
  readonly datasets?: readonly string[];
  /** The current time (tests). */
  readonly now?: number;
}

/** What {@link vacuumLake} deleted (or, with `dryRun`, would delete). */
export interface VacuumResult {
  /** Removed part files deleted from the trash. */
  readonly trashFiles: string[];
  /** Staging entries of dead writers cleaned up (their uncommitted files deleted). */
  readonly staging: string[];
  /** Commit and checkpoint files no retained version needs. */
  readonly logFiles: string[];
  /** Parquet files inside a dataset that no commit references and no live writer claims. */
  readonly unreferenced: string[];
  readonly bytes: number;
}

/**
 * Parses a retention such as `7d`, `12h`, `30m`, `45s` or `0` into milliseconds.
 *
 * @example
 * ```ts
 * parseRetention('7d'); // 604800000
 * ```
 */
export function parseRetention(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (!match) throw new RunlakeError(`retention "${text}" is not a duration like 7d, 12h, 30m or 0`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[
    (match[2] ?? 'ms') as 'ms'
  ];
  return Math.round(Number(match[1]) * unit);
}

/**
 * Vacuums a lake: see the module comment. A retention shorter than a running reader's query may
 * delete a file that reader still needs (it then fails naming the file); the default week is far
 * beyond any query.
 *
 * @example
 * ```ts
 * await vacuumLake('lake', { retainMs: parseRetention('1d'), dryRun: true });
 * ```
 */
export async function vacuumLake(baseOut: string, options: VacuumOptions = {}): Promise<VacuumResult> {
  const paths = lakePaths(baseOut);
  const now = options.now ?? Date.now();
  const retainMs = options.retainMs ?? DEFAULT_RETENTION_MS;
  const horizon = now - retainMs;
  const dryRun = options.dryRun ?? false;
  const staging: string[] = [];
  await sweepStaleStaging(paths, now, { force: true, dryRun, found: (entry) => staging.push(entry) });
  const datasets = options.datasets ?? (await loggedDatasets(paths.meta));
  const trashFiles: string[] = [];
  const logFiles: string[] = [];
  const unreferenced: string[] = [];
  let bytes = 0;
  const claimed = new Set(
    (await readIntents(paths)).flatMap((i) => [...i.adds, ...i.removes].map((p) => `${i.dataset}/${p}`)),
  );
  for (const dataset of datasets) {
    if ((await latestVersion(paths, dataset)) < 0) continue;
    const trash = paths.trash(dataset);
    for (const relative of await listFilesNoFollow(trash, (n) => n.endsWith('.parquet'))) {
      const file = path.join(trash, relative);
      const info = await stat(file).catch(() => undefined);
      if (!info || Math.max(info.mtimeMs, info.ctimeMs) > horizon) continue;
      trashFiles.push(file);
      bytes += info.size;
      if (!dryRun) await rm(file, { force: true });
    }
    if (!dryRun) await removeEmptyDirectories(trash);

    // Temp files of commits and checkpoints whose writer was killed before linking or renaming.
    const logDir = logDirectory(paths, dataset);
    for (const name of await readdir(logDir).catch(() => [] as string[])) {
      const file = path.join(logDir, name);
      if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
      const info = await stat(file).catch(() => undefined);
      if (!info || now - info.mtimeMs < STALE_TEMP_MS) continue;
      logFiles.push(file);
      if (!dryRun) await rm(file, { force: true });
    }

    const retained = await oldestRetainedVersion(paths, dataset, horizon);
    if (retained > 0) {
      if (!dryRun) await writeCheckpoint(paths, dataset, retained);
      logFiles.push(...(await cleanLog(paths, dataset, retained, dryRun)));
    }

    const live = (await loadSnapshot(paths, dataset)).files;
    for (const relative of await listFilesNoFollow(paths.dataset(dataset), (n) => n.endsWith('.parquet'))) {
      const key = relative.split(path.sep).join('/');
      if (!live.has(key) && !claimed.has(`${dataset}/${key}`))
        unreferenced.push(path.join(paths.dataset(dataset), relative));
    }
  }
  return { trashFiles, staging, logFiles, unreferenced, bytes };
}

/** The datasets that have a commit log. */
async function loggedDatasets(meta: string): Promise<string[]> {
  try {
    return (await readdir(path.join(meta, 'log'), { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/**
 * The oldest version a reader within the retention may ask for: the last one committed at or
 * before the horizon (time travel to the horizon reads it), or 0 when none is that old.
 */
async function oldestRetainedVersion(
  paths: ReturnType<typeof lakePaths>,
  dataset: string,
  horizon: number,
): Promise<number> {
  let retained = 0;
  for (const version of await listCommitVersions(paths, dataset)) {
    const commit = await readCommit(paths, dataset, version);
    if (!commit || Date.parse(commit.timestamp) > horizon) break;
    retained = version;
  }
  return retained;
}

async function removeEmptyDirectories(directory: string): Promise<boolean> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch {
    return false;
  }
  let empty = true;
  for (const entry of entries) {
    if (entry.isDirectory() && (await removeEmptyDirectories(path.join(directory, entry.name)))) continue;
    empty = false;
  }
  if (empty) await rmdir(directory).catch(() => {});
  return empty;
}
