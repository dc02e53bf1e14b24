/**
 * The downsampling pyramid of `metrics_scalar`: every run's points of every metric summarised in
 * step buckets of a few sizes (8, 32, 128, … steps), each bucket holding its point count, its
 * minimum and maximum with their exact steps, and the sums a mean needs. A chart of a thousand
 * long runs reads a bucket per pixel column instead of every point, and loses no spike: a
 * bucket's extremes are real points at their own steps.
 *
 * The pyramid is a dataset of the lake (`metrics_pyramid`, partitioned by `level`, not by run), so
 * it is written through the commit protocol like any other and a reader sees it whole or not at
 * all. Each row names the `metrics_scalar` part file it summarises (`source_file`): a reader
 * uses only rows whose source file is still live and reads the live files the pyramid does not
 * cover yet at full resolution, so the answer is right whether or not the pyramid is up to date
 * (docs/server.md, "Downsampling pyramid").
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteLiteral, t } from './column-types.js';
import { type LiveFile, loadSnapshot } from './commit-log.js';
import { type DatasetDefinition, defineDataset } from './dataset.js';
import { queryObjects, withStagingConnection } from './duckdb.js';
import { lakePaths } from './layout.js';
import { writeQuery } from './write-query.js';

/** The pyramid's bucket sizes in steps, finest first: each is four times the one before. */
export const PYRAMID_LEVELS: readonly number[] = [8, 32, 128, 512, 2048, 8192];

/**
 * Metric rows a write should add before an ingest builds the pyramid on its own: below this, a
 * chart reads the points about as fast as buckets (`runlake pyramid` builds it at any size).
 */
export const PYRAMID_WORTH_ROWS = 100_000;

/** The name of the pyramid dataset. */
export const METRICS_PYRAMID = 'metrics_pyramid';

/**
 * The pyramid dataset: one row per (source file, run, metric, level, bucket), where a bucket of
 * level `L` holds steps `[bucket·L, (bucket+1)·L)`. Rows of one bucket from different source
 * files combine: counts and sums add, extremes take the extreme.
 *
 * @example
 * ```ts
 * METRICS_PYRAMID_DATASET.partitionBy.map((k) => k.name); // ['level']
 * ```
 */
export const METRICS_PYRAMID_DATASET: DatasetDefinition = defineDataset({
  name: METRICS_PYRAMID,
  description:
    'Downsampling pyramid of metrics_scalar: per run, metric and step bucket, the count, min and max (at their steps) and sums',
  partitionBy: [{ name: 'level', type: t.int32, description: 'bucket size in steps' }],
  partitionReason:
    'A chart reads one level at a time; not by run, so a thousand runs are a few files rather than a thousand.',
});

/**
 * With `auto`, the share of live `metrics_scalar` files a pyramid must leave uncovered before it is
 * extended: the server folds in the few new files from their points, and stops using the pyramid
 * past a quarter of them.
 */
export const PYRAMID_AUTO_UNCOVERED_SHARE = 0.1;

/** What {@link buildMetricsPyramid} did. */
export interface PyramidBuild {
  /**
   * `added`: rows for files the pyramid did not cover; `rebuilt`: written anew; `current`: nothing
   * to do; `too-small` (with `auto`): no pyramid yet, and fewer than {@link PYRAMID_WORTH_ROWS} metric rows.
   */
  readonly action: 'added' | 'rebuilt' | 'current' | 'no-metrics' | 'too-small';
  /** `metrics_scalar` files summarised by this call. */
  readonly sourceFiles: number;
  /** Pyramid rows written. */
  readonly rows: number;
  /** The pyramid's version after the call (absent when nothing was committed). */
  readonly version?: number;
}

/** Options of {@link buildMetricsPyramid}. */
export interface PyramidBuildOptions {
  /** Write the whole pyramid anew even when adding would do (default false). */
  readonly rebuild?: boolean;
  /**
   * Build only where it pays, as ingests and compactions do (default false): a lake without a
   * pyramid gets one once its metrics hold {@link PYRAMID_WORTH_ROWS} rows, and a current pyramid
   * is extended once {@link PYRAMID_AUTO_UNCOVERED_SHARE} of the live files are new to it. A stale
   * one (files it summarises are gone) is rebuilt at once.
   */
  readonly auto?: boolean;
}

// Past this many part files per level, adding a file more rewrites the pyramid whole instead.
const MAX_FILES_PER_LEVEL = 8;

/**
 * Brings the lake's `metrics_pyramid` up to date with its `metrics_scalar` snapshot, in one commit:
 * when `metrics_scalar` files are live that the pyramid does not summarise, it adds their buckets;
 * when the pyramid still holds rows of files no longer live (a deleted run, a compaction), or has
 * grown into many small files, it writes itself anew, replacing its earlier files. A lake whose
 * `metrics_scalar` has no commit log (written by another tool) gets no pyramid.
 *
 * @example
 * ```ts
 * await buildMetricsPyramid('lake'); // { action: 'added', sourceFiles: 12, rows: 4800, version: 3 }
 * ```
 */
