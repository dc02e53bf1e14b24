/**
 * The commit history of a lake's datasets, newest first: what `runlake history` prints.
 */
import { listCommitVersions, readCommit } from './commit-log.js';
import type { LakePaths } from './layout.js';

/** One commit, summarised. */
export interface HistoryEntry {
  readonly dataset: string;
  readonly version: number;
  readonly timestamp: string;
  readonly operation: string;
  readonly filesAdded: number;
  readonly filesRemoved: number;
  readonly rowsAdded: number;
  readonly rowsRemoved: number;
  /** `tool pid@host`. */
  readonly writer: string;
  /** Operation details (partition, stem, target size), as `key=value` pairs. */
  readonly details: string;
}

/**
 * The commits of one dataset, newest first (at most `limit`).
 *
 * @example
 * ```ts
 * (await datasetHistory(lakePaths('lake'), 'metrics_scalar'))[0]?.operation; // 'compact'
 * ```
 */
export async function datasetHistory(
  paths: LakePaths,
  dataset: string,
  limit = Infinity,
): Promise<HistoryEntry[]> {
  const versions = (await listCommitVersions(paths, dataset)).reverse().slice(0, limit);
  const entries: HistoryEntry[] = [];
  for (const version of versions) {
    const commit = await readCommit(paths, dataset, version);
    if (!commit) continue; // vacuumed meanwhile
    entries.push({
      dataset,
      version,
      timestamp: commit.timestamp,
      operation: commit.operation,
      filesAdded: commit.add.length,
      filesRemoved: commit.remove.length,
      rowsAdded: commit.add.reduce((n, f) => n + f.rows, 0),
      rowsRemoved: commit.remove.reduce((n, f) => n + f.rows, 0),
      writer: `${commit.writer?.tool ?? '?'} ${commit.writer?.pid ?? '?'}@${commit.writer?.host ?? '?'}`,
      details: [
        ...Object.entries(commit.info ?? {}).map(([k, v]) => `${k}=${v}`),
        ...(commit.schema ? ['schema changed'] : []),
      ].join(' '),
    });
  }
  return entries;
}
