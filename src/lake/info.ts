import { stat } from 'node:fs/promises';
import path from 'node:path';
import { columnTypeSql, quoteIdentifier, quoteLiteral } from './column-types.js';
import type { GridIdSetting } from './grid-id-setting.js';
import type { Lake } from './lake.js';
import { parsePartitionPath } from './partition-path.js';
import { listParquetFiles } from './write-rows.js';

/** A column as `runlake info` reports it. */
export interface ColumnInfo {
  readonly name: string;
  readonly type: string;
}

/** What `runlake info` reports for one dataset. */
export interface DatasetInfo {
  readonly name: string;
  readonly partitionBy: readonly ColumnInfo[];
  readonly columns: readonly ColumnInfo[];
  readonly files: number;
  readonly bytes: number;
  readonly rows: number;
  /** Distinct values per partition key (for sweeps: `grid_id` = grids, `seed` = seeds). */
  readonly distinct: Readonly<Record<string, number>>;
  /** Distinct leaf partitions (for sweeps: grid × seed runs). */
  readonly partitions: number;
  /** The commit-log version read; -1 for a dataset without a log. */
  readonly version: number;
}

/** What `runlake info` reports for a lake. */
export interface LakeInfo {
  readonly baseOut: string;
  /** Parameter records under `grids/`. */
  readonly grids: number;
  /** How grid ids are computed in this lake (sweep lakes), and how runlake knows. */
  readonly gridIdScheme?: GridIdSetting;
  readonly datasets: readonly DatasetInfo[];
  /** The named views (the schema set's, exp_engine's summary views of a sweep lake, saved ones). */
  readonly views: readonly string[];
}

/**
 * Summarises a lake from file metadata only (Parquet footers and directory names; no data scan):
 * per dataset its partition keys, column types, files, bytes, rows, and distinct partition values.
 *
 * @example
 * ```ts
 * const lake = await openLake('results');
 * const info = await lakeInfo(lake);
 * info.datasets.find((d) => d.name === 'events')?.rows;
 * ```
 */
export async function lakeInfo(lake: Lake): Promise<LakeInfo> {
  const datasets: DatasetInfo[] = [];
  for (const dataset of lake.datasets.values()) {
    const directory = lake.paths.dataset(dataset.name);
    // A dataset with a commit log: its snapshot's files, sizes and rows as the log records them.
    const logged = dataset.files;
    const files = logged ? logged.map((f) => f.relative) : await listParquetFiles(directory);
    const sizes = logged
      ? logged.map((f) => f.size)
      : await Promise.all(files.map(async (f) => (await stat(path.join(directory, f))).size));
    let rows = dataset.rowCount ?? 0;
    if (!logged && files.length > 0) {
      const [result] = await lake.query(
        `SELECT coalesce(sum(num_rows), 0)::BIGINT AS n FROM parquet_file_metadata(${quoteLiteral(dataset.glob)})`,
      );
      rows = Number(result?.n ?? 0);
    }
    const distinct = new Map<string, Set<string | null>>(
      dataset.manifest.partitionBy.map((k) => [k.name, new Set()]),
    );
    const leaves = new Set<string>();
    for (const file of files) {
      leaves.add(path.dirname(file));
      for (const [key, value] of parsePartitionPath(file)) distinct.get(key)?.add(value);
    }
    datasets.push({
      name: dataset.name,
      partitionBy: dataset.manifest.partitionBy.map((k) => ({ name: k.name, type: columnTypeSql(k.type) })),
      columns: (await lake.query(`DESCRIBE ${quoteIdentifier(dataset.view)}`)).map((c) => ({
        name: String(c.column_name),
        type: String(c.column_type),
      })),
      files: files.length,
      bytes: sizes.reduce((a, b) => a + b, 0),
      rows,
      distinct: Object.fromEntries([...distinct].map(([k, v]) => [k, v.size])),
      partitions: leaves.size,
      version: dataset.version,
    });
  }
  const [grids] = await lake.query('SELECT count(*)::BIGINT AS n FROM grids');
  return {
    baseOut: lake.paths.root,
    grids: Number(grids?.n ?? 0),
    ...(lake.gridIdSetting ? { gridIdScheme: lake.gridIdSetting } : {}),
    datasets,
    views: (await lake.views()).map((v) => v.name),
  };
}