export async function buildMetricsPyramid(
  baseOut: string,
  options: PyramidBuildOptions = {},
): Promise<PyramidBuild> {
  const paths = lakePaths(baseOut);
  const metrics = await loadSnapshot(paths, 'metrics_scalar');
  if (metrics.version < 0 || metrics.files.size === 0) {
    return { action: 'no-metrics', sourceFiles: 0, rows: 0 };
  }
  const pyramid = await loadSnapshot(paths, METRICS_PYRAMID);
  if (options.auto === true && pyramid.files.size === 0) {
    let rows = 0;
    for (const file of metrics.files.values()) rows += file.rows;
    if (rows < PYRAMID_WORTH_ROWS) return { action: 'too-small', sourceFiles: 0, rows: 0 };
  }
  const pyramidFiles = [...pyramid.files.values()].map((f) =>
    path.join(paths.dataset(METRICS_PYRAMID), f.path),
  );
  return withStagingConnection(async (connection) => {
    const covered = await coveredSourceFiles(connection, pyramidFiles);
    const live = [...metrics.files.values()];
    const stale = [...covered].some((file) => !metrics.files.has(file));
    const uncovered = live.filter((file) => !covered.has(file.path));
    const fragmented =
      pyramid.files.size + PYRAMID_LEVELS.length > MAX_FILES_PER_LEVEL * PYRAMID_LEVELS.length;
    const rebuild = options.rebuild === true || stale || (uncovered.length > 0 && fragmented);
    const due = options.auto === true ? PYRAMID_AUTO_UNCOVERED_SHARE * live.length : 0;
    if (!rebuild && (uncovered.length === 0 || uncovered.length < due)) {
      return { action: 'current', sourceFiles: 0, rows: 0 };
    }
    const sources = rebuild ? live : uncovered;
    const result = await writeQuery(
      baseOut,
      METRICS_PYRAMID_DATASET,
      connection,
      pyramidSelect(paths.dataset('metrics_scalar'), sources),
      {
        fileStem: `pyramid-${randomUUID().replaceAll('-', '')}`,
        // A rebuild replaces every file of the pyramid, including ones a compaction merged.
        ...(rebuild ? { replace: { directory: '' } } : {}),
      },
    );
    return {
      action: rebuild ? 'rebuilt' : 'added',
      sourceFiles: sources.length,
      rows: result.rowCount,
      ...(result.version !== undefined ? { version: result.version } : {}),
    };
  });
}

/** The `metrics_scalar` files (relative paths) the pyramid's files summarise. */
async function coveredSourceFiles(connection: DuckDBConnection, pyramidFiles: readonly string[]) {
  if (pyramidFiles.length === 0) return new Set<string>();
  const rows = await queryObjects(
    connection,
    `SELECT DISTINCT source_file FROM read_parquet([${pyramidFiles.map(quoteLiteral).join(', ')}], hive_partitioning = false)`,
  );
  return new Set(rows.map((row) => String(row.source_file)));
}

/**
 * The SELECT of the pyramid rows of some `metrics_scalar` files: the finest level from the
 * points, each coarser level from the one below it (four buckets make one), so the points are
 * read once. Null values and null steps are left out, as the charts leave them out.
 */
function pyramidSelect(datasetDir: string, files: readonly LiveFile[]): string {
  const list = files.map((f) => quoteLiteral(path.join(datasetDir, f.path))).join(', ');
  const prefix = quoteLiteral(`${datasetDir}${path.sep}`);
  const [finest, ...coarser] = PYRAMID_LEVELS as [number, ...number[]];
  const ctes = [
    `raw AS (
      SELECT replace(filename, ${prefix}, '') AS source_file, run_id::VARCHAR AS run_id, metric_name::VARCHAR AS metric_name,
             step::BIGINT AS step, value::DOUBLE AS value
      FROM read_parquet([${list}], hive_partitioning = true, union_by_name = true, filename = true)
      WHERE step IS NOT NULL AND value IS NOT NULL
    )`,
    `l${finest} AS (
      SELECT source_file, run_id, metric_name, step // ${finest} AS bucket, count(*) AS points,
             min(step) AS step_min, max(step) AS step_max,
             arg_min(step, value) AS s_lo, min(value) AS v_lo, arg_max(step, value) AS s_hi, max(value) AS v_hi,
             count(*) FILTER (WHERE isfinite(value)) AS finite, sum(value) FILTER (WHERE isfinite(value)) AS value_sum,
             sum(step::DOUBLE) FILTER (WHERE isfinite(value)) AS step_sum
      FROM raw GROUP BY ALL
    )`,
  ];
  let below = finest;
  for (const level of coarser) {
    const factor = level / below;
    ctes.push(`l${level} AS (
      SELECT source_file, run_id, metric_name, bucket // ${factor} AS bucket, sum(points)::BIGINT AS points,
             min(step_min) AS step_min, max(step_max) AS step_max,
             arg_min(s_lo, v_lo) AS s_lo, min(v_lo) AS v_lo, arg_max(s_hi, v_hi) AS s_hi, max(v_hi) AS v_hi,
             sum(finite)::BIGINT AS finite, sum(value_sum) AS value_sum, sum(step_sum) AS step_sum
      FROM l${below} GROUP BY source_file, run_id, metric_name, bucket // ${factor}
    )`);
    below = level;
  }
  const columns =
    'source_file, run_id, metric_name, bucket, points, step_min, step_max, s_lo, v_lo, s_hi, v_hi, finite, value_sum, step_sum';
  const union = PYRAMID_LEVELS.map(
    (level) => `SELECT ${level}::INTEGER AS level, ${columns} FROM l${level}`,
  ).join(' UNION ALL ');
  return `WITH ${ctes.join(',\n')} SELECT * FROM (${union}) ORDER BY level, metric_name, run_id, bucket`;
}
