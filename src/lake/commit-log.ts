/**
 * The commit log of a dataset (`.runlake/log/<dataset>/`): an ordered list of JSON commit files,
 * each created once with `link(2)` (which refuses an existing name), so two writers can never both
 * claim a version. A snapshot of the dataset is the set of part files left after applying every
 * commit up to a version; checkpoints hold that set so opening never replays the whole history.
 * The format is specified in docs/commits.md.
 */
import { randomUUID } from 'node:crypto';
import { link, readdir, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fsyncPath, makeDirectory, writeAndSync, writeFileAtomic } from './atomic-file.js';
import { RunlakeError } from './errors.js';
import { fileSystemError } from './fs-errors.js';
import type { LakePaths } from './layout.js';
import type { DatasetManifest } from './manifest.js';
import { LakeMetadataError, objectProblem, readJsonMetadata } from './metadata-file.js';

/** The version of the commit and checkpoint file format this code reads and writes. */
export const LOG_FORMAT = 1;

/** A checkpoint is written after every this many commits. */
export const CHECKPOINT_INTERVAL = 100;

/** A commit that adds and removes at least this many files is checkpointed at once. */
const LARGE_COMMIT_FILES = 1000;

/** What a commit did to the dataset. */
export type CommitOperation = 'adopt' | 'write' | 'replace' | 'delete' | 'compact';

/** A part file a commit adds, as the log records it. */
export interface LogFile {
  /** Path relative to the dataset directory, `/`-separated (`run_id=r1/part-….parquet`). */
  readonly path: string;
  readonly size: number;
  readonly rows: number;
  /**
   * A fingerprint of the file's Parquet schema (column names, physical and logical types, in
   * order). Files with the same fingerprint are read together without comparing footers.
   */
  readonly schema?: string;
}

/** A part file of a snapshot: a {@link LogFile} and the version that added it. */
export interface LiveFile extends LogFile {
  readonly version: number;
}

/** Who wrote a commit. */
export interface CommitWriter {
  readonly tool: string;
  readonly host: string;
  readonly pid: number;
}

/** One commit file. */
export interface CommitRecord {
  readonly format: number;
  readonly dataset: string;
  readonly version: number;
  /** ISO-8601 UTC time the commit was written. */
  readonly timestamp: string;
  readonly operation: CommitOperation;
  readonly writer: CommitWriter;
  /** The transaction id: the name of the writer's staging entry. */
  readonly txn: string;
  /** The version the writer read when it decided what to remove (replace, delete, compact). */
  readonly readVersion: number;
  readonly add: readonly LogFile[];
  readonly remove: readonly LogFile[];
  /** The dataset's manifest after this commit, when the commit changed it. */
  readonly schema?: DatasetManifest;
  /** Operation details (the partition and stem of a replace, the target size of a compaction). */
  readonly info?: Readonly<Record<string, string | number>>;
}

/** A dataset as of one version of its log. */
export interface Snapshot {
  readonly dataset: string;
  /** The version; -1 when the dataset has no log (it was never written through one). */
  readonly version: number;
  /** Time of the commit that made this version (ISO-8601), if any. */
  readonly timestamp?: string;
  /** Live part files by relative path. */
  readonly files: ReadonlyMap<string, LiveFile>;
  /** The manifest the latest schema-changing commit recorded. */
  readonly schema?: DatasetManifest;
}

/** What a writer wants committed; `add`/`remove` are relative paths' records. */
export interface CommitDraft {
  readonly operation: CommitOperation;
  readonly add: readonly LogFile[];
  readonly remove: readonly LogFile[];
  readonly schema?: DatasetManifest;
  readonly info?: Readonly<Record<string, string | number>>;
}

/** What {@link commitToLog} hands the writer's `prepare` callback on each attempt. */
export interface CommitBase {
  /** The latest version when this attempt started (-1 for none). */
  readonly readVersion: number;
  /** Loads the snapshot at {@link readVersion}. */
  snapshot(): Promise<Snapshot>;
}

/**
 * A commit that cannot be applied over what other writers committed meanwhile, e.g. a compaction
 * whose input files a concurrent replace removed. Nothing of the refused commit is visible.
 *
 * @example
 * ```ts
 * try { await compactDataset('lake', 'metrics_scalar'); }
 * catch (e) { if (e instanceof CommitConflictError) console.error(e.dataset, e.version); }
 * ```
 */
export class CommitConflictError extends RunlakeError {
  override readonly name = 'CommitConflictError';
  constructor(
    readonly dataset: string,
    readonly version: number,
    readonly reason: string,
  ) {
    super(`commit to ${dataset} conflicts with version ${version}: ${reason}`);
  }
}

