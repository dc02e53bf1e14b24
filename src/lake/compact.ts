/**
 * Compaction: merges a partition's small part files into files of a target size, sorted by the
 * dataset's sort key, in one commit that adds the merged files and removes their inputs. Readers
 * see the partition before or after, never both; writers keep appending meanwhile (their new
 * files are not inputs, so they never conflict).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { makeDirectory } from './atomic-file.js';
import { quoteIdentifier, quoteLiteral } from './column-types.js';
import { CommitConflictError, type LiveFile, loadSnapshot, type Snapshot } from './commit-log.js';
import type { DatasetDefinition } from './dataset.js';
import { withStagingConnection } from './duckdb.js';
import { RunlakeError } from './errors.js';
import { lakePaths } from './layout.js';
import { type PartitionValue, partitionPrefixDirectory } from './partition-path.js';
import { stagingPath, sweepStaleStaging } from './staging.js';
import { adoptDataset, commitStaged } from './transaction.js';

/** Default size of a compacted file: 128 MiB, the row-group-friendly size Delta and Iceberg use. */
export const DEFAULT_TARGET_FILE_SIZE = 128 * 1024 * 1024;

/** Options for {@link compactDataset}. */
export interface CompactOptions {
  /** Only this partition (a leading prefix of the dataset's partition keys). */
  readonly partition?: Readonly<Record<string, PartitionValue>>;
  /** Size of the merged files, in bytes (default {@link DEFAULT_TARGET_FILE_SIZE}). */
  readonly targetSize?: number;
  /** Merge a directory only when it holds at least this many small files (default 2). */
  readonly minFiles?: number;
  /** Report what would be merged without writing. */
  readonly dryRun?: boolean;
  /** Attempts when a concurrent commit removed an input (default 3). */
  readonly attempts?: number;
  /**
   * Stems whose files are merged too (files that carry a stem are otherwise left as they are):
   * for a writer that will never look for them by name again, such as the tracking fold once the
   * segment that wrote them is deleted from its log.
   */
  readonly mergeStem?: (stem: string) => boolean;
}

/** What {@link compactDataset} did (or, with `dryRun`, would do). */
export interface CompactResult {
  readonly dataset: string;
  /** Partition directories merged. */
  readonly partitions: number;
  readonly filesBefore: number;
  readonly filesAfter: number;
  readonly rows: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** The version of the compaction's commit (absent when nothing was merged). */
  readonly version?: number;
}

/** When a writer compacts on its own: a partition directory with more small files than this. */
export interface CompactionPolicy {
  readonly maxSmallFiles: number;
  readonly targetSize?: number;
}

interface Plan {
  readonly directory: string;
  readonly inputs: readonly LiveFile[];
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UUID_NAMED = new RegExp(`^part-(compact-)?${UUID}\\.parquet$`);

/**
 * The stem a part file carries (`part-<stem>-<i>.parquet`), if any: a `replace` finds the files it
 * swaps out by their stem, and a write with a `fileStem` skips files already live under their
 * names, so merging such a file into a `part-compact-…` one would make the next replace keep its
 * rows (two generations) or the repeated write publish them again.
 */
function stemOf(name: string): string | undefined {
  if (UUID_NAMED.test(name)) return undefined;
  return /^part-(.+)-\d+\.parquet$/.exec(name)?.[1];
}

/**
 * Which leaf directories of a snapshot to merge: those (under `prefix`) holding at least
 * `minFiles` files smaller than the target size. Files that carry a stem are left as they are.
 */
function planCompaction(
  snapshot: Snapshot,
  include: (directory: string) => boolean,
  targetSize: number,
  minFiles: number,
  mergeStem: (stem: string) => boolean = () => false,
): Plan[] {
  const byDirectory = new Map<string, LiveFile[]>();
  for (const file of snapshot.files.values()) {
    if (file.size >= targetSize) continue;
    const stem = stemOf(path.posix.basename(file.path));
    if (stem !== undefined && !mergeStem(stem)) continue;
    const directory = path.posix.dirname(file.path);
    // Only Hive levels: a file under another tool's plain sub-folder is left where it is.
    if (directory !== '.' && directory.split('/').some((s) => s.indexOf('=') <= 0)) continue;
    if (!include(directory)) continue;
    const list = byDirectory.get(directory);
    if (list) list.push(file);
    else byDirectory.set(directory, [file]);
  }
  return [...byDirectory]
    .filter(([, files]) => files.length >= minFiles)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([directory, inputs]) => ({ directory, inputs }));
}

/**
 * Merges the small part files of a dataset (or of one partition) into files of about
 * `targetSize`, sorted by the dataset's `sortBy` columns, in one commit. A concurrent commit
 * that removes an input (a replace) makes the attempt start over from the new snapshot; after
 * `attempts` such conflicts it throws {@link CommitConflictError}. Nothing partial is ever
 * visible: the merged files are published and committed together with the removal of their
 * inputs, which move to the trash (time travel still reads them until `vacuum`).
 *
 * @example
 * ```ts
 * await compactDataset('lake', METRICS_SCALAR_DATASET, { partition: { run_id: 'r1' } });
 * ```
 */
export async function compactDataset(
  baseOut: string,
  dataset: DatasetDefinition,
  options: CompactOptions = {},
): Promise<CompactResult> {
  const targetSize = options.targetSize ?? DEFAULT_TARGET_FILE_SIZE;
  if (!Number.isSafeInteger(targetSize) || targetSize < 1024)
    throw new RunlakeError(`compaction target size must be at least 1 KiB, got ${targetSize}`);
  const minFiles = Math.max(2, options.minFiles ?? 2);
  const prefix = options.partition
    ? partitionPrefixDirectory(
        dataset.name,
        dataset.partitionBy.map((k) => k.name),
        options.partition,
        'compact',
      )
    : '';
  const include = (directory: string) =>
    !prefix || directory === prefix || directory.startsWith(`${prefix}/`);
  return compactDirectories(baseOut, dataset, include, prefix, { ...options, targetSize, minFiles });
}

