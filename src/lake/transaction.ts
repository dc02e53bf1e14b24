/**
 * One atomic change to a dataset: staged part files are published into the dataset's directory
 * and then committed to its log in one commit, which may also remove files (a replace, a delete,
 * a compaction). Readers follow the log, so they see the whole change or none of it. Files a
 * commit removes move to the dataset's trash, where time travel still reads them until `vacuum`.
 * An intent record in the staging entry lets a later writer or `vacuum` finish or undo the work
 * of a writer that died (docs/commits.md, "Recovery").
 */
import { createHash } from 'node:crypto';
import { readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { fsyncPath, makeDirectory, writeFileAtomic } from './atomic-file.js';
import { quoteLiteral } from './column-types.js';
import {
  type CommitDraft,
  type CommitOperation,
  type CommitRecord,
  commitToLog,
  type LogFile,
  latestVersion,
  loadSnapshot,
  type Snapshot,
} from './commit-log.js';
import { fileSystemError } from './fs-errors.js';
import type { LakePaths } from './layout.js';
import type { DatasetManifest } from './manifest.js';
import { readJsonMetadata } from './metadata-file.js';
import {
  encodePartitionComponent,
  HIVE_NULL_PARTITION,
  parsePartitionPath,
  partitionDirectory,
} from './partition-path.js';
import { countOf } from './plural.js';
import { listFilesNoFollow } from './walk.js';

/** The record a writer leaves in its staging entry while it publishes and commits. */
export interface Intent {
  readonly txn: string;
  readonly dataset: string;
  readonly host: string;
  readonly pid: number;
  /** Dataset-relative paths this transaction publishes. */
  readonly adds: readonly string[];
  /** Dataset-relative paths the commit it is attempting removes. */
  readonly removes: readonly string[];
}

/** The intent file's name inside a staging entry. */
export const INTENT_FILE = 'intent.json';

/** How a staged change is committed. */
export interface StagedCommit {
  readonly operation: CommitOperation;
  /**
   * Deterministic file names: a staged file whose target is already live is skipped (counted in
   * `skippedFiles`), so repeating a write publishes nothing twice.
   */
  readonly exclusive?: boolean;
  /** The files to remove, decided over the snapshot the commit applies to (called per attempt). */
  readonly removes?: (snapshot: Snapshot, adds: ReadonlySet<string>) => LogFile[];
  /** The manifest after this commit, when the change altered it. */
  readonly schema?: DatasetManifest;
  readonly info?: Readonly<Record<string, string | number>>;
  /** Whether to commit when nothing is added or removed (default false). */
  readonly allowEmpty?: boolean;
  /**
   * Publish staged files under their staged relative paths as they are (a compaction, whose
   * directories are the dataset's own), rather than re-encoding DuckDB's partition directories.
   */
  readonly verbatimPaths?: boolean;
  /** What the stage step already knows about the staged files, so their footers need not be read. */
  readonly known?: StagedFileStats;
}

/**
 * What the writer of a staging entry knows about its Parquet files without reading them back:
 * each file's row count as DuckDB's `COPY … (RETURN_STATS)` reported it, and a key naming the
 * schema every one of them has (the COPY's column names and types and its writer options).
 */
export interface StagedFileStats {
  /** Row count of each staged file, by absolute path. */
  readonly rows: ReadonlyMap<string, number>;
  /**
   * Files staged under the same key have the same Parquet schema: its fingerprint is read from one
   * footer the first time this process sees the key, then reused.
   */
  readonly schemaKey: string;
}

/** What {@link commitStaged} did. */
export interface StagedCommitResult {
  /** Absolute paths of the part files published. */
  readonly files: string[];
  readonly skippedFiles: number;
  readonly added: readonly LogFile[];
  readonly removed: readonly LogFile[];
  /** The commit, or `undefined` when there was nothing to commit. */
  readonly commit?: CommitRecord;
}

/**
 * Row counts and schema fingerprints of Parquet files, read from their footers in one query per
 * thousand files.
 *
 * @example
 * ```ts
 * await describeParquetFiles(connection, ['/lake/events/x/part-1.parquet']);
 * ```
 */
export async function describeParquetFiles(
  connection: DuckDBConnection,
  files: readonly string[],
): Promise<Map<string, { rows: number; schema: string }>> {
  const out = new Map<string, { rows: number; schema: string }>();
  for (let start = 0; start < files.length; start += 1000) {
    const list = `[${files
      .slice(start, start + 1000)
      .map(quoteLiteral)
      .join(', ')}]`;
    const rows = await connection.runAndReadAll(
      `SELECT m.file_name, m.num_rows, s.shape FROM parquet_file_metadata(${list}) m JOIN (
         SELECT file_name, string_agg(concat_ws(':', name, type, repetition_type, converted_type,
           logical_type, num_children, scale, precision), '|' ORDER BY column_id) AS shape
         FROM parquet_schema(${list}) GROUP BY file_name) s USING (file_name)`,
    );
    for (const [file, count, shape] of rows.getRowsJS()) {
      out.set(String(file), {
        rows: Number(count),
        schema: createHash('sha256').update(String(shape)).digest('hex').slice(0, 16),
      });
    }
  }
  return out;
}

/**
 * Describes part files for the log: size from the file system, rows and schema from the footer,
 * or, for files in `known`, rows from the writer and the schema fingerprint its key maps to (read
 * from the first such file's footer once per process and key).
 */
async function logFiles(
  connection: DuckDBConnection,
  entries: ReadonlyArray<{ absolute: string; relative: string }>,
  known?: StagedFileStats,
): Promise<LogFile[]> {
  const knownRows = (absolute: string) => known?.rows.get(absolute);
  const firstKnown = entries.find((e) => knownRows(e.absolute) !== undefined);
  let knownSchema = known && schemaFingerprints.get(known.schemaKey);
  const toDescribe = entries.filter((e) => knownRows(e.absolute) === undefined).map((e) => e.absolute);
  if (firstKnown && knownSchema === undefined) toDescribe.push(firstKnown.absolute);
  const described = toDescribe.length > 0 ? await describeParquetFiles(connection, toDescribe) : new Map();
  if (known && firstKnown && knownSchema === undefined) {
    const found = described.get(firstKnown.absolute);
    // The writer's count and the footer's must agree; a mismatch means the stats are not this file's.
    if (found && found.rows !== knownRows(firstKnown.absolute))
      throw fileSystemError(
        new Error(
          `the footer holds ${countOf(found.rows, 'row')}, the COPY reported ${knownRows(firstKnown.absolute)}`,
        ),
        firstKnown.absolute,
        'read',
      );
    knownSchema = found?.schema;
    if (knownSchema !== undefined) {
      if (schemaFingerprints.size >= 1024) schemaFingerprints.clear();
      schemaFingerprints.set(known.schemaKey, knownSchema);
    }
  }
  return Promise.all(
    entries.map(async ({ absolute, relative }) => {
      const rows = knownRows(absolute);
      const found =
        rows !== undefined && knownSchema !== undefined
          ? { rows, schema: knownSchema }
          : described.get(absolute);
      if (!found)
        throw fileSystemError(new Error('not a Parquet file DuckDB could describe'), absolute, 'read');
      return { path: relative, size: (await stat(absolute)).size, rows: found.rows, schema: found.schema };
    }),
  );
}

// Schema fingerprints by StagedFileStats.schemaKey: a writer repeating the same COPY reads one
// footer for its schema, not one per commit.
const schemaFingerprints = new Map<string, string>();

/** The dataset-relative paths of a staging entry's files, in runlake's partition encoding. */
function targetPath(stagedRelative: string): string {
  // DuckDB named the staged directories; runlake's own encoding names the published ones (it
  // also escapes values such as "NULL" that DuckDB would read back as SQL NULL).
  const directory = parsePartitionPath(path.dirname(stagedRelative))
    .map(([key, value]) =>
      // The Hive default partition (NULL) keeps its marker; every other value is re-encoded.
      value === null
        ? `${encodePartitionComponent(key)}=${HIVE_NULL_PARTITION}`
        : partitionDirectory([[key, value]]),
    )
    .join('/');
  return path.posix.join(directory, path.basename(stagedRelative));
}

/**
 * Publishes the Parquet files of a staging entry into a dataset and commits them, with whatever
 * the change removes, as one commit of the dataset's log. A dataset that has no log yet is
 * adopted first (its existing files become version 0). On any failure before the commit, the
 * published files are removed again and nothing is visible; after it, removed files move to the
 * trash.
 *
 * @example
 * ```ts
 * await commitStaged(paths, connection, 'events', stagingDir, { operation: 'write' });
 * ```
 */
export async function commitStaged(
  paths: LakePaths,
  connection: DuckDBConnection,
  dataset: string,
  stagingDir: string,
  change: StagedCommit,
): Promise<StagedCommitResult> {
  const datasetDir = paths.dataset(dataset);
  await adoptDataset(paths, connection, dataset);
  const staged = (await listFilesNoFollow(stagingDir, (n) => n.endsWith('.parquet'))).map((relative) => ({
    absolute: path.join(stagingDir, relative),
    relative: change.verbatimPaths ? relative.split(path.sep).join('/') : targetPath(relative),
  }));
  let skippedFiles = 0;
  let toPublish = staged;
  if (change.exclusive && staged.length > 0) {
    const live = (await loadSnapshot(paths, dataset)).files;
    toPublish = staged.filter((s) => !live.has(s.relative));
    skippedFiles = staged.length - toPublish.length;
  }
  const added = await logFiles(connection, toPublish, change.known);
  const addSet = new Set(added.map((f) => f.path));
  const txn = path.basename(stagingDir);
  const intentFile = path.join(stagingDir, INTENT_FILE);
  const intent = (removes: readonly string[]): Intent => ({
    txn,
    dataset,
    host: os.hostname(),
    pid: process.pid,
    adds: [...addSet],
    removes,
  });
  await writeFileAtomic(intentFile, `${JSON.stringify(intent([]))}\n`);
  const published: string[] = [];
  let committed = false;
  try {
    const directories = new Set<string>();
    for (const file of toPublish) {
      const target = path.join(datasetDir, file.relative);
      await makeDirectory(path.dirname(target));
      // The data must be on disk before its name is: a crash after the rename must not leave a
      // published file whose contents never reached the disk.
      await fsyncPath(file.absolute);
      await rename(file.absolute, target);
      published.push(target);
      directories.add(path.dirname(target));
    }
    await Promise.all([...directories].map(fsyncPath));
    let removed: LogFile[] = [];
    let recordedRemoves = '';
    const commit = await commitToLog(
      paths,
      dataset,
      async (base): Promise<CommitDraft | undefined> => {
        removed = change.removes ? change.removes(await base.snapshot(), addSet) : [];
        if (added.length === 0 && removed.length === 0 && !change.allowEmpty) return undefined;
        return {
          operation: change.operation,
          add: added,
          remove: removed,
          schema: change.schema,
          info: change.info,
        };
      },
      {
        txn,
        beforeAttempt: async (draft) => {
          const key = draft.remove.map((f) => f.path).join('\n');
          if (key === recordedRemoves) return;
          recordedRemoves = key;
          await writeFileAtomic(intentFile, `${JSON.stringify(intent(draft.remove.map((f) => f.path)))}\n`);
        },
      },
    );
    committed = commit !== undefined;
    if (commit)
      await moveToTrash(
        paths,
        dataset,
        removed.map((f) => f.path),
      );
    return {
      files: published,
      skippedFiles,
      added: commit ? added : [],
      removed: commit ? removed : [],
      commit,
    };
  } finally {
    if (!committed) await Promise.all(published.map((file) => unlink(file).catch(() => {})));
  }
}

/**
 * Moves part files a commit removed from the dataset's directory into its trash (same relative
 * path), so engines reading the directory by path stop seeing them while time travel still can.
 * A file already gone is skipped.
 */
export async function moveToTrash(
  paths: LakePaths,
  dataset: string,
  relatives: readonly string[],
): Promise<void> {
  const trash = paths.trash(dataset);
  const directories = new Set(relatives.map((r) => path.dirname(path.join(trash, r))));
  await Promise.all([...directories].map((d) => makeDirectory(d)));
  // Renames are independent: a few at a time, not one after another.
  for (let start = 0; start < relatives.length; start += TRASH_BATCH) {
    await Promise.all(
      relatives.slice(start, start + TRASH_BATCH).map(async (relative) => {
        const target = path.join(trash, relative);
        try {
          await rename(path.join(paths.dataset(dataset), relative), target);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
            throw fileSystemError(error, target, 'write');
        }
      }),
    );
  }
}

const TRASH_BATCH = 64;

/**
 * Gives a dataset written without a log (by an earlier runlake, pandas, pyarrow or exp_engine) a
 * log: commit 0 adopts every Parquet file in its directory, except files a live writer is still
 * publishing. Does nothing when the dataset has a log or no files. With `unreferenced`, a dataset
 * that has a log takes in the files another tool wrote into it since (an `adopt` commit of every
 * file no commit references and no writer claims). Returns the files adopted.
 *
 * @example
 * ```ts
 * await adoptDataset(lakePaths('results'), connection, 'events');
 * ```
 */
export async function adoptDataset(
  paths: LakePaths,
  connection: DuckDBConnection,
  dataset: string,
  options: { unreferenced?: boolean } = {},
): Promise<LogFile[]> {
  const logged = (await latestVersion(paths, dataset)) >= 0;
  if (logged && !options.unreferenced) return [];
  const datasetDir = paths.dataset(dataset);
  const present = await listFilesNoFollow(datasetDir, (n) => n.endsWith('.parquet'));
  if (present.length === 0) return [];
  const claimed = new Set(
    (await readIntents(paths)).filter((i) => i.dataset === dataset).flatMap((i) => [...i.adds, ...i.removes]),
  );
  const live = logged ? (await loadSnapshot(paths, dataset)).files : new Map();
  const adopted = present
    .map((relative) => relative.split(path.sep).join('/'))
    .filter((relative) => !claimed.has(relative) && !live.has(relative));
  if (adopted.length === 0) return [];
  const files = await logFiles(
    connection,
    adopted.map((relative) => ({ absolute: path.join(datasetDir, relative), relative })),
  );
  const commit = await commitToLog(
    paths,
    dataset,
    async (base) => {
      if (!logged) return base.readVersion >= 0 ? undefined : { operation: 'adopt', add: files, remove: [] };
      const current = (await base.snapshot()).files;
      const add = files.filter((f) => !current.has(f.path));
      return add.length ? { operation: 'adopt', add, remove: [] } : undefined;
    },
    { txn: `adopt-${process.pid}-${Date.now()}` },
  );
  return commit ? [...commit.add] : [];
}

/**
 * The part files of a dataset as runlake's readers see them, relative to its directory: the latest
 * snapshot's files when the dataset has a commit log, else every Parquet file in its directory.
 *
 * @example
 * ```ts
 * await currentDatasetFiles(lakePaths('lake'), 'embeddings'); // ['run_id=r1/…/part-….parquet']
 * ```
 */
export async function currentDatasetFiles(paths: LakePaths, dataset: string): Promise<string[]> {
  const snapshot = await loadSnapshot(paths, dataset);
  if (snapshot.version >= 0) return [...snapshot.files.keys()].map((p) => p.split('/').join(path.sep)).sort();
  return listFilesNoFollow(paths.dataset(dataset), (n) => n.endsWith('.parquet'));
}

/**
 * The intents of every staging entry (writers publishing now, or that died doing so).
 */
export async function readIntents(paths: LakePaths): Promise<Array<Intent & { entry: string }>> {
  let entries: string[];
  try {
    entries = await readdir(paths.staging);
  } catch {
    return [];
  }
  const intents: Array<Intent & { entry: string }> = [];
  for (const entry of entries) {
    const value = (await readJsonMetadata(path.join(paths.staging, entry, INTENT_FILE)).catch(
      () => undefined,
    )) as Intent | undefined;
    if (
      value &&
      typeof value.dataset === 'string' &&
      Array.isArray(value.adds) &&
      Array.isArray(value.removes)
    )
      intents.push({ ...value, entry: path.join(paths.staging, entry) });
  }
  return intents;
}

/**
 * Finishes or undoes the work of a writer that died (its intent is in `entry`): files the log
 * removed move to the trash; files it published that the log never took are deleted. Then the
 * staging entry is removed. Returns the dataset-relative paths deleted and moved.
 *
 * @example
 * ```ts
 * await recoverIntent(paths, intent);
 * ```
 */
export async function recoverIntent(
  paths: LakePaths,
  intent: Intent & { entry: string },
  claimed: ReadonlySet<string> = new Set(),
): Promise<{ deleted: string[]; trashed: string[] }> {
  const snapshot = await loadSnapshot(paths, intent.dataset);
  const datasetDir = paths.dataset(intent.dataset);
  const present = async (relative: string) =>
    stat(path.join(datasetDir, relative)).then(
      () => true,
      () => false,
    );
  const trashed: string[] = [];
  for (const relative of intent.removes) {
    if (!snapshot.files.has(relative) && (await present(relative))) trashed.push(relative);
  }
  await moveToTrash(paths, intent.dataset, trashed);
  const deleted: string[] = [];
  for (const relative of intent.adds) {
    if (
      !snapshot.files.has(relative) &&
      !claimed.has(`${intent.dataset}/${relative}`) &&
      (await present(relative))
    ) {
      // Committed and later removed by another transaction, it would sit in the trash already
      // (or in that transaction's removes); here it was never committed.
      await unlink(path.join(datasetDir, relative)).catch(() => {});
      deleted.push(relative);
    }
  }
  await rm(intent.entry, { recursive: true, force: true });
  return { deleted, trashed };
}