/**
 * A version that cannot be read: newer than the log, or older than what the log retains.
 *
 * @example
 * ```ts
 * await openLake('lake', { version: 999 }); // VersionNotFoundError: events has no version 999 (latest 12)
 * ```
 */
export class VersionNotFoundError extends RunlakeError {
  override readonly name = 'VersionNotFoundError';
}

const VERSION_DIGITS = 20;
const COMMIT_NAME = /^(\d{20})\.json$/;
const CHECKPOINT_NAME = /^(\d{20})\.checkpoint\.json$/;
const LAST_CHECKPOINT = '_last_checkpoint';

/** The log directory of a dataset. */
export function logDirectory(paths: LakePaths, dataset: string): string {
  return path.join(paths.meta, 'log', dataset);
}

function commitFile(directory: string, version: number): string {
  return path.join(directory, `${String(version).padStart(VERSION_DIGITS, '0')}.json`);
}

function checkpointFile(directory: string, version: number): string {
  return path.join(directory, `${String(version).padStart(VERSION_DIGITS, '0')}.checkpoint.json`);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fileSystemError(error, file, 'read');
  }
}

// The highest version this process has seen per log directory: a lower bound that saves probing
// from the last checkpoint on every commit. Checked (its commit file must still be the same file)
// before use, so a log deleted and recreated under the same path is not misread.
const knownVersions = new Map<string, { version: number; identity: string }>();