async function compactDirectories(
  baseOut: string,
  dataset: DatasetDefinition,
  include: (directory: string) => boolean,
  prefix: string,
  options: CompactOptions & { targetSize: number; minFiles: number },
): Promise<CompactResult> {
  const paths = lakePaths(baseOut);
  const attempts = options.attempts ?? 3;
  return withStagingConnection(async (connection) => {
    await adoptDataset(paths, connection, dataset.name);
    for (let attempt = 1; ; attempt++) {
      try {
        return await compactOnce(connection, baseOut, dataset, include, prefix, options);
      } catch (error) {
        if (!(error instanceof CommitConflictError) || attempt >= attempts) throw error;
      }
    }
  });
}

async function compactOnce(
  connection: DuckDBConnection,
  baseOut: string,
  dataset: DatasetDefinition,
  include: (directory: string) => boolean,
  prefix: string,
  options: CompactOptions & { targetSize: number; minFiles: number },
): Promise<CompactResult> {
  const { targetSize, minFiles, dryRun } = options;
  const paths = lakePaths(baseOut);
  const snapshot = await loadSnapshot(paths, dataset.name);
  const plans = planCompaction(snapshot, include, targetSize, minFiles, options.mergeStem);
  const inputs = plans.flatMap((p) => p.inputs);
  const summary = {
    dataset: dataset.name,
    partitions: plans.length,
    filesBefore: inputs.length,
    rows: inputs.reduce((n, f) => n + f.rows, 0),
    bytesBefore: inputs.reduce((n, f) => n + f.size, 0),
  };
  if (plans.length === 0 || dryRun) return { ...summary, filesAfter: plans.length, bytesAfter: 0 };
  await sweepStaleStaging(paths);
  const stagingDir = stagingPath(paths);
  const datasetDir = paths.dataset(dataset.name);
  try {
    try {
      for (const plan of plans) {
        const files = plan.inputs.map((f) => quoteLiteral(path.join(datasetDir, f.path)));
        const source = `read_parquet([${files.join(', ')}], union_by_name = true, hive_partitioning = false)`;
        const present = (await connection.runAndReadAll(`SELECT * FROM ${source} LIMIT 0`)).columnNames();
        const order = (dataset.sortBy ?? []).filter((c) => present.includes(c));
        const orderBy = order.length ? ` ORDER BY ${order.map(quoteIdentifier).join(', ')}` : '';
        // DuckDB creates only the last level of a COPY's target directory.
        const target = path.join(stagingDir, plan.directory);
        await makeDirectory(path.dirname(target));
        await connection.run(
          `COPY (SELECT * FROM ${source}${orderBy}) ` +
            `TO ${quoteLiteral(target)} (FORMAT parquet, COMPRESSION zstd, ` +
            `FILE_SIZE_BYTES ${targetSize}, FILENAME_PATTERN 'part-compact-{uuid}')`,
        );
      }
    } catch (error) {
      // A concurrent commit moved an input to the trash while it was being read: a conflict,
      // retried like one found at commit time (not DuckDB's "No files found").
      const current = await loadSnapshot(paths, dataset.name);
      const gone = inputs.find((f) => !current.files.has(f.path));
      if (gone)
        throw new CommitConflictError(
          dataset.name,
          current.version,
          `input ${gone.path} was removed meanwhile`,
        );
      throw error;
    }
    const wanted = new Set(inputs.map((f) => f.path));
    const result = await commitStaged(paths, connection, dataset.name, stagingDir, {
      operation: 'compact',
      verbatimPaths: true,
      removes: (current) => {
        const gone = [...wanted].find((p) => !current.files.has(p));
        if (gone)
          throw new CommitConflictError(dataset.name, current.version, `input ${gone} was removed meanwhile`);
        return inputs;
      },
      info: { targetSize, ...(prefix ? { partition: prefix } : {}) },
    });
    return {
      ...summary,
      filesAfter: result.added.length,
      bytesAfter: result.added.reduce((n, f) => n + f.size, 0),
      version: result.commit?.version,
    };
  } finally {
    await rm(stagingDir, { recursive: true, force: true });
  }
}

/**
 * Applies a {@link CompactionPolicy} after a write: compacts each partition directory the write
 * touched that now holds more than `maxSmallFiles` small files, in one commit. Returns what the
 * compaction did, or `undefined` when nothing was due.
 *
 * @example
 * ```ts
 * await compactIfNeeded('lake', METRICS_SCALAR_DATASET, ['run_id=r1'], { maxSmallFiles: 64 });
 * ```
 */
export async function compactIfNeeded(
  baseOut: string,
  dataset: DatasetDefinition,
  directories: readonly string[],
  policy: CompactionPolicy,
): Promise<CompactResult | undefined> {
  const targetSize = policy.targetSize ?? DEFAULT_TARGET_FILE_SIZE;
  const minFiles = policy.maxSmallFiles + 1;
  const touched = new Set(directories);
  const snapshot = await loadSnapshot(lakePaths(baseOut), dataset.name);
  if (planCompaction(snapshot, (d) => touched.has(d), targetSize, minFiles).length === 0) return undefined;
  try {
    return await compactDirectories(baseOut, dataset, (d) => touched.has(d), '', { targetSize, minFiles });
  } catch (error) {
    // Automatic compaction is an optimisation: a conflict leaves the files for the next round.
    if (error instanceof CommitConflictError) return undefined;
    throw error;
  }
}