async function fileIdentity(file: string): Promise<string | undefined> {
  try {
    const info = await stat(file);
    return `${info.dev}:${info.ino}:${info.mtimeMs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileSystemError(error, file, 'read');
  }
}

async function remember(directory: string, version: number): Promise<void> {
  const identity = await fileIdentity(commitFile(directory, version));
  if (identity) knownVersions.set(directory, { version, identity });
}

/**
 * The latest version of a dataset's log, or -1 when it has none. Starts from the newest known
 * version (this process's, else the `_last_checkpoint` hint, else the highest checkpoint file)
 * and probes for the next commit file until one is missing.
 *
 * @example
 * ```ts
 * await latestVersion(lakePaths('lake'), 'events'); // 12
 * ```
 */
export async function latestVersion(paths: LakePaths, dataset: string): Promise<number> {
  const directory = logDirectory(paths, dataset);
  const known = knownVersions.get(directory);
  // Most datasets of a lake may never have been written: one probe tells.
  if (!known && !(await exists(directory))) return -1;
  let version = -1;
  if (known && (await fileIdentity(commitFile(directory, known.version))) === known.identity)
    version = known.version;
  if (version < 0) version = await lastCheckpointVersion(directory);
  if (version >= 0 && !(await exists(commitFile(directory, version)))) {
    // A checkpoint whose commit file was cleaned up: still a valid starting point.
    if (!(await exists(checkpointFile(directory, version)))) version = -1;
  }
  while (await exists(commitFile(directory, version + 1))) version++;
  if (version >= 0 && version !== known?.version) await remember(directory, version);
  return version;
}

async function lastCheckpointVersion(directory: string): Promise<number> {
  const hint = await readJsonMetadata(path.join(directory, LAST_CHECKPOINT)).catch(() => undefined);
  if (hint && typeof hint === 'object' && Number.isSafeInteger((hint as { version?: unknown }).version)) {
    const version = (hint as { version: number }).version;
    if (await exists(checkpointFile(directory, version))) return version;
  }
  const checkpoints = await listCheckpoints(directory);
  return checkpoints.at(-1) ?? -1;
}

async function listLog(directory: string): Promise<string[]> {
  try {
    return await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fileSystemError(error, directory, 'read');
  }
}

async function listCheckpoints(directory: string): Promise<number[]> {
  return (await listLog(directory))
    .map((name) => CHECKPOINT_NAME.exec(name)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The versions whose commit files the log holds, in order.
 *
 * @example
 * ```ts
 * await listCommitVersions(lakePaths('lake'), 'events'); // [0, 1, 2]
 * ```
 */
export async function listCommitVersions(paths: LakePaths, dataset: string): Promise<number[]> {
  return (await listLog(logDirectory(paths, dataset)))
    .map((name) => COMMIT_NAME.exec(name)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Reads one commit file, checking its shape.
 *
 * @throws {LakeMetadataError} naming the file when it is not a commit record.
 * @example
 * ```ts
 * (await readCommit(lakePaths('lake'), 'events', 0))?.operation; // 'adopt'
 * ```
 */
export async function readCommit(
  paths: LakePaths,
  dataset: string,
  version: number,
): Promise<CommitRecord | undefined> {
  const file = commitFile(logDirectory(paths, dataset), version);
  const value = await readJsonMetadata(file);
  if (value === undefined) return undefined;
  const problem = commitProblem(value, dataset, version);
  if (problem) throw new LakeMetadataError(file, problem);
  return value as CommitRecord;
}

function fileListProblem(value: unknown, field: string): string | undefined {
  if (!Array.isArray(value)) return `not a commit: "${field}" is not a list`;
  for (const entry of value) {
    const e = entry as Partial<LogFile> | null;
    if (
      !e ||
      typeof e.path !== 'string' ||
      e.path.length === 0 ||
      e.path.startsWith('/') ||
      e.path.split('/').some((s) => s === '..' || s === '' || s === '.') ||
      !Number.isSafeInteger(e.size) ||
      !Number.isSafeInteger(e.rows)
    ) {
      return `not a commit: an entry of "${field}" lacks a relative "path", "size" or "rows"`;
    }
  }
  return undefined;
}

function commitProblem(value: unknown, dataset: string, version: number): string | undefined {
  const notObject = objectProblem(value);
  if (notObject) return `not a commit: the file ${notObject}`;
  const commit = value as Partial<CommitRecord>;
  if (commit.format !== LOG_FORMAT)
    return `not a commit of format ${LOG_FORMAT} (format ${String(commit.format)})`;
  if (commit.dataset !== dataset) return `not a commit of ${dataset} (dataset ${String(commit.dataset)})`;
  if (commit.version !== version) return `holds version ${String(commit.version)}, not ${version}`;
  if (typeof commit.operation !== 'string' || typeof commit.timestamp !== 'string')
    return 'not a commit: "operation" or "timestamp" is missing';
  return fileListProblem(commit.add, 'add') ?? fileListProblem(commit.remove, 'remove');
}

interface CheckpointRecord {
  readonly format: number;
  readonly dataset: string;
  readonly version: number;
  readonly timestamp?: string;
  readonly schema?: DatasetManifest;
  readonly files: readonly LiveFile[];
}

async function readCheckpoint(directory: string, dataset: string, version: number): Promise<Snapshot> {
  const file = checkpointFile(directory, version);
  const value = (await readJsonMetadata(file)) as Partial<CheckpointRecord> | undefined;
  if (value === undefined) throw new VersionNotFoundError(`${file}: the checkpoint disappeared`);
  const problem =
    objectProblem(value) ??
    (value.format !== LOG_FORMAT || value.dataset !== dataset || value.version !== version
      ? `not a checkpoint of ${dataset} at version ${version}`
      : fileListProblem(value.files, 'files'));
  if (problem) throw new LakeMetadataError(file, problem);
  return {
    dataset,
    version,
    timestamp: value.timestamp,
    schema: value.schema,
    files: new Map((value.files ?? []).map((f) => [f.path, f])),
  };
}

/**
 * Applies one commit to a snapshot: removes, then adds (adding a path already present keeps one
 * entry, so a repeated deterministic write is counted once).
 */
function applyCommit(snapshot: Snapshot, commit: CommitRecord): Snapshot {
  const files = new Map(snapshot.files);
  for (const removed of commit.remove) files.delete(removed.path);
  for (const added of commit.add) files.set(added.path, { ...added, version: commit.version });
  return {
    dataset: snapshot.dataset,
    version: commit.version,
    timestamp: commit.timestamp,
    schema: commit.schema ?? snapshot.schema,
    files,
  };
}

function emptySnapshot(dataset: string): Snapshot {
  return { dataset, version: -1, files: new Map() };
}

// The newest snapshot this process built per log directory, for incremental loads, with the
// identity of its commit file (checked before reuse, as for knownVersions).
const cachedSnapshots = new Map<string, { snapshot: Snapshot; identity: string }>();

/** Which version {@link loadSnapshot} reads: the latest, a version, or the last one at a time. */
export interface SnapshotTarget {
  readonly version?: number;
  /** The last version committed at or before this time. */
  readonly asOf?: Date;
}

/**
 * Loads a dataset's snapshot: the latest version, or the one `target` names (time travel, within
 * what the log retains). A dataset without a log gives an empty snapshot at version -1, and so
 * does `asOf` a time before the dataset's first commit.
 *
 * @throws {VersionNotFoundError} when the version is newer than the log or no longer retained.
 * @example
 * ```ts
 * const snapshot = await loadSnapshot(lakePaths('lake'), 'metrics_scalar');
 * snapshot.files.size; // 42
 * ```
 */
export async function loadSnapshot(
  paths: LakePaths,
  dataset: string,
  target: SnapshotTarget = {},
): Promise<Snapshot> {
  const directory = logDirectory(paths, dataset);
  const latest = await latestVersion(paths, dataset);
  let version = latest;
  if (target.asOf !== undefined) version = await versionAsOf(paths, dataset, target.asOf, latest);
  if (target.version !== undefined) {
    if (!Number.isSafeInteger(target.version) || target.version < 0 || target.version > latest) {
      throw new VersionNotFoundError(
        `${dataset} has no version ${target.version} (latest ${latest < 0 ? 'none: it has no log' : latest})`,
      );
    }
    version = target.version;
  }
  if (version < 0) return emptySnapshot(dataset);
  const cached = cachedSnapshots.get(directory);
  let base =
    cached &&
    cached.snapshot.version <= version &&
    (await fileIdentity(commitFile(directory, cached.snapshot.version))) === cached.identity
      ? cached.snapshot
      : undefined;
  if (!base) {
    const checkpoints = (await listCheckpoints(directory)).filter((v) => v <= version);
    const from = checkpoints.at(-1);
    if (from !== undefined) base = await readCheckpoint(directory, dataset, from);
    else if (await exists(commitFile(directory, 0))) base = emptySnapshot(dataset);
    else {
      throw new VersionNotFoundError(
        `${dataset} version ${version} is older than its log retains (vacuum removed it)`,
      );
    }
  }
  let snapshot = base;
  for (let v = snapshot.version + 1; v <= version; v++) {
    const commit = await readCommit(paths, dataset, v);
    if (!commit) throw new VersionNotFoundError(`${dataset}: commit ${v} of the log is missing`);
    snapshot = applyCommit(snapshot, commit);
  }
  if (version === latest && version !== cached?.snapshot.version) {
    const identity = await fileIdentity(commitFile(directory, version));
    if (identity) cachedSnapshots.set(directory, { snapshot, identity });
  }
  return snapshot;
}

async function versionAsOf(paths: LakePaths, dataset: string, asOf: Date, latest: number): Promise<number> {
  if (Number.isNaN(asOf.getTime())) throw new VersionNotFoundError(`--as-of is not a valid time`);
  let found = -1;
  const versions = await listCommitVersions(paths, dataset);
  for (const version of versions) {
    if (version > latest) break;
    const commit = await readCommit(paths, dataset, version);
    if (commit && Date.parse(commit.timestamp) <= asOf.getTime()) found = version;
    else break;
  }
  // Before its first commit (when the log still holds it) the dataset was empty: version -1.
  if (found < 0 && versions[0] !== 0) {
    throw new VersionNotFoundError(
      `${dataset} has no version committed at or before ${asOf.toISOString()} that the log retains`,
    );
  }
  return found;
}

/** This process as a commit's writer. */
export function commitWriter(): CommitWriter {
  return { tool: 'runlake', host: os.hostname(), pid: process.pid };
}

/** Options for {@link commitToLog}. */
export interface CommitOptions {
  /** The transaction id (the writer's staging entry name). */
  readonly txn: string;
  /** Called before each attempt with the removals about to be committed (for crash recovery). */
  readonly beforeAttempt?: (draft: CommitDraft) => Promise<void>;
}

const MAX_ATTEMPTS = 10_000;

/**
 * Commits a change to a dataset's log with optimistic concurrency: reads the latest version,
 * asks `prepare` what to commit over it, and creates the next commit file with `link(2)`, which
 * fails if another writer took that version first; then it starts over from the new latest
 * version. `prepare` decides conflicts: it throws {@link CommitConflictError} when the change no
 * longer applies (a compaction's inputs are gone), or recomputes it (a replace removes whatever
 * its stem holds in the newer snapshot), or returns `undefined` when nothing is left to commit
 * (then nothing is written). Every {@link CHECKPOINT_INTERVAL}th commit also writes a
 * checkpoint.
 *
 * @example
 * ```ts
 * await commitToLog(lakePaths('lake'), 'events', async () => ({ operation: 'write', add: files, remove: [] }), { txn });
 * ```
 */
export async function commitToLog(
  paths: LakePaths,
  dataset: string,
  prepare: (base: CommitBase) => Promise<CommitDraft | undefined>,
  options: CommitOptions,
): Promise<CommitRecord | undefined> {
  const directory = logDirectory(paths, dataset);
  await makeDirectory(directory);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const readVersion = await latestVersion(paths, dataset);
    const draft = await prepare({
      readVersion,
      snapshot: () => loadSnapshot(paths, dataset, { version: readVersion >= 0 ? readVersion : undefined }),
    });
    if (!draft) return undefined;
    await options.beforeAttempt?.(draft);
    const version = readVersion + 1;
    const record: CommitRecord = {
      format: LOG_FORMAT,
      dataset,
      version,
      timestamp: new Date().toISOString(),
      operation: draft.operation,
      writer: commitWriter(),
      txn: options.txn,
      readVersion,
      add: draft.add,
      remove: draft.remove,
      ...(draft.schema ? { schema: draft.schema } : {}),
      ...(draft.info ? { info: draft.info } : {}),
    };
    if (await createExclusive(commitFile(directory, version), `${JSON.stringify(record)}\n`)) {
      await remember(directory, version);
      // The commit is made: a checkpoint that cannot be written (a full disk) only makes readers
      // replay from an earlier one, and must not fail the write (its caller would undo it).
      // A commit touching many files (an adoption, a large compaction) is checkpointed at once,
      // so that opening does not parse it again and again until the next regular checkpoint.
      const large = record.add.length + record.remove.length >= LARGE_COMMIT_FILES;
      if (version > 0 && (version % CHECKPOINT_INTERVAL === 0 || large))
        await writeCheckpoint(paths, dataset, version).catch(() => {});
      return record;
    }
    // Another writer took this version; back off a little when it keeps happening.
    if (attempt > 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt)));
  }
  throw new CommitConflictError(dataset, -1, `gave up after ${MAX_ATTEMPTS} attempts`);
}

async function createExclusive(file: string, contents: string): Promise<boolean> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  await writeAndSync(temp, contents);
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fileSystemError(error, file, 'write');
  } finally {
    await unlink(temp).catch(() => {});
  }
  await fsyncPath(path.dirname(file));
  return true;
}

/**
 * Writes the checkpoint of `version` (the snapshot's whole file list) and points the
 * `_last_checkpoint` hint at it. Idempotent: writers racing to checkpoint write the same bytes.
 *
 * @example
 * ```ts
 * await writeCheckpoint(lakePaths('lake'), 'events', 100);
 * ```
 */
export async function writeCheckpoint(paths: LakePaths, dataset: string, version: number): Promise<void> {
  const directory = logDirectory(paths, dataset);
  const snapshot = await loadSnapshot(paths, dataset, { version });
  const record: CheckpointRecord = {
    format: LOG_FORMAT,
    dataset,
    version,
    timestamp: snapshot.timestamp,
    ...(snapshot.schema ? { schema: snapshot.schema } : {}),
    files: [...snapshot.files.values()],
  };
  await writeFileAtomic(checkpointFile(directory, version), `${JSON.stringify(record)}\n`);
  await writeFileAtomic(path.join(directory, LAST_CHECKPOINT), `${JSON.stringify({ version })}\n`);
}

/**
 * Removes the log files before version `keepFrom` (commits and checkpoints), which must have a
 * checkpoint (or be 0): time travel then reaches back to `keepFrom`. Returns the files removed
 * (or that would be, with `dryRun`).
 *
 * @example
 * ```ts
 * await cleanLog(lakePaths('lake'), 'events', 200, false);
 * ```
 */
export async function cleanLog(
  paths: LakePaths,
  dataset: string,
  keepFrom: number,
  dryRun: boolean,
): Promise<string[]> {
  const directory = logDirectory(paths, dataset);
  if (keepFrom > 0 && !dryRun && !(await exists(checkpointFile(directory, keepFrom)))) {
    throw new RunlakeError(`${dataset}: no checkpoint at version ${keepFrom}; the log before it is kept`);
  }
  const removed: string[] = [];
  for (const name of await listLog(directory)) {
    const version = Number((COMMIT_NAME.exec(name) ?? CHECKPOINT_NAME.exec(name))?.[1] ?? Number.NaN);
    if (!Number.isNaN(version) && version < keepFrom) {
      removed.push(path.join(directory, name));
      if (!dryRun) await unlink(path.join(directory, name)).catch(() => {});
    }
  }
  return removed;
}

/** Forgets this process's cached versions and snapshots (after a lake directory is deleted). */
export function forgetLogCaches(): void {
  knownVersions.clear();
  cachedSnapshots.clear();
}

/**
 * Whether a dataset has a commit log.
 *
 * @example
 * ```ts
 * await hasLog(lakePaths('lake'), 'events'); // true
 * ```
 */
export async function hasLog(paths: LakePaths, dataset: string): Promise<boolean> {
  return (await latestVersion(paths, dataset)) >= 0;
}
